//! The folder being healed: every read and write of a fix goes through a [`Workspace`].
//!
//! - **Confined.** A path comes in as a [`RelativePath`] (no root, no `..`, no NUL) and is then
//!   resolved on disk: a symbolic link anywhere along it must lead to a place inside the root,
//!   and the file itself must be a regular file (not a device, a FIFO or a socket).
//! - **Atomic.** A file is written to a temporary file beside it, synced, given the old file's
//!   permissions and renamed over it: a crash at any moment leaves the old or the new file, never
//!   half of one.
//! - **Reversible.** A [`Snapshot`] holds the workspace's files before an attempt; restoring it
//!   undoes everything the attempt did (edits, new files, deleted files), and the unified diff
//!   between a snapshot and now is what a report shows.
//!
//! ```
//! use selfheal::fix::{Edit, FixProposal, RelativePath};
//! use selfheal::workspace::{ApplyOptions, Workspace};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("selfheal-ws-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("main.py"), "print(helo)\n")?;
//! let workspace = Workspace::open(&dir)?;
//! let before = workspace.snapshot()?;
//! let proposal = FixProposal {
//!     edits: vec![Edit::Patch {
//!         path: RelativePath::new("main.py")?,
//!         search: "print(helo)".into(),
//!         replace: "print(\"hello\")".into(),
//!         line: Some(1),
//!     }],
//!     ..FixProposal::default()
//! };
//! workspace.apply(&proposal, &ApplyOptions::default())?;
//! assert!(workspace.diff(&before)?.contains("+print(\"hello\")"));
//! workspace.restore(&before)?;
//! assert_eq!(std::fs::read_to_string(dir.join("main.py"))?, "print(helo)\n");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

mod apply;
mod patch;
mod policy;
mod snapshot;

use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use apply::{Applied, ApplyError, ApplyOptions, EditFailure, EditProblem, FileChange};
pub use patch::{Closest, PatchMatch};
pub use policy::{EditPolicy, Protected, Refusal, Rule, protected_classes};
pub use snapshot::Snapshot;

pub use crate::error::WorkspaceError;

use crate::edit::RelativePath;

/// Folders a snapshot leaves out by default (compared without case): dependencies, build
/// output and version control, which can be huge — and which a fix therefore never edits (see
/// [`EditPolicy`]). Every folder holding a `pyvenv.cfg` (a virtualenv) is left out too.
pub const DEFAULT_IGNORED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".jj",
    ".bzr",
    "node_modules",
    "target",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".next",
    ".turbo",
    ".cache",
    "dist",
    ".nuxt",
    ".svelte-kit",
    ".output",
    ".vercel",
    ".parcel-cache",
    ".tox",
    ".nox",
];

/// A folder whose files fixes edit; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
    ignored: Vec<String>,
    /// Largest file a snapshot keeps; larger ones are left out (and so never restored).
    max_snapshot_file: u64,
}

/// Tells temporary files of concurrent writes in one process apart.
static TEMPORARY: AtomicU64 = AtomicU64::new(0);
/// How the names of this module's temporary files start (removed on open when left by a crash).
const TEMPORARY_PREFIX: &str = ".selfheal-tmp-";

impl Workspace {
    /// Opens the folder at `root` (which must exist), and removes temporary files a crashed
    /// write left in it.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, WorkspaceError> {
        let shown = root.as_ref().display().to_string();
        let root = fs::canonicalize(root.as_ref()).map_err(|e| WorkspaceError::io(&shown, e))?;
        if !root.is_dir() {
            return Err(WorkspaceError::NotAFile {
                path: shown,
                kind: "not a directory",
            });
        }
        let workspace = Workspace {
            root,
            ignored: DEFAULT_IGNORED.iter().map(|s| s.to_string()).collect(),
            max_snapshot_file: 16 << 20,
        };
        workspace.remove_leftovers()?;
        Ok(workspace)
    }

    /// Replaces the folder names snapshots leave out, and fixes may not edit (default:
    /// [`DEFAULT_IGNORED`]).
    pub fn ignoring<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ignored = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the largest file a snapshot keeps (default 16 MiB). A larger file is never restored,
    /// so a fix may not edit it; one created since a snapshot is removed by its restore.
    pub fn snapshot_limit(mut self, bytes: u64) -> Self {
        self.max_snapshot_file = bytes;
        self
    }

    /// The root folder (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file name as a tool printed it, as a workspace path: a relative name as it is, an
    /// absolute one only when it is under the root.
    pub fn relative(&self, file: impl AsRef<Path>) -> Option<RelativePath> {
        let file = file.as_ref();
        let relative = if file.is_absolute() {
            file.strip_prefix(&self.root).ok()?
        } else {
            file
        };
        RelativePath::new(relative.to_str()?).ok()
    }

    /// Where `path` is on disk, after checking that nothing on the way leads outside the
    /// workspace and that an existing file there is a regular file.
    pub fn resolve(&self, path: &RelativePath) -> Result<PathBuf, WorkspaceError> {
        let mut current = self.root.clone();
        let components: Vec<&str> = path.as_str().split('/').collect();
        for (i, name) in components.iter().enumerate() {
            current.push(name);
            let Ok(metadata) = fs::symlink_metadata(&current) else {
                // Nothing there yet: the rest will be created below what was checked.
                current.extend(&components[i + 1..]);
                return Ok(current);
            };
            let last = i + 1 == components.len();
            if metadata.file_type().is_symlink() {
                let Ok(target) = fs::canonicalize(&current) else {
                    // Dangling: writing would replace the link, or follow it anywhere.
                    return Err(self.dangling(&current, path));
                };
                if !target.starts_with(&self.root) {
                    return Err(WorkspaceError::Outside(path.as_str().to_string()));
                }
                current = target;
            }
            let metadata =
                fs::metadata(&current).map_err(|e| WorkspaceError::io(path.as_str(), e))?;
            let kind = kind_of(&metadata);
            if (last && kind != "a regular file") || (!last && kind != "a directory") {
                return Err(WorkspaceError::NotAFile {
                    path: path.as_str().to_string(),
                    kind,
                });
            }
        }
        Ok(current)
    }

    /// The error for a symbolic link whose target does not exist: outside when the target
    /// would be, else not a file.
    fn dangling(&self, link: &Path, path: &RelativePath) -> WorkspaceError {
        let target = fs::read_link(link).unwrap_or_default();
        let mut resolved = link.parent().unwrap_or(&self.root).to_path_buf();
        for component in target.components() {
            match component {
                Component::RootDir | Component::Prefix(_) => resolved = PathBuf::from("/"),
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::CurDir => {}
                Component::Normal(name) => resolved.push(name),
            }
        }
        if resolved.starts_with(&self.root) {
            WorkspaceError::NotAFile {
                path: path.as_str().to_string(),
                kind: "a dangling symbolic link",
            }
        } else {
            WorkspaceError::Outside(path.as_str().to_string())
        }
    }

    /// The file's text, or `None` when there is no file.
    pub fn read(&self, path: &RelativePath) -> Result<Option<String>, WorkspaceError> {
        let resolved = self.resolve(path)?;
        match fs::read(&resolved) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| WorkspaceError::NotText(path.as_str().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(WorkspaceError::io(path.as_str(), e)),
        }
    }

    /// Writes the file atomically (creating folders as needed); an existing file keeps its
    /// permissions.
    pub fn write(&self, path: &RelativePath, content: &[u8]) -> Result<(), WorkspaceError> {
        let resolved = self.resolve(path)?;
        let fail = |e| WorkspaceError::io(path.as_str(), e);
        let parent = resolved.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(fail)?;
        let permissions = fs::metadata(&resolved).ok().map(|m| m.permissions());
        let temporary = parent.join(format!(
            "{TEMPORARY_PREFIX}{}-{}",
            std::process::id(),
            TEMPORARY.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = fs::File::create_new(&temporary)?;
            file.write_all(content)?;
            if let Some(permissions) = permissions {
                file.set_permissions(permissions)?;
            }
            file.sync_all()?;
            fs::rename(&temporary, &resolved)?;
            sync_folder(parent)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map_err(fail)
    }

    /// Deletes the file; deleting a file that is not there is not an error.
    pub fn remove(&self, path: &RelativePath) -> Result<(), WorkspaceError> {
        let resolved = self.resolve(path)?;
        match fs::remove_file(&resolved) {
            Ok(()) => sync_folder(resolved.parent().unwrap_or(&self.root))
                .map_err(|e| WorkspaceError::io(path.as_str(), e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(WorkspaceError::io(path.as_str(), e)),
        }
    }

    /// Removes temporary files left by writes that a crash interrupted.
    fn remove_leftovers(&self) -> Result<(), WorkspaceError> {
        self.walk(&mut |path, metadata| {
            let leftover = metadata.is_file()
                && (path.file_name().and_then(|n| n.to_str()))
                    .is_some_and(|name| name.starts_with(TEMPORARY_PREFIX));
            if leftover {
                let _ = fs::remove_file(path);
            }
            Ok(())
        })
    }

    /// Every regular file under the root outside ignored folders, sorted.
    pub fn files(&self) -> Result<Vec<RelativePath>, WorkspaceError> {
        let mut files = Vec::new();
        self.walk(&mut |path, metadata| {
            if metadata.is_file() {
                files.extend(self.relative(path));
            }
            Ok(())
        })?;
        files.sort();
        Ok(files)
    }

    /// The UTF-8 text of every regular file under the root outside ignored folders that `keep`
    /// accepts and that is at most `max_bytes` long, sorted by path; other files are left out.
    pub fn texts(
        &self,
        keep: &dyn Fn(&RelativePath) -> bool,
        max_bytes: u64,
    ) -> Result<Vec<(RelativePath, String)>, WorkspaceError> {
        let mut texts = Vec::new();
        self.walk(&mut |path, metadata| {
            let Some(relative) = (self.relative(path)).filter(|r| metadata.is_file() && keep(r))
            else {
                return Ok(());
            };
            if metadata.len() <= max_bytes
                && let Ok(text) = fs::read_to_string(path)
            {
                texts.push((relative, text));
            }
            Ok(())
        })?;
        texts.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(texts)
    }

    /// Calls `visit` with every regular file and folder under the root outside the folders
    /// snapshots leave out, in a stable order; symbolic links are not followed.
    fn walk(
        &self,
        visit: &mut dyn FnMut(&Path, &fs::Metadata) -> Result<(), WorkspaceError>,
    ) -> Result<(), WorkspaceError> {
        let mut folders = vec![self.root.clone()];
        while let Some(folder) = folders.pop() {
            let shown = |p: &Path| {
                p.strip_prefix(&self.root)
                    .unwrap_or(p)
                    .display()
                    .to_string()
            };
            let entries =
                fs::read_dir(&folder).map_err(|e| WorkspaceError::io(shown(&folder), e))?;
            let mut entries: Vec<fs::DirEntry> = entries.filter_map(|entry| entry.ok()).collect();
            entries.sort_by_key(|entry| entry.file_name());
            for entry in entries.into_iter().rev() {
                let path = entry.path();
                let Ok(metadata) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if metadata.is_dir() {
                    if !self.leaves_out(&path, &entry.file_name().to_string_lossy()) {
                        visit(&path, &metadata)?;
                        folders.push(path);
                    }
                } else if metadata.is_file() {
                    visit(&path, &metadata)?;
                }
            }
        }
        Ok(())
    }
}

fn kind_of(metadata: &fs::Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        "a regular file"
    } else if file_type.is_dir() {
        "a directory"
    } else {
        "a device, FIFO or socket"
    }
}

/// Makes a rename or removal in `folder` durable.
fn sync_folder(folder: &Path) -> io::Result<()> {
    if cfg!(unix) {
        fs::File::open(folder)?.sync_all()
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;

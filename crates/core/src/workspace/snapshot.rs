//! [`Snapshot`]: the workspace's files at one moment, to go back to and to diff against.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use similar::TextDiff;

use super::{Workspace, WorkspaceError};
use crate::edit::{Edit, RelativePath};

/// The workspace's files and folders (outside the folders snapshots leave out) at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    files: BTreeMap<RelativePath, Vec<u8>>,
    /// Files too large to keep: never restored (a fix may not edit them), never removed.
    too_large: BTreeSet<RelativePath>,
    folders: BTreeSet<RelativePath>,
}

impl Snapshot {
    /// How many files it holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// A file's content at the time, if it existed and was kept.
    pub fn file(&self, path: &RelativePath) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }
}

impl Workspace {
    /// The files and folders as they are now.
    pub fn snapshot(&self) -> Result<Snapshot, WorkspaceError> {
        let mut snapshot = Snapshot::default();
        self.walk(&mut |path, metadata| {
            let Some(relative) = self.relative(path) else {
                return Ok(());
            };
            if metadata.is_dir() {
                snapshot.folders.insert(relative);
                return Ok(());
            }
            if metadata.len() > self.max_snapshot_file {
                snapshot.too_large.insert(relative);
                return Ok(());
            }
            let content = fs::read(path).map_err(|e| WorkspaceError::io(relative.as_str(), e))?;
            snapshot.files.insert(relative, content);
            Ok(())
        })?;
        Ok(snapshot)
    }

    /// Puts the files back as they were in `snapshot`: changed files get their old content,
    /// files created since (of any size) are removed, removed files come back, and folders
    /// created since are removed once empty. Returns the files it touched.
    pub fn restore(&self, snapshot: &Snapshot) -> Result<Vec<RelativePath>, WorkspaceError> {
        let now = self.snapshot()?;
        let mut touched = Vec::new();
        for path in now.files.keys().chain(&now.too_large) {
            if !snapshot.files.contains_key(path) && !snapshot.too_large.contains(path) {
                self.remove(path)?;
                touched.push(path.clone());
            }
        }
        for (path, content) in &snapshot.files {
            if now.files.get(path) != Some(content) {
                self.write(path, content)?;
                touched.push(path.clone());
            }
        }
        // Deepest first: a folder's subfolders sort after it.
        for folder in now.folders.iter().rev() {
            if !snapshot.folders.contains(folder) {
                // Not empty: it holds what the snapshot does not cover (a build's output).
                let _ = fs::remove_dir(self.root.join(folder.as_path()));
            }
        }
        touched.sort();
        Ok(touched)
    }

    /// The unified diff from `snapshot` to the files as they are now (`a/` before, `b/` after).
    pub fn diff(&self, snapshot: &Snapshot) -> Result<String, WorkspaceError> {
        let now = self.snapshot()?;
        let mut paths: Vec<&RelativePath> = snapshot.files.keys().chain(now.files.keys()).collect();
        paths.sort();
        paths.dedup();
        let mut diff = String::new();
        for path in paths {
            let before = snapshot.files.get(path).map(Vec::as_slice);
            let after = now.files.get(path).map(Vec::as_slice);
            if before != after {
                diff.push_str(&unified(path.as_str(), before, after));
            }
        }
        Ok(diff)
    }
}

impl Workspace {
    /// The changes from `snapshot` to now as the edits that make them (see
    /// [`Snapshot::edits_from`]).
    pub fn edits_since(&self, snapshot: &Snapshot) -> Result<Vec<Edit>, WorkspaceError> {
        Ok(self.snapshot()?.edits_from(snapshot))
    }
}

impl Snapshot {
    /// The edits that turn the files of `earlier` into these: `Replace` for a changed file,
    /// `Create` for a new one, `Delete` for a removed one. Files that are not UTF-8 text here
    /// are left out, and so are files too large to be kept in either.
    pub fn edits_from(&self, earlier: &Snapshot) -> Vec<Edit> {
        let mut edits = Vec::new();
        for (path, before) in &earlier.files {
            match self.files.get(path) {
                None if !self.too_large.contains(path) => {
                    edits.push(Edit::Delete { path: path.clone() })
                }
                Some(after) if after != before => {
                    if let Ok(content) = String::from_utf8(after.clone()) {
                        edits.push(Edit::Replace {
                            path: path.clone(),
                            content,
                        });
                    }
                }
                _ => {}
            }
        }
        for (path, after) in &self.files {
            if !earlier.files.contains_key(path)
                && !earlier.too_large.contains(path)
                && let Ok(content) = String::from_utf8(after.clone())
            {
                edits.push(Edit::Create {
                    path: path.clone(),
                    content,
                });
            }
        }
        edits
    }
}

/// The unified diff of one file (`None`: absent).
pub(super) fn unified(path: &str, before: Option<&[u8]>, after: Option<&[u8]>) -> String {
    let old_name = if before.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".into()
    };
    let new_name = if after.is_some() {
        format!("b/{path}")
    } else {
        "/dev/null".into()
    };
    match (text(before), text(after)) {
        (Some(old), Some(new)) => TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string(),
        _ => format!("Binary files {old_name} and {new_name} differ\n"),
    }
}

/// The file's text (`""` when absent), or `None` when it is not UTF-8.
fn text(bytes: Option<&[u8]>) -> Option<&str> {
    match bytes {
        None => Some(""),
        Some(bytes) => std::str::from_utf8(bytes).ok(),
    }
}

//! Moving a workspace into a container and its changes back, as tar archives.
//!
//! The archive that comes back was written by untrusted code: every entry is checked to stay
//! inside the workspace (no `..`, no absolute paths, no writing through a symlink that leads out),
//! files are replaced atomically, and only regular files, directories and symlinks that point
//! inside the workspace are taken.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::edit::RelativePath;

/// The files and symlinks that went into the container, to notice which ones it deleted.
#[derive(Debug, Default)]
pub(super) struct Manifest(HashSet<RelativePath>);

/// What copying back changed in the workspace.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct CopyBack {
    pub(super) written: Vec<RelativePath>,
    pub(super) removed: Vec<RelativePath>,
    /// Entries refused (leading outside the workspace, devices, unreadable names).
    pub(super) refused: Vec<String>,
}

/// Packs the workspace at `root` into a tar archive: under the folder `top` (its first entry,
/// so that unpacking over an existing folder gives it the owner too) when given, else at the
/// archive's root; every entry owned by `owner` (`(uid, gid)`) when given.
pub(super) fn pack(
    root: &Path,
    owner: Option<(u64, u64)>,
    top: Option<&str>,
) -> io::Result<(Vec<u8>, Manifest)> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut manifest = Manifest::default();
    let header_of = |metadata: &std::fs::Metadata| {
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(metadata, tar::HeaderMode::Complete);
        if let Some((uid, gid)) = owner {
            header.set_uid(uid);
            header.set_gid(gid);
        }
        header
    };
    let base = PathBuf::from(top.unwrap_or_default());
    if top.is_some() {
        builder.append_data(
            &mut header_of(&std::fs::metadata(root)?),
            &base,
            io::empty(),
        )?;
    }
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(&dir))?.collect::<io::Result<_>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let relative = dir.join(entry.file_name());
            let metadata = std::fs::symlink_metadata(entry.path())?;
            let mut header = header_of(&metadata);
            let name = base.join(&relative);
            if metadata.is_dir() {
                builder.append_data(&mut header, &name, io::empty())?;
                pending.push(relative);
            } else if metadata.is_file() {
                builder.append_data(&mut header, &name, std::fs::File::open(entry.path())?)?;
                record(&mut manifest, &relative);
            } else if metadata.is_symlink() {
                let target = std::fs::read_link(entry.path())?;
                builder.append_link(&mut header, &name, target)?;
                record(&mut manifest, &relative);
            }
        }
    }
    Ok((builder.into_inner()?, manifest))
}

fn record(manifest: &mut Manifest, relative: &Path) {
    if let Some(path) = relative.to_str().and_then(|p| RelativePath::new(p).ok()) {
        manifest.0.insert(path);
    }
}

/// Applies the archive of the container's workspace directory (its entries start with `top`, that
/// directory's name) to the workspace at `root`: new and changed files are written, files of
/// `manifest` that are gone are removed.
pub(super) fn copy_back(
    archive: impl Read,
    top: &str,
    root: &Path,
    manifest: &Manifest,
) -> io::Result<CopyBack> {
    let root = root.canonicalize()?;
    let mut archive = tar::Archive::new(archive);
    let mut outcome = CopyBack::default();
    let mut seen = HashSet::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path_bytes().into_owned();
        let Some(relative) = inside_top_directory(&raw, top) else {
            if raw.strip_suffix(b"/").unwrap_or(&raw) != top.as_bytes() {
                outcome
                    .refused
                    .push(String::from_utf8_lossy(&raw).into_owned());
            }
            continue;
        };
        let display = relative.to_string();
        let kind = entry.header().entry_type();
        let applied = if kind.is_dir() {
            confined(&root, &relative).and_then(|path| {
                if !path.is_dir() {
                    std::fs::create_dir_all(&path)?;
                }
                Ok(false)
            })
        } else if kind.is_file() {
            seen.insert(relative.clone());
            let mode = entry.header().mode().unwrap_or(0o644);
            write_file(&root, &relative, &mut entry, mode)
        } else if kind.is_symlink() {
            seen.insert(relative.clone());
            match entry.link_name()? {
                Some(target) if points_inside(&relative, &target) => {
                    write_symlink(&root, &relative, &target)
                }
                _ => Err(io::Error::other("the link leads outside the workspace")),
            }
        } else {
            Err(io::Error::other("not a file, directory or symlink"))
        };
        match applied {
            Ok(true) => outcome.written.push(relative),
            Ok(false) => {}
            Err(e) => outcome.refused.push(format!("{display}: {e}")),
        }
    }
    for gone in manifest.0.difference(&seen) {
        let Ok(path) = confined(&root, gone) else {
            continue;
        };
        let is_entry = std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir());
        if is_entry && std::fs::remove_file(&path).is_ok() {
            outcome.removed.push(gone.clone());
        }
    }
    outcome.written.sort();
    outcome.removed.sort();
    Ok(outcome)
}

/// `workspace/src/a.ts` → `src/a.ts` (with `top` = `workspace`); `None` for the top directory
/// itself and for anything that is not a plain relative path under it.
fn inside_top_directory(raw: &[u8], top: &str) -> Option<RelativePath> {
    let text = std::str::from_utf8(raw).ok()?;
    let rest = text
        .strip_prefix(top)?
        .strip_prefix('/')?
        .trim_end_matches('/');
    if rest.is_empty() {
        return None;
    }
    RelativePath::new(rest).ok()
}

/// `root/relative`, refusing when an existing directory on the way is a symlink that leads out
/// of `root`.
fn confined(root: &Path, relative: &RelativePath) -> io::Result<PathBuf> {
    let mut path = root.to_path_buf();
    let components: Vec<Component<'_>> = relative.as_path().components().collect();
    for (i, component) in components.iter().enumerate() {
        path.push(component);
        let last = i + 1 == components.len();
        let through_link = !last && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink());
        if through_link && !path.canonicalize()?.starts_with(root) {
            return Err(io::Error::other(
                "a directory on the way leads outside the workspace",
            ));
        }
    }
    Ok(path)
}

/// Writes the file when its content differs; true when it did.
fn write_file(
    root: &Path,
    relative: &RelativePath,
    content: &mut impl Read,
    mode: u32,
) -> io::Result<bool> {
    let path = confined(root, relative)?;
    let mut bytes = Vec::new();
    content.read_to_end(&mut bytes)?;
    let existing = std::fs::symlink_metadata(&path);
    if let Ok(metadata) = &existing {
        if metadata.is_dir() {
            return Err(io::Error::other("a directory is in the way"));
        }
        if metadata.is_file()
            && metadata.len() == bytes.len() as u64
            && std::fs::read(&path)? == bytes
        {
            return Ok(false);
        }
    }
    let parent = path.parent().unwrap_or(root);
    std::fs::create_dir_all(parent)?;
    let temporary = parent.join(format!(
        ".{}.selfheal-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let written = std::fs::write(&temporary, &bytes)
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(mode & 0o777))
        })
        .and_then(|()| std::fs::rename(&temporary, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map(|()| true)
}

/// True when `target`, read relative to the link's directory, stays inside the workspace.
fn points_inside(link: &RelativePath, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth = link.as_path().components().count() - 1;
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::ParentDir if depth == 0 => return false,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

fn write_symlink(root: &Path, relative: &RelativePath, target: &Path) -> io::Result<bool> {
    let path = confined(root, relative)?;
    if std::fs::read_link(&path).is_ok_and(|existing| existing == target) {
        return Ok(false);
    }
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
        return Err(io::Error::other("a directory is in the way"));
    }
    let _ = std::fs::remove_file(&path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::os::unix::fs::symlink(target, &path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        crate::scratch::folder(&format!("archive-{name}"))
    }

    fn path(raw: &str) -> RelativePath {
        RelativePath::new(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    /// An archive as Docker returns it for `/workspace`: entries under `workspace/`.
    fn container_archive(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            // Written raw so that hostile names reach the reader unchanged.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            if !link.is_empty() {
                header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            header.set_cksum();
            builder
                .append(&header, *data)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        builder.into_inner().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn changes_come_back_and_nothing_escapes() {
        let root = scratch("back");
        let outside = scratch("outside");
        std::fs::create_dir_all(root.join("src")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("src/same.ts"), "same").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("src/changed.ts"), "old").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("deleted.txt"), "bye").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap_or_else(|e| panic!("{e}"));
        let (_, manifest) = pack(&root, Some((0, 0)), None).unwrap_or_else(|e| panic!("{e}"));

        use tar::EntryType::{Directory, Regular, Symlink};
        let archive = container_archive(&[
            ("workspace/", Directory, b"", ""),
            ("workspace/src/", Directory, b"", ""),
            ("workspace/src/same.ts", Regular, b"same", ""),
            ("workspace/src/changed.ts", Regular, b"new", ""),
            ("workspace/dist/app.js", Regular, b"built", ""),
            ("workspace/out/pwned", Regular, b"x", ""),
            ("workspace/../../escape", Regular, b"x", ""),
            ("/etc/passwd", Regular, b"x", ""),
            ("workspace/link-in", Symlink, b"", "src/same.ts"),
            ("workspace/link-out", Symlink, b"", "../../etc/passwd"),
            (
                "workspace/out",
                Symlink,
                b"",
                &outside.display().to_string(),
            ),
        ]);
        let outcome = copy_back(archive.as_slice(), "workspace", &root, &manifest)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            outcome.written,
            [path("dist/app.js"), path("link-in"), path("src/changed.ts")]
        );
        assert_eq!(outcome.removed, [path("deleted.txt")]);
        assert_eq!(outcome.refused.len(), 5, "{:?}", outcome.refused);
        assert_eq!(
            std::fs::read_to_string(root.join("src/changed.ts")).unwrap_or_default(),
            "new"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("dist/app.js")).unwrap_or_default(),
            "built"
        );
        assert!(!root.join("deleted.txt").exists());
        assert_eq!(
            std::fs::read_dir(&outside).map(|d| d.count()).unwrap_or(1),
            0,
            "nothing written outside"
        );
        assert!(!root.join("link-out").exists());
        let _ = std::fs::remove_dir_all(&root);
        let _ = std::fs::remove_dir_all(&outside);
    }

    #[test]
    fn packing_keeps_files_links_and_empty_directories() {
        let root = scratch("pack");
        std::fs::create_dir_all(root.join("empty")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(root.join("src")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("src/a.ts"), "let a = 1;").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink("src/a.ts", root.join("a")).unwrap_or_else(|e| panic!("{e}"));
        let (bytes, manifest) = pack(&root, Some((0, 0)), None).unwrap_or_else(|e| panic!("{e}"));
        let mut names: Vec<String> = tar::Archive::new(bytes.as_slice())
            .entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok())
            .map(|e| {
                format!(
                    "{:?} {}",
                    e.header().entry_type(),
                    e.path().unwrap_or_default().display()
                )
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "Directory empty",
                "Directory src",
                "Regular src/a.ts",
                "Symlink a"
            ]
        );
        assert_eq!(manifest.0.len(), 2);
        let _ = std::fs::remove_dir_all(&root);
    }
}

//! [`RelativePath`]: a path from an untrusted fix proposal, checked to stay inside the workspace.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A file path relative to the workspace root, normalised to `/` separators, without `.`
/// components, `..` components, a root, a drive or control characters.
///
/// The check is lexical: it guarantees the path cannot name anything outside the root by itself.
/// Symbolic links inside the workspace are the business of whoever writes the files.
///
/// ```
/// use selfheal::fix::RelativePath;
///
/// assert_eq!(RelativePath::new("./src\\app.tsx").unwrap().as_str(), "src/app.tsx");
/// assert!(RelativePath::new("../etc/passwd").is_err());
/// assert!(RelativePath::new("/etc/passwd").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelativePath(String);

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Empty, or only `.` and separators.
    #[error("the path is empty")]
    Empty,
    /// Starts at a root, a drive (`C:`) or a network share.
    #[error("`{0}` is absolute; paths must be relative to the workspace")]
    Absolute(String),
    /// Has a `..` component.
    #[error("`{0}` leaves the workspace through `..`")]
    ParentDirectory(String),
    /// Holds NUL or another control character.
    #[error("the path contains a NUL or control character")]
    ControlCharacter,
    /// Ends with a separator, so it names a directory, not a file.
    #[error("`{0}` names a directory, not a file")]
    Directory(String),
}

impl RelativePath {
    /// Checks and normalises `raw`: `\` becomes `/`, and empty and `.` components are dropped.
    pub fn new(raw: &str) -> Result<Self, PathError> {
        if raw.chars().any(char::is_control) {
            return Err(PathError::ControlCharacter);
        }
        let unified = raw.replace('\\', "/");
        if unified.starts_with('/') || has_drive(&unified) {
            return Err(PathError::Absolute(raw.to_string()));
        }
        if unified.ends_with('/') && unified.split('/').any(|c| !c.is_empty() && c != ".") {
            return Err(PathError::Directory(raw.to_string()));
        }
        let mut normalised = String::with_capacity(unified.len());
        for component in unified.split('/') {
            match component {
                "" | "." => {}
                ".." => return Err(PathError::ParentDirectory(raw.to_string())),
                name => {
                    if !normalised.is_empty() {
                        normalised.push('/');
                    }
                    normalised.push_str(name);
                }
            }
        }
        if normalised.is_empty() {
            return Err(PathError::Empty);
        }
        Ok(RelativePath(normalised))
    }

    /// The normalised path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised path as a [`Path`], to join onto a workspace root.
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }
}

/// `folder` joined with a relative `specifier`, normalised; `None` when it climbs out of the
/// workspace.
pub(crate) fn join(folder: &str, specifier: &str) -> Option<String> {
    let mut parts: Vec<&str> = folder
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for part in specifier.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// `C:` (with or without a separator after it) starts a Windows drive path.
fn has_drive(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

impl fmt::Display for RelativePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<Path> for RelativePath {
    fn as_ref(&self) -> &Path {
        self.as_path()
    }
}

impl TryFrom<String> for RelativePath {
    type Error = PathError;

    fn try_from(raw: String) -> Result<Self, PathError> {
        RelativePath::new(&raw)
    }
}

impl From<RelativePath> for String {
    fn from(path: RelativePath) -> String {
        path.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_separators_and_dots() {
        for (raw, want) in [
            ("src/app.tsx", "src/app.tsx"),
            ("./src/app.tsx", "src/app.tsx"),
            ("src//lib/./util.ts", "src/lib/util.ts"),
            ("src\\components\\Button.tsx", "src/components/Button.tsx"),
            ("package.json", "package.json"),
            ("~/notes.md", "~/notes.md"),
            ("my file (1).txt", "my file (1).txt"),
            ("données/été.ts", "données/été.ts"),
            ("..foo/bar..", "..foo/bar.."),
        ] {
            assert_eq!(RelativePath::new(raw).unwrap().as_str(), want, "{raw}");
        }
    }

    #[test]
    fn refuses_paths_outside_the_workspace() {
        for (raw, want) in [
            ("", PathError::Empty),
            ("./", PathError::Empty),
            ("/etc/passwd", PathError::Absolute("/etc/passwd".into())),
            (
                "\\\\server\\share\\x",
                PathError::Absolute("\\\\server\\share\\x".into()),
            ),
            (
                "C:\\Windows\\x",
                PathError::Absolute("C:\\Windows\\x".into()),
            ),
            ("c:x", PathError::Absolute("c:x".into())),
            ("..", PathError::ParentDirectory("..".into())),
            (
                "src/../../x",
                PathError::ParentDirectory("src/../../x".into()),
            ),
            (
                "src\\..\\x",
                PathError::ParentDirectory("src\\..\\x".into()),
            ),
            ("a\0b", PathError::ControlCharacter),
            ("a\nb", PathError::ControlCharacter),
            ("src/", PathError::Directory("src/".into())),
        ] {
            assert_eq!(RelativePath::new(raw), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn serde_round_trip_validates() {
        let path: RelativePath = serde_json::from_str("\"./a/b.ts\"").unwrap();
        assert_eq!(serde_json::to_string(&path).unwrap(), "\"a/b.ts\"");
        assert!(serde_json::from_str::<RelativePath>("\"../x\"").is_err());
    }
}

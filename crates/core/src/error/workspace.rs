//! [`WorkspaceError`]: a workspace path refused, or a workspace file that could not be read or
//! written.

use std::io;
use std::sync::Arc;

use crate::edit::PathError;

/// Why a workspace path or file operation was refused or failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WorkspaceError {
    /// The path itself is not acceptable (absolute, `..`, control characters …).
    #[error("{0}")]
    Path(#[from] PathError),
    /// A symbolic link on the way leads outside the workspace.
    #[error("`{0}` leads outside the workspace through a symbolic link")]
    Outside(String),
    /// The path names something that is not a regular file (a directory, a device, a FIFO, a
    /// socket), or goes through something that is not a directory.
    #[error("`{path}` is {kind}, not a regular file")]
    NotAFile {
        /// The path.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// The file is not UTF-8 text.
    #[error("`{0}` is not UTF-8 text")]
    NotText(String),
    /// Reading or writing failed.
    #[error("`{path}`: {source}")]
    Io {
        /// The path (relative to the workspace, or the root itself).
        path: String,
        /// The error.
        source: Arc<io::Error>,
    },
}

impl WorkspaceError {
    pub(crate) fn io(path: impl Into<String>, source: io::Error) -> Self {
        WorkspaceError::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}

//! A folder of files for unit tests, under the system's temporary directory, removed when
//! dropped.

use std::path::{Path, PathBuf};

pub(crate) struct Scratch(PathBuf);

/// A fresh, empty folder `selfheal-NAME-PID` under the system's temporary directory (what an
/// earlier run left there removed), for a test that removes it itself.
pub(crate) fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("selfheal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

impl Scratch {
    /// A fresh folder named after `name` and the process, holding `files`.
    pub(crate) fn new(name: &str, files: &[(&str, &str)]) -> Scratch {
        let scratch = Scratch(folder(name));
        for (path, text) in files {
            scratch.write(path, text);
        }
        scratch
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` at `path` (relative), creating its folders.
    pub(crate) fn write(&self, path: &str, text: &str) {
        let path = self.0.join(path);
        let written = std::fs::create_dir_all(path.parent().unwrap_or(&self.0))
            .and_then(|()| std::fs::write(&path, text));
        written.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

//! A project folder for a test: files written into a [`scratch`](super::scratch) folder, removed
//! when the test ends.

use std::path::PathBuf;

pub(crate) struct Project {
    pub(crate) dir: PathBuf,
}

impl Project {
    /// `files` (path, text) in a fresh folder named after `name` and this process.
    pub(crate) fn new(name: &str, files: &[(&str, &str)]) -> Self {
        let dir = super::scratch(name);
        for (path, content) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        Project { dir }
    }

    /// A file's text, if there is one.
    pub(crate) fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(path)).ok()
    }

    pub(crate) fn path(&self, path: &str) -> PathBuf {
        self.dir.join(path)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

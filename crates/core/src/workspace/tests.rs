use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::PathBuf;

use super::*;
use crate::fix::{Edit, FixProposal};

struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("selfheal-ws-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("root/src")).unwrap();
        fs::create_dir_all(dir.join("outside")).unwrap();
        Folder(dir)
    }

    fn root(&self) -> PathBuf {
        self.0.join("root")
    }

    fn outside(&self) -> PathBuf {
        self.0.join("outside")
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn path(p: &str) -> RelativePath {
    RelativePath::new(p).unwrap()
}

fn patch(file: &str, search: &str, replace: &str) -> Edit {
    Edit::Patch {
        path: path(file),
        search: search.into(),
        replace: replace.into(),
        line: None,
    }
}

fn proposal(edits: Vec<Edit>) -> FixProposal {
    FixProposal {
        edits,
        ..FixProposal::default()
    }
}

#[test]
fn symbolic_links_out_of_the_root_and_special_files_are_refused() {
    let folder = Folder::new("confined");
    let workspace = Workspace::open(folder.root()).unwrap();
    symlink(folder.outside(), folder.root().join("escape")).unwrap();
    symlink(
        folder.outside().join("secret"),
        folder.root().join("secret"),
    )
    .unwrap();
    symlink(folder.root().join("src"), folder.root().join("inside")).unwrap();
    for refused in ["escape/new.txt", "secret"] {
        let error = workspace.write(&path(refused), b"x").unwrap_err();
        assert!(matches!(error, WorkspaceError::Outside(_)), "{error}");
    }
    let edit = proposal(vec![Edit::Create {
        path: path("escape/payload.sh"),
        content: "rm -rf ~".into(),
    }]);
    assert!(workspace.apply(&edit, &ApplyOptions::default()).is_err());
    assert_eq!(
        fs::read_dir(folder.outside()).unwrap().count(),
        0,
        "nothing written outside"
    );

    workspace
        .write(&path("inside/a.txt"), b"through a link inside")
        .unwrap();
    assert!(folder.root().join("src/a.txt").is_file());

    let fifo = folder.root().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let error = workspace.read(&path("pipe")).unwrap_err();
    assert!(matches!(error, WorkspaceError::NotAFile { .. }), "{error}");
    let error = workspace.write(&path("src"), b"x").unwrap_err();
    assert!(
        matches!(
            error,
            WorkspaceError::NotAFile {
                kind: "a directory",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn writes_are_atomic_keep_permissions_and_leave_no_temporary_files() {
    let folder = Folder::new("atomic");
    let script = folder.root().join("run.sh");
    fs::write(&script, "#!/bin/sh\necho old\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o750)).unwrap();
    // A temporary file left by a crashed write is removed when the workspace is opened.
    fs::write(folder.root().join("src/.selfheal-tmp-1-1"), "half").unwrap();
    let workspace = Workspace::open(folder.root()).unwrap();
    assert!(!folder.root().join("src/.selfheal-tmp-1-1").exists());

    workspace
        .write(&path("run.sh"), b"#!/bin/sh\necho new\n")
        .unwrap();
    let mode = fs::metadata(&script).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o750);
    assert_eq!(
        fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\necho new\n"
    );
    workspace.write(&path("deep/er/new.txt"), b"made").unwrap();
    assert_eq!(
        workspace.read(&path("deep/er/new.txt")).unwrap().as_deref(),
        Some("made")
    );
    let names: Vec<_> = fs::read_dir(folder.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().starts_with(".selfheal-tmp")),
        "{names:?}"
    );
}

#[test]
fn a_proposal_is_applied_whole_or_not_at_all() {
    let folder = Folder::new("whole");
    fs::write(folder.root().join("src/a.py"), "import os\nprint(helo)\n").unwrap();
    fs::write(folder.root().join("src/b.py"), "x = 1\n").unwrap();
    let workspace = Workspace::open(folder.root()).unwrap();
    let edits = proposal(vec![
        patch("src/a.py", "print(helo)", "print('hello')"),
        patch("src/b.py", "y = 1", "y = 2"),
        Edit::Create {
            path: path("src/c.py"),
            content: "pass\n".into(),
        },
    ]);
    let Err(ApplyError::Edits(failures)) = workspace.apply(&edits, &ApplyOptions::default()) else {
        panic!("the missing search text fails the proposal");
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].index, 1);
    assert!(
        failures[0]
            .to_string()
            .contains("did you mean line 1: `x = 1`"),
        "{}",
        failures[0]
    );
    assert_eq!(
        fs::read_to_string(folder.root().join("src/a.py")).unwrap(),
        "import os\nprint(helo)\n"
    );
    assert!(!folder.root().join("src/c.py").exists());

    let partial = ApplyOptions {
        partial: true,
        ..ApplyOptions::default()
    };
    let applied = workspace.apply(&edits, &partial).unwrap();
    assert_eq!(applied.failures.len(), 1);
    assert_eq!(applied.changes.len(), 2);
    assert_eq!(applied.matches, vec![(0, PatchMatch::Exact)]);
    assert_eq!(
        fs::read_to_string(folder.root().join("src/a.py")).unwrap(),
        "import os\nprint('hello')\n"
    );
    assert_eq!(
        fs::read_to_string(folder.root().join("src/c.py")).unwrap(),
        "pass\n"
    );
}

#[test]
fn edits_to_one_file_apply_in_order_and_a_patch_of_a_missing_file_fails() {
    let folder = Folder::new("order");
    fs::write(
        folder.root().join("main.rs"),
        "fn main() {\n    let x = 1;\n}\n",
    )
    .unwrap();
    let workspace = Workspace::open(folder.root()).unwrap();
    let edits = proposal(vec![
        patch("main.rs", "let x = 1;", "let x = 2;"),
        patch("main.rs", "let x = 2;", "let x = 3;"),
        Edit::Delete {
            path: path("gone.rs"),
        },
    ]);
    workspace.apply(&edits, &ApplyOptions::default()).unwrap();
    assert!(
        fs::read_to_string(folder.root().join("main.rs"))
            .unwrap()
            .contains("let x = 3;")
    );
    let missing = proposal(vec![patch("nope.rs", "a", "b")]);
    let Err(ApplyError::Edits(failures)) = workspace.apply(&missing, &ApplyOptions::default())
    else {
        panic!("a patch of a missing file fails");
    };
    assert_eq!(failures[0].problem, EditProblem::NoFile);
}

#[test]
fn a_snapshot_restores_edits_new_files_and_deleted_files_and_diffs_against_now() {
    let folder = Folder::new("snapshot");
    fs::write(folder.root().join("src/app.ts"), "const a: number = 'x';\n").unwrap();
    fs::write(folder.root().join("src/old.ts"), "export {};\n").unwrap();
    fs::create_dir_all(folder.root().join("node_modules/dep")).unwrap();
    fs::write(
        folder.root().join("node_modules/dep/index.js"),
        "module.exports = 1;\n",
    )
    .unwrap();
    let workspace = Workspace::open(folder.root()).unwrap();
    let before = workspace.snapshot().unwrap();
    assert_eq!(before.len(), 2, "ignored folders are left out");

    let edits = proposal(vec![
        patch("src/app.ts", "'x'", "1"),
        Edit::Create {
            path: path("src/new.ts"),
            content: "export const b = 2;\n".into(),
        },
        Edit::Delete {
            path: path("src/old.ts"),
        },
    ]);
    workspace.apply(&edits, &ApplyOptions::default()).unwrap();
    let diff = workspace.diff(&before).unwrap();
    assert!(
        diff.contains("--- a/src/app.ts\n+++ b/src/app.ts\n"),
        "{diff}"
    );
    assert!(
        diff.contains("-const a: number = 'x';\n+const a: number = 1;\n"),
        "{diff}"
    );
    assert!(diff.contains("--- /dev/null\n+++ b/src/new.ts\n"), "{diff}");
    assert!(diff.contains("--- a/src/old.ts\n+++ /dev/null\n"), "{diff}");

    let touched = workspace.restore(&before).unwrap();
    assert_eq!(
        touched,
        vec![path("src/app.ts"), path("src/new.ts"), path("src/old.ts")]
    );
    assert_eq!(workspace.snapshot().unwrap(), before);
    assert_eq!(workspace.diff(&before).unwrap(), "");
    assert!(folder.root().join("node_modules/dep/index.js").exists());
}

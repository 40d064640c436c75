use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::PathBuf;

use super::*;
use crate::edit::{Edit, FixProposal};

struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let dir = crate::scratch::folder(&format!("ws-{name}"));
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

fn create(file: &str, content: &str) -> Edit {
    Edit::Create {
        path: path(file),
        content: content.into(),
    }
}

/// The rules of the refusals of applying `edits` with `options`; nothing may have been written.
fn refused(workspace: &Workspace, edits: Vec<Edit>, options: &ApplyOptions) -> Vec<Rule> {
    let before = workspace.snapshot().unwrap();
    let result = workspace.apply(&proposal(edits), options);
    assert_eq!(workspace.snapshot().unwrap(), before, "nothing is written");
    match result {
        Err(ApplyError::Refused(refusals)) => refusals.into_iter().map(|r| r.rule).collect(),
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn version_control_and_folders_no_snapshot_covers_are_never_edited() {
    let folder = Folder::new("uncovered");
    fs::create_dir_all(folder.root().join(".git")).unwrap();
    fs::write(folder.root().join(".git/config"), "[core]\n").unwrap();
    fs::create_dir_all(folder.root().join("env/lib")).unwrap();
    fs::write(folder.root().join("env/pyvenv.cfg"), "home = /usr\n").unwrap();
    let workspace = Workspace::open(folder.root()).unwrap();
    let everything = ApplyOptions {
        policy: Protected::ALL
            .into_iter()
            .fold(EditPolicy::default(), EditPolicy::allowing),
        ..ApplyOptions::default()
    };
    for (file, rule) in [
        (".git/config", Rule::VersionControl),
        (".GIT/hooks/pre-commit", Rule::VersionControl),
        ("vendor/lib/.git", Rule::VersionControl),
        ("sub/.hg/hgrc", Rule::VersionControl),
        ("x/.jj/repo", Rule::VersionControl),
        (
            "node_modules/.bin/python3",
            Rule::Uncovered {
                folder: "node_modules".into(),
            },
        ),
        (
            "Node_Modules/x.js",
            Rule::Uncovered {
                folder: "Node_Modules".into(),
            },
        ),
        (
            "packages/app/.venv/lib/site.py",
            Rule::Uncovered {
                folder: "packages/app/.venv".into(),
            },
        ),
        (
            "env/lib/sitecustomize.py",
            Rule::Uncovered {
                folder: "env".into(),
            },
        ),
        (
            "target/debug/build.sh",
            Rule::Uncovered {
                folder: "target".into(),
            },
        ),
        (
            "src/app\u{202E}st.ts",
            Rule::InvisibleCharacter { code: 0x202E },
        ),
        (
            "src/a\u{200B}pp.ts",
            Rule::InvisibleCharacter { code: 0x200B },
        ),
    ] {
        assert_eq!(
            refused(&workspace, vec![create(file, "x\n")], &everything),
            vec![rule],
            "{file}"
        );
    }
    // One refused edit refuses the whole proposal.
    let rules = refused(
        &workspace,
        vec![create("src/ok.ts", "x\n"), create(".git/config", "x\n")],
        &everything,
    );
    assert_eq!(rules, vec![Rule::VersionControl]);
    assert!(!folder.root().join("src/ok.ts").exists());
}

#[test]
fn protected_classes_are_refused_unless_the_host_allows_them() {
    let folder = Folder::new("protected");
    fs::write(
        folder.root().join("package.json"),
        "{\"name\": \"app\", \"scripts\": {\"build\": \"tsc\"}, \"dependencies\": {}}\n",
    )
    .unwrap();
    fs::write(
        folder.root().join("pyproject.toml"),
        "[project]\nname = \"app\"\n\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
    )
    .unwrap();
    fs::create_dir_all(folder.root().join("tests")).unwrap();
    fs::write(
        folder.root().join("tests/test_sum.py"),
        "assert 1 + 1 == 2\n",
    )
    .unwrap();
    let workspace = Workspace::open(folder.root()).unwrap();
    let defaults = ApplyOptions::default();
    let class = |rules: Vec<Rule>| -> Vec<Protected> {
        (rules.into_iter())
            .map(|rule| match rule {
                Rule::Protected { class, .. } => class,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    for (edit, want) in [
        (create("tests/test_new.py", "x = 1\n"), Protected::Tests),
        (
            Edit::Delete {
                path: path("tests/test_sum.py"),
            },
            Protected::Tests,
        ),
        (patch("tests/test_sum.py", "== 2", "== 3"), Protected::Tests),
        (create("conftest.py", "x = 1\n"), Protected::Tests),
        (create("src/App.test.tsx", "x\n"), Protected::Tests),
        (create("src/__tests__/a.js", "x\n"), Protected::Tests),
        (create("pkg/sum_test.go", "x\n"), Protected::Tests),
        (create("vitest.config.ts", "x\n"), Protected::Tests),
        (create("jest.setup.js", "x\n"), Protected::Tests),
        (create(".github/workflows/ci.yml", "x\n"), Protected::Ci),
        (create(".gitlab-ci.yml", "x\n"), Protected::Ci),
        (
            create("build.rs", "fn main() {}\n"),
            Protected::BuildScripts,
        ),
        (
            create("crates/x/build.rs", "fn main() {}\n"),
            Protected::BuildScripts,
        ),
        (create("setup.py", "x\n"), Protected::BuildScripts),
        (create(".npmrc", "x\n"), Protected::BuildScripts),
        (create(".yarnrc.yml", "x\n"), Protected::BuildScripts),
        (create(".husky/pre-commit", "x\n"), Protected::BuildScripts),
        (create(".cargo/config.toml", "x\n"), Protected::BuildScripts),
        (
            patch(
                "package.json",
                "\"build\": \"tsc\"",
                "\"build\": \"tsc\", \"postinstall\": \"node x.js\"",
            ),
            Protected::BuildScripts,
        ),
        (
            patch(
                "package.json",
                "\"build\": \"tsc\"",
                "\"build\": \"echo build ok\"",
            ),
            Protected::BuildScripts,
        ),
        (
            patch(
                "pyproject.toml",
                "hatchling.build\"",
                "backend\"\nbackend-path = [\".\"]",
            ),
            Protected::BuildScripts,
        ),
        (
            patch(
                "pyproject.toml",
                "[project]",
                "[tool.pytest.ini_options]\naddopts = \"-p no:x\"\n\n[project]",
            ),
            Protected::Tests,
        ),
    ] {
        let shown = format!("{edit:?}");
        assert_eq!(
            class(refused(&workspace, vec![edit.clone()], &defaults)),
            vec![want],
            "{shown}"
        );
        let allowed = ApplyOptions {
            policy: EditPolicy::default().allowing(want),
            ..ApplyOptions::default()
        };
        let before = workspace.snapshot().unwrap();
        workspace
            .apply(&proposal(vec![edit]), &allowed)
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
        workspace.restore(&before).unwrap();
    }
    // The rest of package.json and pyproject.toml is a fix's to change.
    workspace
        .apply(
            &proposal(vec![
                patch(
                    "package.json",
                    "\"dependencies\": {}",
                    "\"dependencies\": {\"dayjs\": \"^1.11.0\"}",
                ),
                patch(
                    "pyproject.toml",
                    "name = \"app\"",
                    "name = \"app\"\ndependencies = [\"pyyaml\"]",
                ),
                create("src/testing_utils.ts", "export {}\n"),
                create("src/latest.ts", "export {}\n"),
            ]),
            &defaults,
        )
        .unwrap();
}

#[test]
fn limits_refuse_a_proposal_before_anything_is_read_or_written() {
    let folder = Folder::new("limits");
    let workspace = Workspace::open(folder.root()).unwrap();
    let policy = EditPolicy {
        max_edits: 3,
        max_file_bytes: 1000,
        max_proposal_bytes: 2500,
        ..EditPolicy::default()
    };
    let options = ApplyOptions {
        policy,
        ..ApplyOptions::default()
    };
    let many: Vec<Edit> = (0..100_000)
        .map(|i| create(&format!("src/f{i}.ts"), ""))
        .collect();
    assert_eq!(
        refused(&workspace, many, &options),
        vec![Rule::TooManyEdits {
            count: 100_000,
            max: 3
        }]
    );
    assert!(!folder.root().join("src/f0.ts").exists());
    assert_eq!(
        refused(
            &workspace,
            vec![create("src/big.ts", &"x".repeat(1001))],
            &options
        ),
        vec![Rule::FileTooLarge {
            bytes: 1001,
            max: 1000
        }]
    );
    assert_eq!(
        refused(
            &workspace,
            vec![
                create("src/a.ts", &"x".repeat(900)),
                create("src/b.ts", &"x".repeat(900)),
                create("src/c.ts", &"x".repeat(900))
            ],
            &options
        ),
        vec![Rule::ProposalTooLarge {
            bytes: 2700,
            max: 2500
        }]
    );
    // A file already larger than the limit is not read, let alone written.
    fs::write(folder.root().join("src/huge.ts"), "y".repeat(5000)).unwrap();
    assert_eq!(
        refused(&workspace, vec![patch("src/huge.ts", "y", "z")], &options),
        vec![Rule::FileTooLarge {
            bytes: 5000,
            max: 1000
        }]
    );
}

#[test]
fn a_restore_removes_what_was_created_since_of_any_size_and_the_new_folders() {
    let folder = Folder::new("complete");
    fs::write(folder.root().join("src/app.ts"), "export {}\n").unwrap();
    let workspace = Workspace::open(folder.root()).unwrap().snapshot_limit(64);
    let before = workspace.snapshot().unwrap();
    fs::create_dir_all(folder.root().join("src/deep/er/still")).unwrap();
    fs::write(
        folder.root().join("src/deep/er/still/big.bin"),
        vec![7u8; 1000],
    )
    .unwrap();
    fs::write(folder.root().join("huge.log"), vec![b'x'; 500]).unwrap();
    fs::create_dir_all(folder.root().join("out/node_modules/x")).unwrap();
    fs::write(folder.root().join("out/node_modules/x/index.js"), "1\n").unwrap();
    workspace.restore(&before).unwrap();
    assert!(
        !folder.root().join("huge.log").exists(),
        "a large new file is removed"
    );
    assert!(
        !folder.root().join("src/deep").exists(),
        "new folders are removed"
    );
    assert!(
        folder.root().join("out/node_modules/x/index.js").exists(),
        "what no snapshot covers is left alone"
    );
    assert_eq!(workspace.snapshot().unwrap().len(), before.len());
}

#[test]
fn a_stopped_application_writes_nothing() {
    let folder = Folder::new("stopped");
    let workspace = Workspace::open(folder.root()).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(true);
    let edits = proposal(vec![create("src/a.ts", "a\n"), create("src/b.ts", "b\n")]);
    let result = workspace.apply_until(&edits, &ApplyOptions::default(), &stop);
    assert!(matches!(result, Err(ApplyError::Stopped)), "{result:?}");
    assert!(!folder.root().join("src/a.ts").exists());
}

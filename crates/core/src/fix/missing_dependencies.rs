//! [`MissingDependencies`]: a package the code imports but the project does not declare
//! (`Cannot find module 'dayjs'`, `ModuleNotFoundError: No module named 'yaml'`) is declared
//! and installed, through the build's builder, so that it lands where the build looks.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::fixer::{FixInput, Fixer, Safety};
use super::install::npm_package;
use crate::workspace::Workspace;
use crate::{Diagnostic, Result, Severity};

/// Declares and installs imported packages the project lacks, through the run's
/// [`Installer`](super::install::Installer) — only packages the project's source imports, with
/// install scripts off, pip only into the project's virtualenv (see [`install`](super::install)).
///
/// - npm (or pnpm / yarn, by the lockfile): `npm install --ignore-scripts -- <package>` writes
///   `package.json` and the lockfile; a package that is installed but has no types (TS2307)
///   gets `@types/<name>` as a dev dependency.
/// - pip: the distribution (`yaml` is `PyYAML`, `cv2` is `opencv-python` …) is added to
///   `requirements.txt` (created when the project declares nothing else) and installed as a
///   wheel into the project's virtualenv.
///
/// Nothing is proposed when the install fails or is refused: the proposal is what a
/// successful install changed. A name that is a module of the project itself, or of the
/// language's standard library, is not a dependency and is left to the other fixers.
#[derive(Debug, Clone, Copy, Default)]
pub struct MissingDependencies;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Missing {
    /// An npm package imported as `specifier`; `types` when only its type declarations are
    /// missing.
    Npm { specifier: String, types: bool },
    /// A top-level Python module.
    Pip(String),
}

#[async_trait::async_trait]
impl Fixer for MissingDependencies {
    fn name(&self) -> &str {
        "missing-dependencies"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let missing: BTreeSet<Missing> = (input.diagnostics.iter())
            .filter(|d| d.severity <= Severity::Error)
            .filter_map(|d| missing_dependency(input.workspace, d))
            .collect();
        let (mut npm, mut npm_types, mut pip) = (Vec::new(), Vec::new(), Vec::new());
        for dependency in missing {
            match dependency {
                Missing::Npm { specifier, types } if types => npm_types.push(specifier),
                Missing::Npm { specifier, .. } => npm.push(specifier),
                Missing::Pip(module) => pip.push(module),
            }
        }
        // Each install runs on top of the ones that worked, so the last one's changes hold
        // them all.
        let installer = input.installs;
        let mut kept = FixProposal::default();
        let mut installed = Vec::new();
        for (list, types) in [(&npm, false), (&npm_types, true)] {
            if list.is_empty() {
                continue;
            }
            if let Some(changes) = installer.npm(input, list, types, &kept).await? {
                installed.extend(list.iter().cloned());
                kept.edits = changes;
            }
        }
        if !pip.is_empty()
            && let Some(changes) = installer.pip(input, &pip, &kept).await?
        {
            installed.extend(pip.iter().cloned());
            kept.edits = changes;
        }
        Ok((!kept.edits.is_empty()).then(|| FixProposal {
            analysis: format!("declared and installed: {}", installed.join(", ")),
            ..kept
        }))
    }
}

/// The package a "cannot find module" error is about, when it is one the project should
/// declare.
fn missing_dependency(workspace: &Workspace, diagnostic: &Diagnostic) -> Option<Missing> {
    static NODE: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"(?:Cannot find module|Can't resolve|Could not resolve|Failed to resolve import|Cannot find package)\s+['"`]([^'"`\s]+)['"`]"#,
        )
        .ok()
    });
    static PYTHON: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"No module named '([\w.]+)'").ok());
    let message = &diagnostic.message;
    if let Some(found) = PYTHON.as_ref()?.captures(message) {
        let module = found[1].split('.').next()?;
        if PYTHON_STANDARD.contains(&module) || is_project_module(workspace, module) {
            return None;
        }
        return Some(Missing::Pip(module.to_string()));
    }
    let specifier = NODE.as_ref()?.captures(message)?.get(1)?.as_str();
    if specifier.starts_with(['.', '/', '~', '#']) || specifier.starts_with("node:") {
        return None;
    }
    // A name no registry could hold is passed on too: the installer refuses it, and the
    // report says so.
    let Some(package) = npm_package(specifier) else {
        return Some(Missing::Npm {
            specifier: specifier.to_string(),
            types: false,
        });
    };
    if NODE_BUILTINS.contains(&package.as_str()) {
        return None;
    }
    let installed = workspace
        .root()
        .join("node_modules")
        .join(&package)
        .join("package.json")
        .is_file();
    // Installed, and the error is tsc's: only its types are missing.
    let types = installed && message.contains("corresponding type declarations");
    match (installed, types) {
        (true, false) => None,
        (_, true) if package.starts_with('@') => None,
        (_, types) => Some(Missing::Npm {
            specifier: specifier.to_string(),
            types,
        }),
    }
}

/// Whether the project itself has a module or package of that name.
fn is_project_module(workspace: &Workspace, module: &str) -> bool {
    let root = workspace.root();
    [format!("{module}.py"), format!("{module}/__init__.py")]
        .iter()
        .any(|candidate| {
            root.join(candidate).is_file() || root.join("src").join(candidate).is_file()
        })
}

/// Python's standard library (top-level modules), never a dependency to install.
const PYTHON_STANDARD: &[&str] = &[
    "abc",
    "argparse",
    "array",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "builtins",
    "bz2",
    "calendar",
    "cmath",
    "collections",
    "concurrent",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "ctypes",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email",
    "enum",
    "errno",
    "fnmatch",
    "fractions",
    "functools",
    "gc",
    "getpass",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "logging",
    "lzma",
    "math",
    "mimetypes",
    "multiprocessing",
    "numbers",
    "operator",
    "os",
    "pathlib",
    "pickle",
    "platform",
    "pprint",
    "queue",
    "random",
    "re",
    "secrets",
    "select",
    "shlex",
    "shutil",
    "signal",
    "socket",
    "sqlite3",
    "ssl",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "sys",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "tomllib",
    "traceback",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib",
    "uuid",
    "warnings",
    "weakref",
    "xml",
    "zipfile",
    "zlib",
    "zoneinfo",
];

/// Node's built-in modules.
const NODE_BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildPlan, BuildStep, Builder, LineSink, StepOutput};
    use crate::fix::Edit;
    use crate::fix::install::{Install, InstallPolicy, InstallStatus, Installer, PackageTool};
    use crate::scratch::Scratch;

    /// "Installs" by appending the packages a step names (after `--`) to `package.json`,
    /// answers `npm view` with one release, and remembers the commands.
    #[derive(Default)]
    struct FakeNpm {
        commands: std::sync::Mutex<Vec<Vec<String>>>,
    }

    #[async_trait::async_trait]
    impl Builder for FakeNpm {
        async fn run_step(
            &self,
            root: &std::path::Path,
            step: &BuildStep,
            _: &dyn LineSink,
        ) -> Result<StepOutput> {
            let argv = step.command.argv();
            self.commands.lock().unwrap().push(argv.clone());
            if argv.get(1).is_some_and(|a| a == "view") {
                // The registry knows one release of anything, with no peers.
                let mut output = StepOutput {
                    exit_code: Some(0),
                    ..StepOutput::default()
                };
                output.stdout.text = r#"[{"version": "1.11.13"}]"#.into();
                return Ok(output);
            }
            let manifest = root.join("package.json");
            let mut text = std::fs::read_to_string(&manifest)?;
            let packages = argv.iter().skip_while(|w| *w != "--").skip(1);
            for package in packages {
                text.push_str(package);
                text.push('\n');
            }
            std::fs::write(manifest, text)?;
            Ok(StepOutput {
                exit_code: Some(0),
                ..StepOutput::default()
            })
        }
    }

    async fn propose(
        dir: &Scratch,
        builder: &FakeNpm,
        installer: &Installer,
        messages: &[&str],
    ) -> Option<FixProposal> {
        let workspace = Workspace::open(dir.path()).unwrap();
        let diagnostics: Vec<Diagnostic> = messages
            .iter()
            .map(|m| Diagnostic::new("tsc", *m))
            .collect();
        let input = FixInput {
            workspace: &workspace,
            diagnostics: &diagnostics,
            plan: &BuildPlan::new([]),
            builder,
            installs: installer,
        };
        MissingDependencies.propose(&input).await.unwrap()
    }

    #[tokio::test]
    async fn a_package_and_the_types_of_another_are_both_kept() {
        let dir = Scratch::new("deps-both", &[]);
        dir.write("node_modules/left-pad/package.json", "{}");
        dir.write("package.json", "");
        dir.write(
            "src/index.ts",
            "import dayjs from 'dayjs';\nimport pad from \"left-pad\";\n",
        );
        let (builder, installer) = (FakeNpm::default(), Installer::default());
        let proposal = propose(
            &dir,
            &builder,
            &installer,
            &[
                "Cannot find module 'dayjs' or its corresponding type declarations.",
                "Cannot find module 'left-pad' or its corresponding type declarations.",
            ],
        )
        .await;
        let proposal = proposal.unwrap_or_else(|| panic!("{:?}", installer.take()));
        assert!(
            matches!(&proposal.edits[..], [Edit::Replace { content, .. }] if content == "dayjs@^1.11.13\n@types/left-pad\n"),
            "{proposal:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("package.json")).unwrap(),
            "",
            "put back"
        );
        let commands = builder.commands.lock().unwrap().clone();
        assert_eq!(
            commands,
            [
                [
                    "npm",
                    "view",
                    "--json",
                    "--",
                    "dayjs@>=0.0.0-0",
                    "version",
                    "peerDependencies",
                    "deprecated"
                ]
                .map(String::from)
                .to_vec(),
                [
                    "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--",
                    "dayjs@^1.11.13"
                ]
                .map(String::from)
                .to_vec(),
                [
                    "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--save-dev",
                    "--",
                    "@types/left-pad"
                ]
                .map(String::from)
                .to_vec(),
            ]
        );
        let installed: Vec<(PackageTool, String)> = (installer.take().into_iter())
            .map(|i| (i.tool, i.package))
            .collect();
        assert_eq!(
            installed,
            [
                (PackageTool::Npm, "dayjs".into()),
                (PackageTool::Npm, "@types/left-pad".into())
            ]
        );
    }

    #[tokio::test]
    async fn names_only_a_log_line_gives_or_no_registry_could_hold_are_refused() {
        let dir = Scratch::new("deps-refused", &[]);
        dir.write("package.json", "");
        dir.write(
            "index.js",
            "const a = require('evil.tgz');\nimport('a..b');\n// require('commented-out') is in a comment\n",
        );
        let (builder, installer) = (FakeNpm::default(), Installer::default());
        let messages = [
            "Cannot find module 'left-pad'",
            "Cannot find module 'evil.tgz'",
            "Cannot find module 'a..b'",
            "Cannot find module '--registry=http://evil'",
            "Cannot find module 'git+https://evil/x.git'",
            "Cannot find module 'npm:left-pad@1'",
            "Cannot find module 'left-pad@latest'",
            "Cannot find module 'Left-Pad'",
        ];
        assert_eq!(propose(&dir, &builder, &installer, &messages).await, None);
        assert!(builder.commands.lock().unwrap().is_empty(), "nothing ran");
        let records = installer.take();
        assert_eq!(records.len(), messages.len(), "{records:?}");
        assert!(
            records
                .iter()
                .all(|r| matches!(r.status, InstallStatus::Refused { .. }))
        );
        let reason = |package: &str| {
            (records.iter())
                .find(|r| r.package == package)
                .map(|r| match &r.status {
                    InstallStatus::Refused { reason } => reason.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default()
        };
        assert!(
            reason("left-pad").contains("does not import"),
            "{records:?}"
        );
        assert!(reason("evil.tgz").contains("not a valid npm package name"));
        assert!(reason("a..b").contains("not a valid npm package name"));
    }

    #[tokio::test]
    async fn with_installs_off_nothing_runs_and_the_record_says_why() {
        let dir = Scratch::new("deps-off", &[]);
        dir.write("package.json", "");
        dir.write("index.js", "require('dayjs')\n");
        let builder = FakeNpm::default();
        let installer = Installer::new(InstallPolicy {
            enabled: false,
            ..InstallPolicy::default()
        });
        let proposal = propose(&dir, &builder, &installer, &["Cannot find module 'dayjs'"]).await;
        assert_eq!(proposal, None);
        assert!(builder.commands.lock().unwrap().is_empty());
        assert!(matches!(
            &installer.take()[..],
            [Install { status: InstallStatus::Refused { reason }, .. }] if reason.contains("turned off")
        ));
    }

    #[tokio::test]
    async fn pip_without_a_virtualenv_installs_nothing_and_says_so() {
        let dir = Scratch::new("deps-novenv", &[]);
        dir.write("app.py", "import yaml\n");
        let (builder, installer) = (FakeNpm::default(), Installer::default());
        let workspace = Workspace::open(dir.path()).unwrap();
        let diagnostics = [Diagnostic::new("python", "No module named 'yaml'")];
        let input = FixInput {
            workspace: &workspace,
            diagnostics: &diagnostics,
            plan: &BuildPlan::new([]),
            builder: &builder,
            installs: &installer,
        };
        assert_eq!(MissingDependencies.propose(&input).await.unwrap(), None);
        assert!(builder.commands.lock().unwrap().is_empty());
        assert!(matches!(
            &installer.take()[..],
            [Install { tool: PackageTool::Pip, package, status: InstallStatus::Refused { reason }, .. }]
                if package == "PyYAML" && reason.contains("virtualenv")
        ));
        assert!(!dir.path().join("requirements.txt").exists());
    }

    #[test]
    fn project_modules_builtins_and_relative_paths_are_not_dependencies() {
        let dir = Scratch::new("deps-modules", &[]);
        dir.write("utils/__init__.py", "");
        let workspace = Workspace::open(dir.path()).unwrap();
        let missing = |tool: &str, message: &str| {
            missing_dependency(&workspace, &Diagnostic::new(tool, message))
        };
        assert_eq!(missing("python", "No module named 'utils'"), None);
        assert_eq!(missing("python", "No module named 'json.decoder'"), None);
        assert_eq!(
            missing("python", "No module named 'yaml'"),
            Some(Missing::Pip("yaml".into()))
        );
        assert_eq!(missing("node", "Cannot find module './db'"), None);
        assert_eq!(missing("node", "Cannot find module 'node:fs'"), None);
        assert_eq!(missing("node", "Cannot find module 'fs'"), None);
        assert_eq!(
            missing(
                "tsc",
                "Cannot find module 'dayjs/plugin/utc' or its corresponding type declarations."
            ),
            Some(Missing::Npm {
                specifier: "dayjs/plugin/utc".into(),
                types: false
            })
        );
        dir.write("node_modules/left-pad/package.json", "{}");
        assert_eq!(
            missing(
                "tsc",
                "Cannot find module 'left-pad' or its corresponding type declarations."
            ),
            Some(Missing::Npm {
                specifier: "left-pad".into(),
                types: true
            })
        );
        assert_eq!(
            missing("node", "Cannot find module 'left-pad'"),
            None,
            "installed already"
        );
    }
}

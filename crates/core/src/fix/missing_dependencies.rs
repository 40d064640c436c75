//! [`MissingDependencies`]: a package the code imports but the project does not declare
//! (`Cannot find module 'dayjs'`, `ModuleNotFoundError: No module named 'yaml'`) is declared
//! and installed, through the build's builder, so that it lands where the build looks.

use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::fixer::{FixInput, Fixer, Safety};
use super::{Edit, FixProposal, RelativePath};
use crate::build::BuildStep;
use crate::workspace::Workspace;
use crate::{Diagnostic, Result, Severity};

/// Declares and installs imported packages the project lacks.
///
/// - npm (or pnpm / yarn, by the lockfile): `npm install <package>` writes `package.json` and
///   the lockfile; a package that is installed but has no types (TS2307) gets `@types/<name>`
///   as a dev dependency.
/// - pip: the distribution (`yaml` is `PyYAML`, `cv2` is `opencv-python` …) is added to
///   `requirements.txt` (created when the project declares nothing else) and installed with
///   the project's `.venv` Python when it has one.
///
/// Nothing is proposed when the install fails (no registry, no such package): the proposal is
/// what a successful install changed. A name that is a module of the project itself, or of the
/// language's standard library, is not a dependency and is left to the other fixers.
#[derive(Debug, Clone, Copy, Default)]
pub struct MissingDependencies;

/// How long an install may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Missing {
    /// An npm package; `types` when only its type declarations are missing.
    Npm { package: String, types: bool },
    /// A Python distribution.
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
        let workspace = input.workspace;
        let missing: BTreeSet<Missing> = (input.diagnostics.iter())
            .filter(|d| d.severity <= Severity::Error)
            .filter_map(|d| missing_dependency(workspace, d))
            .collect();
        let (mut npm, mut npm_types, mut pip) = (Vec::new(), Vec::new(), Vec::new());
        for dependency in missing {
            match dependency {
                Missing::Npm { package, types } if types => npm_types.push(package),
                Missing::Npm { package, .. } => npm.push(package),
                Missing::Pip(distribution) => pip.push(distribution),
            }
        }
        let mut steps = Vec::new();
        let manager = node_manager(workspace);
        if !npm.is_empty() {
            steps.push((manager.install(&npm, false), None));
        }
        if !npm_types.is_empty() {
            steps.push((manager.install(&npm_types, true), None));
        }
        if !pip.is_empty() {
            let declared = declare_pip(workspace, &pip)?;
            steps.push((pip_install(workspace, &pip), Some(declared)));
        }
        // Each install runs on top of the ones that worked (its own declaration added), so
        // the last one's changes hold them all.
        let mut kept = FixProposal::default();
        let mut installed = Vec::new();
        for (line, declaration) in steps {
            let step = BuildStep::shell("install missing dependencies", line.clone())
                .timeout(INSTALL_TIMEOUT);
            let mut prepare = kept.clone();
            prepare
                .edits
                .extend(declaration.into_iter().flat_map(|d| d.edits));
            let Some((output, changes)) = input.changes_made_by(&step, Some(&prepare)).await?
            else {
                continue;
            };
            if output.success() && changes != kept.edits {
                installed.push(line);
                kept.edits = changes;
            }
        }
        Ok((!kept.edits.is_empty()).then(|| FixProposal {
            analysis: format!("declared and installed: {}", installed.join("; ")),
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
        return Some(Missing::Pip(distribution(module)));
    }
    let specifier = NODE.as_ref()?.captures(message)?.get(1)?.as_str();
    if specifier.starts_with(['.', '/', '~', '#']) || specifier.starts_with("node:") {
        return None;
    }
    let package = npm_package(specifier)?;
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
        (_, true) => Some(Missing::Npm {
            package: format!("@types/{package}"),
            types: true,
        }),
        (false, _) => Some(Missing::Npm {
            package,
            types: false,
        }),
    }
}

/// The package of an import specifier (`lodash/fp` is `lodash`, `@scope/pkg/sub` is
/// `@scope/pkg`), when it is a valid npm package name.
fn npm_package(specifier: &str) -> Option<String> {
    static NAME: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$").ok());
    let mut parts = specifier.split('/');
    let first = parts.next()?;
    let package = match first.starts_with('@') {
        true => format!("{first}/{}", parts.next()?),
        false => first.to_string(),
    };
    (NAME.as_ref()?.is_match(&package) && package.len() <= 214).then_some(package)
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

/// The distribution that provides a Python module.
fn distribution(module: &str) -> String {
    DISTRIBUTIONS
        .iter()
        .find(|(m, _)| *m == module)
        .map_or_else(|| module.replace('_', "-"), |(_, d)| d.to_string())
}

/// The Node package manager the project uses, by its lockfile.
#[derive(Debug, Clone, Copy)]
enum NodeManager {
    Npm,
    Pnpm,
    Yarn,
}

fn node_manager(workspace: &Workspace) -> NodeManager {
    let root = workspace.root();
    if root.join("pnpm-lock.yaml").is_file() {
        NodeManager::Pnpm
    } else if root.join("yarn.lock").is_file() {
        NodeManager::Yarn
    } else {
        NodeManager::Npm
    }
}

impl NodeManager {
    fn install(self, packages: &[String], dev: bool) -> String {
        let packages = packages.join(" ");
        match (self, dev) {
            (NodeManager::Npm, false) => format!("npm install --no-audit --no-fund {packages}"),
            (NodeManager::Npm, true) => {
                format!("npm install --no-audit --no-fund --save-dev {packages}")
            }
            (NodeManager::Pnpm, false) => format!("pnpm add {packages}"),
            (NodeManager::Pnpm, true) => format!("pnpm add -D {packages}"),
            (NodeManager::Yarn, false) => format!("yarn add {packages}"),
            (NodeManager::Yarn, true) => format!("yarn add -D {packages}"),
        }
    }
}

/// The install command for Python distributions: the project's virtualenv when it has one.
fn pip_install(workspace: &Workspace, distributions: &[String]) -> String {
    let python = [".venv/bin/python", "venv/bin/python"]
        .into_iter()
        .find(|python| workspace.root().join(python).is_file())
        .unwrap_or("python3");
    format!(
        "{python} -m pip install --disable-pip-version-check -q {}",
        distributions.join(" ")
    )
}

/// `requirements.txt` with the distributions added (created when missing).
fn declare_pip(workspace: &Workspace, distributions: &[String]) -> Result<FixProposal> {
    let path =
        RelativePath::new("requirements.txt").map_err(crate::workspace::WorkspaceError::from)?;
    let existing = workspace.read(&path)?;
    let mut content = existing.clone().unwrap_or_default();
    if !content.is_empty() && !content.ends_with('\n') {
        content.push('\n');
    }
    for distribution in distributions {
        let declared = content.lines().any(|line| {
            let name = line
                .split(['=', '<', '>', '~', '!', '[', ';', ' '])
                .next()
                .unwrap_or("");
            name.eq_ignore_ascii_case(distribution)
        });
        if !declared {
            content.push_str(distribution);
            content.push('\n');
        }
    }
    let edit = match existing {
        Some(_) => Edit::Replace { path, content },
        None => Edit::Create { path, content },
    };
    Ok(FixProposal {
        edits: vec![edit],
        ..FixProposal::default()
    })
}

/// Python modules whose distribution has another name.
const DISTRIBUTIONS: &[(&str, &str)] = &[
    ("yaml", "PyYAML"),
    ("cv2", "opencv-python"),
    ("PIL", "Pillow"),
    ("sklearn", "scikit-learn"),
    ("skimage", "scikit-image"),
    ("bs4", "beautifulsoup4"),
    ("dateutil", "python-dateutil"),
    ("dotenv", "python-dotenv"),
    ("jwt", "PyJWT"),
    ("jose", "python-jose"),
    ("multipart", "python-multipart"),
    ("slugify", "python-slugify"),
    ("magic", "python-magic"),
    ("docx", "python-docx"),
    ("pptx", "python-pptx"),
    ("serial", "pyserial"),
    ("usb", "pyusb"),
    ("zmq", "pyzmq"),
    ("git", "GitPython"),
    ("Crypto", "pycryptodome"),
    ("OpenSSL", "pyOpenSSL"),
    ("attr", "attrs"),
    ("fitz", "PyMuPDF"),
    ("psycopg2", "psycopg2-binary"),
    ("MySQLdb", "mysqlclient"),
    ("google", "protobuf"),
];

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
    use crate::build::{BuildPlan, Builder, LineSink, StepOutput};

    /// "Installs" by appending the packages a step names to `package.json`.
    struct Installer;

    #[async_trait::async_trait]
    impl Builder for Installer {
        async fn run_step(
            &self,
            root: &std::path::Path,
            step: &BuildStep,
            _: &dyn LineSink,
        ) -> Result<StepOutput> {
            let line = step.command.to_string();
            let manifest = root.join("package.json");
            let mut text = std::fs::read_to_string(&manifest)?;
            for package in line
                .split_whitespace()
                .skip(2)
                .filter(|w| !w.starts_with('-'))
            {
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

    #[tokio::test]
    async fn a_package_and_the_types_of_another_are_both_kept() {
        let dir = std::env::temp_dir().join(format!("selfheal-deps-both-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node_modules/left-pad")).unwrap();
        std::fs::write(dir.join("node_modules/left-pad/package.json"), "{}").unwrap();
        std::fs::write(dir.join("package.json"), "").unwrap();
        let workspace = Workspace::open(&dir).unwrap();
        let diagnostics = [
            Diagnostic::new(
                "tsc",
                "Cannot find module 'dayjs' or its corresponding type declarations.",
            ),
            Diagnostic::new(
                "tsc",
                "Cannot find module 'left-pad' or its corresponding type declarations.",
            ),
        ];
        let input = FixInput {
            workspace: &workspace,
            diagnostics: &diagnostics,
            plan: &BuildPlan::new([]),
            builder: &Installer,
        };
        let proposal = MissingDependencies.propose(&input).await.unwrap().unwrap();
        assert!(
            matches!(&proposal.edits[..], [Edit::Replace { content, .. }] if content == "dayjs\n@types/left-pad\n"),
            "{proposal:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("package.json")).unwrap(),
            "",
            "put back"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn packages_come_from_specifiers_and_modules_from_their_distribution() {
        assert_eq!(npm_package("lodash/fp").as_deref(), Some("lodash"));
        assert_eq!(
            npm_package("@tanstack/react-query/build").as_deref(),
            Some("@tanstack/react-query")
        );
        assert_eq!(npm_package("Bad Name"), None);
        assert_eq!(distribution("yaml"), "PyYAML");
        assert_eq!(distribution("typing_extensions"), "typing-extensions");
    }

    #[test]
    fn project_modules_builtins_and_relative_paths_are_not_dependencies() {
        let dir = std::env::temp_dir().join(format!("selfheal-deps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("utils")).unwrap();
        std::fs::write(dir.join("utils/__init__.py"), "").unwrap();
        let workspace = Workspace::open(&dir).unwrap();
        let missing = |tool: &str, message: &str| {
            missing_dependency(&workspace, &Diagnostic::new(tool, message))
        };
        assert_eq!(missing("python", "No module named 'utils'"), None);
        assert_eq!(missing("python", "No module named 'json.decoder'"), None);
        assert_eq!(
            missing("python", "No module named 'yaml'"),
            Some(Missing::Pip("PyYAML".into()))
        );
        assert_eq!(missing("node", "Cannot find module './db'"), None);
        assert_eq!(missing("node", "Cannot find module 'node:fs'"), None);
        assert_eq!(missing("node", "Cannot find module 'fs'"), None);
        assert_eq!(
            missing(
                "tsc",
                "Cannot find module 'dayjs' or its corresponding type declarations."
            ),
            Some(Missing::Npm {
                package: "dayjs".into(),
                types: false
            })
        );
        std::fs::create_dir_all(dir.join("node_modules/left-pad")).unwrap();
        std::fs::write(dir.join("node_modules/left-pad/package.json"), "{}").unwrap();
        assert_eq!(
            missing(
                "tsc",
                "Cannot find module 'left-pad' or its corresponding type declarations."
            ),
            Some(Missing::Npm {
                package: "@types/left-pad".into(),
                types: true
            })
        );
        assert_eq!(
            missing("node", "Cannot find module 'left-pad'"),
            None,
            "installed already"
        );

        let declared = declare_pip(&workspace, &["PyYAML".into()]).unwrap();
        assert!(
            matches!(&declared.edits[..], [Edit::Create { content, .. }] if content == "PyYAML\n")
        );
        std::fs::write(dir.join("requirements.txt"), "pyyaml>=6\nrequests").unwrap();
        let declared = declare_pip(&workspace, &["PyYAML".into(), "Pillow".into()]).unwrap();
        assert!(
            matches!(&declared.edits[..], [Edit::Replace { content, .. }] if content == "pyyaml>=6\nrequests\nPillow\n"),
            "{declared:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

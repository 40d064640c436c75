//! Package installs made by fixes and fallback strategies, and the rules every one goes through.
//!
//! An install runs a registry's code on the build machine, and the name to install comes from a
//! build log or a model's reply — both untrusted, and hallucinated or typo-squatted names are a
//! known attack on code generators. So every install selfheal makes goes through an
//! [`Installer`]:
//!
//! - only a package the project's own source imports: a name found only in a log line or a reply
//!   is refused, and the package is derived from the import (`lodash/fp` → `lodash`, `yaml` →
//!   `PyYAML`), never taken from the message;
//! - only a valid registry name (npm's package-name rules; PEP 508 names): never a path, URL,
//!   tarball, VCS or alias spec, never something that starts like a flag, and always after `--`;
//!   the command is an argument vector, no shell;
//! - npm, pnpm and yarn with install scripts off (`--ignore-scripts`): no package's
//!   `preinstall`, `install` or `postinstall` runs;
//! - pip only into the project's own virtualenv (`.venv` or `venv` holding a `pyvenv.cfg`, or the
//!   one the host names in [`InstallPolicy::python_env`]) with `--require-virtualenv`, and wheels
//!   only (`--only-binary=:all:`: no package's build code runs); without a virtualenv nothing is
//!   installed and the report says why;
//! - every install, failure and refusal is an [`Install`] record, which the heal loop reports as
//!   an event and in the attempt's report; the manifest and lockfile an install changed are the
//!   fix's edits, undone with it, and a package folder it added to `node_modules` is removed
//!   again when its fix is undone.
//!
//! A host turns installs off entirely with [`InstallPolicy::enabled`] (the CLI's `--no-install`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use nodejs_semver::{Range, Version};
use regex::Regex;
use serde::Serialize;

use super::fixer::FixInput;
use super::package_exports::PackageExports;
use super::peer_versions::{Release, fitting, releases};
use super::{Edit, FixProposal, RelativePath};
use crate::Result;
use crate::build::BuildStep;
use crate::workspace::Workspace;

/// Whether and where selfheal may install packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPolicy {
    /// Whether fixes and fallbacks may install packages or run a package manager at all
    /// (default: yes, within the rules of the [module docs](self)).
    pub enabled: bool,
    /// The virtualenv pip installs into (absolute, or relative to the project); default: the
    /// project's `.venv` or `venv`.
    pub python_env: Option<PathBuf>,
}

impl Default for InstallPolicy {
    fn default() -> Self {
        InstallPolicy {
            enabled: true,
            python_env: None,
        }
    }
}

/// The package manager an install used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PackageTool {
    /// npm.
    Npm,
    /// pnpm (the project has `pnpm-lock.yaml`).
    Pnpm,
    /// Yarn (the project has `yarn.lock`).
    Yarn,
    /// pip, into the project's virtualenv.
    Pip,
}

impl std::fmt::Display for PackageTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PackageTool::Npm => "npm",
            PackageTool::Pnpm => "pnpm",
            PackageTool::Yarn => "yarn",
            PackageTool::Pip => "pip",
        })
    }
}

/// One package selfheal installed, failed to install, or refused to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Install {
    /// The package manager.
    pub tool: PackageTool,
    /// The package (npm) or distribution (pip).
    pub package: String,
    /// What happened.
    #[serde(flatten)]
    pub status: InstallStatus,
    /// The folder the install added to the project (`node_modules/<package>`), removed again
    /// when its fix is undone.
    #[serde(skip)]
    added: Option<PathBuf>,
}

/// What happened to one install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstallStatus {
    /// Installed; `version` as resolved, when it could be read back.
    Installed {
        /// The version installed.
        version: Option<String>,
    },
    /// The package manager ran and failed (no such package, no registry, no wheel).
    Failed,
    /// Not attempted.
    Refused {
        /// Why.
        reason: String,
    },
}

/// Runs the installs of one heal run under its [`InstallPolicy`] and records them; see the
/// [module docs](self).
#[derive(Debug, Default)]
pub struct Installer {
    policy: InstallPolicy,
    records: Mutex<Vec<Install>>,
}

/// How long an install may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// How long asking the registry for a package's releases may take.
const VIEW_TIMEOUT: Duration = Duration::from_secs(60);
/// How many older majors of a package are tried for names the newest lacks.
const OLDER_MAJORS: usize = 2;

/// Source files larger than this are not read for imports.
const MAX_SOURCE_BYTES: u64 = 1 << 20;

impl Installer {
    /// An installer under `policy`.
    pub fn new(policy: InstallPolicy) -> Self {
        Installer {
            policy,
            records: Mutex::default(),
        }
    }

    /// Whether installs (and package managers) may run at all.
    pub fn enabled(&self) -> bool {
        self.policy.enabled
    }

    /// The records made since the last call, oldest first.
    pub fn take(&self) -> Vec<Install> {
        std::mem::take(&mut self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn record(&self, tool: PackageTool, package: &str, status: InstallStatus) {
        self.push(Install {
            tool,
            package: package.to_string(),
            status,
            added: None,
        });
    }

    fn push(&self, install: Install) {
        (self.records.lock().unwrap_or_else(PoisonError::into_inner)).push(install);
    }

    /// The reason an install may not run, if any: installs off, else `check`'s.
    fn refusal(&self, check: impl FnOnce() -> Option<String>) -> Option<String> {
        match self.policy.enabled {
            false => Some("installs are turned off".into()),
            true => check(),
        }
    }

    /// Installs the npm packages of `specifiers` (imports such as `dayjs` or `lodash/fp`; with
    /// `types`, their `@types/…` packages as dev dependencies) with the project's package
    /// manager, on top of `prepare`. Returns what the install changed (the manifest and the
    /// lockfile, with `prepare`'s edits), or `None` when nothing was installed.
    pub async fn npm(
        &self,
        input: &FixInput<'_>,
        specifiers: &[String],
        types: bool,
        prepare: &FixProposal,
    ) -> Result<Option<Vec<Edit>>> {
        let tool = NodeManager::of(input.workspace);
        let imported = ProjectImports::scan(input.workspace)?;
        let mut packages = BTreeSet::new();
        for specifier in specifiers {
            let imported_package = npm_package(specifier);
            let package = match (&imported_package, types) {
                (Some(package), false) => Some(package.clone()),
                (Some(package), true) => types_package(package),
                (None, _) => None,
            };
            let refusal = self.refusal(|| match (&imported_package, &package) {
                (Some(imported_package), Some(_)) => (!imported.script.contains(imported_package))
                    .then(|| format!("the project's source does not import `{imported_package}`")),
                _ => Some("not a valid npm package name".into()),
            });
            let package = package.unwrap_or_else(|| specifier.chars().take(214).collect());
            match refusal {
                Some(reason) => {
                    self.record(tool.tool(), &package, InstallStatus::Refused { reason })
                }
                None => {
                    packages.insert(package);
                }
            }
        }
        if packages.is_empty() {
            return Ok(None);
        }
        let root = input.workspace.root();
        let project = |peer: &str| Version::parse(npm_version(root, peer)?).ok();
        let mut specs = Vec::new();
        let mut known = Vec::new();
        for package in packages {
            // A version whose peer ranges admit what the project has (not blindly the newest,
            // which may want a React the project does not have); as npm picks when unknown.
            let releases = match types {
                true => None,
                false => self.npm_releases(input, &package).await?,
            };
            let fitting = (releases.as_deref()).and_then(|r| fitting(r, None, &project));
            let spec = match fitting {
                Some(release) => format!("{package}@^{}", release.version),
                None => package.clone(),
            };
            specs.push((package.clone(), spec));
            known.extend(releases.map(|releases| (package, releases)));
        }
        let Some(mut changes) = self
            .npm_install(input, tool, &specs, types, prepare)
            .await?
        else {
            return Ok(None);
        };
        for (package, releases) in known {
            if let Some(names) = imported.named.get(&package) {
                changes =
                    (self.fit_to_imports(input, tool, &package, names, &releases, changes)).await?;
            }
        }
        Ok(Some(changes))
    }

    /// When the release just installed lacks names the project imports from it (code written
    /// against an older major), the newest fitting release of each older major — at most
    /// [`OLDER_MAJORS`] — is installed on top of `changes` until one exports them all; when
    /// none does, the first choice is installed again. Returns what the installs changed.
    async fn fit_to_imports(
        &self,
        input: &FixInput<'_>,
        tool: NodeManager,
        package: &str,
        names: &BTreeSet<String>,
        releases: &[Release],
        changes: Vec<Edit>,
    ) -> Result<Vec<Edit>> {
        let root = input.workspace.root();
        let lacking = || {
            let exports = PackageExports::read(root, package).filter(|e| e.complete)?;
            Some(
                names
                    .iter()
                    .filter(|name| !exports.names.contains(*name))
                    .count(),
            )
        };
        let installed = npm_version(root, package).and_then(|v| Version::parse(v).ok());
        let (Some(installed), Some(lacking_first)) = (installed, lacking()) else {
            return Ok(changes);
        };
        if lacking_first == 0 {
            return Ok(changes);
        }
        let project = |peer: &str| Version::parse(npm_version(root, peer)?).ok();
        let mut majors: Vec<u64> = (releases.iter())
            .map(|r| r.version.major())
            .filter(|major| *major < installed.major())
            .collect();
        majors.dedup();
        majors.reverse();
        let on_top = FixProposal {
            edits: changes.clone(),
            ..FixProposal::default()
        };
        for major in majors.into_iter().take(OLDER_MAJORS) {
            let of_major: Vec<Release> = (releases.iter())
                .filter(|r| r.version.major() == major)
                .cloned()
                .collect();
            let Some(release) = fitting(&of_major, None, &project) else {
                continue;
            };
            let spec = format!("{package}@^{}", release.version);
            let specs = [(package.to_string(), spec)];
            if let Some(older) = self
                .npm_install(input, tool, &specs, false, &on_top)
                .await?
                && lacking() == Some(0)
            {
                return Ok(older);
            }
        }
        let first = [(package.to_string(), format!("{package}@^{installed}"))];
        Ok((self
            .npm_install(input, tool, &first, false, &on_top)
            .await?)
            .unwrap_or(changes))
    }

    /// Moves an npm dependency the project declares to a release whose peer ranges admit the
    /// project's versions of its peers (`peer_versions` first: those the failing install
    /// reported), nearest to the range declared now — the way out of a peer-dependency
    /// conflict (ERESOLVE) that keeps npm's checks. Returns what the install changed, or
    /// `None` when no release fits or nothing was installed.
    pub(crate) async fn npm_refit(
        &self,
        input: &FixInput<'_>,
        package: &str,
        peer_versions: &[(String, Version)],
        prepare: &FixProposal,
    ) -> Result<Option<Vec<Edit>>> {
        let tool = NodeManager::of(input.workspace);
        let declared = declared_npm_dependency(input.workspace, package);
        let refusal = self.refusal(|| match (&declared, npm_package(package)) {
            (_, None) => Some("not a valid npm package name".into()),
            (None, _) => Some(format!(
                "the project's package.json does not declare `{package}`"
            )),
            _ => None,
        });
        if let Some(reason) = refusal {
            self.record(tool.tool(), package, InstallStatus::Refused { reason });
            return Ok(None);
        }
        let Some((range, dev)) = declared else {
            return Ok(None);
        };
        let declared_range = Range::parse(&range).ok();
        let root = input.workspace.root();
        let project = |peer: &str| {
            (peer_versions.iter())
                .find(|(name, _)| name == peer)
                .map(|(_, version)| version.clone())
                .or_else(|| Version::parse(npm_version(root, peer)?).ok())
        };
        let Some(releases) = self.npm_releases(input, package).await? else {
            return Ok(None);
        };
        let Some(release) = fitting(&releases, declared_range.as_ref(), &project) else {
            return Ok(None);
        };
        if declared_range
            .as_ref()
            .is_some_and(|r| release.version.satisfies(r))
        {
            // The declared range already allows it: moving would change nothing.
            return Ok(None);
        }
        let spec = (
            package.to_string(),
            format!("{package}@^{}", release.version),
        );
        self.npm_install(input, tool, &[spec], dev, prepare).await
    }

    /// The version of npm `package` to add: the newest release whose peer ranges admit the
    /// installed versions of its peers; `None` when the registry does not say.
    /// The releases of npm `package` the registry lists with their peer ranges (`npm view`,
    /// run where the build runs, so with its registry and network); `None` when installs are
    /// off or the registry does not answer.
    async fn npm_releases(
        &self,
        input: &FixInput<'_>,
        package: &str,
    ) -> Result<Option<Vec<Release>>> {
        if !self.policy.enabled || npm_package(package).as_deref() != Some(package) {
            return Ok(None);
        }
        let argv: Vec<String> = ["npm", "view", "--json", "--"]
            .into_iter()
            .map(String::from)
            .chain([format!("{package}@>=0.0.0-0")])
            .chain(["version", "peerDependencies", "deprecated"].map(String::from))
            .collect();
        let step = BuildStep::argv(format!("npm view {package}"), argv).timeout(VIEW_TIMEOUT);
        let Some((output, _)) = input.changes_made_by(&step, None).await? else {
            return Ok(None);
        };
        if !output.success() || output.stdout.is_truncated() {
            return Ok(None);
        }
        Ok(releases(&output.stdout.text))
    }

    /// Runs the package manager's install of `specs` (package, what to install) on top of
    /// `prepare` and records each package; returns what the install changed.
    async fn npm_install(
        &self,
        input: &FixInput<'_>,
        tool: NodeManager,
        specs: &[(String, String)],
        dev: bool,
        prepare: &FixProposal,
    ) -> Result<Option<Vec<Edit>>> {
        let root = input.workspace.root();
        let to_install: Vec<String> = specs.iter().map(|(_, spec)| spec.clone()).collect();
        let step = BuildStep::argv(
            format!("{} install", tool.tool()),
            tool.install_argv(&to_install, dev),
        )
        .timeout(INSTALL_TIMEOUT);
        let existed: Vec<bool> = (specs.iter())
            .map(|(package, _)| root.join("node_modules").join(package).exists())
            .collect();
        let ran = input.changes_made_by(&step, Some(prepare)).await?;
        let changes = match ran {
            Some((output, changes)) if output.success() => changes,
            _ => {
                for (package, _) in specs {
                    self.record(tool.tool(), package, InstallStatus::Failed);
                }
                return Ok(None);
            }
        };
        for ((package, _), existed) in specs.iter().zip(existed) {
            let folder = Path::new("node_modules").join(package);
            self.push(Install {
                tool: tool.tool(),
                package: package.clone(),
                status: InstallStatus::Installed {
                    version: npm_version(root, package),
                },
                added: (!existed).then_some(folder),
            });
        }
        Ok(Some(changes))
    }

    /// Installs the distributions that provide the Python `modules` (`yaml` is `PyYAML`) into
    /// the project's virtualenv and declares them in `requirements.txt`. Returns what changed
    /// (with `prepare`'s edits), or `None` when nothing was installed.
    pub async fn pip(
        &self,
        input: &FixInput<'_>,
        modules: &[String],
        prepare: &FixProposal,
    ) -> Result<Option<Vec<Edit>>> {
        let workspace = input.workspace;
        let imported = ProjectImports::scan(workspace)?;
        let python = self.python(workspace);
        let mut distributions = BTreeSet::new();
        for module in modules {
            let distribution = distribution(module);
            let refusal = self.refusal(|| {
                if !is_python_name(&distribution) {
                    Some("not a valid Python distribution name".into())
                } else if !imported.python.contains(module) {
                    Some(format!("the project's source does not import `{module}`"))
                } else {
                    python.as_ref().err().cloned()
                }
            });
            match refusal {
                Some(reason) => self.record(
                    PackageTool::Pip,
                    &distribution,
                    InstallStatus::Refused { reason },
                ),
                None => {
                    distributions.insert(distribution);
                }
            }
        }
        let Ok(python) = python else {
            return Ok(None);
        };
        if distributions.is_empty() {
            return Ok(None);
        }
        let distributions: Vec<String> = distributions.into_iter().collect();
        let mut prepared = prepare.clone();
        prepared.edits.push(declare_pip(workspace, &distributions)?);
        let mut argv: Vec<String> = [
            python.display().to_string().as_str(),
            "-m",
            "pip",
            "install",
            "--require-virtualenv",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--only-binary=:all:",
            "--",
        ]
        .map(String::from)
        .to_vec();
        argv.extend(distributions.iter().cloned());
        let step = BuildStep::argv("pip install", argv).timeout(INSTALL_TIMEOUT);
        let ran = input.changes_made_by(&step, Some(&prepared)).await?;
        let changes = match ran {
            Some((output, changes)) if output.success() => changes,
            _ => {
                for distribution in &distributions {
                    self.record(PackageTool::Pip, distribution, InstallStatus::Failed);
                }
                return Ok(None);
            }
        };
        let environment = workspace.root().join(
            python
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("")),
        );
        for distribution in &distributions {
            let version = pip_version(&environment, distribution);
            self.record(
                PackageTool::Pip,
                distribution,
                InstallStatus::Installed { version },
            );
        }
        Ok(Some(changes))
    }

    /// The project's virtualenv's Python, or why there is none.
    fn python(&self, workspace: &Workspace) -> std::result::Result<PathBuf, String> {
        let root = workspace.root();
        let candidates: Vec<PathBuf> = match &self.policy.python_env {
            Some(named) => vec![named.clone()],
            None => vec![PathBuf::from(".venv"), PathBuf::from("venv")],
        };
        for environment in candidates {
            let python = environment.join("bin").join("python");
            if root.join(&environment).join("pyvenv.cfg").is_file() && root.join(&python).is_file()
            {
                return Ok(python);
            }
        }
        Err(match &self.policy.python_env {
            Some(named) => format!("{} is not a virtualenv", named.display()),
            None => "the project has no virtualenv (.venv or venv) and the host named none: \
                     pip installs only into one"
                .into(),
        })
    }
}

impl Install {
    /// Removes the folder the install added to the project under `root`, if it did (its fix
    /// was undone). Only a folder inside the project's own `node_modules` folder is removed, not
    /// one a link leads to.
    pub fn undo(&self, root: &Path) {
        let Some(added) = &self.added else { return };
        let modules = root.join("node_modules");
        let real = |path: &Path| std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
        if real(&modules) && added.starts_with("node_modules") {
            let _ = std::fs::remove_dir_all(root.join(added));
        }
    }
}

/// The Node package manager the project uses, by its lockfile.
#[derive(Debug, Clone, Copy)]
enum NodeManager {
    Npm,
    Pnpm,
    Yarn,
}

impl NodeManager {
    fn of(workspace: &Workspace) -> NodeManager {
        let root = workspace.root();
        if root.join("pnpm-lock.yaml").is_file() {
            NodeManager::Pnpm
        } else if root.join("yarn.lock").is_file() {
            NodeManager::Yarn
        } else {
            NodeManager::Npm
        }
    }

    fn tool(self) -> PackageTool {
        match self {
            NodeManager::Npm => PackageTool::Npm,
            NodeManager::Pnpm => PackageTool::Pnpm,
            NodeManager::Yarn => PackageTool::Yarn,
        }
    }

    /// The install command: scripts off, the packages after `--`.
    fn install_argv(self, packages: &[String], dev: bool) -> Vec<String> {
        let mut argv: Vec<&str> = match self {
            NodeManager::Npm => vec!["npm", "install", "--no-audit", "--no-fund"],
            NodeManager::Pnpm => vec!["pnpm", "add"],
            NodeManager::Yarn => vec!["yarn", "add", "--non-interactive"],
        };
        argv.push("--ignore-scripts");
        if dev {
            argv.push(match self {
                NodeManager::Yarn => "--dev",
                _ => "--save-dev",
            });
        }
        argv.push("--");
        let mut argv: Vec<String> = argv.into_iter().map(String::from).collect();
        argv.extend(packages.iter().cloned());
        argv
    }
}

/// The npm package of an import specifier (`lodash/fp` is `lodash`, `@scope/pkg/sub` is
/// `@scope/pkg`), when it is a valid name to install: npm's rules for new packages (lower
/// case, URL-safe, at most 214 characters, not starting with `.` or `_`), and nothing npm
/// would read as another kind of spec — no `..`, no tarball or archive name, no version or
/// alias (`@`), tag, path, URL or flag.
pub(crate) fn npm_package(specifier: &str) -> Option<String> {
    static NAME: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^(?:@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$").ok());
    let mut parts = specifier.split('/');
    let first = parts.next()?;
    let package = match first.starts_with('@') {
        true => format!("{first}/{}", parts.next()?),
        false => first.to_string(),
    };
    let valid = NAME.as_ref()?.is_match(&package)
        && package.len() <= 214
        && !package.contains("..")
        && !is_archive(&package)
        && !["node_modules", "favicon.ico"].contains(&package.as_str());
    valid.then_some(package)
}

/// The `@types/…` package of `package`; none for scoped packages, which ship their own types
/// or none at all.
fn types_package(package: &str) -> Option<String> {
    (!package.starts_with('@')).then(|| format!("@types/{package}"))
}

/// Whether `name` ends like a file a package manager installs from (`evil.tgz`, `x.whl`).
fn is_archive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        ".tgz", ".tar", ".gz", ".bz2", ".xz", ".zst", ".zip", ".whl", ".egg", ".tbz", ".txz",
    ]
    .iter()
    .any(|extension| name.ends_with(extension))
}

/// Whether `name` is a valid Python distribution name (PEP 508) that pip reads as nothing
/// else: letters, digits, `.`, `_`, `-`, starting and ending with a letter or digit, no `..`,
/// no archive name.
fn is_python_name(name: &str) -> bool {
    static NAME: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$").ok());
    NAME.as_ref().is_some_and(|n| n.is_match(name)) && !name.contains("..") && !is_archive(name)
}

/// The range the project's `package.json` declares for npm `package`, and whether it is a
/// development dependency.
fn declared_npm_dependency(workspace: &Workspace, package: &str) -> Option<(String, bool)> {
    let manifest = workspace
        .read(&RelativePath::new("package.json").ok()?)
        .ok()??;
    let value: serde_json::Value = serde_json::from_str(&manifest).ok()?;
    [
        ("dependencies", false),
        ("devDependencies", true),
        ("optionalDependencies", false),
    ]
    .iter()
    .find_map(|(section, dev)| {
        let range = value.get(section)?.get(package)?.as_str()?;
        Some((range.to_string(), *dev))
    })
}

/// The version of an npm package installed in the project at `root`, from its own
/// `package.json`: only inside the project (links followed), and only a plain version string.
pub(super) fn npm_version(root: &Path, package: &str) -> Option<String> {
    let manifest = root.join("node_modules").join(package).join("package.json");
    let path = manifest.canonicalize().ok()?;
    if !path.starts_with(root.canonicalize().ok()?) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(&read_small(&path)?).ok()?;
    let version = value.get("version")?.as_str()?;
    let plain = version.len() <= 64
        && (version.bytes()).all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b));
    plain.then(|| version.to_string())
}

/// The version of an installed Python distribution, from its `.dist-info` folder in the
/// virtualenv at `environment`.
fn pip_version(environment: &Path, distribution: &str) -> Option<String> {
    let normalized = |name: &str| name.to_ascii_lowercase().replace(['-', '.'], "_");
    let wanted = normalized(distribution);
    let lib = std::fs::read_dir(environment.join("lib")).ok()?;
    for python in lib.flatten() {
        let Ok(entries) = std::fs::read_dir(python.path().join("site-packages")) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((found, version)) = name
                .strip_suffix(".dist-info")
                .and_then(|stem| stem.split_once('-'))
            else {
                continue;
            };
            if normalized(found) == wanted {
                return Some(version.chars().take(64).collect());
            }
        }
    }
    None
}

/// A file's text when it is small enough to be a manifest.
fn read_small(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, 1 << 20), &mut text).ok()?;
    Some(text)
}

/// The packages the project's own source imports.
#[derive(Debug, Default)]
struct ProjectImports {
    /// npm packages (from `import … from 'pkg'`, `require('pkg/sub')`, `import('pkg')`).
    script: BTreeSet<String>,
    /// Top-level Python modules (from `import a.b`, `from a import b`).
    python: BTreeSet<String>,
    /// The names imported from each npm package's entry point (`import { a, b as c } from
    /// 'pkg'`: `a` and `b`).
    named: BTreeMap<String, BTreeSet<String>>,
}

impl ProjectImports {
    fn scan(workspace: &Workspace) -> Result<ProjectImports> {
        static SCRIPT: LazyLock<Option<Regex>> = LazyLock::new(|| {
            Regex::new(r#"(?:\bfrom|\bimport\s*\(?|\brequire\s*\()\s*['"]([^'"\r\n]{1,260})['"]"#)
                .ok()
        });
        let source = |path: &RelativePath| {
            let extension = path.as_str().rsplit_once('.').map(|(_, e)| e);
            matches!(
                extension,
                Some(
                    "js" | "jsx"
                        | "mjs"
                        | "cjs"
                        | "ts"
                        | "tsx"
                        | "mts"
                        | "cts"
                        | "vue"
                        | "svelte"
                        | "astro"
                        | "py"
                        | "pyi"
                )
            )
        };
        let mut imports = ProjectImports::default();
        for (path, text) in workspace.texts(&source, MAX_SOURCE_BYTES)? {
            if path.as_str().ends_with(".py") || path.as_str().ends_with(".pyi") {
                imports.python.extend(python_imports(&text));
            } else if let Some(script) = SCRIPT.as_ref() {
                imports.script.extend(
                    (script.captures_iter(&text))
                        .filter_map(|found| npm_package(found.get(1)?.as_str())),
                );
                for (package, names) in named_imports(&text) {
                    imports.named.entry(package).or_default().extend(names);
                }
            }
        }
        Ok(imports)
    }
}

/// The names a script imports by name from a package's entry point: `import { a, b as c }
/// from 'pkg'` gives `pkg` with `a` and `b`; `type` imports count (declarations export them).
pub(super) fn named_imports(text: &str) -> Vec<(String, Vec<String>)> {
    static NAMED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"\bimport\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?\{([^{}]{0,4000})\}\s*from\s*['"]([^'"\r\n]{1,260})['"]"#,
        )
        .ok()
    });
    let Some(named) = NAMED.as_ref() else {
        return Vec::new();
    };
    (named.captures_iter(text))
        .filter_map(|found| {
            let specifier = found.get(2)?.as_str();
            (npm_package(specifier).as_deref() == Some(specifier)).then_some(())?;
            let names = (found.get(1)?.as_str().split(','))
                .filter_map(|entry| {
                    let entry = entry.trim().trim_start_matches("type ").trim_start();
                    let name = entry.split_whitespace().next()?;
                    let plain = (name.chars()).all(|c| c.is_alphanumeric() || c == '_' || c == '$');
                    (plain && name != "default").then(|| name.to_string())
                })
                .collect();
            Some((specifier.to_string(), names))
        })
        .collect()
}

/// The top-level modules a Python file imports absolutely.
fn python_imports(text: &str) -> Vec<String> {
    let mut modules = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let names = if let Some(rest) = line.strip_prefix("from ") {
            rest.split_whitespace()
                .next()
                .into_iter()
                .collect::<Vec<_>>()
        } else if let Some(rest) = line.strip_prefix("import ") {
            rest.split(',')
                .filter_map(|part| part.split_whitespace().next())
                .collect()
        } else {
            continue;
        };
        modules.extend(
            (names.into_iter())
                .filter_map(|name| name.split('.').next())
                .filter(|name| is_identifier(name))
                .map(String::from),
        );
    }
    modules
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The distribution that provides a Python module.
fn distribution(module: &str) -> String {
    DISTRIBUTIONS
        .iter()
        .find(|(m, _)| *m == module)
        .map_or_else(|| module.replace('_', "-"), |(_, d)| d.to_string())
}

/// `requirements.txt` with the distributions added (created when missing).
fn declare_pip(workspace: &Workspace, distributions: &[String]) -> Result<Edit> {
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
    Ok(match existing {
        Some(_) => Edit::Replace { path, content },
        None => Edit::Create { path, content },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_registry_names_are_installable() {
        let npm = [
            ("lodash/fp", Some("lodash")),
            ("@tanstack/react-query/build", Some("@tanstack/react-query")),
            ("left-pad", Some("left-pad")),
            ("socket.io-client", Some("socket.io-client")),
            ("Bad Name", None),
            ("evil.tgz", None),
            ("evil.tar.gz", None),
            ("a..b", None),
            ("-registry=http://x", None),
            ("--ignore-scripts=false", None),
            ("_private", None),
            (".hidden", None),
            ("git+https://host/x.git", None),
            ("github:user/repo", None),
            ("npm:left-pad@1", None),
            ("left-pad@latest", None),
            ("@scope/pkg@1.0.0", None),
            ("http://host/x", None),
            ("file:../x", None),
            ("~/x", None),
            ("$(touch x)", None),
            ("Uppercase", None),
            ("node_modules", None),
            ("@scope", None),
        ];
        for (specifier, expected) in npm {
            assert_eq!(npm_package(specifier).as_deref(), expected, "{specifier}");
        }
        assert_eq!(npm_package(&"a".repeat(215)), None);
        for name in ["PyYAML", "typing-extensions", "zope.interface", "a", "x1"] {
            assert!(is_python_name(name), "{name}");
        }
        for name in [
            "--index-url",
            "-e",
            "evil.whl",
            "evil.zip",
            "a..b",
            "six tgt",
            "x-",
            "_x",
            "git+https://h/x",
            "../x",
            "x==1",
            "x[extra]",
        ] {
            assert!(!is_python_name(name), "{name}");
        }
        assert_eq!(distribution("yaml"), "PyYAML");
        assert_eq!(distribution("typing_extensions"), "typing-extensions");
        assert_eq!(
            types_package("left-pad").as_deref(),
            Some("@types/left-pad")
        );
        assert_eq!(types_package("@scope/x"), None);
    }

    #[test]
    fn names_imported_from_a_package_entry_point_are_read() {
        let text = "import { motion, useCycle as cycle, type Variants } from 'framer-motion';\nimport React, { useState } from \"react\";\nimport { format } from 'date-fns/format';\nimport { local } from './local';\nimport * as all from 'lodash';\n";
        let found = named_imports(text);
        assert_eq!(
            found,
            [
                (
                    "framer-motion".to_string(),
                    vec!["motion".to_string(), "useCycle".into(), "Variants".into()]
                ),
                ("react".to_string(), vec!["useState".to_string()]),
            ]
        );
    }

    #[test]
    fn python_imports_are_the_top_level_modules_of_absolute_imports() {
        let text = "import os, yaml as y\nfrom requests.adapters import HTTPAdapter\n\
                    from . import local\nfrom .sibling import x\n  import numpy.linalg\n\
                    # import commented\nimportant = 1\n";
        let mut modules = python_imports(text);
        modules.sort();
        assert_eq!(modules, ["numpy", "os", "requests", "yaml"]);
    }

    #[test]
    fn install_commands_turn_scripts_off_and_end_options_before_the_names() {
        let packages = ["dayjs".to_string()];
        assert_eq!(
            NodeManager::Pnpm.install_argv(&packages, true),
            [
                "pnpm",
                "add",
                "--ignore-scripts",
                "--save-dev",
                "--",
                "dayjs"
            ]
        );
        assert_eq!(
            NodeManager::Yarn.install_argv(&packages, false),
            [
                "yarn",
                "add",
                "--non-interactive",
                "--ignore-scripts",
                "--",
                "dayjs"
            ]
        );
    }
}

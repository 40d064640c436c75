//! Fallback strategies (seed 000 §3.4.5): what a run tries when fixes stop getting it further
//! — the same errors build after build, nothing left to propose, a category out of attempts —
//! before it hands over to a person.
//!
//! A [`Strategy`] applies to some error categories and offers a [`Remedy`]: edits (a fresh
//! lockfile, a simpler Dockerfile, the last green files), a documented tool setting written into
//! the project (npm's `legacy-peer-deps`), another build plan (another way to install), or
//! another builder (more memory and CPU). The run tests a fallback like a fix: kept when it
//! removes an error and makes nothing worse, undone otherwise. Each strategy is tried at most
//! once per run, in the healer's order; resource scaling goes first for resource errors, before
//! any fix. Escalation to a person is what is left when none applies.
//!
//! A build that passes only with another plan or builder does not count as healed: the run
//! ends [`HealedWithChangedPlan`](super::Outcome::HealedWithChangedPlan), naming the changes.
//! Where a tool has a setting for what a forgiving command does, the setting is written into
//! the project instead, so that the plan as written passes.

use std::sync::Arc;

use crate::build::{BuildPlan, BuildStep, Builder, Command};
use crate::fix::{Edit, FixInput, FixProposal, RelativePath};
use crate::workspace::Snapshot;
use crate::{Category, Result, Subcategory};

/// A way out when fixing errors one by one does not work; see the [module docs](self).
#[async_trait::async_trait]
pub trait Strategy: Send + Sync {
    /// The name shown in events and reports.
    fn name(&self) -> &str;

    /// Whether it can help when an error of `category` leads the build.
    fn applies_to(&self, category: Category) -> bool;

    /// The fallback for this build, or `None` when it has none here.
    async fn fallback(&self, input: &FixInput<'_>) -> Result<Option<Remedy>>;
}

/// What a strategy offers.
pub enum Remedy {
    /// Edits to the workspace.
    Fix(FixProposal),
    /// A tool setting, written into the project by selfheal itself.
    Setting(ToolSetting),
    /// Build with this plan from now on.
    Plan(BuildPlan),
    /// Build with this builder from now on.
    Builder(Arc<dyn Builder>),
}

impl std::fmt::Debug for Remedy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remedy::Fix(proposal) => f.debug_tuple("Fix").field(proposal).finish(),
            Remedy::Setting(setting) => f.debug_tuple("Setting").field(setting).finish(),
            Remedy::Plan(plan) => f.debug_tuple("Plan").field(plan).finish(),
            Remedy::Builder(_) => f.write_str("Builder(..)"),
        }
    }
}

/// A documented setting of a tool that makes it as forgiving as a command-line flag would,
/// kept in the project. Only selfheal's own strategies write one, and only its one line: the
/// edit policy protects these files from every proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolSetting {
    /// `legacy-peer-deps=true` in `.npmrc`: npm installs despite conflicting peer dependencies,
    /// as `npm install --legacy-peer-deps` does.
    NpmLegacyPeerDeps,
}

impl ToolSetting {
    /// The file that holds it.
    pub fn file(self) -> &'static str {
        match self {
            ToolSetting::NpmLegacyPeerDeps => ".npmrc",
        }
    }

    /// Its line.
    pub fn line(self) -> &'static str {
        match self {
            ToolSetting::NpmLegacyPeerDeps => "legacy-peer-deps=true",
        }
    }

    /// The file's text with the setting added, or `None` when it is there already.
    pub fn written_into(self, text: Option<&str>) -> Option<String> {
        let text = text.unwrap_or_default();
        if text.lines().any(|line| line.trim() == self.line()) {
            return None;
        }
        let separator = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        Some(format!("{text}{separator}{}\n", self.line()))
    }
}

/// The strategies a healer uses unless told otherwise: [`ResourceScaling`] (×2),
/// [`LockfileRegeneration`], [`LegacyPeerDeps`], [`AlternativeInstall`].
pub fn default_strategies() -> Vec<Arc<dyn Strategy>> {
    vec![
        Arc::new(ResourceScaling::new(2.0)),
        Arc::new(LockfileRegeneration),
        Arc::new(LegacyPeerDeps),
        Arc::new(AlternativeInstall),
    ]
}

/// Resource errors (out of memory, killed, no space): the builder's memory and CPU limits
/// times a factor (see [`Builder::scaled`]).
#[derive(Debug, Clone, Copy)]
pub struct ResourceScaling {
    factor: f64,
}

impl ResourceScaling {
    /// Scales by `factor` (the seed: 2).
    pub fn new(factor: f64) -> Self {
        ResourceScaling { factor }
    }
}

#[async_trait::async_trait]
impl Strategy for ResourceScaling {
    fn name(&self) -> &str {
        "resource-scaling"
    }

    fn applies_to(&self, category: Category) -> bool {
        category == Category::Resource
    }

    async fn fallback(&self, input: &FixInput<'_>) -> Result<Option<Remedy>> {
        Ok(input.builder.scaled(self.factor).map(Remedy::Builder))
    }
}

/// Dependency and configuration errors: the project's lockfiles deleted and written again from
/// the manifest by their own package manager, run through the build's builder (npm, pnpm, yarn,
/// Cargo, Poetry, uv), and `package-lock.json` written for a plan that runs `npm ci` without
/// one.
/// Nothing is offered when the package manager is missing or fails, or when the host turned
/// installs off ([`InstallPolicy`](crate::fix::install::InstallPolicy)).
#[derive(Debug, Clone, Copy, Default)]
pub struct LockfileRegeneration;

/// Lockfiles and the commands that write them again.
const LOCKFILES: &[(&str, &str)] = &[
    (
        "package-lock.json",
        "npm install --package-lock-only --ignore-scripts --no-audit --no-fund",
    ),
    (
        "pnpm-lock.yaml",
        "pnpm install --lockfile-only --ignore-scripts",
    ),
    ("yarn.lock", "yarn install --ignore-scripts"),
    ("Cargo.lock", "cargo generate-lockfile"),
    ("poetry.lock", "poetry lock"),
    ("uv.lock", "uv lock"),
];

#[async_trait::async_trait]
impl Strategy for LockfileRegeneration {
    fn name(&self) -> &str {
        "lockfile-regeneration"
    }

    /// Dependency errors, and configuration ones (`npm ci` without a lockfile is a usage
    /// error to npm).
    fn applies_to(&self, category: Category) -> bool {
        matches!(category, Category::Dependency | Category::Configuration)
    }

    async fn fallback(&self, input: &FixInput<'_>) -> Result<Option<Remedy>> {
        if !input.installs.enabled() {
            return Ok(None);
        }
        let mut edits: Vec<Edit> = Vec::new();
        let template = input.plan.steps.first();
        for (file, command) in LOCKFILES {
            let Ok(path) = RelativePath::new(file) else {
                continue;
            };
            // `npm ci` needs a lockfile: one is written for a project that has none.
            let wanted = *file == "package-lock.json" && runs(input.plan, "npm", &["ci"]);
            if !wanted && !input.workspace.resolve(&path).is_ok_and(|p| p.is_file()) {
                continue;
            }
            let step = BuildStep {
                name: format!("regenerate {file}"),
                command: Command::Shell(command.to_string()),
                env: template.map(|s| s.env.clone()).unwrap_or_default(),
                timeout: template.and_then(|s| s.timeout),
                cwd: None,
                continue_on_failure: true,
            };
            let delete = FixProposal {
                edits: vec![Edit::Delete { path: path.clone() }],
                ..FixProposal::default()
            };
            if let Some((output, changes)) = input.changes_made_by(&step, Some(&delete)).await?
                && output.success()
            {
                edits.extend(changes);
            }
        }
        Ok((!edits.is_empty()).then(|| {
            Remedy::Fix(FixProposal {
                analysis: "the lockfile no longer fits the manifest: written again".into(),
                edits,
                ..FixProposal::default()
            })
        }))
    }
}

/// Conflicting peer dependencies (npm's `ERESOLVE`) in a plan that installs with npm:
/// `legacy-peer-deps=true` written into the project's `.npmrc` (the setting that
/// `--legacy-peer-deps` stands for), so that the plan as written installs.
#[derive(Debug, Clone, Copy, Default)]
pub struct LegacyPeerDeps;

#[async_trait::async_trait]
impl Strategy for LegacyPeerDeps {
    fn name(&self) -> &str {
        "legacy-peer-deps"
    }

    fn applies_to(&self, category: Category) -> bool {
        matches!(category, Category::Dependency | Category::Configuration)
    }

    async fn fallback(&self, input: &FixInput<'_>) -> Result<Option<Remedy>> {
        let setting = ToolSetting::NpmLegacyPeerDeps;
        let conflict =
            (input.diagnostics.iter()).any(|d| d.subcategory == Subcategory::PeerDependency);
        if !conflict || !runs(input.plan, "npm", &["install", "i", "ci"]) {
            return Ok(None);
        }
        let current = RelativePath::new(setting.file())
            .ok()
            .and_then(|path| input.workspace.read(&path).ok().flatten());
        Ok(setting
            .written_into(current.as_deref())
            .map(|_| Remedy::Setting(setting)))
    }
}

/// Whether a step of `plan` runs `program` with one of `subcommands`.
fn runs(plan: &BuildPlan, program: &str, subcommands: &[&str]) -> bool {
    plan.steps.iter().any(|step| match &step.command {
        Command::Shell(line) => {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words.windows(2)).any(|pair| pair[0] == program && subcommands.contains(&pair[1]))
        }
        Command::Argv(argv) => {
            argv.first().is_some_and(|p| p == program)
                && argv
                    .get(1)
                    .is_some_and(|s| subcommands.contains(&s.as_str()))
        }
    })
}

/// Dependency and configuration errors: the plan's install commands in their more forgiving
/// form — `npm ci` becomes `npm install`, yarn and pnpm may update a frozen lockfile. A build
/// that passes so has a changed plan, and the run says so. Nothing is offered when the host
/// turned installs off.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlternativeInstall;

#[async_trait::async_trait]
impl Strategy for AlternativeInstall {
    fn name(&self) -> &str {
        "alternative-install"
    }

    /// Dependency errors, and configuration ones (`npm ci` without a lockfile is a usage
    /// error to npm).
    fn applies_to(&self, category: Category) -> bool {
        matches!(category, Category::Dependency | Category::Configuration)
    }

    async fn fallback(&self, input: &FixInput<'_>) -> Result<Option<Remedy>> {
        if !input.installs.enabled() {
            return Ok(None);
        }
        let mut plan = input.plan.clone();
        let mut changed = false;
        for step in &mut plan.steps {
            if let Command::Shell(line) = &step.command
                && let Some(forgiving) = forgiving_install(line)
            {
                step.command = Command::Shell(forgiving);
                changed = true;
            }
        }
        Ok(changed.then_some(Remedy::Plan(plan)))
    }
}

/// `line` with its install commands made forgiving, when it has any.
fn forgiving_install(line: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut changed = false;
    let words: Vec<&str> = line.split(' ').collect();
    let mut i = 0;
    while i < words.len() {
        let (word, next) = (words[i], words.get(i + 1).copied());
        match (word, next) {
            ("npm", Some("ci")) => {
                out.extend(["npm", "install"]);
                i += 2;
                changed = true;
                continue;
            }
            ("--frozen-lockfile" | "--immutable", _) => {
                let manager = (out.iter().rev())
                    .take_while(|w| !matches!(**w, "&&" | "||" | ";" | "|"))
                    .find(|w| matches!(**w, "yarn" | "pnpm"))
                    .copied();
                if let Some(manager) = manager {
                    if manager == "pnpm" {
                        out.push("--no-frozen-lockfile");
                    }
                    i += 1;
                    changed = true;
                    continue;
                }
            }
            _ => {}
        }
        out.push(word);
        i += 1;
    }
    changed.then(|| out.join(" "))
}

/// Build or configuration errors in a Dockerfile: the host's simpler Dockerfile instead.
#[derive(Debug, Clone)]
pub struct SimplifiedDockerfile {
    path: RelativePath,
    template: String,
}

impl SimplifiedDockerfile {
    /// Writes `template` to `path` (the project's Dockerfile).
    pub fn new(path: RelativePath, template: impl Into<String>) -> Self {
        SimplifiedDockerfile {
            path,
            template: template.into(),
        }
    }
}

#[async_trait::async_trait]
impl Strategy for SimplifiedDockerfile {
    fn name(&self) -> &str {
        "simplified-dockerfile"
    }

    fn applies_to(&self, category: Category) -> bool {
        matches!(
            category,
            Category::Configuration | Category::Dependency | Category::Syntax | Category::Unknown
        )
    }

    async fn fallback(&self, input: &FixInput<'_>) -> Result<Option<Remedy>> {
        let docker = input.diagnostics.iter().any(|d| {
            d.tool == "docker" || d.file.as_deref().is_some_and(|f| f.ends_with("Dockerfile"))
        });
        let current = input.workspace.read(&self.path)?;
        if !docker || current.as_deref() == Some(self.template.as_str()) {
            return Ok(None);
        }
        let content = self.template.clone();
        let edit = match current {
            Some(_) => Edit::Replace {
                path: self.path.clone(),
                content,
            },
            None => Edit::Create {
                path: self.path.clone(),
                content,
            },
        };
        Ok(Some(Remedy::Fix(FixProposal {
            analysis: "the Dockerfile does not build: the simpler one instead".into(),
            edits: vec![edit],
            ..FixProposal::default()
        })))
    }
}

/// Any error: the workspace put back as it was in a snapshot the host took when its build was
/// last green (what the project looked like before the change that broke it).
#[derive(Debug, Clone)]
pub struct RevertToGreen {
    green: Snapshot,
}

impl RevertToGreen {
    /// Reverts to `green`.
    pub fn new(green: Snapshot) -> Self {
        RevertToGreen { green }
    }
}

#[async_trait::async_trait]
impl Strategy for RevertToGreen {
    fn name(&self) -> &str {
        "revert-to-last-green"
    }

    fn applies_to(&self, _: Category) -> bool {
        true
    }

    async fn fallback(&self, input: &FixInput<'_>) -> Result<Option<Remedy>> {
        let edits = self.green.edits_from(&input.workspace.snapshot()?);
        Ok((!edits.is_empty()).then(|| {
            Remedy::Fix(FixProposal {
                analysis: "back to the files of the last green build".into(),
                edits,
                ..FixProposal::default()
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::forgiving_install;

    #[test]
    fn install_commands_become_forgiving_and_others_stay() {
        let cases = [
            (
                "npm ci && npm run build",
                Some("npm install && npm run build"),
            ),
            ("npm install", None),
            ("npm i react && tsc", None),
            ("yarn install --frozen-lockfile", Some("yarn install")),
            (
                "pnpm install --frozen-lockfile",
                Some("pnpm install --no-frozen-lockfile"),
            ),
            ("npx tsc --noEmit", None),
            ("pytest -q", None),
        ];
        for (line, expected) in cases {
            assert_eq!(forgiving_install(line).as_deref(), expected, "{line}");
        }
    }
}

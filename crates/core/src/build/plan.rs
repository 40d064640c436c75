//! What to run: plans, steps and commands, and running a plan step by step.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Builder, LineSink, StepOutput};
use crate::Result;
use crate::edit::RelativePath;

/// A command: a program with its arguments, or a line for `/bin/sh -c`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// The program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// A shell line, run as `/bin/sh -c LINE`.
    Shell(String),
}

impl Command {
    /// The argument vector that runs this command.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Argv(argv) => argv.clone(),
            Command::Shell(line) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
        }
    }
}

impl Command {
    /// The environment variables a shell line expands (`$NAME`, `${NAME}`); none for an
    /// argument vector, which no shell reads.
    pub fn variables(&self) -> Vec<String> {
        let Command::Shell(line) = self else {
            return Vec::new();
        };
        let bytes = line.as_bytes();
        let mut names: Vec<String> = Vec::new();
        let mut at = 0;
        while let Some(offset) = line[at..].find('$') {
            let mut start = at + offset + 1;
            if bytes.get(start) == Some(&b'{') {
                start += 1;
            }
            let length = (line[start..].bytes())
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let name = &line[start..start + length];
            if name.bytes().next().is_some_and(|b| !b.is_ascii_digit())
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
            at = start + length;
        }
        names
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Shell(line) => f.write_str(line),
            Command::Argv(argv) => {
                for (i, arg) in argv.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    f.write_str(&quoted(arg))?;
                }
                Ok(())
            }
        }
    }
}

/// `arg` as a POSIX shell reads it back as one word.
pub(crate) fn quoted(arg: &str) -> std::borrow::Cow<'_, str> {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        arg.into()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''")).into()
    }
}

/// One step of a build: a named command with its environment, working directory and time limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildStep {
    /// A short name for reports (`install`, `typecheck`).
    pub name: String,
    /// What to run.
    pub command: Command,
    /// Variables added to the environment (they win over inherited ones).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// How long the step may run; the builder's default when `None`.
    #[serde(default, with = "optional_seconds")]
    pub timeout: Option<Duration>,
    /// The working directory, relative to the workspace; the workspace itself when `None`.
    #[serde(default)]
    pub cwd: Option<RelativePath>,
    /// Run the next steps even when this one fails.
    #[serde(default)]
    pub continue_on_failure: bool,
}

impl BuildStep {
    /// A step running `command`.
    pub fn new(name: impl Into<String>, command: Command) -> Self {
        BuildStep {
            name: name.into(),
            command,
            env: Vec::new(),
            timeout: None,
            cwd: None,
            continue_on_failure: false,
        }
    }

    /// A step running a shell line.
    pub fn shell(name: impl Into<String>, line: impl Into<String>) -> Self {
        BuildStep::new(name, Command::Shell(line.into()))
    }

    /// A step running a shell line, named after what it runs: the package script
    /// (`npm run build` → `npm run build`, `pnpm lint` → `pnpm lint`), the tool a runner starts
    /// (`npx tsc --noEmit` → `tsc`, `python -m pytest` → `pytest`), else the program — leading
    /// variable assignments aside (`NEXT_TELEMETRY_DISABLED=1 next build` → `next`).
    pub fn command_line(line: impl Into<String>) -> Self {
        let line = line.into();
        BuildStep::shell(step_name(&line), line)
    }

    /// A step running a program with arguments, without a shell.
    pub fn argv<I, S>(name: impl Into<String>, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BuildStep::new(
            name,
            Command::Argv(argv.into_iter().map(Into::into).collect()),
        )
    }

    /// Sets the time limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets the working directory, relative to the workspace.
    pub fn cwd(mut self, cwd: RelativePath) -> Self {
        self.cwd = Some(cwd);
        self
    }

    /// Lets the plan go on when this step fails.
    pub fn continue_on_failure(mut self) -> Self {
        self.continue_on_failure = true;
        self
    }
}

/// The steps of a build, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildPlan {
    /// The steps.
    pub steps: Vec<BuildStep>,
}

impl BuildPlan {
    /// A plan of `steps`. Reports and events name steps, so a name used before gets a number
    /// (`npm`, `npm#2`, …).
    pub fn new(steps: impl IntoIterator<Item = BuildStep>) -> Self {
        let mut plan = BuildPlan { steps: Vec::new() };
        for mut step in steps {
            let taken = |name: &str| plan.steps.iter().any(|s: &BuildStep| s.name == name);
            if taken(&step.name) {
                let numbered = (2..)
                    .map(|n| format!("{}#{n}", step.name))
                    .find(|name| !taken(name));
                step.name = numbered.unwrap_or_default();
            }
            plan.steps.push(step);
        }
        plan
    }

    /// A plan of shell lines, each step [named after its program](BuildStep::command_line).
    pub fn command_lines<I, S>(lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BuildPlan::new(lines.into_iter().map(BuildStep::command_line))
    }
}

/// What a shell line runs, as a step's name; see [`BuildStep::command_line`].
fn step_name(line: &str) -> String {
    let words: Vec<&str> = (line.split_whitespace())
        .skip_while(|word| {
            *word == "env"
                || word.split_once('=').is_some_and(|(name, _)| {
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
        })
        .take_while(|word| !matches!(*word, "&&" | "||" | ";" | "|"))
        .collect();
    let file_name = |word: &str| {
        let word = word.trim_matches(['"', '\'']);
        word.rsplit('/').next().unwrap_or(word).to_string()
    };
    let Some(program) = words.first().map(|word| file_name(word)) else {
        return "step".into();
    };
    let next = words.get(1).copied();
    let options = |from: usize| (words.iter().skip(from)).find(|word| !word.starts_with('-'));
    match (program.as_str(), next) {
        ("npm" | "pnpm" | "yarn" | "bun", Some("run" | "run-script")) => match options(2) {
            Some(script) => format!("{program} run {script}"),
            None => program,
        },
        ("npm", Some(script @ ("test" | "start" | "t"))) => format!("npm {script}"),
        ("npm" | "pnpm" | "yarn" | "bun", Some(command))
            if command == "ci" || PACKAGE_COMMANDS.contains(&command) =>
        {
            format!("{program} {command}")
        }
        ("npx" | "bunx", _) => options(1).map_or(program, |tool| file_name(tool)),
        ("pnpm" | "yarn", Some("dlx" | "exec")) => {
            options(2).map_or(program, |tool| file_name(tool))
        }
        ("pnpm" | "yarn", Some(script))
            if !script.starts_with('-') && !PACKAGE_COMMANDS.contains(&script) =>
        {
            format!("{program} {script}")
        }
        ("python" | "python3" | "uv" | "poetry", _) => {
            match words.iter().position(|w| *w == "-m") {
                Some(at) => words
                    .get(at + 1)
                    .map_or(program, |module| module.to_string()),
                None => program,
            }
        }
        _ => program,
    }
}

/// pnpm's and yarn's own commands: a word after them that is none of these is a script.
const PACKAGE_COMMANDS: &[&str] = &[
    "install",
    "i",
    "add",
    "remove",
    "rm",
    "update",
    "up",
    "upgrade",
    "link",
    "unlink",
    "why",
    "outdated",
    "list",
    "ls",
    "audit",
    "publish",
    "pack",
    "init",
    "create",
    "config",
    "store",
    "import",
    "rebuild",
    "prune",
    "dedupe",
    "info",
    "view",
    "cache",
    "global",
    "bin",
    "root",
    "env",
    "licenses",
    "patch",
    "fetch",
    "workspace",
    "workspaces",
    "set",
    "plugin",
    "node",
    "dlx",
    "exec",
    "run",
];

/// The outputs of the steps of a plan that ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanOutcome {
    /// One output per step that ran, in order.
    pub steps: Vec<StepOutput>,
}

impl PlanOutcome {
    /// True when every step ran and succeeded.
    pub fn success(&self, plan: &BuildPlan) -> bool {
        self.steps.len() == plan.steps.len() && self.steps.iter().all(StepOutput::success)
    }

    /// The steps that failed.
    pub fn failures(&self) -> impl Iterator<Item = &StepOutput> {
        self.steps.iter().filter(|step| !step.success())
    }
}

/// Runs `plan` step by step, stopping after the first failing step unless that step is marked
/// [`continue_on_failure`](BuildStep::continue_on_failure).
pub async fn run_plan(
    builder: &dyn Builder,
    workspace: &Path,
    plan: &BuildPlan,
    sink: &dyn LineSink,
) -> Result<PlanOutcome> {
    let mut outcome = PlanOutcome::default();
    for step in &plan.steps {
        let output = builder.run_step(workspace, step, sink).await?;
        let stop = !output.success() && !step.continue_on_failure;
        outcome.steps.push(output);
        if stop {
            break;
        }
    }
    Ok(outcome)
}

/// The working directory of a step: `cwd` under the workspace, after resolving symlinks, and
/// still inside it.
pub(super) fn working_dir(workspace: &Path, cwd: Option<&RelativePath>) -> Result<PathBuf, String> {
    let root = workspace
        .canonicalize()
        .map_err(|e| format!("workspace {}: {e}", workspace.display()))?;
    let Some(cwd) = cwd else {
        return Ok(root);
    };
    let dir = root
        .join(cwd.as_path())
        .canonicalize()
        .map_err(|e| format!("working directory `{cwd}`: {e}"))?;
    if !dir.starts_with(&root) {
        return Err(format!(
            "working directory `{cwd}` resolves to {}, outside the workspace",
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(format!("working directory `{cwd}` is not a directory"));
    }
    Ok(dir)
}

mod optional_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let seconds = Option::<f64>::deserialize(deserializer)?;
        seconds
            .map(|s| Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_displays_as_a_shell_line_that_reads_back_the_same() {
        let command = Command::Argv(vec![
            "echo".into(),
            "it's here".into(),
            "".into(),
            "a=b".into(),
        ]);
        assert_eq!(command.to_string(), r"echo 'it'\''s here' '' a=b");
    }

    #[test]
    fn command_lines_are_named_after_their_program_and_names_stay_unique() {
        let plan = BuildPlan::command_lines([
            "npm ci",
            "npx tsc --noEmit",
            "npm test",
            "  ",
            "NEXT_TELEMETRY_DISABLED=1 npm run build",
            "pnpm lint",
            "yarn install --frozen-lockfile",
            "python -m pytest -q",
            "./node_modules/.bin/eslint .",
            "npm ci",
            "\"$HEAL_TOOLS/node_modules/.bin/tsc\" --noEmit",
        ]);
        let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "npm ci",
                "tsc",
                "npm test",
                "step",
                "npm run build",
                "pnpm lint",
                "yarn install",
                "pytest",
                "eslint",
                "npm ci#2",
                "tsc#2"
            ]
        );
        assert_eq!(plan.steps[2].command, Command::Shell("npm test".into()));
        let line =
            Command::Shell("\"$HEAL_TOOLS/bin/tsc\" -p ${DIR}/a $1 $$ $HOME $HEAL_TOOLS".into());
        assert_eq!(line.variables(), ["HEAL_TOOLS", "DIR", "HOME"]);
        assert!(Command::Argv(vec!["$HOME".into()]).variables().is_empty());

        let plan = BuildPlan::new([
            BuildStep::shell("build", "make"),
            BuildStep::shell("build#2", "make a"),
            BuildStep::shell("build", "make b"),
        ]);
        let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["build", "build#2", "build#3"]);
    }

    #[test]
    fn shell_commands_run_through_sh() {
        assert_eq!(
            Command::Shell("make && make test".into()).argv(),
            ["/bin/sh", "-c", "make && make test"]
        );
    }

    #[test]
    fn steps_round_trip_through_json() {
        let step = BuildStep::shell("test", "npm test")
            .timeout(Duration::from_millis(1500))
            .env("CI", "1")
            .continue_on_failure();
        let json = serde_json::to_string(&step).unwrap_or_default();
        assert!(json.contains("\"timeout\":1.5"), "{json}");
        let back: BuildStep = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(back, step);
        assert!(
            serde_json::from_str::<BuildStep>(
                r#"{"name":"x","command":{"shell":"x"},"timeout":-1}"#
            )
            .is_err()
        );
    }
}

//! A heal run's settings and build steps as plain data — the shapes the Python and Node
//! packages take (`{"max_attempts": 5, "timeout": 300}`, `"npm test"` or `{"command": …}`),
//! read once here for both. Durations are in seconds.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::HealConfig;
use crate::build::{BuildPlan, BuildStep};
use crate::cache::FixContext;
use crate::fix::Safety;
use crate::workspace::Protected;
use crate::{Error, Result};

/// Settings over [`HealConfig::default`].
///
/// ```
/// use selfheal::heal::HealOptions;
///
/// let options: HealOptions = serde_json::from_str(r#"{"max_attempts": 3, "timeout": 90.5}"#)?;
/// let config = options.config()?;
/// assert_eq!(config.budget.attempts, 3);
/// assert_eq!(config.budget.time.as_millis(), 90_500);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealOptions {
    /// Attempts in all, the first build included.
    pub max_attempts: Option<u32>,
    /// Seconds the whole run may take.
    pub timeout: Option<f64>,
    /// Model tokens the run may spend.
    pub max_tokens: Option<u64>,
    /// US dollars the run may spend on models.
    pub max_usd: Option<f64>,
    /// Attempts in a row that fix nothing before the run escalates.
    pub stuck_after: Option<u32>,
    /// Keep fixes that fixed some errors when the run does not end green.
    pub keep_partial: Option<bool>,
    /// The first backoff between attempts, in seconds.
    pub backoff: Option<f64>,
    /// The longest backoff, in seconds.
    pub max_backoff: Option<f64>,
    /// Seeds the backoff jitter, for reproducible runs.
    pub jitter_seed: Option<u64>,
    /// The project (language, framework, dependencies), for the fix cache's ranking.
    pub context: Option<FixContext>,
    /// The least trusted deterministic fixers that may run: `safe`, `likely` or `unsafe`.
    pub fixer_safety: Option<Safety>,
    /// Protected classes of files fixes may change: `tests`, `ci`, `build-scripts` (see
    /// [`Protected`]).
    pub allow: Option<Vec<Protected>>,
    /// Edits one fix may hold.
    pub max_edits: Option<usize>,
    /// Bytes a file a fix edits may have.
    pub max_file_bytes: Option<u64>,
    /// Bytes of text one fix's edits may hold.
    pub max_proposal_bytes: Option<u64>,
    /// Bytes of a model's reply read at most.
    pub max_reply_bytes: Option<usize>,
    /// Steps that must pass too once the plan passes; no fix may change what they use.
    pub verify: Option<Vec<StepSpec>>,
    /// Whether fixes may install packages (default: yes, under the rules of
    /// [`install`](crate::fix::install)); `false` runs no package manager at all.
    pub install: Option<bool>,
    /// The virtualenv pip installs into (default: the project's `.venv` or `venv`).
    pub python_env: Option<std::path::PathBuf>,
}

fn seconds(name: &str, value: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|e| Error::InvalidInput(format!("{name}: {e}")))
}

impl HealOptions {
    /// The configuration these settings give.
    pub fn config(&self) -> Result<HealConfig> {
        let mut config = HealConfig::default();
        if let Some(attempts) = self.max_attempts {
            config.budget.attempts = attempts;
        }
        if let Some(timeout) = self.timeout {
            config.budget.time = seconds("timeout", timeout)?;
        }
        config.budget.tokens = self.max_tokens.or(config.budget.tokens);
        config.budget.usd = self.max_usd.or(config.budget.usd);
        if let Some(stuck_after) = self.stuck_after {
            config.stuck_after = stuck_after;
        }
        if let Some(keep_partial) = self.keep_partial {
            config.keep_partial = keep_partial;
        }
        if let Some(backoff) = self.backoff {
            config.attempts.base_delay = seconds("backoff", backoff)?;
        }
        if let Some(max_backoff) = self.max_backoff {
            config.attempts.max_delay = seconds("max_backoff", max_backoff)?;
        }
        config.jitter_seed = self.jitter_seed.or(config.jitter_seed);
        if let Some(context) = &self.context {
            config.context = context.clone();
        }
        if let Some(safety) = self.fixer_safety {
            config.fixer_safety = safety;
        }
        let policy = &mut config.apply.policy;
        policy.allow.extend(self.allow.iter().flatten().copied());
        policy.max_edits = self.max_edits.unwrap_or(policy.max_edits);
        policy.max_file_bytes = self.max_file_bytes.unwrap_or(policy.max_file_bytes);
        policy.max_proposal_bytes = self.max_proposal_bytes.unwrap_or(policy.max_proposal_bytes);
        config.max_reply_bytes = self.max_reply_bytes.unwrap_or(config.max_reply_bytes);
        config.install.enabled = self.install.unwrap_or(config.install.enabled);
        config.install.python_env = self.python_env.clone().or(config.install.python_env);
        for spec in self.verify.iter().flatten() {
            config.verify.push(spec.step()?);
        }
        Ok(config)
    }
}

/// One build step as plain data: a shell line, or the step's fields.
#[derive(Debug, Clone)]
pub enum StepSpec {
    /// A shell line (`"npx tsc --noEmit"`), named after its program.
    Line(String),
    /// A step with its settings.
    Fields(StepFields),
}

impl<'de> Deserialize<'de> for StepSpec {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        // Not `untagged`: its error would hide which field was wrong.
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(line) => Ok(StepSpec::Line(line)),
            fields @ serde_json::Value::Object(_) => serde_json::from_value(fields)
                .map(StepSpec::Fields)
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "a step is a shell line or an object with a `command`, found {other}"
            ))),
        }
    }
}

/// A step's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFields {
    /// A shell line, or a program and its arguments.
    pub command: CommandSpec,
    /// The name in reports (default: the program's).
    pub name: Option<String>,
    /// Seconds the step may run.
    pub timeout: Option<f64>,
    /// Environment variables for the step.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The folder to run in, relative to the workspace.
    pub cwd: Option<String>,
    /// Run the next steps even when this one fails.
    #[serde(default)]
    pub continue_on_failure: bool,
}

/// A step's command: a shell line or an argument vector.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CommandSpec {
    /// Run by the shell.
    Line(String),
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
}

impl StepSpec {
    /// The step.
    pub fn step(&self) -> Result<BuildStep> {
        let fields = match self {
            StepSpec::Line(line) => return Ok(BuildStep::command_line(line.clone())),
            StepSpec::Fields(fields) => fields,
        };
        let mut step = match &fields.command {
            CommandSpec::Line(line) => BuildStep::command_line(line.clone()),
            CommandSpec::Argv(argv) => {
                let program = argv.first().cloned().unwrap_or_else(|| "step".into());
                BuildStep::argv(program, argv.clone())
            }
        };
        if let Some(name) = &fields.name {
            step.name = name.clone();
        }
        if let Some(timeout) = fields.timeout {
            step = step.timeout(seconds("timeout", timeout)?);
        }
        for (key, value) in &fields.env {
            step = step.env(key.clone(), value.clone());
        }
        if let Some(cwd) = &fields.cwd {
            let cwd = serde_json::from_value(serde_json::Value::String(cwd.clone()))
                .map_err(|e| Error::InvalidInput(format!("cwd: {e}")))?;
            step = step.cwd(cwd);
        }
        step.continue_on_failure = fields.continue_on_failure;
        Ok(step)
    }

    /// The plan of `specs`, in order; at least one step.
    pub fn plan(specs: &[StepSpec]) -> Result<BuildPlan> {
        if specs.is_empty() {
            return Err(Error::InvalidInput(
                "a build needs at least one step".into(),
            ));
        }
        Ok(BuildPlan::new(
            specs
                .iter()
                .map(StepSpec::step)
                .collect::<Result<Vec<_>>>()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::Command;

    #[test]
    fn options_override_the_defaults_and_name_what_is_wrong() {
        let options: HealOptions = serde_json::from_value(serde_json::json!({
            "max_attempts": 2, "backoff": 0.0, "fixer_safety": "safe", "keep_partial": true,
            "context": {"language": "typescript", "dependencies": {"react": "18.3.1"}},
        }))
        .unwrap();
        let config = options.config().unwrap();
        assert_eq!(config.budget.attempts, 2);
        assert_eq!(config.attempts.base_delay, Duration::ZERO);
        assert_eq!(config.fixer_safety, Safety::Safe);
        assert!(config.keep_partial);
        assert_eq!(config.context.dependencies["react"], "18.3.1");
        assert_eq!(config.budget.time, HealConfig::default().budget.time);
        assert!(
            config.apply.policy.allow.is_empty(),
            "nothing protected is allowed by default"
        );

        let allowed: HealOptions = serde_json::from_value(serde_json::json!({
            "allow": ["tests", "build-scripts"], "max_edits": 7,
        }))
        .unwrap();
        let policy = allowed.config().unwrap().apply.policy;
        assert_eq!(
            policy.allow.into_iter().collect::<Vec<_>>(),
            [Protected::Tests, Protected::BuildScripts]
        );
        assert_eq!(policy.max_edits, 7);
        let unknown_class =
            serde_json::from_value::<HealOptions>(serde_json::json!({"allow": ["everything"]}));
        assert!(
            unknown_class
                .unwrap_err()
                .to_string()
                .contains("expected one of `tests`, `ci`, `build-scripts`")
        );

        let unknown = serde_json::from_value::<HealOptions>(serde_json::json!({"attempts": 2}));
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `attempts`")
        );
        let negative: HealOptions =
            serde_json::from_value(serde_json::json!({"timeout": -1.0})).unwrap();
        assert!(
            matches!(negative.config(), Err(Error::InvalidInput(m)) if m.starts_with("timeout"))
        );
    }

    #[test]
    fn steps_are_lines_or_fields() {
        let specs: Vec<StepSpec> = serde_json::from_value(serde_json::json!([
            "npx tsc --noEmit",
            {"command": ["cargo", "test"], "name": "tests", "timeout": 120, "env": {"CI": "1"}},
            "npx tsc -p other",
        ]))
        .unwrap();
        let plan = StepSpec::plan(&specs).unwrap();
        let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["tsc", "tests", "tsc#2"]);
        assert!(
            matches!(&plan.steps[1].command, Command::Argv(argv) if argv == &["cargo", "test"])
        );
        assert_eq!(plan.steps[1].timeout, Some(Duration::from_secs(120)));

        assert!(StepSpec::plan(&[]).is_err());
        let unknown = serde_json::from_value::<StepSpec>(serde_json::json!({"cmd": "x"}));
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `cmd`")
        );
        let number = serde_json::from_value::<StepSpec>(serde_json::json!(3));
        assert!(
            number
                .unwrap_err()
                .to_string()
                .contains("a step is a shell line")
        );
    }
}

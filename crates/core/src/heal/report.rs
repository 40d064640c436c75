//! [`HealReport`]: how a heal run ended, attempt by attempt.

use std::time::Duration;

use serde::Serialize;

use super::StopReason;
use crate::Diagnostic;
use crate::fix::install::Install;
use crate::llm::Usage;
use crate::workspace::{Protected, Refusal};

/// How a heal run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The build was failing, and the host's plan, exactly as written, passes now on the
    /// project as left.
    Healed,
    /// The build passes only as a fallback changed it — another command for a step, another
    /// builder (see [`HealReport::changed_plan`]); the plan as written still fails.
    HealedWithChangedPlan,
    /// The build was green to begin with; nothing was changed.
    AlreadyGreen,
    /// The run gave up and handed over to a person (see [`HealReport::escalation`]).
    Escalated,
    /// The run could not go on: its time ran out.
    Failed,
    /// The host cancelled the run.
    Cancelled,
}

/// Where a fix came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FixSource {
    /// A deterministic fixer (see [`AttemptReport::by`]).
    Fixer,
    /// A fix that worked before, from the fix cache.
    Cache,
    /// A model's answer.
    Llm,
    /// A fallback strategy (see [`AttemptReport::by`]).
    Fallback,
}

impl std::fmt::Display for FixSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FixSource::Fixer => "fixer",
            FixSource::Cache => "cache",
            FixSource::Llm => "model",
            FixSource::Fallback => "fallback",
        })
    }
}

/// One attempt: the fix it tested (none for the first build) and what the build said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptReport {
    /// 1 for the first build.
    pub number: u32,
    /// Where the fix came from.
    pub source: Option<FixSource>,
    /// The fixer or fallback strategy that made it.
    pub by: Option<String>,
    /// The fix's changes as a unified diff (empty when nothing was applied).
    pub diff: String,
    /// Whether the fix was undone afterwards.
    pub rolled_back: bool,
    /// Why the fix could not be applied, when it could not.
    pub apply_error: Option<String>,
    /// What the edit policy refused of the fix, when it refused it (nothing was written).
    pub refused: Vec<Refusal>,
    /// The packages installed for the fix (or refused, or failed to install).
    pub installs: Vec<Install>,
    /// Errors after the attempt.
    pub errors: usize,
    /// Errors that appeared, went away and stayed, against the previous build.
    pub new: usize,
    /// See `new`.
    pub fixed: usize,
    /// See `new`.
    pub persisting: usize,
    /// How long the attempt took.
    #[serde(with = "crate::millis")]
    pub duration: Duration,
}

/// A fix that stayed in the workspace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeptFix {
    /// The attempt that tested it.
    pub attempt: u32,
    /// Where it came from.
    pub source: FixSource,
    /// The fixer or fallback strategy that made it.
    pub by: Option<String>,
    /// The files it changed.
    pub files: Vec<String>,
}

/// A protected file a kept fix changed, because the host allowed its class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtectedChange {
    /// The attempt that made the change.
    pub attempt: u32,
    /// The file.
    pub path: String,
    /// Its class.
    pub class: Protected,
}

/// What a person taking over needs: why the run stopped, what is left, and what to do next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EscalationReport {
    /// Why the run stopped.
    pub reason: StopReason,
    /// The errors left.
    pub diagnostics: Vec<Diagnostic>,
    /// A suggested next step.
    pub next_action: String,
}

/// The result of a heal run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealReport {
    /// How it ended.
    pub outcome: Outcome,
    /// Every attempt, the first build included.
    pub attempts: Vec<AttemptReport>,
    /// The diagnostics of the last build.
    pub diagnostics: Vec<Diagnostic>,
    /// The fixes that stayed, in the order they were made.
    pub fixes: Vec<KeptFix>,
    /// The protected files the kept fixes changed, where the host allowed their class.
    pub protected_changes: Vec<ProtectedChange>,
    /// Tokens used by model calls.
    pub usage: Usage,
    /// Their cost in USD (models without a price count nothing).
    pub cost_usd: f64,
    /// Set when the run escalated.
    pub escalation: Option<EscalationReport>,
    /// What the fallbacks that were kept changed of the plan or the builder, in words
    /// (`step \`install\`: \`npm ci\` became \`npm install\``): the build passes only so.
    pub changed_plan: Vec<String>,
    /// How long the run took.
    #[serde(with = "crate::millis")]
    pub duration: Duration,
}

impl Outcome {
    /// Its name as serialized (`healed`, `already_green`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Healed => "healed",
            Outcome::HealedWithChangedPlan => "healed_with_changed_plan",
            Outcome::AlreadyGreen => "already_green",
            Outcome::Escalated => "escalated",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }
}

impl AttemptReport {
    /// Attempt `number` before anything happened in it.
    pub(crate) fn numbered(number: u32) -> AttemptReport {
        AttemptReport {
            number,
            source: None,
            by: None,
            diff: String::new(),
            rolled_back: false,
            apply_error: None,
            refused: Vec::new(),
            installs: Vec::new(),
            errors: 0,
            new: 0,
            fixed: 0,
            persisting: 0,
            duration: Duration::ZERO,
        }
    }
}

impl HealReport {
    /// A run before anything happened in it.
    pub(crate) fn empty() -> HealReport {
        HealReport {
            outcome: Outcome::Failed,
            attempts: Vec::new(),
            diagnostics: Vec::new(),
            fixes: Vec::new(),
            usage: Usage::default(),
            cost_usd: 0.0,
            escalation: None,
            protected_changes: Vec::new(),
            changed_plan: Vec::new(),
            duration: Duration::ZERO,
        }
    }
}

/// Told of every finished run (see [`Healer::monitor`](super::Healer::monitor)): a
/// [`HealthMonitor`](crate::observe::HealthMonitor), or a host's own bookkeeping.
pub trait RunRecorder: Send + Sync {
    /// Takes one finished run into account.
    fn record(&self, report: &HealReport);
}

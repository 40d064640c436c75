//! [`Event`]: what a heal run reports while it runs.

use std::time::Duration;

use serde::Serialize;

use super::StopReason;
use super::report::{FixSource, Outcome};
use crate::Diagnostic;
use crate::build::OutputStream;
use crate::cache::FixId;
use crate::llm::Usage;
use crate::workspace::PatchMatch;

/// One thing that happened during a heal run, in order. Serialized with an `event` tag
/// (`{"event": "step_started", ...}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The run began.
    RunStarted {
        /// The build steps' names.
        steps: Vec<String>,
    },
    /// A build step started.
    StepStarted {
        /// The attempt (1 is the first build).
        attempt: u32,
        /// The step.
        step: String,
    },
    /// A line a build step printed.
    OutputLine {
        /// Which stream.
        stream: OutputStream,
        /// The line.
        line: String,
    },
    /// A build step ended.
    StepFinished {
        /// The step.
        step: String,
        /// Whether it succeeded.
        success: bool,
        /// How long it ran.
        #[serde(with = "crate::millis")]
        duration: Duration,
    },
    /// The build's diagnostics.
    Diagnostics {
        /// The attempt.
        attempt: u32,
        /// The errors and warnings found.
        diagnostics: Vec<Diagnostic>,
    },
    /// The fix cache has a fix for the leading error.
    CacheHit {
        /// The cached fix's id.
        fix: FixId,
        /// Its score.
        score: f64,
    },
    /// The fix cache has nothing for the leading error.
    CacheMiss,
    /// A model is asked for a fix.
    LlmRequest {
        /// The provider.
        provider: String,
        /// The prompt's estimated size in tokens.
        estimated_tokens: usize,
    },
    /// A model answered.
    LlmResponse {
        /// The provider.
        provider: String,
        /// The model.
        model: String,
        /// Tokens used.
        usage: Usage,
    },
    /// A fix was written to the workspace.
    FixApplied {
        /// The attempt it is tested by.
        attempt: u32,
        /// Where it came from.
        source: FixSource,
        /// The fixer's name, when a fixer made it.
        fixer: Option<String>,
        /// The files it changed.
        files: Vec<String>,
        /// How each patch was found.
        matches: Vec<PatchMatch>,
    },
    /// A fix was undone.
    FixRolledBack {
        /// The attempt.
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// An attempt's build was compared with the previous one.
    AttemptFinished {
        /// The attempt.
        attempt: u32,
        /// Errors that appeared.
        new: usize,
        /// Errors that went away.
        fixed: usize,
        /// Errors still there.
        persisting: usize,
    },
    /// The run waits before the next attempt.
    Backoff {
        /// How long.
        #[serde(with = "crate::millis")]
        delay: Duration,
    },
    /// The run gives up and hands over to a person.
    Escalated {
        /// Why.
        reason: StopReason,
    },
    /// The run ended.
    Finished {
        /// How.
        outcome: Outcome,
    },
}

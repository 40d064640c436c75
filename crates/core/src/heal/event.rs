//! [`Event`]: what a heal run reports while it runs.

use std::time::Duration;

use serde::Serialize;

use super::StopReason;
use super::report::FixSource;
use crate::Diagnostic;
use crate::build::OutputStream;
use crate::cache::FixId;
use crate::fix::Safety;
use crate::fix::install::Install;
use crate::llm::Usage;
use crate::workspace::{PatchMatch, Refusal};

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
    /// A deterministic fixer offers a fix.
    FixerApplied {
        /// The attempt that tests it.
        attempt: u32,
        /// The fixer.
        fixer: String,
        /// How far it is trusted.
        safety: Safety,
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
    /// A piece of the model's answer, as it streams in.
    LlmDelta {
        /// The text.
        text: String,
    },
    /// The answer streamed so far is dropped: it failed, and `to` answers anew (the same
    /// provider asked again, or the next of a fallback chain).
    LlmSwitched {
        /// The provider answering now.
        to: String,
        /// Why the answer was dropped.
        reason: String,
    },
    /// A fixer or fallback installed a package, failed to, or was refused (see
    /// [`install`](crate::fix::install)).
    PackageInstall {
        /// The attempt that tests the fix it is part of.
        attempt: u32,
        /// What was installed and how it went.
        #[serde(flatten)]
        install: Install,
    },
    /// A model answered.
    LlmResponse {
        /// The provider.
        provider: String,
        /// The model.
        model: String,
        /// Tokens used.
        usage: Usage,
        /// What they cost, when the model has a price.
        cost_usd: Option<f64>,
    },
    /// A fix was written to the workspace.
    FixApplied {
        /// The attempt it is tested by.
        attempt: u32,
        /// Where it came from.
        source: FixSource,
        /// The fixer or fallback strategy that made it.
        by: Option<String>,
        /// The files it changed.
        files: Vec<String>,
        /// How each patch was found.
        matches: Vec<PatchMatch>,
        /// The changes as a unified diff.
        diff: String,
    },
    /// The edit policy refused a fix: nothing of it was written (see
    /// [`EditPolicy`](crate::workspace::EditPolicy)).
    FixRefused {
        /// The attempt it was for.
        attempt: u32,
        /// Where it came from.
        source: FixSource,
        /// The fixer or fallback strategy that made it.
        by: Option<String>,
        /// Each refused edit (or the whole proposal) with the rule.
        refusals: Vec<Refusal>,
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
    /// A fallback strategy is tried.
    Fallback {
        /// The attempt that tests it.
        attempt: u32,
        /// The strategy.
        strategy: String,
    },
    /// The run ended green (the last event of a run that did).
    Healed {
        /// Builds in all.
        attempts: u32,
        /// Whether it was green from the start.
        already_green: bool,
        /// What fallbacks changed of the plan or the builder for it to pass (empty: the plan
        /// as written passes).
        changed_plan: Vec<String>,
    },
    /// The run gave up and handed over to a person (the last event of a run that did).
    Escalated {
        /// Why.
        reason: StopReason,
    },
    /// The run could not go on: its time ran out (the last event of a run that did).
    Failed {
        /// Why.
        reason: String,
    },
    /// The run was cancelled (the last event of a run that was).
    Cancelled,
}

impl Event {
    /// Whether the event ends a run: nothing follows it.
    pub fn is_last(&self) -> bool {
        matches!(
            self,
            Event::Healed { .. }
                | Event::Escalated { .. }
                | Event::Failed { .. }
                | Event::Cancelled
        )
    }
}

/// Where events go: any `Fn(Event)`, or an [`EventSender`].
pub trait EventSink: Send + Sync {
    /// One event.
    fn event(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync> EventSink for F {
    fn event(&self, event: Event) {
        self(event)
    }
}

/// The events of a run as an async stream: the run sends through the [`EventSender`], the host
/// reads the [`EventStream`] (a [`Stream`](futures_util::Stream), or `next().await`). The
/// stream ends when the sender is dropped.
///
/// ```no_run
/// # async fn run(healer: std::sync::Arc<selfheal::heal::Healer>, workspace: selfheal::workspace::Workspace, plan: selfheal::build::BuildPlan) -> selfheal::Result<()> {
/// let (sender, mut events) = selfheal::heal::event_channel();
/// let run = tokio::spawn(async move { healer.heal(&workspace, &plan, &sender).await });
/// while let Some(event) = events.next().await {
///     println!("{}", serde_json::to_string(&event).unwrap_or_default());
/// }
/// let report = run.await.expect("the run panicked")?;
/// # Ok(()) }
/// ```
pub fn event_channel() -> (EventSender, EventStream) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    (EventSender(sender), EventStream(receiver))
}

/// The sending half of [`event_channel`].
#[derive(Debug, Clone)]
pub struct EventSender(tokio::sync::mpsc::UnboundedSender<Event>);

impl EventSink for EventSender {
    fn event(&self, event: Event) {
        // A host that stopped reading has stopped listening; the run goes on.
        let _ = self.0.send(event);
    }
}

/// The receiving half of [`event_channel`].
#[derive(Debug)]
pub struct EventStream(tokio::sync::mpsc::UnboundedReceiver<Event>);

impl EventStream {
    /// The next event; `None` once the sender is gone and every event was read.
    pub async fn next(&mut self) -> Option<Event> {
        self.0.recv().await
    }
}

impl futures_util::Stream for EventStream {
    type Item = Event;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Event>> {
        self.0.poll_recv(cx)
    }
}

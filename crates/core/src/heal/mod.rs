//! The heal loop (seed 000 §3.3–3.4): build → parse → compare with the last attempt → find a
//! fix (deterministic fixers, fix cache, model) → snapshot → apply → rebuild, with an attempt
//! policy and a budget, rollback of fixes that make things worse, fallback strategies when
//! fixes stop helping, escalation with a report, cancellation, and learning from what worked.
//!
//! [`Healer::heal`] runs it; [`Event`]s report it as it goes (to any [`EventSink`], or as a
//! stream from [`event_channel`]); a [`HealReport`] sums it up.

mod config;
mod event;
mod healer;
mod metrics;
mod narrow;
mod options;
mod policy;
mod report;
mod run_handle;
mod sources;
pub mod strategy;
mod tracking;
mod verdict;

pub use config::{HealConfig, RunBudget};
pub use event::{Event, EventSender, EventSink, EventStream, event_channel};
pub use healer::{EscalationHandler, Healer, default_fixers, fixers_named};
pub use options::{CommandSpec, HealOptions, StepFields, StepSpec};
pub use policy::{AttemptPolicy, StopReason};
pub use report::{
    AttemptReport, EscalationReport, FixSource, HealReport, KeptFix, Outcome, ProtectedChange,
    RunRecorder,
};
pub use run_handle::{Canceller, RunHandle};
pub use strategy::{Remedy, Strategy, ToolSetting};
pub use tracking::Delta;

//! The heal loop (seed 000 §3.3–3.4): build → parse → compare with the last attempt → find a
//! fix (fix cache, then model) → snapshot → apply → rebuild, with an attempt policy, rollback of
//! fixes that make things worse, escalation with a report, and learning from what worked.
//!
//! [`Healer::heal`] runs it; [`Event`]s report it as it goes; a [`HealReport`] sums it up.

mod event;
mod healer;
mod policy;
mod report;
mod tracking;

pub use event::Event;
pub use healer::{EventSink, HealConfig, Healer};
pub use policy::{AttemptPolicy, StopReason};
pub use report::{AttemptReport, EscalationReport, FixSource, HealReport, Outcome};
pub use tracking::Delta;

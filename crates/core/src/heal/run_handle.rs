//! [`RunHandle`]: a heal run started in the background, as a host language holds it — cancel
//! it, take its events in batches, await its report. The Python and Node packages hand their
//! hosts this one type's behaviour.

use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::{Mutex, Notify, watch};

use super::event::{Event, EventSender, EventSink, EventStream, event_channel};
use super::healer::Healer;
use super::report::HealReport;
use crate::Result;
use crate::build::BuildPlan;
use crate::workspace::Workspace;

/// Stops a run: the attempt in progress is undone and the report's outcome is `cancelled`.
/// Clones stop the same run (a host callback may hold one).
#[derive(Debug, Clone, Default)]
pub struct Canceller(Arc<Notify>);

impl Canceller {
    /// A canceller for a run not started yet.
    pub fn new() -> Self {
        Canceller::default()
    }

    /// Stops the run (once it has started, or as soon as it does).
    pub fn cancel(&self) {
        self.0.notify_one();
    }

    async fn cancelled(self) {
        self.0.notified().await;
    }
}

/// How the run ended: its report or error; `None` when it stopped without either (its task
/// was dropped).
type Finished = Option<Result<HealReport>>;

/// A heal run in the background.
#[derive(Debug)]
pub struct RunHandle {
    canceller: Canceller,
    finished: watch::Receiver<Finished>,
    events: Option<Mutex<EventStream>>,
}

impl RunHandle {
    /// A run of `healer` over `plan` in `workspace`, and the future that runs it — the host
    /// spawns it on its runtime, inside whatever task context its callbacks need. Events go to
    /// `sink` and, with `stream`, to [`next_events`](RunHandle::next_events); `canceller`
    /// stops it.
    pub fn start(
        healer: Arc<Healer>,
        workspace: Workspace,
        plan: BuildPlan,
        sink: impl EventSink + 'static,
        stream: bool,
        canceller: Canceller,
    ) -> (RunHandle, impl Future<Output = ()> + Send + 'static) {
        let (sender, events) = match stream {
            true => {
                let (sender, events) = event_channel();
                (Some(sender), Some(Mutex::new(events)))
            }
            false => (None, None),
        };
        let (done, finished) = watch::channel(None);
        let cancel = canceller.clone().cancelled();
        let run = async move {
            let sinks = Both { sink, sender };
            let report = healer.heal_until(&workspace, &plan, &sinks, cancel).await;
            // The stream ends before the report is there: a host reads events, then the end.
            drop(sinks);
            let _ = done.send(Some(report));
        };
        let handle = RunHandle {
            canceller,
            finished,
            events,
        };
        (handle, run)
    }

    /// Stops the run: the attempt in progress is undone, and the report's outcome is
    /// `cancelled`.
    pub fn cancel(&self) {
        self.canceller.cancel();
    }

    /// The run's report or error once it has ended; `None` when it stopped without either.
    pub async fn report(&self) -> Finished {
        let mut finished = self.finished.clone();
        match finished.wait_for(Option::is_some).await {
            Ok(ended) => ended.clone(),
            Err(_) => None,
        }
    }

    /// Whether the run was started with `stream`.
    pub fn streams(&self) -> bool {
        self.events.is_some()
    }

    /// The events since the last call — at least one, or none once the run has ended;
    /// `None` when the run was not started with `stream`.
    pub async fn next_events(&self) -> Option<Vec<Event>> {
        let mut events = self.events.as_ref()?.lock().await;
        let mut batch = Vec::new();
        if let Some(first) = events.next().await {
            batch.push(first);
            while let Some(Some(next)) = events.next().now_or_never() {
                batch.push(next);
            }
        }
        Some(batch)
    }
}

/// The host's sink, and the stream's sender when the run streams.
struct Both<S> {
    sink: S,
    sender: Option<EventSender>,
}

impl<S: EventSink> EventSink for Both<S> {
    fn event(&self, event: Event) {
        if let Some(sender) = &self.sender {
            sender.event(event.clone());
        }
        self.sink.event(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildStep, LocalBuilder};
    use crate::heal::Outcome;
    use crate::scratch::Scratch;

    fn started(scratch: &Scratch, command: &str, stream: bool) -> RunHandle {
        let healer = Arc::new(Healer::new(LocalBuilder::new()).fixers(Vec::new()));
        let workspace = Workspace::open(scratch.path()).expect("workspace");
        let plan = BuildPlan::new([BuildStep::shell("build", command)]);
        let (handle, run) = RunHandle::start(
            healer,
            workspace,
            plan,
            |_: Event| {},
            stream,
            Canceller::new(),
        );
        tokio::spawn(run);
        handle
    }

    #[tokio::test]
    async fn a_run_streams_its_events_then_ends_with_its_report() {
        let scratch = Scratch::new("run-handle", &[]);
        let handle = started(&scratch, "echo built", true);
        let mut seen = Vec::new();
        loop {
            let batch = handle.next_events().await.expect("streamed");
            if batch.is_empty() {
                break;
            }
            seen.extend(batch);
        }
        assert!(
            matches!(seen.first(), Some(Event::RunStarted { .. })),
            "{seen:?}"
        );
        assert!(seen.iter().any(|e| matches!(e, Event::OutputLine { .. })));
        let report = handle.report().await.expect("ended").expect("a report");
        assert_eq!(report.outcome, Outcome::AlreadyGreen);
        assert!(handle.next_events().await.expect("streamed").is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_run_ends_cancelled_and_an_unstreamed_one_has_no_events() {
        let scratch = Scratch::new("run-handle-cancel", &[]);
        let handle = started(&scratch, "sleep 30", false);
        assert!(!handle.streams());
        assert!(handle.next_events().await.is_none());
        handle.cancel();
        let report = handle.report().await.expect("ended").expect("a report");
        assert_eq!(report.outcome, Outcome::Cancelled);
    }
}

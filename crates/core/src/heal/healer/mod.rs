//! [`Healer`]: build, read the errors, find a fix, apply it, rebuild — until the build is green
//! or there is nothing left worth trying.
//!
//! A run's attempts (`Run::attempts`, below) read as the algorithm; each stage is a module of its
//! own: `propose` (a fixer's fix, else a cached one, else the model's; a fallback strategy's when
//! those stop), `attempt` (the edit policy as the gate, apply, rebuild, the pure verdict, keep or
//! roll back), `rebuild` (the plan, and the narrow check that stands in for it) and `learn`
//! (lessons for the next prompt, the fix cache).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures_util::FutureExt;
use tracing::{Instrument, info_span};

use self::attempt::verified;
use self::learn::Lessons;
use self::propose::{Candidate, Step, Trial};
use self::rebuild::Progress;
use super::config::HealConfig;
use super::event::{Event, EventSink};
use super::metrics;
use super::policy::StopReason;
use super::report::{AttemptReport, EscalationReport, HealReport, Outcome, RunRecorder};
use super::strategy::{Strategy, default_strategies};
use super::tracking::errors;
use crate::build::{BuildPlan, BuildStep, Builder};
use crate::cache::FixCache;
use crate::fix::install::{Install, Installer};
use crate::fix::{
    CargoSuggestions, ClientDirective, ExportNames, Fixer, ImportKinds, ImportPaths, JsonFiles,
    JsxEntities, LintSuggestions, LocalExports, MissingDependencies, MissingNames, NextAsyncProps,
    NextExports, NextNavigation, NextSuspense, PeerConflicts, ToolFix, ToolSuggestions,
    TypeImports, UnusedBindings, WorkspaceCrates,
};
use crate::llm::{self, Meter, Metered, Provider};
use crate::parse::ParserSet;
use crate::redact::Redactor;
use crate::time::{Clock, Jitter, SystemClock};
use crate::workspace::{ApplyOptions, Snapshot, Workspace};
use crate::{Category, Diagnostic, Error, Result, Subcategory};

mod attempt;
mod learn;
mod propose;
mod rebuild;

/// Called with the final report of a run that escalated.
pub type EscalationHandler = dyn Fn(&HealReport) + Send + Sync;

/// The deterministic fixers a [`Healer`] starts with, in the order it asks them: the tools' own
/// suggestions ([`ToolSuggestions`], [`JsonFiles`], [`CargoSuggestions`], [`ToolFix::eslint`],
/// [`ToolFix::ruff`], [`JsxEntities`], [`LintSuggestions`]), then the project-aware ones
/// ([`ClientDirective`], [`NextNavigation`], [`NextExports`], [`NextAsyncProps`],
/// [`NextSuspense`], [`ImportPaths`], [`LocalExports`], [`TypeImports`], [`ImportKinds`],
/// [`ExportNames`], [`WorkspaceCrates`], [`MissingNames`], [`UnusedBindings`]), then
/// [`PeerConflicts`] and [`MissingDependencies`], which install packages under the rules of
/// [`install`](crate::fix::install) ([`HealConfig::install`] turns installs off).
pub fn default_fixers() -> Vec<Arc<dyn Fixer>> {
    vec![
        Arc::new(ToolSuggestions),
        Arc::new(JsonFiles),
        Arc::new(CargoSuggestions::default()),
        Arc::new(ToolFix::eslint()),
        Arc::new(ToolFix::ruff()),
        Arc::new(JsxEntities),
        Arc::new(LintSuggestions),
        Arc::new(ClientDirective),
        Arc::new(NextNavigation),
        Arc::new(NextExports),
        Arc::new(NextAsyncProps),
        Arc::new(NextSuspense),
        Arc::new(ImportPaths),
        Arc::new(LocalExports),
        Arc::new(TypeImports),
        Arc::new(ImportKinds),
        Arc::new(ExportNames),
        Arc::new(WorkspaceCrates),
        Arc::new(MissingNames),
        Arc::new(UnusedBindings),
        Arc::new(PeerConflicts),
        Arc::new(MissingDependencies),
    ]
}

/// The default fixers named in `names`, in that order; an unknown name is a configuration error
/// that lists the known ones.
pub fn fixers_named<S: AsRef<str>>(names: &[S]) -> Result<Vec<Arc<dyn Fixer>>> {
    let available = default_fixers();
    names
        .iter()
        .map(|name| {
            let name = name.as_ref();
            available
                .iter()
                .find(|fixer| fixer.name() == name)
                .cloned()
                .ok_or_else(|| {
                    let known: Vec<&str> = available.iter().map(|f| f.name()).collect();
                    Error::InvalidInput(format!(
                        "unknown fixer `{name}` (known: {})",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

/// The heal loop, with its builder, parsers, sources of fixes and fallbacks.
///
/// A fix comes from the deterministic fixers first (by default the [`default_fixers`]), then from the fix cache (for the build's first
/// error), then from the model. Each fix is applied to a snapshot of the workspace; a fix that
/// removes no error or makes the build worse (more errors, an error of a new category, a
/// timeout) is undone. When fixes stop getting the build further, the fallback
/// [strategies](super::strategy) are tried; when none is left the run escalates. When the
/// build turns green, the fixes that got it there are remembered in the cache; fixes that
/// failed are remembered as failed.
pub struct Healer {
    builder: Arc<dyn Builder>,
    parsers: ParserSet,
    fixers: Vec<Arc<dyn Fixer>>,
    strategies: Vec<Arc<dyn Strategy>>,
    provider: Option<Arc<dyn Provider>>,
    cache: Option<FixCache>,
    config: HealConfig,
    on_escalation: Option<Arc<EscalationHandler>>,
    monitor: Option<Arc<dyn RunRecorder>>,
    redactor: Redactor,
    clock: Arc<dyn Clock>,
}

impl Healer {
    /// A healer that builds with `builder`, parses with the default parsers, fixes with the
    /// default fixers and falls back on the [default strategies](default_strategies) (add a
    /// [`cache`](Healer::cache) and a [`provider`](Healer::provider)).
    pub fn new(builder: impl Builder + 'static) -> Self {
        Healer {
            builder: Arc::new(builder),
            parsers: ParserSet::new(),
            fixers: default_fixers(),
            strategies: default_strategies(),
            provider: None,
            cache: None,
            config: HealConfig::default(),
            on_escalation: None,
            monitor: None,
            redactor: Redactor::process_wide().clone(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Waits out the backoff between attempts on `clock` (default: the system's); a
    /// [`VirtualClock`](crate::time::VirtualClock) runs a loop's schedule without sleeping.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Redacts secrets with `redactor` (default: [`Redactor::process_wide`]) from everything the
    /// run reports, sends or stores: build output before it is parsed (so events, diagnostics,
    /// reports and cache rows never hold it), diffs, and prompts.
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Tells `monitor` of every finished run (a
    /// [`HealthMonitor`](crate::observe::HealthMonitor), for one).
    pub fn monitor<R: RunRecorder + 'static>(mut self, monitor: Arc<R>) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Asks `provider` for fixes.
    pub fn provider(mut self, provider: Arc<dyn Provider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Looks fixes up in, and teaches, `cache`.
    pub fn cache(mut self, cache: FixCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Replaces the deterministic fixers (tried in order).
    pub fn fixers(mut self, fixers: Vec<Arc<dyn Fixer>>) -> Self {
        self.fixers = fixers;
        self
    }

    /// Replaces the fallback strategies (tried in order, each at most once a run).
    pub fn strategies(mut self, strategies: Vec<Arc<dyn Strategy>>) -> Self {
        self.strategies = strategies;
        self
    }

    /// Parses build logs with `parsers`.
    pub fn parsers(mut self, parsers: ParserSet) -> Self {
        self.parsers = parsers;
        self
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: HealConfig) -> Self {
        self.config = config;
        self
    }

    /// Calls `handler` with the final report of every run that escalates (it is also the
    /// run's result).
    pub fn on_escalation(mut self, handler: impl Fn(&HealReport) + Send + Sync + 'static) -> Self {
        self.on_escalation = Some(Arc::new(handler));
        self
    }

    /// Builds `plan` in `workspace` and heals it; `events` hears everything as it happens.
    ///
    /// `Err` is kept for what stops the run from working at all (a builder that cannot start,
    /// a workspace that cannot be written); a build that stays red is an `Ok` report. Dropping
    /// the future cancels the run as [`heal_until`](Healer::heal_until) does, without a report.
    pub async fn heal(
        &self,
        workspace: &Workspace,
        plan: &BuildPlan,
        events: &dyn EventSink,
    ) -> Result<HealReport> {
        self.heal_until(workspace, plan, events, std::future::pending())
            .await
    }

    /// [`heal`](Healer::heal), cancelled when `cancel` completes (a token's `cancelled()`, a
    /// signal, a timer): the attempt in progress is undone — its build stopped, its fix taken
    /// back — so the workspace is as it was after the last finished attempt, and the report's
    /// outcome is [`Outcome::Cancelled`].
    pub async fn heal_until(
        &self,
        workspace: &Workspace,
        plan: &BuildPlan,
        events: &dyn EventSink,
        cancel: impl Future<Output = ()> + Send,
    ) -> Result<HealReport> {
        let span = info_span!("heal_run", run = %run_id(), steps = plan.steps.len());
        async {
            let mut run = Run::new(self, workspace, plan, events)?;
            let ended = {
                let attempts = tokio::time::timeout(self.config.budget.time, run.attempts());
                let mut cancel = std::pin::pin!(cancel);
                tokio::select! {
                    biased;
                    () = &mut cancel => Ended::Cancelled,
                    ran = attempts => match ran {
                        // A cancellation asked for before the attempts ended wins, even when
                        // they ended in the same poll: a host that stops the run from a
                        // callback and then fails that call has the loop see the failure
                        // right after the stop, whatever the threads' timing.
                        _ if (&mut cancel).now_or_never().is_some() => Ended::Cancelled,
                        Ok(ran) => {
                            ran?;
                            Ended::Ran
                        }
                        Err(_) => Ended::OutOfTime,
                    },
                }
            };
            let report = run.finish(ended)?;
            metrics::record_run(&report);
            if let Some(monitor) = &self.monitor {
                monitor.record(&report);
            }
            Ok(report)
        }
        .instrument(span)
        .await
    }
}

/// A run's id for its spans: random, so that runs of many processes stay apart.
fn run_id() -> String {
    format!("{:016x}", crate::time::random_u64())
}

/// How the attempts ended.
enum Ended {
    /// On their own: healed, already green, or escalated.
    Ran,
    OutOfTime,
    Cancelled,
}

/// One heal run: its state lives outside the attempts' future, so that a timeout or a
/// cancellation that drops that future can still undo and report.
struct Run<'a> {
    healer: &'a Healer,
    workspace: &'a Workspace,
    events: &'a dyn EventSink,
    /// The plan and builder in use (a fallback may change them).
    plan: BuildPlan,
    builder: Arc<dyn Builder>,
    /// The healer's provider, metered against the budget.
    provider: Option<Arc<dyn Provider>>,
    meter: Meter,
    report: HealReport,
    started: Instant,
    initial: Snapshot,
    /// The workspace before the attempt in progress; `None` between attempts.
    before_attempt: Option<Snapshot>,
    /// The fixes kept so far.
    kept: Vec<Candidate>,
    lessons: Lessons,
    /// Which of the healer's strategies were tried.
    strategies_tried: Vec<bool>,
    /// Set once the run has put the workspace where it should end.
    settled: bool,
    /// Shared with the thread applying a fix, if one is.
    writes: Arc<Writes>,
    /// How fixes are applied in this run: the healer's options, with what its verify steps
    /// use locked.
    apply_options: ApplyOptions,
    /// Installs packages for fixers and strategies.
    installer: Installer,
    /// The installs made for the fix about to be tested, and then for the one in test.
    installs: Vec<Install>,
    /// The narrow check fixes are tried with first, while the errors are ones it sees.
    narrow: Option<BuildStep>,
    /// How far the last full build of the plan got.
    reached: Option<Progress>,
}

/// How a run and the thread applying its fix take turns with the workspace.
#[derive(Default)]
struct Writes {
    /// Held while a fix is applied.
    lock: Mutex<()>,
    /// Set when the run ends: an application in progress stops between two edits.
    stop: AtomicBool,
}

impl Writes {
    /// Stops an application in progress and waits for it: the workspace is then the run's
    /// alone to restore, until the guard is dropped.
    fn stop(&self) -> std::sync::MutexGuard<'_, ()> {
        self.stop.store(true, Ordering::Relaxed);
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<'a> Run<'a> {
    fn new(
        healer: &'a Healer,
        workspace: &'a Workspace,
        plan: &BuildPlan,
        events: &'a dyn EventSink,
    ) -> Result<Self> {
        let budget = &healer.config.budget;
        let meter = Meter::with_prices(
            llm::Budget {
                max_tokens: budget.tokens,
                max_usd: budget.usd,
                time: None,
            },
            healer.config.prices.clone(),
        );
        let provider = (healer.provider.clone())
            .map(|p| Arc::new(Metered::new(p, meter.clone())) as Arc<dyn Provider>);
        Ok(Run {
            healer,
            workspace,
            events,
            plan: plan.clone(),
            builder: healer.builder.clone(),
            provider,
            meter,
            report: HealReport::empty(),
            started: Instant::now(),
            initial: workspace.snapshot()?,
            before_attempt: None,
            kept: Vec::new(),
            lessons: Lessons::default(),
            strategies_tried: vec![false; healer.strategies.len()],
            settled: false,
            writes: Arc::default(),
            apply_options: verified(&healer.config, workspace),
            installer: Installer::new(healer.config.install.clone()),
            installs: Vec::new(),
            narrow: None,
            reached: None,
        })
    }

    fn emit(&self, event: Event) {
        metrics::record_event(&event);
        self.events.event(event);
    }

    /// Reports the installs made since the last call; they belong to the fix `attempt` tests.
    fn collect_installs(&mut self, attempt: u32) {
        for install in self.installer.take() {
            self.emit(Event::PackageInstall {
                attempt,
                install: install.clone(),
            });
            self.installs.push(install);
        }
    }

    /// Removes what `installs` added to the project, their fix being undone.
    fn undo_installs(&self, installs: &[Install]) {
        for install in installs {
            install.undo(self.workspace.root());
        }
    }

    fn config(&self) -> &'a HealConfig {
        &self.healer.config
    }

    /// Attempts until the build is green or the run escalates.
    async fn attempts(&mut self) -> Result<()> {
        self.emit(Event::RunStarted {
            steps: self.plan.steps.iter().map(|s| s.name.clone()).collect(),
        });
        let first = Instant::now();
        let build = self
            .build(1)
            .instrument(info_span!("attempt", attempt = 1))
            .await?;
        if build.green {
            self.report.attempts.push(AttemptReport {
                duration: first.elapsed(),
                ..AttemptReport::numbered(1)
            });
            self.report.diagnostics = build.diagnostics;
            self.report.outcome = Outcome::AlreadyGreen;
            return Ok(());
        }
        self.reached = build.progress;
        let mut diagnostics = match self.narrowed(1, &build).await? {
            Some((step, check)) => {
                self.narrow = Some(step);
                check.diagnostics
            }
            None => build.diagnostics,
        };
        self.report.attempts.push(AttemptReport {
            errors: errors(&diagnostics).count(),
            duration: first.elapsed(),
            ..AttemptReport::numbered(1)
        });
        self.report.diagnostics = diagnostics.clone();
        let mut attempt = 1;
        // Attempts by the category of their leading error, lint findings apart.
        let mut by_kind: BTreeMap<(Category, bool), u32> = BTreeMap::new();
        let jitter = (self.config().jitter_seed).map_or_else(Jitter::from_entropy, Jitter::seeded);
        let mut same_errors = 1;
        loop {
            let span = info_span!("attempt", attempt = attempt + 1);
            let leading = errors(&diagnostics).next().cloned();
            let category = leading.as_ref().map_or(Category::Unknown, |d| d.category);
            let lint = leading
                .as_ref()
                .is_some_and(|d| d.subcategory == Subcategory::Lint);
            let of_kind = by_kind.entry((category, lint)).or_default();
            *of_kind += 1;
            let of_kind = *of_kind;
            if attempt >= self.config().budget.attempts {
                let reason = StopReason::MaxAttempts { attempts: attempt };
                return self.escalate(diagnostics, reason);
            }
            let messages: Vec<&str> = errors(&diagnostics).map(|d| d.message.as_str()).collect();
            let policy = &self.config().attempts;
            let random = (jitter.sample() + 1.0) / 2.0;
            let next = policy.next(attempt, leading.as_ref(), of_kind, &messages, random);
            let stuck = same_errors >= self.config().stuck_after;
            let go = match next {
                Ok(_) if stuck => Err(StopReason::Stuck {
                    attempts: same_errors,
                }),
                Ok(delay) => {
                    if !delay.is_zero() {
                        self.emit(Event::Backoff { delay });
                        self.healer.clock.sleep(delay).await;
                    }
                    Ok(())
                }
                Err(reason) => Err(reason),
            };
            let step = (self.next_step(&diagnostics, leading, go, attempt + 1))
                .instrument(span.clone())
                .await?;
            let trial = match step {
                Step::Try(trial) => trial,
                Step::Spent(why) => {
                    attempt += 1;
                    self.spend(attempt, why, &diagnostics);
                    continue;
                }
                Step::Stop(reason) => return self.escalate(diagnostics, reason),
            };
            attempt += 1;
            match self
                .test(trial, &diagnostics, attempt)
                .instrument(span)
                .await?
            {
                Tested::Green(after) => {
                    self.report.diagnostics = after;
                    if self.report.changed_plan.is_empty() {
                        self.report.outcome = Outcome::Healed;
                        self.learn().await?;
                    } else {
                        // The fixes turned green only another plan: nothing to teach.
                        self.report.outcome = Outcome::HealedWithChangedPlan;
                    }
                    return Ok(());
                }
                Tested::Kept(after) => {
                    if signatures(&after) == signatures(&diagnostics) {
                        same_errors += 1;
                    } else {
                        same_errors = 1;
                    }
                    diagnostics = after;
                    self.report.diagnostics = diagnostics.clone();
                }
                Tested::Undone => {}
            }
        }
    }

    /// What attempt `attempt` tries, when the policy lets it go on (`go`): a repair, or a
    /// fallback strategy — first for a resource error (more resources before any edit), else
    /// when repairing stops, unless the error is hopeless — or why nothing is left.
    async fn next_step(
        &mut self,
        diagnostics: &[Diagnostic],
        leading: Option<Diagnostic>,
        go: std::result::Result<(), StopReason>,
        attempt: u32,
    ) -> Result<Step> {
        let category = leading.as_ref().map_or(Category::Unknown, |d| d.category);
        let repairing = match go {
            Err(reason) => Some(Step::Stop(reason)),
            Ok(()) if category == Category::Resource => None,
            Ok(()) => Some(self.repair(diagnostics, leading.as_ref(), attempt).await?),
        };
        let falls_back = match &repairing {
            None => true,
            Some(Step::Stop(reason)) => !matches!(reason, StopReason::NotRetryable { .. }),
            Some(_) => false,
        };
        if falls_back && let Some(trial) = self.fallback(diagnostics, category, attempt).await? {
            return Ok(Step::Try(trial));
        }
        match repairing {
            Some(step) => Ok(step),
            None => self.repair(diagnostics, leading.as_ref(), attempt).await,
        }
    }

    /// What to try for the build's errors itself: the same build again for a transient error
    /// (or none parsed), else a fix.
    async fn repair(
        &mut self,
        diagnostics: &[Diagnostic],
        leading: Option<&Diagnostic>,
        attempt: u32,
    ) -> Result<Step> {
        match leading {
            Some(target) if target.category != Category::Network => {
                self.propose(target, diagnostics, attempt).await
            }
            _ => Ok(Step::Try(Trial::Rebuild)),
        }
    }

    fn escalate(&mut self, diagnostics: Vec<Diagnostic>, reason: StopReason) -> Result<()> {
        let next_action = match &reason {
            StopReason::NotRetryable { .. } => {
                "fix the account or licence problem the build reports, then heal again"
            }
            StopReason::NothingToTry { .. } => {
                "configure a model (or check the one configured), or fix the first error by hand"
            }
            StopReason::Budget { .. } => {
                "raise the token or dollar budget, or fix the first remaining error by hand"
            }
            _ => "fix the first remaining error by hand; the attempts above show what was tried",
        };
        self.report.escalation = Some(EscalationReport {
            reason,
            diagnostics: errors(&diagnostics).cloned().collect(),
            next_action: next_action.to_string(),
        });
        self.report.diagnostics = diagnostics;
        self.report.outcome = Outcome::Escalated;
        Ok(())
    }

    /// Puts the workspace where the run should leave it, completes the report, and sends the
    /// last event.
    fn finish(mut self, ended: Ended) -> Result<HealReport> {
        let writes = Arc::clone(&self.writes);
        let _writing = writes.stop();
        match ended {
            Ended::Ran => {}
            Ended::OutOfTime => self.report.outcome = Outcome::Failed,
            Ended::Cancelled => self.report.outcome = Outcome::Cancelled,
        }
        let outcome = self.report.outcome;
        let attempts = self.report.attempts.len() as u32;
        // Where the workspace goes back to, and whether that undoes every kept fix too.
        let (back_to, whole_run, reason) = match outcome {
            Outcome::Healed | Outcome::HealedWithChangedPlan | Outcome::AlreadyGreen => {
                (None, false, "")
            }
            Outcome::Cancelled => (
                self.before_attempt.as_ref(),
                false,
                "cancelled: the attempt in progress is undone",
            ),
            _ if self.config().keep_partial => (
                self.before_attempt.as_ref(),
                false,
                "not healed: the attempt in progress is undone",
            ),
            _ => {
                self.report.fixes.clear();
                self.report.protected_changes.clear();
                (
                    Some(&self.initial),
                    true,
                    "not healed: the workspace is put back as it was",
                )
            }
        };
        // Installs for a fix in test or never tested are undone with it.
        self.undo_installs(&self.installs);
        if whole_run {
            for attempt in &self.report.attempts {
                self.undo_installs(&attempt.installs);
            }
        }
        // Installs for a fix never tested belong with the build whose errors they were for.
        if let Some(last) = self.report.attempts.last_mut() {
            last.installs.append(&mut self.installs);
        }
        if let Some(snapshot) = back_to
            && !self.workspace.restore(snapshot)?.is_empty()
        {
            self.emit(Event::FixRolledBack {
                attempt: attempts,
                reason: reason.into(),
            });
        }
        self.settled = true;
        let used = self.meter.report();
        self.report.usage = used.usage;
        self.report.cost_usd = used.cost_usd;
        self.report.duration = self.started.elapsed();
        let report = std::mem::replace(&mut self.report, HealReport::empty());
        self.emit(match outcome {
            Outcome::Healed | Outcome::HealedWithChangedPlan | Outcome::AlreadyGreen => {
                Event::Healed {
                    attempts,
                    already_green: outcome == Outcome::AlreadyGreen,
                    changed_plan: report.changed_plan.clone(),
                }
            }
            Outcome::Escalated => Event::Escalated {
                reason: (report.escalation.as_ref())
                    .map_or(StopReason::MaxAttempts { attempts }, |e| e.reason.clone()),
            },
            Outcome::Failed => Event::Failed {
                reason: format!("the time budget of {:?} ran out", self.config().budget.time),
            },
            Outcome::Cancelled => Event::Cancelled,
        });
        if outcome == Outcome::Escalated
            && let Some(handler) = &self.healer.on_escalation
        {
            handler(&report);
        }
        Ok(report)
    }
}

impl Drop for Run<'_> {
    /// A run dropped mid-attempt (its future dropped: a host's task cancelled) undoes the
    /// attempt in progress, as a cancelled run does.
    fn drop(&mut self) {
        if !self.settled
            && let Some(snapshot) = &self.before_attempt
        {
            let _writing = self.writes.stop();
            let _ = self.workspace.restore(snapshot);
            self.undo_installs(&self.installs);
        }
    }
}

/// What a tested trial left: the build's diagnostics when it was kept.
enum Tested {
    Green(Vec<Diagnostic>),
    Kept(Vec<Diagnostic>),
    Undone,
}

/// The tool of the diagnostic that stands for a failed build no parser understood.
const UNRECOGNISED: &str = "selfheal";

/// The sorted error fingerprints: two builds with the same ones are stuck at the same place.
fn signatures(diagnostics: &[Diagnostic]) -> Vec<&str> {
    let mut set: Vec<&str> = errors(diagnostics)
        .map(|d| d.fingerprint.as_str())
        .collect();
    set.sort_unstable();
    set
}

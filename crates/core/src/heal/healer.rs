//! [`Healer`]: build, read the errors, find a fix, apply it, rebuild — until the build is green
//! or there is nothing left worth trying.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Instant;

use futures_util::{FutureExt, StreamExt};
use regex::Regex;
use tracing::{Instrument, info_span};

use super::config::HealConfig;
use super::event::{Event, EventSink};
use super::metrics::{self, Phase};
use super::narrow;
use super::policy::StopReason;
use super::report::{
    AttemptReport, EscalationReport, FixSource, HealReport, KeptFix, Outcome, ProtectedChange,
    RunRecorder,
};
use super::sources;
use super::strategy::{Remedy, Strategy, ToolSetting, default_strategies};
use super::tracking::{Delta, errors};
use super::verdict::{self, Verdict};
use crate::build::{BuildPlan, BuildStep, Builder, Command, OutputStream};
use crate::cache::{FixCache, digest};
use crate::fix::install::{Install, Installer};
use crate::fix::prompt::{PreviousAttempt, PromptBuilder};
use crate::fix::{
    CargoSuggestions, ClientDirective, Edit, ExportNames, FixInput, FixProposal, Fixer,
    ImportKinds, ImportPaths, JsonFiles, JsxEntities, MissingDependencies, MissingNames,
    NextExports, NextNavigation, PeerConflicts, RelativePath, ToolFix, ToolSuggestions,
    UnusedBindings, WorkspaceCrates,
};
use crate::llm::{self, Meter, Metered, Provider, StreamEvent};
use crate::parse::ParserSet;
use crate::redact::Redactor;
use crate::time::{Clock, Jitter, SystemClock};
use crate::workspace::{
    Applied, ApplyError, ApplyOptions, FileChange, Protected, Refusal, Snapshot, Workspace,
    protected_classes,
};
use crate::{Category, Diagnostic, Error, Result, Subcategory};

/// Called with the final report of a run that escalated.
pub type EscalationHandler = dyn Fn(&HealReport) + Send + Sync;

/// The deterministic fixers a [`Healer`] starts with, in the order it asks them: the tools' own
/// suggestions ([`ToolSuggestions`], [`JsonFiles`], [`CargoSuggestions`], [`ToolFix::eslint`],
/// [`ToolFix::ruff`], [`JsxEntities`]), then the project-aware ones ([`ClientDirective`],
/// [`NextNavigation`], [`NextExports`], [`ImportPaths`], [`ImportKinds`], [`ExportNames`],
/// [`WorkspaceCrates`], [`MissingNames`], [`UnusedBindings`]), then [`PeerConflicts`] and
/// [`MissingDependencies`], which install packages under the rules of
/// [`install`](crate::fix::install) ([`HealConfig::install`] turns installs off).
pub fn default_fixers() -> Vec<Arc<dyn Fixer>> {
    vec![
        Arc::new(ToolSuggestions),
        Arc::new(JsonFiles),
        Arc::new(CargoSuggestions::default()),
        Arc::new(ToolFix::eslint()),
        Arc::new(ToolFix::ruff()),
        Arc::new(JsxEntities),
        Arc::new(ClientDirective),
        Arc::new(NextNavigation),
        Arc::new(NextExports),
        Arc::new(ImportPaths),
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

/// A fix being tried: what it is, where it came from, and the error it was chosen for.
struct Candidate {
    proposal: FixProposal,
    source: FixSource,
    by: Option<String>,
    target: Option<Diagnostic>,
    /// The tool setting it writes, when it is one of selfheal's own strategies': the edit
    /// policy lets it change that file, which no proposal may.
    setting: Option<ToolSetting>,
}

/// What the loop does next: try something, spend the attempt on a reply with nothing to try
/// (why, for the next prompt), or stop for a reason (when no fallback helps).
enum Step {
    Try(Trial),
    Spent(String),
    Stop(StopReason),
}

impl Step {
    fn fix(candidate: Candidate) -> Step {
        Step::Try(Trial::Fix(Box::new(candidate)))
    }
}

impl Candidate {
    /// A proposal for `target` from `source`, by no one in particular.
    fn of(proposal: FixProposal, source: FixSource, target: &Diagnostic) -> Candidate {
        Candidate {
            proposal,
            source,
            by: None,
            target: Some(target.clone()),
            setting: None,
        }
    }
}

/// What an attempt tries.
enum Trial {
    /// The same build again (a transient error).
    Rebuild,
    /// Edits.
    Fix(Box<Candidate>),
    /// Another plan or builder, from a fallback strategy.
    Switch {
        strategy: String,
        plan: Option<BuildPlan>,
        builder: Option<Arc<dyn Builder>>,
    },
}

/// What an applied attempt changed, to keep or to roll back.
#[derive(Default)]
struct Change {
    /// The files a fix edited.
    files: Vec<String>,
    /// Protected files it changed with the host's leave.
    protected: Vec<ProtectedChange>,
    /// What a fallback replaced.
    switched_from: Option<Replaced>,
}

/// The plan and builder a fallback replaced (`None`: that one stayed).
struct Replaced {
    plan: Option<BuildPlan>,
    builder: Option<Arc<dyn Builder>>,
}

/// What the run learned from fixes that did not work.
#[derive(Default)]
struct Lessons {
    /// Each, with its outcome, for the next prompt.
    tried: Vec<PreviousAttempt>,
    /// Their digests: a proposal is never tried twice.
    failed: HashSet<u64>,
}

impl Lessons {
    /// `proposal` did not work, for the reason `why`.
    fn learn(&mut self, proposal: &FixProposal, why: String) {
        self.failed.insert(digest(proposal));
        self.tried.push(summary(proposal, why));
    }
}

/// What the model is told of a refused proposal.
fn refused(refusals: &[Refusal]) -> String {
    let each: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    format!(
        "refused by the edit policy, nothing was written: {}; fix the cause in the files a fix may change",
        each.join("; ")
    )
}

/// The result of one build.
struct Build {
    green: bool,
    timed_out: bool,
    diagnostics: Vec<Diagnostic>,
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
            let step = match next {
                Ok(_) if stuck => Step::Stop(StopReason::Stuck {
                    attempts: same_errors,
                }),
                Ok(delay) => {
                    if !delay.is_zero() {
                        self.emit(Event::Backoff { delay });
                        self.healer.clock.sleep(delay).await;
                    }
                    (self.trial(&diagnostics, leading, attempt + 1))
                        .instrument(span.clone())
                        .await?
                }
                Err(reason) => Step::Stop(reason),
            };
            // When fixing stops, a fallback strategy may still help; a hopeless error is
            // beyond them too.
            let trial = match step {
                Step::Try(trial) => trial,
                Step::Spent(why) => {
                    attempt += 1;
                    self.spend(attempt, why, &diagnostics);
                    continue;
                }
                Step::Stop(reason @ StopReason::NotRetryable { .. }) => {
                    return self.escalate(diagnostics, reason);
                }
                Step::Stop(reason) => {
                    match self.fallback(&diagnostics, category, attempt + 1).await? {
                        Some(trial) => trial,
                        None => return self.escalate(diagnostics, reason),
                    }
                }
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

    /// What to try next for the build's errors: a rebuild for a transient error, else a fix
    /// (resource errors fall back to more resources first), or why nothing is left.
    async fn trial(
        &mut self,
        diagnostics: &[Diagnostic],
        leading: Option<Diagnostic>,
        attempt: u32,
    ) -> Result<Step> {
        let Some(target) = leading else {
            return Ok(Step::Try(Trial::Rebuild));
        };
        match target.category {
            // A network error is transient: the same build again, no fix.
            Category::Network => return Ok(Step::Try(Trial::Rebuild)),
            Category::Resource => {
                if let Some(trial) = self.fallback(diagnostics, target.category, attempt).await? {
                    return Ok(Step::Try(trial));
                }
            }
            _ => {}
        }
        self.propose(&target, diagnostics, attempt).await
    }

    /// The next untried fallback strategy for `category` that has something to offer.
    async fn fallback(
        &mut self,
        diagnostics: &[Diagnostic],
        category: Category,
        attempt: u32,
    ) -> Result<Option<Trial>> {
        for (index, strategy) in self.healer.strategies.iter().enumerate() {
            if self.strategies_tried[index] || !strategy.applies_to(category) {
                continue;
            }
            self.strategies_tried[index] = true;
            let input = FixInput {
                workspace: self.workspace,
                diagnostics,
                plan: &self.plan,
                builder: self.builder.as_ref(),
                installs: &self.installer,
            };
            let fallback = strategy.fallback(&input).await?;
            self.collect_installs(attempt);
            let Some(fallback) = fallback else {
                continue;
            };
            let strategy = strategy.name().to_string();
            self.emit(Event::Fallback {
                attempt,
                strategy: strategy.clone(),
            });
            let fix = |proposal, setting| {
                Trial::Fix(Box::new(Candidate {
                    proposal,
                    source: FixSource::Fallback,
                    by: Some(strategy.clone()),
                    target: None,
                    setting,
                }))
            };
            return Ok(Some(match fallback {
                Remedy::Fix(proposal) => fix(proposal, None),
                Remedy::Setting(setting) => {
                    let path = RelativePath::new(setting.file())
                        .map_err(|e| Error::invalid_input(e.to_string()))?;
                    let current = self.workspace.read(&path)?;
                    let Some(content) = setting.written_into(current.as_deref()) else {
                        continue;
                    };
                    let proposal = FixProposal {
                        analysis: format!("`{}` in {}", setting.line(), setting.file()),
                        edits: vec![Edit::Replace { path, content }],
                        ..FixProposal::default()
                    };
                    fix(proposal, Some(setting))
                }
                Remedy::Plan(plan) => Trial::Switch {
                    strategy,
                    plan: Some(plan),
                    builder: None,
                },
                Remedy::Builder(builder) => Trial::Switch {
                    strategy,
                    plan: None,
                    builder: Some(builder),
                },
            }));
        }
        Ok(None)
    }

    /// One attempt, in stages: apply `trial` (through the edit policy, the gate), rebuild,
    /// judge ([`verdict`]), then keep it or roll it back — also when it could not even be
    /// applied.
    async fn test(
        &mut self,
        trial: Trial,
        diagnostics: &[Diagnostic],
        attempt: u32,
    ) -> Result<Tested> {
        let started = Instant::now();
        let snapshot = self.workspace.snapshot()?;
        self.before_attempt = Some(snapshot.clone());
        let mut report = AttemptReport::numbered(attempt);
        report.installs = self.installs.clone();
        let mut change = Change::default();
        match &trial {
            Trial::Rebuild => {}
            Trial::Fix(candidate) => {
                match self.apply_fix(candidate, &snapshot, &mut report).await? {
                    Some(applied) => change = applied,
                    None => return Ok(self.untested(report, diagnostics, started)),
                }
            }
            Trial::Switch {
                strategy,
                plan,
                builder,
            } => {
                (report.source, report.by) = (Some(FixSource::Fallback), Some(strategy.clone()));
                change.switched_from = Some(self.switch(plan, builder));
            }
        }
        let (build, then) = self.check(attempt, matches!(trial, Trial::Fix(_))).await?;
        let delta = Delta::between(diagnostics, &build.diagnostics);
        self.emit(Event::AttemptFinished {
            attempt,
            new: delta.new.len(),
            fixed: delta.fixed.len(),
            persisting: delta.persisting.len(),
        });
        (report.new, report.fixed, report.persisting) =
            (delta.new.len(), delta.fixed.len(), delta.persisting.len());
        report.errors = errors(&build.diagnostics).count();
        let outcome = verdict::Outcome {
            green: build.green,
            timed_out: build.timed_out,
        };
        let verdict = verdict::verdict(!matches!(trial, Trial::Rebuild), outcome, &delta);
        let tested = match verdict {
            Verdict::Keep => self.keep(trial, &report, change, build, then),
            _ => {
                let why = match verdict {
                    Verdict::TimedOut => "the build timed out".to_string(),
                    Verdict::Regressed => format!(
                        "made it worse: {} new errors, {} fixed",
                        delta.new.len(),
                        delta.fixed.len()
                    ),
                    _ => format!("fixed nothing: {}", remaining(&build.diagnostics)),
                };
                self.roll_back(&trial, &mut report, &snapshot, change, why)
                    .await?;
                report.errors = errors(diagnostics).count();
                Tested::Undone
            }
        };
        report.duration = started.elapsed();
        self.report.attempts.push(report);
        self.before_attempt = None;
        self.installs.clear();
        Ok(tested)
    }

    /// Applies a fix through the edit policy. `None` when it was never built: unusable,
    /// refused, not applicable, or weakening the tests (then already rolled back); the report
    /// says why.
    async fn apply_fix(
        &mut self,
        candidate: &Candidate,
        snapshot: &Snapshot,
        report: &mut AttemptReport,
    ) -> Result<Option<Change>> {
        let attempt = report.number;
        (report.source, report.by) = (Some(candidate.source), candidate.by.clone());
        let applied = {
            let _phase = Phase::start("apply");
            let span = info_span!(
                "apply",
                source = %candidate.source,
                by = candidate.by.as_deref().unwrap_or("")
            );
            match self.apply(candidate, span).await? {
                Ok(applied) => Ok(applied),
                Err(ApplyError::Refused(refusals)) => Err((refused(&refusals), refusals)),
                Err(error) => Err((format!("could not be applied: {error}"), Vec::new())),
            }
        };
        let applied = match applied {
            Ok(applied) => applied,
            Err((why, refusals)) => {
                self.undo_installs(&report.installs);
                if refusals.is_empty() {
                    metrics::record_fix(candidate.source, "unusable");
                    self.failed(candidate, why.clone()).await?;
                } else {
                    metrics::record_fix(candidate.source, "refused");
                    self.emit(Event::FixRefused {
                        attempt,
                        source: candidate.source,
                        by: candidate.by.clone(),
                        refusals: refusals.clone(),
                    });
                    // Never tested, so not a failure for the cache: only a lesson.
                    self.lessons.learn(&candidate.proposal, why.clone());
                }
                report.apply_error = Some(why);
                report.refused = refusals;
                return Ok(None);
            }
        };
        let files: Vec<String> = (applied.changes.iter())
            .map(|c| c.path.as_str().to_string())
            .collect();
        report.diff = self.healer.redactor.redact(&applied.diff()).into_owned();
        self.emit(Event::FixApplied {
            attempt,
            source: candidate.source,
            by: candidate.by.clone(),
            files: files.clone(),
            matches: applied.matches.iter().map(|(_, how)| *how).collect(),
            diff: report.diff.clone(),
        });
        let weakening = (self.config().verify.is_empty())
            .then(|| weakens_tests(&applied.changes))
            .flatten();
        if let Some(why) = weakening {
            self.workspace.restore(snapshot)?;
            self.undo_installs(&report.installs);
            self.emit(Event::FixRolledBack {
                attempt,
                reason: why.clone(),
            });
            metrics::record_fix(candidate.source, "rolled_back");
            self.failed(candidate, why).await?;
            report.rolled_back = true;
            report.diff = String::new();
            return Ok(None);
        }
        Ok(Some(Change {
            files,
            protected: protected_changes(attempt, &applied.changes),
            switched_from: None,
        }))
    }

    /// Puts a fallback's plan or builder in place; returns what it replaced.
    fn switch(&mut self, plan: &Option<BuildPlan>, builder: &Option<Arc<dyn Builder>>) -> Replaced {
        Replaced {
            plan: (plan.clone()).map(|plan| std::mem::replace(&mut self.plan, plan)),
            builder: (builder.clone()).map(|builder| std::mem::replace(&mut self.builder, builder)),
        }
    }

    /// Keeps an attempt's change: the fix is remembered (and what it left, for the next
    /// prompt), a switched plan or builder stays and is reported.
    fn keep(
        &mut self,
        trial: Trial,
        report: &AttemptReport,
        mut change: Change,
        build: Build,
        then: Option<(Option<BuildStep>, Build)>,
    ) -> Tested {
        if let Trial::Fix(candidate) = trial {
            if !build.green {
                let outcome = remaining(&build.diagnostics);
                self.lessons
                    .tried
                    .push(summary(&candidate.proposal, outcome));
            }
            self.kept.push(*candidate);
        }
        if let Some(source) = report.source {
            metrics::record_fix(source, "kept");
        }
        if let Some(replaced) = &change.switched_from {
            let strategy = report.by.as_deref().unwrap_or("a fallback");
            if let Some(old) = &replaced.plan {
                self.report
                    .changed_plan
                    .extend(plan_changes(old, &self.plan));
            }
            if replaced.builder.is_some() {
                (self.report.changed_plan).push(format!("the builder was replaced by {strategy}"));
            }
        }
        self.report.protected_changes.append(&mut change.protected);
        self.report
            .fixes
            .extend(report.source.map(|source| KeptFix {
                attempt: report.number,
                source,
                by: report.by.clone(),
                files: change.files,
            }));
        match then {
            Some((narrow, next)) => {
                self.narrow = narrow;
                Tested::Kept(next.diagnostics)
            }
            None if build.green => Tested::Green(build.diagnostics),
            None => Tested::Kept(build.diagnostics),
        }
    }

    /// Undoes an attempt's change — files, installs, a switched plan or builder — and
    /// remembers why it failed.
    async fn roll_back(
        &mut self,
        trial: &Trial,
        report: &mut AttemptReport,
        snapshot: &Snapshot,
        change: Change,
        why: String,
    ) -> Result<()> {
        {
            let _phase = Phase::start("rollback");
            let _span = info_span!("rollback", attempt = report.number).entered();
            self.workspace.restore(snapshot)?;
            self.undo_installs(&report.installs);
        }
        if let Some(source) = report.source {
            metrics::record_fix(source, "rolled_back");
        }
        if let Some(replaced) = change.switched_from {
            if let Some(plan) = replaced.plan {
                self.plan = plan;
            }
            if let Some(builder) = replaced.builder {
                self.builder = builder;
            }
        }
        self.emit(Event::FixRolledBack {
            attempt: report.number,
            reason: why.clone(),
        });
        if let Trial::Fix(candidate) = trial {
            self.failed(candidate, why).await?;
        }
        report.rolled_back = true;
        report.diff = String::new();
        Ok(())
    }

    /// Ends an attempt spent on a model's reply that held nothing to try: what the fixers
    /// installed meanwhile is undone, and the next prompt says why.
    fn spend(&mut self, attempt: u32, why: String, diagnostics: &[Diagnostic]) {
        let started = Instant::now();
        let report = AttemptReport {
            installs: std::mem::take(&mut self.installs),
            source: Some(FixSource::Llm),
            apply_error: Some(why.clone()),
            ..AttemptReport::numbered(attempt)
        };
        self.undo_installs(&report.installs);
        metrics::record_fix(FixSource::Llm, "unusable");
        self.lessons.learn(&FixProposal::default(), why);
        self.untested(report, diagnostics, started);
    }

    /// Ends an attempt whose fix was never built: the errors stay those of the last build.
    fn untested(
        &mut self,
        mut report: AttemptReport,
        diagnostics: &[Diagnostic],
        started: Instant,
    ) -> Tested {
        report.errors = errors(diagnostics).count();
        report.persisting = report.errors;
        report.duration = started.elapsed();
        self.report.attempts.push(report);
        self.before_attempt = None;
        self.installs.clear();
        Tested::Undone
    }

    /// Applies the candidate's proposal on a blocking thread, off the async runtime; a run that ends
    /// meanwhile stops it between two edits and waits for it before it restores anything.
    async fn apply(
        &self,
        candidate: &Candidate,
        span: tracing::Span,
    ) -> Result<std::result::Result<Applied, ApplyError>> {
        let (workspace, proposal) = (self.workspace.clone(), candidate.proposal.clone());
        let (mut options, writes) = (self.apply_options.clone(), Arc::clone(&self.writes));
        if candidate.setting.is_some() {
            // Its one line, made by selfheal from a closed list: never a proposal's text.
            options.policy = options.policy.allowing(Protected::BuildScripts);
        }
        // The thread gets the caller's subscriber: a span closed where another one is the
        // default would never close its parents.
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        tokio::task::spawn_blocking(move || {
            tracing::dispatcher::with_default(&dispatch, move || {
                let _writing = writes.lock.lock().unwrap_or_else(PoisonError::into_inner);
                let _entered = span.entered();
                workspace.apply_until(&proposal, &options, &writes.stop)
            })
        })
        .await
        .map_err(|e| Error::Io(Arc::new(std::io::Error::other(e))))
    }

    /// Runs the plan (then the verify steps) and parses what it printed.
    async fn build(&self, attempt: u32) -> Result<Build> {
        let steps: Vec<&BuildStep> = (self.plan.steps.iter())
            .chain(&self.config().verify)
            .collect();
        self.run_steps(attempt, &steps).await
    }

    /// Runs `steps` in order, up to the first that fails (unless it may), and parses what they
    /// printed.
    async fn run_steps(&self, attempt: u32, steps: &[&BuildStep]) -> Result<Build> {
        let (events, redactor) = (self.events, &self.healer.redactor);
        let sink = |stream: OutputStream, line: &str| {
            events.event(Event::OutputLine {
                stream,
                line: redactor.redact(line).into_owned(),
            })
        };
        let mut build = Build {
            green: true,
            timed_out: false,
            diagnostics: Vec::new(),
        };
        let mut failed_log = None;
        for step in steps {
            self.emit(Event::StepStarted {
                attempt,
                step: step.name.clone(),
            });
            let output = {
                let _phase = Phase::start("build");
                (self.builder)
                    .run_step(self.workspace.root(), step, &sink)
                    .instrument(info_span!("build_step", attempt, step = %step.name))
                    .await?
            };
            self.emit(Event::StepFinished {
                step: step.name.clone(),
                success: output.success(),
                duration: output.duration,
            });
            {
                let _phase = Phase::start("parse");
                let text = redactor.redact(&output.log.text);
                let _span = info_span!("parse", step = %step.name, bytes = text.len()).entered();
                (build.diagnostics).extend(self.healer.parsers.parse(text.as_bytes()));
                if !output.success() {
                    failed_log = Some(log_tail(&text));
                }
            }
            build.timed_out |= output.timed_out;
            if !output.success() {
                build.green = false;
                if !step.continue_on_failure {
                    break;
                }
            }
        }
        sources::to_sources(self.workspace, &mut build.diagnostics);
        if !build.green && errors(&build.diagnostics).next().is_none() {
            // A failed step whose output no parser understood still needs fixing: what it
            // printed last goes with it, for whoever tries.
            let mut unrecognised = Diagnostic::new(
                UNRECOGNISED,
                "the build failed with no error the parsers recognise",
            );
            unrecognised.snippet = failed_log;
            build.diagnostics.push(unrecognised);
        }
        self.emit(Event::Diagnostics {
            attempt,
            diagnostics: build.diagnostics.clone(),
        });
        Ok(build)
    }

    /// The narrow check of a failed full build, when one applies (see [`narrow`]): the check
    /// and what it reports, if it fails where the full build did.
    async fn narrowed(&self, attempt: u32, full: &Build) -> Result<Option<(BuildStep, Build)>> {
        let Some(step) = narrow::narrow_check(self.workspace, &self.plan, &full.diagnostics) else {
            return Ok(None);
        };
        let check = self.run_narrow(attempt, &step).await?;
        // Only a check that sees the error the build stopped at stands in for the build.
        let sees = |leading: &Diagnostic| {
            errors(&check.diagnostics).any(|d| (&d.file, d.line) == (&leading.file, leading.line))
        };
        let stands_in = errors(&full.diagnostics).next().is_some_and(sees);
        Ok((!check.green && stands_in).then_some((step, check)))
    }

    /// Runs the narrow check; only what it says of the project's sources counts.
    async fn run_narrow(&self, attempt: u32, step: &BuildStep) -> Result<Build> {
        let mut check = self.run_steps(attempt, &[step]).await?;
        check.diagnostics = narrow::about_sources(self.workspace, check.diagnostics);
        check.green |= errors(&check.diagnostics).next().is_none();
        Ok(check)
    }

    /// Builds after a change. In narrow mode a fix is checked narrowly first, and the full
    /// plan runs only once that passes. Returns the build that judges the change, and the one
    /// whose errors the next attempt works on when that differs: the full plan's when the
    /// narrow check passed but the plan still fails, or the narrow check's of a full build
    /// that failed where it applies.
    async fn check(
        &self,
        attempt: u32,
        fix: bool,
    ) -> Result<(Build, Option<(Option<BuildStep>, Build)>)> {
        let narrow = match (&self.narrow, fix) {
            (Some(step), true) => {
                let check = self.run_narrow(attempt, step).await?;
                if !check.green {
                    return Ok((check, None));
                }
                Some(check)
            }
            _ => None,
        };
        let full = self.build(attempt).await?;
        if full.green {
            return Ok((full, None));
        }
        Ok(match narrow {
            Some(passed) => (passed, Some((None, full))),
            None => {
                let narrowed = self.narrowed(attempt, &full).await?;
                (full, narrowed.map(|(step, check)| (Some(step), check)))
            }
        })
    }

    /// A fix for `target`: from the fixers, else the cache, else the model; or why there is
    /// none to try.
    async fn propose(
        &mut self,
        target: &Diagnostic,
        diagnostics: &[Diagnostic],
        attempt: u32,
    ) -> Result<Step> {
        if let Some(candidate) = self.ask_fixers(target, diagnostics, attempt).await? {
            return Ok(Step::fix(candidate));
        }
        if let Some(candidate) = self.look_up_cache(target).await? {
            return Ok(Step::fix(candidate));
        }
        self.ask_model(target, diagnostics).await
    }

    /// The first deterministic fixer's fix that has not failed this run.
    async fn ask_fixers(
        &mut self,
        target: &Diagnostic,
        diagnostics: &[Diagnostic],
        attempt: u32,
    ) -> Result<Option<Candidate>> {
        let config = self.config();
        for fixer in &self.healer.fixers {
            if fixer.safety() > config.fixer_safety {
                continue;
            }
            let input = FixInput {
                workspace: self.workspace,
                diagnostics,
                plan: &self.plan,
                builder: self.builder.as_ref(),
                installs: &self.installer,
            };
            let proposed = {
                let _phase = Phase::start("fixer");
                (fixer.propose(&input))
                    .instrument(info_span!("fixer", fixer = fixer.name()))
                    .await?
            };
            self.collect_installs(attempt);
            if let Some(proposal) = proposed
                && !self.lessons.failed.contains(&digest(&proposal))
            {
                self.emit(Event::FixerApplied {
                    attempt,
                    fixer: fixer.name().to_string(),
                    safety: fixer.safety(),
                });
                return Ok(Some(Candidate {
                    by: Some(fixer.name().to_string()),
                    ..Candidate::of(proposal, FixSource::Fixer, target)
                }));
            }
        }
        Ok(None)
    }

    /// A fix that worked before for this error.
    async fn look_up_cache(&mut self, target: &Diagnostic) -> Result<Option<Candidate>> {
        let config = self.config();
        if let Some(cache) = self.healer.cache_for(target) {
            let span = info_span!(
                "cache_lookup",
                tool = %target.tool,
                category = target.category.as_str(),
                code = target.code.as_deref().unwrap_or("")
            );
            let found = {
                let _phase = Phase::start("cache_lookup");
                cache
                    .lookup(target, &config.context)
                    .instrument(span)
                    .await?
            };
            match found {
                Some(hit) => {
                    self.emit(Event::CacheHit {
                        fix: hit.fix.id,
                        score: hit.score.total,
                    });
                    return Ok(Some(Candidate::of(
                        hit.fix.proposal,
                        FixSource::Cache,
                        target,
                    )));
                }
                None => self.emit(Event::CacheMiss),
            }
        }
        Ok(None)
    }

    /// The model's fix, streamed and read from its reply. A reply with no usable fix is still
    /// a step: the attempt it costs tells the model why, next time.
    async fn ask_model(&mut self, target: &Diagnostic, diagnostics: &[Diagnostic]) -> Result<Step> {
        let Some(provider) = &self.provider else {
            return Ok(Step::Stop(StopReason::NothingToTry {
                detail: "no cached fix and no model configured".into(),
            }));
        };
        let errors: Vec<Diagnostic> = errors(diagnostics).cloned().collect();
        let mut prompt = PromptBuilder::new(&errors)
            .root(self.workspace.root())
            .redactor(self.healer.redactor.clone());
        for attempt in &self.lessons.tried {
            prompt = prompt.attempt(attempt.clone());
        }
        let prompt = prompt.build();
        self.emit(Event::LlmRequest {
            provider: provider.name().to_string(),
            estimated_tokens: prompt.estimated_tokens,
        });
        let events = self.events;
        // Reading stops at the cap: the rest of an endless or huge reply is never received.
        let cap = self.config().max_reply_bytes;
        let mut received = 0usize;
        let over_cap = Arc::new(AtomicBool::new(false));
        let capped = {
            let over_cap = Arc::clone(&over_cap);
            provider
                .stream(prompt.to_request())
                .take_while(move |event| {
                    match event {
                        StreamEvent::Text(text) => received = received.saturating_add(text.len()),
                        // A new answer begins.
                        StreamEvent::Switched { .. } => received = 0,
                        _ => {}
                    }
                    let within = received <= cap;
                    if !within {
                        over_cap.store(true, Ordering::Relaxed);
                    }
                    std::future::ready(within)
                })
        };
        let streamed = llm::collect_observed(Box::pin(capped), |event| match event {
            StreamEvent::Text(text) => events.event(Event::LlmDelta { text: text.clone() }),
            StreamEvent::Switched { to, error } => events.event(Event::LlmSwitched {
                to: to.clone(),
                reason: error.to_string(),
            }),
            _ => {}
        });
        let span = info_span!(
            "llm_call",
            provider = provider.name(),
            model = provider.default_model()
        );
        let streamed = {
            let _phase = Phase::start("llm_call");
            streamed.instrument(span).await
        };
        if over_cap.load(Ordering::Relaxed) {
            return Ok(Step::Spent(format!(
                "the reply passed {cap} bytes and was cut off; answer with smaller edits"
            )));
        }
        if streamed.is_err() {
            metrics::record_llm_failure(provider.name());
        }
        let completion = match streamed {
            Ok(completion) => completion,
            Err(Error::Budget(exceeded)) => {
                return Ok(Step::Stop(StopReason::Budget {
                    detail: exceeded.to_string(),
                }));
            }
            // A transient failure (a dropped connection, an overloaded server) costs this
            // attempt, not the run: the model is asked again at the next one.
            Err(error) if transient(&error) => {
                return Ok(Step::Spent(format!("the model failed for now: {error}")));
            }
            Err(error) => {
                return Ok(Step::Stop(StopReason::NothingToTry {
                    detail: format!("the model failed: {error}"),
                }));
            }
        };
        self.emit(Event::LlmResponse {
            provider: completion.provider.clone(),
            model: completion.model.clone(),
            usage: completion.usage,
            cost_usd: (self.meter.report().records.last()).and_then(|call| call.cost_usd),
        });
        Ok(match FixProposal::from_reply(&completion.text) {
            Ok(proposal) => Step::fix(Candidate::of(proposal, FixSource::Llm, target)),
            Err(error) => Step::Spent(format!("the reply held no usable fix: {error}")),
        })
    }

    /// A fix that did not work: never tried again this run, never proposed again for its
    /// error, and told to the next prompt.
    async fn failed(&mut self, candidate: &Candidate, why: String) -> Result<()> {
        self.lessons.learn(&candidate.proposal, why);
        match self.healer.cache_to_teach(candidate) {
            Some((cache, target)) => cache.record_failure(target, &candidate.proposal).await,
            None => Ok(()),
        }
    }

    /// The fixes that got the build green are remembered for their errors.
    async fn learn(&self) -> Result<()> {
        for candidate in &self.kept {
            if let Some((cache, target)) = self.healer.cache_to_teach(candidate) {
                let context = &self.config().context;
                (cache.record_success(target, context, &candidate.proposal)).await?;
            }
        }
        Ok(())
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

/// The end of a failed step's log: its last 40 lines, at most 4 KiB.
fn log_tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut tail = lines[lines.len().saturating_sub(40)..].join("\n");
    if tail.len() > 4096 {
        let mut start = tail.len() - 4096;
        while !tail.is_char_boundary(start) {
            start += 1;
        }
        tail = tail[start..].to_string();
    }
    tail
}

/// What a tested trial left: the build's diagnostics when it was kept.
enum Tested {
    Green(Vec<Diagnostic>),
    Kept(Vec<Diagnostic>),
    Undone,
}

impl Healer {
    /// The cache, for an error that has a kind of its own (not a failure no parser read).
    fn cache_for(&self, target: &Diagnostic) -> Option<&FixCache> {
        self.cache.as_ref().filter(|_| target.tool != UNRECOGNISED)
    }

    /// The cache and the error, when what `candidate` teaches belongs in it: a fixer's or a
    /// strategy's edits are cheap to make again and tied to one project's files, and an empty
    /// proposal teaches nothing.
    fn cache_to_teach<'c>(&self, candidate: &'c Candidate) -> Option<(&FixCache, &'c Diagnostic)> {
        let teaches = matches!(candidate.source, FixSource::Cache | FixSource::Llm)
            && !candidate.proposal.edits.is_empty()
            && crate::cache::storable(&candidate.proposal);
        let target = candidate.target.as_ref().filter(|_| teaches)?;
        Some((self.cache_for(target)?, target))
    }
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

/// The run's apply options: the healer's, with the files and folders the verify steps name
/// locked, and tests protected whatever the policy allows, when there are verify steps.
fn verified(config: &HealConfig, workspace: &Workspace) -> ApplyOptions {
    let mut options = config.apply.clone();
    if config.verify.is_empty() {
        return options;
    }
    options.policy.allow.remove(&Protected::Tests);
    for step in &config.verify {
        let words: Vec<String> = match &step.command {
            Command::Shell(line) => (line.split_whitespace())
                .map(|word| word.trim_matches(['"', '\'']).to_string())
                .collect(),
            Command::Argv(argv) => argv.clone(),
        };
        let named = (words.iter())
            .filter_map(|word| RelativePath::new(word).ok())
            .filter(|path| {
                workspace
                    .resolve(path)
                    .is_ok_and(|on_disk| on_disk.exists())
            });
        options.policy.locked.extend(named);
    }
    options
}

/// The protected files among `changes` (those the host allowed, since they were applied).
fn protected_changes(attempt: u32, changes: &[FileChange]) -> Vec<ProtectedChange> {
    (changes.iter())
        .flat_map(|change| {
            let classes = protected_classes(
                &change.path,
                change.before.as_deref(),
                change.after.as_deref(),
            );
            classes.into_iter().map(move |class| ProtectedChange {
                attempt,
                path: change.path.to_string(),
                class,
            })
        })
        .collect()
}

/// Why `changes` weaken the tests, when they do: a test file deleted or emptied, fewer tests
/// or assertions than before. Never a fix, whatever the build says after it.
fn weakens_tests(changes: &[FileChange]) -> Option<String> {
    static CHECKS: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"\bassert|\bexpect\s*\(|\.should\b|#\[test\]|\bdef test|(?:^|[^.\w])(?:it|test|describe)\s*\(").ok()
    });
    let count = |text: Option<&str>| {
        (CHECKS.as_ref()).map_or(0, |checks| {
            checks.find_iter(text.unwrap_or_default()).count()
        })
    };
    let mut before = 0;
    let mut after = 0;
    for change in changes {
        let emptied = change
            .after
            .as_deref()
            .is_none_or(|text| text.trim().is_empty());
        let classes = protected_classes(
            &change.path,
            change.before.as_deref(),
            change.after.as_deref(),
        );
        if emptied && change.before.is_some() && classes.contains(&Protected::Tests) {
            return Some(format!(
                "deleting or emptying the test file `{}` is not a fix",
                change.path
            ));
        }
        before += count(change.before.as_deref());
        after += count(change.after.as_deref());
    }
    (after < before).then(|| {
        format!("removing tests or assertions is not a fix ({before} before, {after} after)")
    })
}

/// Whether a model call's failure may pass: every provider of a chain failed transiently, or
/// the one did.
fn transient(error: &Error) -> bool {
    match error {
        Error::AllProvidersFailed(errors) => errors.iter().all(transient),
        Error::CircuitOpen { .. } => true,
        other => other.is_retryable(),
    }
}

/// The steps of `new` whose command is not the one `old` had, in words.
fn plan_changes(old: &BuildPlan, new: &BuildPlan) -> Vec<String> {
    (old.steps.iter().zip(&new.steps))
        .filter(|(before, after)| before.command != after.command)
        .map(|(before, after)| {
            format!(
                "step `{}`: `{}` became `{}`",
                before.name, before.command, after.command
            )
        })
        .collect()
}

/// A proposal and its outcome, for the next prompt.
fn summary(proposal: &FixProposal, outcome: String) -> PreviousAttempt {
    let files: Vec<&str> = proposal.edits.iter().map(|e| e.path().as_str()).collect();
    PreviousAttempt {
        tried: format!("{} (files: {})", proposal.analysis, files.join(", ")),
        outcome,
    }
}

/// The errors left, in a line each, for the next prompt.
fn remaining(diagnostics: &[Diagnostic]) -> String {
    let left: Vec<String> = errors(diagnostics)
        .take(5)
        .map(|d| format!("{}: {}", d.code.as_deref().unwrap_or(&d.tool), d.message))
        .collect();
    format!("errors left: {}", left.join("; "))
}

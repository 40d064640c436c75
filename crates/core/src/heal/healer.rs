//! [`Healer`]: build, read the errors, find a fix, apply it, rebuild — until the build is green
//! or there is nothing left worth trying.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::Event;
use super::policy::{AttemptPolicy, StopReason};
use super::report::{AttemptReport, EscalationReport, FixSource, HealReport, Outcome};
use super::tracking::{Delta, errors};
use crate::build::{BuildPlan, Builder, OutputStream};
use crate::cache::{FixCache, FixContext, digest};
use crate::fix::prompt::{PreviousAttempt, PromptBuilder};
use crate::fix::{CargoSuggestions, FixProposal, Fixer, JsonFiles, Safety, ToolSuggestions};
use crate::llm::{Provider, Usage};
use crate::parse::ParserSet;
use crate::workspace::{ApplyOptions, Snapshot, Workspace};
use crate::{Category, Diagnostic, Result};

/// How a heal run behaves.
#[derive(Debug, Clone)]
pub struct HealConfig {
    /// Attempts, waits between them, and errors not worth retrying.
    pub attempts: AttemptPolicy,
    /// The whole run's time limit (seed 004: 5 minutes); when it runs out, the run ends
    /// unhealed (see `keep_partial`).
    pub timeout: Duration,
    /// Escalate when this many attempts in a row end with the same errors.
    pub stuck_after: u32,
    /// How fixes are applied.
    pub apply: ApplyOptions,
    /// The least safe fixers that run (default: [`Safety::Likely`]: safe and likely ones).
    pub fixer_safety: Safety,
    /// The project, for ranking cached fixes.
    pub context: FixContext,
    /// Seeds the backoff's jitter, for runs that must wait the same every time (default: a
    /// seed from the clock).
    pub jitter_seed: Option<u64>,
    /// When the build is not healed, keep the fixes that removed errors (default: the
    /// workspace is put back as it was before the run; the report holds every attempt's diff).
    pub keep_partial: bool,
}

impl Default for HealConfig {
    fn default() -> Self {
        HealConfig {
            attempts: AttemptPolicy::default(),
            timeout: Duration::from_secs(300),
            stuck_after: 3,
            apply: ApplyOptions::default(),
            fixer_safety: Safety::Likely,
            context: FixContext::default(),
            jitter_seed: None,
            keep_partial: false,
        }
    }
}

/// Where events go: any `Fn(Event)`.
pub trait EventSink: Send + Sync {
    /// One event.
    fn event(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync> EventSink for F {
    fn event(&self, event: Event) {
        self(event)
    }
}

/// The heal loop, with its builder, parsers and sources of fixes.
///
/// A fix comes from the deterministic fixers first (by default [`ToolSuggestions`], the edits
/// the tools printed, [`JsonFiles`] and [`CargoSuggestions`]), then from the fix cache (for the
/// build's first error), then from the model. Each fix is applied to a snapshot of the
/// workspace; a fix that removes no error or makes the build worse (more errors, an error of a
/// new category, a timeout) is undone. When the build turns green, the fixes that got it there
/// are remembered in the cache; fixes that failed are remembered as failed.
pub struct Healer {
    builder: Arc<dyn Builder>,
    parsers: ParserSet,
    fixers: Vec<Arc<dyn Fixer>>,
    provider: Option<Arc<dyn Provider>>,
    cache: Option<FixCache>,
    config: HealConfig,
}

/// A fix being tried: what it is, where it came from, and the error it was chosen for.
struct Candidate {
    proposal: FixProposal,
    source: FixSource,
    fixer: Option<String>,
    target: Diagnostic,
    /// Why the reply it was read from holds no usable fix, when it does not.
    unusable: Option<String>,
}

/// What the run learned from fixes that did not work.
#[derive(Default)]
struct Lessons {
    /// Each, with its outcome, for the next prompt.
    tried: Vec<PreviousAttempt>,
    /// Their digests: a proposal is never tried twice.
    failed: HashSet<u64>,
}

/// What the run has done so far (kept outside the timed part so a timeout can undo).
struct Progress {
    report: HealReport,
    /// The workspace before the attempt in progress.
    before_attempt: Option<Snapshot>,
}

/// The result of one build.
struct Build {
    green: bool,
    timed_out: bool,
    diagnostics: Vec<Diagnostic>,
}

impl Healer {
    /// A healer that builds with `builder`, parses with the default parsers and fixes with the
    /// default fixers (add a [`cache`](Healer::cache) and a [`provider`](Healer::provider)).
    pub fn new(builder: impl Builder + 'static) -> Self {
        Healer {
            builder: Arc::new(builder),
            parsers: ParserSet::new(),
            fixers: vec![
                Arc::new(ToolSuggestions),
                Arc::new(JsonFiles),
                Arc::new(CargoSuggestions::default()),
            ],
            provider: None,
            cache: None,
            config: HealConfig::default(),
        }
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

    /// Builds `plan` in `workspace` and heals it; `events` hears everything as it happens.
    ///
    /// `Err` is kept for what stops the run from working at all (a builder that cannot start,
    /// a workspace that cannot be written); a build that stays red is an `Ok` report.
    pub async fn heal(
        &self,
        workspace: &Workspace,
        plan: &BuildPlan,
        events: &dyn EventSink,
    ) -> Result<HealReport> {
        let started = Instant::now();
        let mut progress = Progress {
            report: HealReport {
                outcome: Outcome::Failed,
                attempts: Vec::new(),
                diagnostics: Vec::new(),
                usage: Usage::default(),
                escalation: None,
                duration: Duration::ZERO,
            },
            before_attempt: None,
        };
        let initial = workspace.snapshot()?;
        let run = self.run(workspace, plan, events, &mut progress);
        let timed_out = tokio::time::timeout(self.config.timeout, run).await;
        match timed_out {
            Ok(ran) => ran?,
            Err(_) => progress.report.outcome = Outcome::Failed,
        }
        let healed = matches!(
            progress.report.outcome,
            Outcome::Healed | Outcome::AlreadyGreen
        );
        if !healed {
            let back_to = if self.config.keep_partial {
                progress.before_attempt.as_ref()
            } else {
                Some(&initial)
            };
            if let Some(snapshot) = back_to
                && !workspace.restore(snapshot)?.is_empty()
            {
                events.event(Event::FixRolledBack {
                    attempt: progress.report.attempts.len() as u32,
                    reason: "not healed: the workspace is put back as it was".into(),
                });
            }
        }
        let mut report = progress.report;
        report.duration = started.elapsed();
        events.event(Event::Finished {
            outcome: report.outcome,
        });
        Ok(report)
    }

    async fn run(
        &self,
        workspace: &Workspace,
        plan: &BuildPlan,
        events: &dyn EventSink,
        progress: &mut Progress,
    ) -> Result<()> {
        events.event(Event::RunStarted {
            steps: plan.steps.iter().map(|s| s.name.clone()).collect(),
        });
        let first = Instant::now();
        let build = self.build(workspace, plan, 1, events).await?;
        let mut diagnostics = build.diagnostics;
        progress.report.attempts.push(AttemptReport {
            number: 1,
            source: None,
            fixer: None,
            diff: String::new(),
            rolled_back: false,
            apply_error: None,
            errors: errors(&diagnostics).count(),
            new: 0,
            fixed: 0,
            persisting: 0,
            duration: first.elapsed(),
        });
        progress.report.diagnostics = diagnostics.clone();
        if build.green {
            progress.report.outcome = Outcome::AlreadyGreen;
            return Ok(());
        }
        let policy = &self.config.attempts;
        let mut attempt = 1;
        let mut by_category: BTreeMap<Category, u32> = BTreeMap::new();
        let mut lessons = Lessons::default();
        let mut jitter = Jitter::new(self.config.jitter_seed);
        let mut kept: Vec<Candidate> = Vec::new();
        let mut same_errors = 1;
        loop {
            let leading = errors(&diagnostics).next().cloned();
            let category = leading.as_ref().map_or(Category::Unknown, |d| d.category);
            let count = by_category.entry(category).or_default();
            *count += 1;
            let messages: Vec<&str> = errors(&diagnostics).map(|d| d.message.as_str()).collect();
            let delay = match policy.next(attempt, category, *count, &messages, jitter.next()) {
                Ok(delay) => delay,
                Err(reason) => return self.escalate(progress, diagnostics, reason, events),
            };
            if !delay.is_zero() {
                events.event(Event::Backoff { delay });
                tokio::time::sleep(delay).await;
            }
            attempt += 1;
            let started = Instant::now();
            // A network error is transient: the same build again, no fix.
            let candidate = match (&leading, category) {
                (_, Category::Network) | (None, _) => None,
                (Some(target), _) => {
                    match self
                        .propose(workspace, target, &diagnostics, &lessons, events, progress)
                        .await?
                    {
                        Ok(candidate) => Some(candidate),
                        Err(reason) => return self.escalate(progress, diagnostics, reason, events),
                    }
                }
            };
            let snapshot = workspace.snapshot()?;
            progress.before_attempt = Some(snapshot.clone());
            let mut report = AttemptReport {
                number: attempt,
                source: candidate.as_ref().map(|c| c.source),
                fixer: candidate.as_ref().and_then(|c| c.fixer.clone()),
                diff: String::new(),
                rolled_back: false,
                apply_error: None,
                errors: 0,
                new: 0,
                fixed: 0,
                persisting: 0,
                duration: Duration::ZERO,
            };
            if let Some(candidate) = &candidate {
                let applied = match &candidate.unusable {
                    Some(why) => Err(why.clone()),
                    None => (workspace.apply(&candidate.proposal, &self.config.apply))
                        .map_err(|error| format!("could not be applied: {error}")),
                };
                match applied {
                    Ok(applied) => {
                        events.event(Event::FixApplied {
                            attempt,
                            source: candidate.source,
                            fixer: candidate.fixer.clone(),
                            files: (applied.changes.iter())
                                .map(|c| c.path.as_str().to_string())
                                .collect(),
                            matches: applied.matches.iter().map(|(_, how)| *how).collect(),
                        });
                        report.diff = workspace.diff(&snapshot)?;
                    }
                    Err(why) => {
                        lessons.failed.insert(digest(&candidate.proposal));
                        self.forget(candidate).await?;
                        lessons
                            .tried
                            .push(summary(&candidate.proposal, why.clone()));
                        report.apply_error = Some(why);
                        report.errors = errors(&diagnostics).count();
                        report.persisting = report.errors;
                        report.duration = started.elapsed();
                        progress.report.attempts.push(report);
                        continue;
                    }
                }
            }
            let build = self.build(workspace, plan, attempt, events).await?;
            let delta = Delta::between(&diagnostics, &build.diagnostics);
            events.event(Event::AttemptFinished {
                attempt,
                new: delta.new.len(),
                fixed: delta.fixed.len(),
                persisting: delta.persisting.len(),
            });
            (report.new, report.fixed, report.persisting) =
                (delta.new.len(), delta.fixed.len(), delta.persisting.len());
            if build.green {
                if let Some(candidate) = candidate {
                    kept.push(candidate);
                }
                report.duration = started.elapsed();
                progress.report.attempts.push(report);
                progress.report.diagnostics = build.diagnostics;
                progress.report.outcome = Outcome::Healed;
                progress.before_attempt = None;
                self.learn(&kept).await?;
                return Ok(());
            }
            match candidate {
                // A fix is kept only when it removed an error and made nothing worse.
                Some(candidate)
                    if delta.regressed() || build.timed_out || delta.fixed.is_empty() =>
                {
                    workspace.restore(&snapshot)?;
                    let why = if build.timed_out {
                        "the build timed out".to_string()
                    } else if delta.regressed() {
                        format!(
                            "made it worse: {} new errors, {} fixed",
                            delta.new.len(),
                            delta.fixed.len()
                        )
                    } else {
                        format!("fixed nothing: {}", remaining(&build.diagnostics))
                    };
                    events.event(Event::FixRolledBack {
                        attempt,
                        reason: why.clone(),
                    });
                    lessons.failed.insert(digest(&candidate.proposal));
                    self.forget(&candidate).await?;
                    lessons.tried.push(summary(&candidate.proposal, why));
                    report.rolled_back = true;
                    report.diff = String::new();
                }
                candidate => {
                    if let Some(candidate) = candidate {
                        let outcome = remaining(&build.diagnostics);
                        lessons.tried.push(summary(&candidate.proposal, outcome));
                        kept.push(candidate);
                    }
                    if signatures(&build.diagnostics) == signatures(&diagnostics) {
                        same_errors += 1;
                    } else {
                        same_errors = 1;
                    }
                    diagnostics = build.diagnostics;
                }
            }
            report.errors = errors(&diagnostics).count();
            report.duration = started.elapsed();
            progress.report.attempts.push(report);
            progress.report.diagnostics = diagnostics.clone();
            progress.before_attempt = None;
            if same_errors >= self.config.stuck_after {
                let reason = StopReason::Stuck {
                    attempts: same_errors,
                };
                return self.escalate(progress, diagnostics, reason, events);
            }
        }
    }

    /// Runs the plan and parses what it printed.
    async fn build(
        &self,
        workspace: &Workspace,
        plan: &BuildPlan,
        attempt: u32,
        events: &dyn EventSink,
    ) -> Result<Build> {
        let sink = |stream: OutputStream, line: &str| {
            events.event(Event::OutputLine {
                stream,
                line: line.to_string(),
            })
        };
        let mut build = Build {
            green: true,
            timed_out: false,
            diagnostics: Vec::new(),
        };
        for step in &plan.steps {
            events.event(Event::StepStarted {
                attempt,
                step: step.name.clone(),
            });
            let output = self.builder.run_step(workspace.root(), step, &sink).await?;
            events.event(Event::StepFinished {
                step: step.name.clone(),
                success: output.success(),
                duration: output.duration,
            });
            build
                .diagnostics
                .extend(self.parsers.parse(&output.log.text));
            build.timed_out |= output.timed_out;
            if !output.success() {
                build.green = false;
                if !step.continue_on_failure {
                    break;
                }
            }
        }
        if !build.green && errors(&build.diagnostics).next().is_none() {
            // A failed step whose output no parser understood still needs fixing.
            build.diagnostics.push(Diagnostic::new(
                UNRECOGNISED,
                "the build failed with no error the parsers recognise",
            ));
        }
        events.event(Event::Diagnostics {
            attempt,
            diagnostics: build.diagnostics.clone(),
        });
        Ok(build)
    }

    /// A fix for `target`: from the cache, else from the model. `Ok(Err(reason))` when there is
    /// none to try.
    async fn propose(
        &self,
        workspace: &Workspace,
        target: &Diagnostic,
        diagnostics: &[Diagnostic],
        lessons: &Lessons,
        events: &dyn EventSink,
        progress: &mut Progress,
    ) -> Result<std::result::Result<Candidate, StopReason>> {
        let candidate = |proposal, source| Candidate {
            proposal,
            source,
            fixer: None,
            target: target.clone(),
            unusable: None,
        };
        for fixer in &self.fixers {
            if fixer.safety() > self.config.fixer_safety {
                continue;
            }
            if let Some(proposal) = fixer.propose(workspace, diagnostics).await?
                && !lessons.failed.contains(&digest(&proposal))
            {
                return Ok(Ok(Candidate {
                    fixer: Some(fixer.name().to_string()),
                    ..candidate(proposal, FixSource::Fixer)
                }));
            }
        }
        if let Some(cache) = self.cache_for(target) {
            match cache.lookup(target, &self.config.context).await? {
                Some(hit) => {
                    events.event(Event::CacheHit {
                        fix: hit.fix.id,
                        score: hit.score.total,
                    });
                    return Ok(Ok(candidate(hit.fix.proposal, FixSource::Cache)));
                }
                None => events.event(Event::CacheMiss),
            }
        }
        let Some(provider) = &self.provider else {
            return Ok(Err(StopReason::NothingToTry {
                detail: "no cached fix and no model configured".into(),
            }));
        };
        let errors: Vec<Diagnostic> = errors(diagnostics).cloned().collect();
        let mut prompt = PromptBuilder::new(&errors).root(workspace.root());
        for attempt in &lessons.tried {
            prompt = prompt.attempt(attempt.clone());
        }
        let prompt = prompt.build();
        events.event(Event::LlmRequest {
            provider: provider.name().to_string(),
            estimated_tokens: prompt.estimated_tokens,
        });
        let completion = match provider.complete(&prompt.to_request()).await {
            Ok(completion) => completion,
            Err(error) => {
                return Ok(Err(StopReason::NothingToTry {
                    detail: format!("the model failed: {error}"),
                }));
            }
        };
        progress.report.usage.input_tokens += completion.usage.input_tokens;
        progress.report.usage.output_tokens += completion.usage.output_tokens;
        events.event(Event::LlmResponse {
            provider: completion.provider.clone(),
            model: completion.model.clone(),
            usage: completion.usage,
        });
        Ok(Ok(match FixProposal::from_reply(&completion.text) {
            Ok(proposal) => candidate(proposal, FixSource::Llm),
            Err(error) => Candidate {
                unusable: Some(format!("the reply held no usable fix: {error}")),
                ..candidate(FixProposal::default(), FixSource::Llm)
            },
        }))
    }

    /// The fixes that got the build green are remembered for their errors.
    async fn learn(&self, kept: &[Candidate]) -> Result<()> {
        for candidate in kept {
            if let Some(cache) = self.cache_to_teach(candidate) {
                let context = &self.config.context;
                (cache.record_success(&candidate.target, context, &candidate.proposal)).await?;
            }
        }
        Ok(())
    }

    /// A fix that did not work is never proposed again for its error.
    async fn forget(&self, candidate: &Candidate) -> Result<()> {
        match self.cache_to_teach(candidate) {
            Some(cache) => (cache.record_failure(&candidate.target, &candidate.proposal)).await,
            None => Ok(()),
        }
    }

    /// The cache, for an error that has a kind of its own (not a failure no parser read).
    fn cache_for(&self, target: &Diagnostic) -> Option<&FixCache> {
        self.cache.as_ref().filter(|_| target.tool != UNRECOGNISED)
    }

    /// The cache, when what `candidate` teaches belongs in it: a fixer's edits are cheap to
    /// make again and tied to one project's files, and an empty proposal teaches nothing.
    fn cache_to_teach(&self, candidate: &Candidate) -> Option<&FixCache> {
        let teaches = candidate.source != FixSource::Fixer && !candidate.proposal.edits.is_empty();
        self.cache_for(&candidate.target).filter(|_| teaches)
    }

    fn escalate(
        &self,
        progress: &mut Progress,
        diagnostics: Vec<Diagnostic>,
        reason: StopReason,
        events: &dyn EventSink,
    ) -> Result<()> {
        events.event(Event::Escalated {
            reason: reason.clone(),
        });
        let next_action = match &reason {
            StopReason::NotRetryable { .. } => {
                "fix the account or licence problem the build reports, then heal again"
            }
            StopReason::NothingToTry { .. } => {
                "configure a model (or check the one configured), or fix the first error by hand"
            }
            _ => "fix the first remaining error by hand; the attempts above show what was tried",
        };
        progress.report.escalation = Some(EscalationReport {
            reason,
            diagnostics: errors(&diagnostics).cloned().collect(),
            next_action: next_action.to_string(),
        });
        progress.report.diagnostics = diagnostics;
        progress.report.outcome = Outcome::Escalated;
        Ok(())
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

/// The backoff's jitter: numbers in `0.0..1.0` from a seeded xorshift (no cryptographic
/// quality needed; what matters is that runs started together wait differently).
struct Jitter(u64);

impl Jitter {
    fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |d| d.as_nanos() as u64) ^ u64::from(std::process::id())
        });
        // Zero is xorshift's one fixed point.
        Jitter(seed | 1)
    }

    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Jitter;

    #[test]
    fn a_seeded_jitter_repeats_itself_and_stays_in_range() {
        let draw = |seed| {
            let mut jitter = Jitter::new(Some(seed));
            (0..1000).map(|_| jitter.next()).collect::<Vec<f64>>()
        };
        let (a, b) = (draw(7), draw(7));
        assert_eq!(a, b);
        assert_ne!(a, draw(8));
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
        assert!(draw(0).iter().any(|x| *x > 0.0), "zero is not a stuck seed");
    }
}

//! One attempt, in stages: apply the fix through the edit policy (the gate), rebuild, judge it
//! (the pure [`verdict`](crate::heal::verdict)), then keep it or roll it back.

use std::sync::{Arc, LazyLock, PoisonError};
use std::time::Instant;

use regex::Regex;
use tracing::info_span;

use super::learn::{remaining, summary};
use super::propose::{Candidate, Trial};
use super::rebuild::Build;
use super::{Run, Tested};
use crate::build::{BuildPlan, BuildStep, Builder, Command};
use crate::fix::{FixProposal, RelativePath};
use crate::heal::config::HealConfig;
use crate::heal::event::Event;
use crate::heal::metrics::{self, Phase};
use crate::heal::report::{AttemptReport, FixSource, KeptFix, ProtectedChange};
use crate::heal::tracking::{Delta, errors};
use crate::heal::verdict::{self, Verdict};
use crate::workspace::{
    Applied, ApplyError, ApplyOptions, FileChange, Protected, Refusal, Snapshot, Workspace,
    protected_classes,
};
use crate::{Diagnostic, Error, Result};

/// What an applied attempt changed, to keep or to roll back.
#[derive(Default)]
pub(super) struct Change {
    /// The files a fix edited.
    pub(super) files: Vec<String>,
    /// Protected files it changed with the host's leave.
    pub(super) protected: Vec<ProtectedChange>,
    /// What a fallback replaced.
    pub(super) switched_from: Option<Replaced>,
}

/// The plan and builder a fallback replaced (`None`: that one stayed).
pub(super) struct Replaced {
    pub(super) plan: Option<BuildPlan>,
    pub(super) builder: Option<Arc<dyn Builder>>,
}

/// What the model is told of a refused proposal.
pub(super) fn refused(refusals: &[Refusal]) -> String {
    let each: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    format!(
        "refused by the edit policy, nothing was written: {}; fix the cause in the files a fix may change",
        each.join("; ")
    )
}

/// The run's apply options: the healer's, with the files and folders the verify steps name
/// locked, and tests protected whatever the policy allows, when there are verify steps.
pub(super) fn verified(config: &HealConfig, workspace: &Workspace) -> ApplyOptions {
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
pub(super) fn protected_changes(attempt: u32, changes: &[FileChange]) -> Vec<ProtectedChange> {
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
pub(super) fn weakens_tests(changes: &[FileChange]) -> Option<String> {
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

/// The steps of `new` whose command is not the one `old` had, in words.
pub(super) fn plan_changes(old: &BuildPlan, new: &BuildPlan) -> Vec<String> {
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

impl Run<'_> {
    /// One attempt, in stages: apply `trial` (through the edit policy, the gate), rebuild,
    /// judge ([`verdict`]), then keep it or roll it back — also when it could not even be
    /// applied.
    pub(super) async fn test(
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
        let further = matches!(
            (self.reached, build.progress),
            (Some(before), Some(now)) if now > before
        );
        let outcome = verdict::Outcome {
            green: build.green,
            timed_out: build.timed_out,
            further,
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
    pub(super) async fn apply_fix(
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

    /// Applies the candidate's proposal on a blocking thread, off the async runtime; a run that ends
    /// meanwhile stops it between two edits and waits for it before it restores anything.
    pub(super) async fn apply(
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

    /// Puts a fallback's plan or builder in place; returns what it replaced.
    pub(super) fn switch(
        &mut self,
        plan: &Option<BuildPlan>,
        builder: &Option<Arc<dyn Builder>>,
    ) -> Replaced {
        Replaced {
            plan: (plan.clone()).map(|plan| std::mem::replace(&mut self.plan, plan)),
            builder: (builder.clone()).map(|builder| std::mem::replace(&mut self.builder, builder)),
        }
    }

    /// Keeps an attempt's change: the fix is remembered (and what it left, for the next
    /// prompt), a switched plan or builder stays and is reported.
    pub(super) fn keep(
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
        // The full build's progress, whichever of the two builds it is.
        if let Some(progress) =
            (then.as_ref().and_then(|(_, next)| next.progress)).or(build.progress)
        {
            self.reached = Some(progress);
        }
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
    pub(super) async fn roll_back(
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
    pub(super) fn spend(&mut self, attempt: u32, why: String, diagnostics: &[Diagnostic]) {
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
    pub(super) fn untested(
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
}

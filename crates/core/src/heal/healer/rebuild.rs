//! Building: the plan, the narrow check that stands in for it while the errors are ones it
//! sees, and the diagnostics read from both.

use tracing::{Instrument, info_span};

use super::{Run, UNRECOGNISED};
use crate::build::{BuildStep, Builder, OutputStream};
use crate::heal::event::Event;
use crate::heal::metrics::Phase;
use crate::heal::narrow;
use crate::heal::sources;
use crate::heal::tracking::errors;
use crate::{Category, Diagnostic, Result, Severity, Subcategory};

/// The result of one build.
pub(super) struct Build {
    pub(super) green: bool,
    pub(super) timed_out: bool,
    pub(super) diagnostics: Vec<Diagnostic>,
    /// How far the plan got; `None` for a narrow check, which is not the plan.
    pub(super) progress: Option<Progress>,
}

/// How far a failed build got: the steps that passed, then the stages the failed step's tool
/// said it got past. Builds of one plan compare by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Progress {
    steps_passed: usize,
    stages_passed: usize,
}

/// What build tools print as they get past a stage: `next build` compiles, lints and
/// type-checks, collects page data and prerenders; `vite build` starts only once the
/// script's `tsc` passed, then transforms and renders chunks.
const STAGES: &[&str] = &[
    "Compiled successfully",
    "Compiled with warnings",
    "Collecting page data",
    "Generating static pages",
    "building for production",
    "modules transformed",
    "rendering chunks",
];

/// The stages of [`STAGES`] a step's log shows it got past.
fn stages_passed(log: &str) -> usize {
    STAGES.iter().filter(|stage| log.contains(*stage)).count()
}

/// The end of a failed step's log: its last 40 lines, at most 4 KiB.
pub(super) fn log_tail(text: &str) -> String {
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

impl Run<'_> {
    /// Runs the plan (then the verify steps) and parses what it printed.
    pub(super) async fn build(&self, attempt: u32) -> Result<Build> {
        let steps: Vec<&BuildStep> = (self.plan.steps.iter())
            .chain(&self.config().verify)
            .collect();
        self.run_steps(attempt, &steps).await
    }

    /// Runs `steps` in order, up to the first that fails (unless it may), and parses what they
    /// printed.
    pub(super) async fn run_steps(&self, attempt: u32, steps: &[&BuildStep]) -> Result<Build> {
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
            progress: None,
        };
        let mut progress = Progress::default();
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
                if output.success() {
                    progress.steps_passed += 1;
                } else {
                    if failed_log.is_none() {
                        progress.stages_passed = stages_passed(&text);
                    }
                    failed_log = Some(log_tail(&text));
                }
            }
            if output.oom_killed
                && !(build.diagnostics.iter()).any(|d| d.category == Category::Resource)
            {
                // The kernel killed it without a word in the log: the builder saw it.
                build.diagnostics.push(out_of_memory(&step.name));
            }
            build.timed_out |= output.timed_out;
            if !output.success() {
                build.green = false;
                if !step.continue_on_failure {
                    break;
                }
            }
        }
        build.progress = Some(progress);
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
    pub(super) async fn narrowed(
        &self,
        attempt: u32,
        full: &Build,
    ) -> Result<Option<(BuildStep, Build)>> {
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
    pub(super) async fn run_narrow(&self, attempt: u32, step: &BuildStep) -> Result<Build> {
        let mut check = self.run_steps(attempt, &[step]).await?;
        check.progress = None;
        check.diagnostics = narrow::about_sources(self.workspace, check.diagnostics);
        check.green |= errors(&check.diagnostics).next().is_none();
        Ok(check)
    }

    /// Builds after a change. In narrow mode a fix is checked narrowly first, and the full
    /// plan runs only once that passes. Returns the build that judges the change, and the one
    /// whose errors the next attempt works on when that differs: the full plan's when the
    /// narrow check passed but the plan still fails, or the narrow check's of a full build
    /// that failed where it applies.
    pub(super) async fn check(
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
}

/// The error of a step the out-of-memory killer stopped, which says nothing itself: a critical
/// resource error, for the strategies that give a build more memory.
fn out_of_memory(step: &str) -> Diagnostic {
    let mut killed = Diagnostic::new(
        UNRECOGNISED,
        format!("step `{step}` ran out of memory: the out-of-memory killer stopped it"),
    )
    .with_class(Category::Resource, Subcategory::OutOfMemory)
    .with_severity(Severity::Critical);
    killed.fingerprint = killed.compute_fingerprint();
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_stage_of_next_build_is_further() {
        let compile = "   Creating an optimized production build ...\nFailed to compile.\n";
        let types = " ✓ Compiled successfully in 6.4s\n   Linting and checking validity of types ...\nFailed to compile.\n";
        let prerender = " ✓ Compiled successfully in 6.4s\n   Linting and checking validity of types ...\n   Collecting page data ...\n   Generating static pages (0/7) ...\n ⨯ useSearchParams() should be wrapped\n";
        let reached = |log: &str, steps_passed| Progress {
            steps_passed,
            stages_passed: stages_passed(log),
        };
        assert!(reached(compile, 0) < reached(types, 0));
        assert!(reached(types, 0) < reached(prerender, 0));
        assert!(
            reached(prerender, 0) < reached(compile, 1),
            "a later step is further than any stage of an earlier one"
        );
        assert_eq!(reached(types, 0), reached(types, 0));
    }
}

//! What `selfheal heal` shows while it works: on a terminal, one status line redrawn in place
//! (attempt, phase, errors left, tokens, cost) under the lines worth keeping; elsewhere, plain
//! event lines.

use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use selfheal::Severity;
use selfheal::fix::install::InstallStatus;
use selfheal::heal::Event;

/// How often the status line may be redrawn for events that keep no line of their own.
const REDRAW_EVERY: Duration = Duration::from_millis(50);

pub(crate) struct Progress {
    live: bool,
    width: usize,
    status: Mutex<Status>,
}

struct Status {
    attempt: u32,
    max_attempts: u32,
    phase: String,
    errors: Option<usize>,
    tokens: u64,
    cost_usd: f64,
    drawn: Option<Instant>,
}

impl Progress {
    pub(crate) fn new(max_attempts: u32) -> Self {
        let terminal =
            io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |term| term != "dumb");
        let width = (std::env::var("COLUMNS").ok())
            .and_then(|columns| columns.parse().ok())
            .unwrap_or(100usize);
        Progress {
            live: terminal,
            width: width.saturating_sub(1).max(20),
            status: Mutex::new(Status {
                attempt: 1,
                max_attempts,
                phase: "starting".into(),
                errors: None,
                tokens: 0,
                cost_usd: 0.0,
                drawn: None,
            }),
        }
    }

    pub(crate) fn show(&self, event: Event) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = status.take(&event);
        let mut err = io::stderr().lock();
        if !self.live {
            if let Some(line) = kept {
                let _ = writeln!(err, "{line}");
            }
            return;
        }
        let due = status.drawn.is_none_or(|at| at.elapsed() >= REDRAW_EVERY);
        if kept.is_none() && !due && !event.is_last() {
            return;
        }
        let _ = write!(err, "\r\x1b[K");
        if let Some(line) = kept {
            let _ = writeln!(err, "{line}");
        }
        if !event.is_last() {
            let line: String = status.line().chars().take(self.width).collect();
            let _ = write!(err, "{line}");
            status.drawn = Some(Instant::now());
        }
        let _ = err.flush();
    }

    /// Clears the status line, so that the summary starts on a clean line.
    pub(crate) fn finish(&self) {
        let status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        if self.live && status.drawn.is_some() {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

impl Status {
    /// Takes the event in; the line to keep for it, if any.
    fn take(&mut self, event: &Event) -> Option<String> {
        Some(match event {
            Event::StepStarted { attempt, step } => {
                self.attempt = *attempt;
                self.phase = format!("running {step}");
                format!("attempt {attempt}: {step}")
            }
            Event::OutputLine { .. } => return None,
            Event::Diagnostics {
                attempt,
                diagnostics,
            } => {
                let errors = (diagnostics.iter())
                    .filter(|d| d.severity == Severity::Error)
                    .count();
                self.errors = Some(errors);
                self.phase = "looking for a fix".into();
                format!("attempt {attempt}: {errors} errors")
            }
            Event::FixerApplied { fixer, .. } => {
                self.phase = format!("fixer {fixer}");
                return None;
            }
            Event::CacheHit { fix, score } => {
                format!("  fix #{fix} from the cache (score {score:.2})")
            }
            Event::LlmRequest { provider, .. } => {
                self.phase = format!("asking {provider}");
                format!("  asking {provider} for a fix")
            }
            Event::LlmDelta { .. } => return None,
            Event::LlmResponse {
                model,
                usage,
                cost_usd,
                ..
            } => {
                self.tokens += usage.total();
                self.cost_usd += cost_usd.unwrap_or(0.0);
                format!(
                    "  {model} answered ({} + {} tokens)",
                    usage.input_tokens, usage.output_tokens
                )
            }
            Event::FixApplied {
                source, by, files, ..
            } => {
                self.phase = "rebuilding".into();
                let from = by
                    .as_ref()
                    .map_or_else(|| format!("the {source}"), |by| format!("{source} {by}"));
                format!("  applied a fix from {from} to {}", files.join(", "))
            }
            Event::FixRolledBack { reason, .. } => format!("  rolled back: {reason}"),
            Event::PackageInstall { install, .. } => {
                let (tool, package) = (install.tool, &install.package);
                match &install.status {
                    InstallStatus::Installed { version } => format!(
                        "  {tool} installed {package}{}",
                        version.as_ref().map_or(String::new(), |v| format!("@{v}"))
                    ),
                    InstallStatus::Failed => format!("  {tool} could not install {package}"),
                    InstallStatus::Refused { reason } => {
                        format!("  not installing {package}: {reason}")
                    }
                    _ => return None,
                }
            }
            Event::AttemptFinished {
                new,
                fixed,
                persisting,
                ..
            } => {
                self.errors = Some(new + persisting);
                format!("  {fixed} fixed, {new} new, {persisting} left")
            }
            Event::Backoff { delay } => {
                self.phase = format!("waiting {:.1} s", delay.as_secs_f64());
                format!("  {}", self.phase)
            }
            Event::Fallback { strategy, .. } => {
                self.phase = format!("falling back: {strategy}");
                format!("  falling back: {strategy}")
            }
            Event::Escalated { reason } => format!("escalated: {reason}"),
            Event::Cancelled => "cancelled".into(),
            _ => return None,
        })
    }

    fn line(&self) -> String {
        let mut line = format!(
            "[attempt {}/{}] {}",
            self.attempt, self.max_attempts, self.phase
        );
        if let Some(errors) = self.errors {
            line.push_str(&format!(" · {errors} errors left"));
        }
        if self.tokens > 0 {
            line.push_str(&format!(
                " · {} tokens · ${:.4}",
                self.tokens, self.cost_usd
            ));
        }
        line
    }
}

//! The heal loop's metrics, through the [`metrics`](::metrics) facade (the table of names is in
//! [`observe`](crate::observe)).

use std::time::Instant;

use metrics::{counter, histogram};

use super::{Event, FixSource, HealReport};

/// Times a phase of a run into `selfheal_phase_seconds`, when dropped.
pub(crate) struct Phase {
    name: &'static str,
    started: Instant,
}

impl Phase {
    pub(crate) fn start(name: &'static str) -> Phase {
        Phase {
            name,
            started: Instant::now(),
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        histogram!("selfheal_phase_seconds", "phase" => self.name)
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// What an event counts.
pub(crate) fn record_event(event: &Event) {
    match event {
        Event::StepFinished {
            success, duration, ..
        } => {
            let success = if *success { "true" } else { "false" };
            histogram!("selfheal_build_step_seconds", "success" => success)
                .record(duration.as_secs_f64());
        }
        Event::Diagnostics { diagnostics, .. } => {
            for diagnostic in diagnostics {
                counter!(
                    "selfheal_diagnostics_total",
                    "category" => diagnostic.category.as_str(),
                    "severity" => diagnostic.severity.as_str()
                )
                .increment(1);
            }
        }
        Event::CacheHit { .. } => {
            counter!("selfheal_cache_lookups_total", "result" => "hit").increment(1);
        }
        Event::CacheMiss => {
            counter!("selfheal_cache_lookups_total", "result" => "miss").increment(1);
        }
        Event::LlmResponse {
            provider,
            model,
            usage,
            cost_usd,
        } => {
            let (provider, model) = (provider.clone(), model.clone());
            counter!(
                "selfheal_llm_requests_total",
                "provider" => provider.clone(), "model" => model.clone(), "result" => "ok"
            )
            .increment(1);
            counter!(
                "selfheal_llm_tokens_total",
                "provider" => provider.clone(), "model" => model.clone(), "kind" => "input"
            )
            .increment(usage.input_tokens);
            counter!(
                "selfheal_llm_tokens_total",
                "provider" => provider.clone(), "model" => model.clone(), "kind" => "output"
            )
            .increment(usage.output_tokens);
            if let Some(cost) = cost_usd {
                counter!(
                    "selfheal_llm_cost_micro_usd_total",
                    "provider" => provider, "model" => model
                )
                .increment((cost * 1e6).round().max(0.0) as u64);
            }
        }
        _ => {}
    }
}

/// A model call that failed (after its retries).
pub(crate) fn record_llm_failure(provider: &str) {
    counter!(
        "selfheal_llm_requests_total",
        "provider" => provider.to_string(),
        "model" => "",
        "result" => "error"
    )
    .increment(1);
}

/// What became of a fix: `kept`, `rolled_back` or `unusable`.
pub(crate) fn record_fix(source: FixSource, result: &'static str) {
    counter!("selfheal_fixes_total", "source" => source_label(source), "result" => result)
        .increment(1);
}

/// A finished run: its outcome, duration and attempts.
pub(crate) fn record_run(report: &HealReport) {
    let outcome = report.outcome.as_str();
    counter!("selfheal_runs_total", "outcome" => outcome).increment(1);
    histogram!("selfheal_run_seconds", "outcome" => outcome).record(report.duration.as_secs_f64());
    for attempt in &report.attempts {
        let source = attempt.source.map_or("build", source_label);
        counter!("selfheal_attempts_total", "source" => source).increment(1);
    }
}

fn source_label(source: FixSource) -> &'static str {
    match source {
        FixSource::Fixer => "fixer",
        FixSource::Cache => "cache",
        FixSource::Llm => "llm",
        FixSource::Fallback => "fallback",
    }
}

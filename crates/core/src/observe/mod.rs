//! What a host watches: tracing spans, metrics and a health monitor of heal runs. The modules
//! below record spans and metrics through the [`tracing`] and [`metrics`] facades
//! and never import this one; the [`HealthMonitor`] is told of runs as a
//! [`RunRecorder`](crate::heal::RunRecorder).
//!
//! **Spans** ([`tracing`]; nothing is recorded unless the host installs a subscriber): `heal_run`
//! (`run`, `steps`) holds `attempt` (`attempt`), which holds `build_step` (`attempt`, `step`),
//! `parse` (`step`, `bytes`), `fixer` (`fixer`), `cache_lookup` (`tool`, `category`, `code`),
//! `llm_call` (`provider`, `model`), `apply` (`source`, `by`) and `rollback` (`attempt`,
//! `reason`). Fields hold names, numbers and categories only: never prompts, file contents,
//! keys or URLs.
//!
//! **Metrics** (the [`metrics`] facade; nothing is exported unless the host installs a
//! recorder, e.g. `metrics-exporter-prometheus`):
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `selfheal_runs_total` | counter | `outcome` |
//! | `selfheal_run_seconds` | histogram | `outcome` |
//! | `selfheal_attempts_total` | counter | `source` (`build` for the first build) |
//! | `selfheal_diagnostics_total` | counter | `category`, `severity` |
//! | `selfheal_fixes_total` | counter | `source`, `result` (`kept`, `rolled_back`, `unusable`) |
//! | `selfheal_cache_lookups_total` | counter | `result` (`hit`, `miss`) |
//! | `selfheal_llm_requests_total` | counter | `provider`, `model`, `result` (`ok`, `error`) |
//! | `selfheal_llm_tokens_total` | counter | `provider`, `model`, `kind` (`input`, `output`) |
//! | `selfheal_llm_cost_micro_usd_total` | counter (millionths of a dollar) | `provider`, `model` |
//! | `selfheal_llm_retries_total` | counter | `provider` |
//! | `selfheal_breaker_transitions_total` | counter | `provider`, `state` |
//! | `selfheal_build_step_seconds` | histogram | `success` |
//! | `selfheal_phase_seconds` | histogram | `phase` (`build`, `parse`, `fixer`, `cache_lookup`, `llm_call`, `apply`, `rollback`) |
//!
//! **Health** ([`HealthMonitor`]): sliding-window figures over finished runs with seed 004's
//! thresholds, for a host to query or serve.

mod health;

pub use health::{Health, HealthMonitor, HealthStatus, HealthThresholds, Threshold};

//! What a host sees of heal runs through the `metrics` facade: runs, attempts, fixes, cache
//! lookups, model calls, retries, breaker transitions and phase durations.

use std::collections::HashMap;
use std::sync::Arc;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use selfheal::heal::Outcome;
use selfheal::llm::{BreakerConfig, CircuitBreaker, OpenAi, Provider, Retry, RetryPolicy};
use serde_json::json;

use selfheal_test_harness::{Test, trial};

use crate::observed::{KEY, completion, heal_twice, project, runtime};
use crate::support::{Reply, Server};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(a_run_is_counted_by_outcome_source_category_cache_and_model),
        trial!(retries_and_breaker_transitions_are_counted),
    ]
}

/// `name{label=value,…}` → value, for counters; histograms by their sample count.
fn snapshot(recorder: &DebuggingRecorder) -> HashMap<String, u64> {
    let snapshotter = recorder.snapshotter();
    (snapshotter.snapshot().into_vec().into_iter())
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            let value = match value {
                DebugValue::Counter(n) => n,
                DebugValue::Histogram(samples) => samples.len() as u64,
                DebugValue::Gauge(g) => g.into_inner() as u64,
            };
            (name, value)
        })
        .collect()
}

fn a_run_is_counted_by_outcome_source_category_cache_and_model() {
    let dir = project("metrics");
    let recorder = DebuggingRecorder::new();
    let outcomes = metrics::with_local_recorder(&recorder, || runtime().block_on(heal_twice(&dir)));
    assert_eq!(outcomes, [Outcome::Healed, Outcome::Healed]);
    let metrics = snapshot(&recorder);
    let get = |name: &str| metrics.get(name).copied().unwrap_or(0);
    assert_eq!(
        get("selfheal_runs_total{outcome=healed}"),
        2,
        "{metrics:#?}"
    );
    assert_eq!(get("selfheal_run_seconds{outcome=healed}"), 2);
    assert_eq!(get("selfheal_attempts_total{source=build}"), 2);
    assert_eq!(get("selfheal_attempts_total{source=llm}"), 1);
    assert_eq!(get("selfheal_attempts_total{source=cache}"), 1);
    assert_eq!(get("selfheal_fixes_total{result=kept,source=llm}"), 1);
    assert_eq!(get("selfheal_fixes_total{result=kept,source=cache}"), 1);
    assert_eq!(get("selfheal_cache_lookups_total{result=miss}"), 1);
    assert_eq!(get("selfheal_cache_lookups_total{result=hit}"), 1);
    assert_eq!(
        get("selfheal_diagnostics_total{category=runtime,severity=error}"),
        2,
        "{metrics:#?}"
    );
    let model = "model=gpt-4.1,provider=openai";
    assert_eq!(
        get(&format!("selfheal_llm_requests_total{{{model},result=ok}}")),
        1
    );
    assert_eq!(
        get(&format!("selfheal_llm_tokens_total{{kind=input,{model}}}")),
        90
    );
    assert_eq!(
        get(&format!("selfheal_llm_tokens_total{{kind=output,{model}}}")),
        33
    );
    assert!(get(&format!("selfheal_llm_cost_micro_usd_total{{{model}}}")) > 0);
    // Four builds; each phase timed.
    assert_eq!(get("selfheal_build_step_seconds{success=false}"), 2);
    assert_eq!(get("selfheal_build_step_seconds{success=true}"), 2);
    for (phase, count) in [
        ("build", 4),
        ("parse", 4),
        ("cache_lookup", 2),
        ("llm_call", 1),
        ("apply", 2),
    ] {
        assert_eq!(
            get(&format!("selfheal_phase_seconds{{phase={phase}}}")),
            count,
            "{phase}: {metrics:#?}"
        );
    }
    assert!(
        get("selfheal_phase_seconds{phase=fixer}") > 0,
        "the fixers were asked first"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn retries_and_breaker_transitions_are_counted() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        runtime().block_on(async {
            let server = Server::start().await;
            server.push(Reply::json(
                503,
                json!({"error": {"message": "overloaded"}}),
            ));
            server.push(completion("fine"));
            let base = OpenAi::compatible(format!("{}/v1", server.url()), Some(KEY.into()))
                .unwrap_or_else(|e| panic!("{e}"));
            let policy = RetryPolicy {
                base_delay: std::time::Duration::from_millis(1),
                ..RetryPolicy::default()
            };
            let retried = Retry::new(Arc::new(base.clone()), policy);
            let request = selfheal::llm::CompletionRequest::new("fix it");
            retried
                .complete(&request)
                .await
                .unwrap_or_else(|e| panic!("{e}"));

            // Two failures open the circuit; a success after the reset closes it again.
            let breaker = CircuitBreaker::new(
                Arc::new(base),
                BreakerConfig {
                    failure_threshold: 2,
                    reset_timeout: std::time::Duration::from_millis(20),
                    ..BreakerConfig::default()
                },
            );
            for _ in 0..2 {
                server.push(Reply::json(500, json!({"error": {"message": "down"}})));
                assert!(breaker.complete(&request).await.is_err());
            }
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            server.push(completion("back"));
            breaker
                .complete(&request)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        })
    });
    let metrics = snapshot(&recorder);
    let get = |name: &str| metrics.get(name).copied().unwrap_or(0);
    assert_eq!(
        get("selfheal_llm_retries_total{provider=openai}"),
        1,
        "{metrics:#?}"
    );
    for state in ["open", "half_open", "closed"] {
        assert_eq!(
            get(&format!(
                "selfheal_breaker_transitions_total{{provider=openai,state={state}}}"
            )),
            1,
            "{state}: {metrics:#?}"
        );
    }
}

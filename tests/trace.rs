//! What a host sees of heal runs through `tracing`: nested spans with the fields an operator
//! filters on, and no secret. (The test runs in a process of its own: `tracing` caches which call
//! sites a thread's subscriber wants, and a parallel test without one would spoil that cache.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use selfheal_test_harness::{Test, trial};

use crate::observed::{KEY, heal_twice, project, runtime};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![trial!(spans_carry_the_fields_an_operator_filters_on_and_no_secret).alone()]
}

/// Collects what a JSON subscriber writes.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn spans_carry_the_fields_an_operator_filters_on_and_no_secret() {
    let dir = project("spans");
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || runtime().block_on(heal_twice(&dir)));
    let text = String::from_utf8(lines.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!text.contains(KEY), "a secret in the trace");
    assert!(!text.contains("mesage_text"), "file content in the trace");
    let closed: Vec<Value> = (text.lines())
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "close")
        .collect();
    let spans = |name: &str| -> Vec<&Value> {
        closed
            .iter()
            .filter(|l| l["span"]["name"] == name)
            .collect()
    };
    let runs = spans("heal_run");
    assert_eq!(runs.len(), 2, "{text}");
    assert!(
        runs[0]["span"]["run"]
            .as_str()
            .is_some_and(|id| id.len() == 16)
    );
    assert_ne!(runs[0]["span"]["run"], runs[1]["span"]["run"]);
    assert_eq!(runs[0]["span"]["steps"], 1);
    let llm = spans("llm_call");
    assert_eq!(
        llm.len(),
        1,
        "{}",
        closed
            .iter()
            .map(|l| l["span"]["name"].to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_eq!(llm[0]["span"]["provider"], "openai");
    assert_eq!(llm[0]["span"]["model"], "gpt-4.1");
    // A phase's span sits in its attempt's, in its run's.
    let names: Vec<&str> = (llm[0]["spans"].as_array().into_iter().flatten())
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["heal_run", "attempt"], "{:?}", llm[0]);
    let lookups = spans("cache_lookup");
    assert_eq!(lookups.len(), 2);
    assert_eq!(lookups[0]["span"]["tool"], "python");
    assert_eq!(lookups[0]["span"]["category"], "runtime");
    assert_eq!(spans("build_step").len(), 4);
    assert_eq!(spans("apply").len(), 2);
    assert_eq!(spans("apply")[0]["span"]["source"], "model");
    let _ = std::fs::remove_dir_all(dir);
}

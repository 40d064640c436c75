//! Throughput of `json::recover` on large LLM replies: the JSON-recovery corpus's `large` cases
//! (100 KB – 1 MB, fenced in prose or truncated), and 2 MB replies built from the largest case's
//! content in four shapes — strict, fenced in prose, raw newlines inside the string, and cut off
//! in the middle of the string — so the cost of each repair path can be compared at one size.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use selfheal::json::{Hint, recover};
use serde_json::{Value, json};

const REPLY_BYTES: usize = 2 * 1024 * 1024;

struct Case {
    id: String,
    input: String,
    expected: Option<Value>,
}

fn large_cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/json/cases.jsonl");
    let corpus = std::fs::read_to_string(path).expect("corpus");
    corpus
        .lines()
        .filter(|line| line.contains(r#""kind": "large""#) || line.contains(r#""kind":"large""#))
        .map(|line| {
            let case: Value = serde_json::from_str(line).expect("case");
            Case {
                id: case["id"].as_str().expect("id").to_string(),
                input: case["input"].as_str().expect("input").to_string(),
                expected: Some(case["expected"].clone()).filter(|v| !v.is_null()),
            }
        })
        .collect()
}

/// `text` as a JSON string whose newlines and tabs are left raw, as models often write code.
fn raw_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A fix proposal replacing one file with `content`.
fn proposal(content: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "analysis": "The bundle is stale; regenerate it.",
        "fixes": [{"path": "dist/bundle.js", "action": "replace", "content": content}],
        "confidence": 0.7,
    }))
    .expect("serialises")
}

/// Four 2 MB replies carrying the same kind of content.
fn two_megabyte_replies(content: &str) -> Vec<(&'static str, String)> {
    let mut body = String::new();
    while body.len() < 2 * REPLY_BYTES {
        body.push_str(content);
    }
    let fit = |text: &str| {
        let mut end = REPLY_BYTES.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        end
    };
    let overhead = proposal("").len();
    let sized = &body[..fit(&body[..REPLY_BYTES - overhead - REPLY_BYTES / 16])];
    let strict = proposal(sized);
    let fenced = format!(
        "The bundle is stale. Here is the fix:\n\n```json\n{strict}\n```\n\nRebuild after applying it."
    );
    let raw = strict.replace(
        &serde_json::to_string(sized).expect("serialises"),
        &raw_string(sized),
    );
    let whole = proposal(&body);
    let truncated = whole[..fit(&whole[..strict.len()])].to_string();
    vec![
        ("strict", strict),
        ("fenced_prose", fenced),
        ("raw_newlines", raw),
        ("truncated", truncated),
    ]
}

fn bench(c: &mut Criterion) {
    let cases = large_cases();
    let hint = Hint::fix_proposal();
    let mut corpus = c.benchmark_group("json_recover/corpus_large");
    corpus.measurement_time(Duration::from_secs(5));
    for case in &cases {
        let found = recover(&case.input, &hint).expect("recovers");
        assert_eq!(Some(&found.value), case.expected.as_ref(), "{}", case.id);
        corpus.throughput(Throughput::Bytes(case.input.len() as u64));
        corpus.bench_function(&case.id, |b| b.iter(|| recover(&case.input, &hint)));
    }
    corpus.finish();

    let largest = cases
        .iter()
        .filter_map(|c| c.expected.as_ref())
        .filter_map(|v| v["fixes"][0]["content"].as_str())
        .max_by_key(|content| content.len())
        .expect("a large content");
    let mut shapes = c.benchmark_group("json_recover/2MB");
    shapes.measurement_time(Duration::from_secs(5));
    for (shape, reply) in two_megabyte_replies(largest) {
        recover(&reply, &hint).expect("recovers");
        shapes.throughput(Throughput::Bytes(reply.len() as u64));
        shapes.bench_with_input(BenchmarkId::from_parameter(shape), &reply, |b, reply| {
            b.iter(|| recover(reply, &hint))
        });
    }
    shapes.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

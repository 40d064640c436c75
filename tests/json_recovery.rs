//! Accuracy of `json::recover` on the JSON-recovery corpus and on generated cases of the same
//! kinds: LLM-style replies with the value a careful human extracts (`null` when there is none).
//! See `fixtures/json/README.md`.
//!
//! A result is right when it equals the expected value (numbers as floats, key order ignored), or
//! when recovery declines and nothing was expected. A false success — a value where none was
//! expected, or a wrong value — is worse than declining. The test prints accuracy per kind
//! (`cargo test --test json_recovery -- --nocapture`; `SELFHEAL_ACCURACY_VERBOSE=1` lists every
//! miss) and fails below 95 % accuracy or above 1 % false successes.

use std::collections::BTreeMap;
use std::path::Path;

use selfheal::fix::{FixProposal, ProposalError};
use selfheal::json::{Hint, drop_deep, equal, recover, to_string};
use selfheal_test_harness::{Test, trial};
use serde::Deserialize;
use serde_json::Value;

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(recovery_meets_the_bar_on_the_public_corpus),
        trial!(recovery_meets_the_bar_on_generated_cases),
        trial!(fix_proposals_read_from_corpus_replies),
    ]
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    cases: usize,
    right: usize,
    false_success: usize,
    declined: usize,
}

struct Case {
    id: String,
    kind: String,
    schema: String,
    input: String,
    expected: Option<Value>,
}

impl Case {
    fn hint(&self) -> Hint {
        if self.schema == "fix" {
            Hint::fix_proposal()
        } else {
            Hint::none()
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if let Some(expected) = self.expected.take() {
            drop_deep(expected);
        }
    }
}

/// Reads one corpus line; values nest up to 100 000 levels, so without serde_json's recursion
/// limit.
fn read_case(line: &str) -> Case {
    let mut de = serde_json::Deserializer::from_str(line);
    de.disable_recursion_limit();
    let case = Value::deserialize(&mut de).expect("case is JSON");
    let Value::Object(mut map) = case else {
        panic!("case is an object");
    };
    let mut text = |key: &str| match map.remove(key) {
        Some(Value::String(s)) => s,
        other => panic!("{key} is not a string: {other:?}"),
    };
    let (id, kind, schema, input) = (text("id"), text("kind"), text("schema"), text("input"));
    let expected = match map.remove("expected") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value),
    };
    drop_deep(Value::Object(map));
    Case {
        id,
        kind,
        schema,
        input,
        expected,
    }
}

/// Runs `check` on every case, on a thread with a stack deep enough for serde_json to read and
/// compare the deepest expected values.
fn with_cases<T: Send + 'static>(
    file: &'static str,
    check: impl FnOnce(&mut dyn Iterator<Item = Case>) -> T + Send + 'static,
) -> T {
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/json")
                .join(file);
            let corpus = std::fs::read_to_string(path).expect("corpus");
            let mut cases = corpus
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(read_case);
            check(&mut cases)
        })
        .expect("thread")
        .join()
        .expect("check")
}

fn score(cases: &mut dyn Iterator<Item = Case>) -> BTreeMap<String, Tally> {
    let verbose = std::env::var_os("SELFHEAL_ACCURACY_VERBOSE").is_some();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for case in cases {
        let tally = tallies.entry(case.kind.clone()).or_default();
        tally.cases += 1;
        let outcome = recover(&case.input, &case.hint());
        let id = &case.id;
        match (&outcome, &case.expected) {
            (Err(_), None) => tally.right += 1,
            (Err(reason), Some(_)) => {
                tally.declined += 1;
                if verbose {
                    println!("  {id}: declined ({reason})");
                }
            }
            (Ok(found), Some(want)) if equal(&found.value, want) => tally.right += 1,
            (Ok(found), want) => {
                tally.false_success += 1;
                if verbose {
                    let got = to_string(&found.value);
                    let want = want.as_ref().map_or("null".to_string(), to_string);
                    println!("  {id}: got {:.300}\n      want {:.300}", got, want);
                }
            }
        }
    }
    tallies
}

/// Scores one file, prints the table and checks the bar.
fn meets_the_bar(file: &'static str, min_cases: usize) {
    let tallies = with_cases(file, score);
    println!("\n{file}");
    let mut total = Tally::default();
    println!(
        "{:<18} {:>5} {:>6} {:>7} {:>8}",
        "kind", "cases", "right", "wrong", "declined"
    );
    for (kind, t) in &tallies {
        println!(
            "{:<18} {:>5} {:>6} {:>7} {:>8}",
            kind, t.cases, t.right, t.false_success, t.declined
        );
        total.cases += t.cases;
        total.right += t.right;
        total.false_success += t.false_success;
        total.declined += t.declined;
    }
    let accuracy = total.right as f64 / total.cases as f64;
    let false_success = total.false_success as f64 / total.cases as f64;
    println!(
        "overall: {} cases, accuracy {:.1} %, false success {:.1} %, declined {}",
        total.cases,
        accuracy * 100.0,
        false_success * 100.0,
        total.declined
    );
    assert!(total.cases >= min_cases);
    assert!(accuracy >= 0.95, "accuracy {:.3}", accuracy);
    assert!(false_success <= 0.01, "false success {:.3}", false_success);
}

fn recovery_meets_the_bar_on_the_public_corpus() {
    meets_the_bar("cases.jsonl", 187);
}

fn recovery_meets_the_bar_on_generated_cases() {
    meets_the_bar("generated.jsonl", 330);
}

/// Every complete fix proposal in the corpus reads as the same `FixProposal` from the raw reply
/// as from the expected value; replies without JSON are `NotFound`; truncated ones never panic.
fn fix_proposals_read_from_corpus_replies() {
    let checked = with_cases("cases.jsonl", |cases| {
        let mut checked = 0;
        for case in cases.filter(|c| c.schema == "fix") {
            let from_reply = FixProposal::from_reply(&case.input);
            match &case.expected {
                None => assert!(
                    matches!(from_reply, Err(ProposalError::NotFound(_))),
                    "{}: {from_reply:?}",
                    case.id
                ),
                Some(_) if case.kind.starts_with("trunc") => {}
                Some(expected) if Hint::fix_proposal().fits(expected) => {
                    let want = FixProposal::from_value(expected)
                        .unwrap_or_else(|e| panic!("{}: expected value refused: {e}", case.id));
                    assert_eq!(from_reply.as_ref(), Ok(&want), "{}", case.id);
                    checked += 1;
                }
                Some(_) => {}
            }
        }
        checked
    });
    assert!(checked >= 100, "{checked} proposals checked");
}

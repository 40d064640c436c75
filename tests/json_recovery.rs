//! Accuracy of `json::recover` on the JSON-recovery corpus: LLM-style replies with the value a
//! careful human extracts (`null` when there is none). See `fixtures/json/README.md`.
//!
//! A result is right when it equals the expected value (numbers as floats, key order ignored), or
//! when recovery declines and nothing was expected. A false success — a value where none was
//! expected, or a wrong value — is worse than declining. The test prints accuracy per kind
//! (`cargo test --test json_recovery -- --nocapture`; `SELFHEAL_ACCURACY_VERBOSE=1` lists every
//! miss) and fails below 95 % accuracy or above 1 % false successes.

use std::collections::BTreeMap;
use std::path::Path;

use selfheal::json::{Hint, drop_deep, equal, recover, to_string};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    cases: usize,
    right: usize,
    false_success: usize,
    declined: usize,
}

/// Reads one corpus line; values nest up to 100 000 levels, so without serde_json's recursion
/// limit (the caller gives this a large stack).
fn read_case(line: &str) -> (String, String, String, Option<Value>) {
    let mut de = serde_json::Deserializer::from_str(line);
    de.disable_recursion_limit();
    let case = Value::deserialize(&mut de).expect("case is JSON");
    let Value::Object(mut map) = case else {
        panic!("case is an object");
    };
    let text = |map: &mut serde_json::Map<String, Value>, key: &str| match map.remove(key) {
        Some(Value::String(s)) => s,
        other => panic!("{key} is not a string: {other:?}"),
    };
    let id = text(&mut map, "id");
    let kind = text(&mut map, "kind");
    let schema = text(&mut map, "schema");
    let input = text(&mut map, "input");
    let expected = match map.remove("expected") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value),
    };
    drop_deep(Value::Object(map));
    (id, kind, format!("{schema}\u{0}{input}"), expected)
}

fn score() -> BTreeMap<String, Tally> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/json/cases.jsonl");
    let corpus = std::fs::read_to_string(path).expect("corpus");
    let verbose = std::env::var_os("SELFHEAL_ACCURACY_VERBOSE").is_some();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let (id, kind, packed, expected) = read_case(line);
        let (schema, input) = packed.split_once('\u{0}').expect("packed");
        let hint = if schema == "fix" {
            Hint::fix_proposal()
        } else {
            Hint::none()
        };
        let tally = tallies.entry(kind).or_default();
        tally.cases += 1;
        let outcome = recover(input, &hint);
        match (&outcome, &expected) {
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
        drop(outcome);
        if let Some(expected) = expected {
            drop_deep(expected);
        }
    }
    tallies
}

#[test]
fn recovery_meets_the_bar_on_the_corpus() {
    // Deeply nested expected values are read by serde_json, which recurses per level.
    let tallies = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(score)
        .expect("thread")
        .join()
        .expect("scoring");
    let mut total = Tally::default();
    println!(
        "\n{:<18} {:>5} {:>6} {:>7} {:>8}",
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
    assert!(total.cases >= 187);
    assert!(accuracy >= 0.95, "accuracy {:.3}", accuracy);
    assert!(false_success <= 0.01, "false success {:.3}", false_success);
}

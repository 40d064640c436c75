//! A parser must never swallow what follows its own report: parsing every fixture log one after
//! another, with ordinary build noise in between, finds exactly what parsing each log alone
//! finds.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use selfheal::Diagnostic;
use selfheal::parse::ParserSet;
use selfheal_test_harness::{Test, trial};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![trial!(concatenated_logs_keep_every_diagnostic)]
}

type Key = (String, Option<String>, Option<u32>, Option<u32>, String);

fn key(d: &Diagnostic) -> Key {
    let base = d
        .file
        .as_deref()
        .map(|f| f.rsplit('/').next().unwrap_or(f).to_string());
    (d.tool.clone(), base, d.line, d.column, d.message.clone())
}

const NOISE: &str = "   Compiling serde v1.0.200\n\
test tests::roundtrip ... ok\n\
tests/test_api.py::test_health PASSED                                  [ 50%]\n\
\u{2e28}##########\u{2e29} \u{2807} reify:lodash: timing reifyNode:node_modules/lodash Completed in 12ms\r\n\
asset main.js 1.2 KiB [emitted] [minimized] (name: main)\n\
#5 sha256:4f2a9c\n\
  \u{2713} renders the header (3ms)\n\
\n";

fn concatenated_logs_keep_every_diagnostic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/parsers");
    let mut logs = Vec::new();
    for tool in fs::read_dir(&root).expect("fixtures") {
        for case in fs::read_dir(tool.expect("entry").path())
            .into_iter()
            .flatten()
        {
            let path = case.expect("entry").path().join("log.txt");
            if let Ok(log) = fs::read(&path) {
                logs.push((path, log));
            }
        }
    }
    logs.sort();
    let parsers = ParserSet::new();
    let mut alone: BTreeSet<Key> = BTreeSet::new();
    let mut combined_log = Vec::new();
    for (_, log) in &logs {
        alone.extend(parsers.parse(log).iter().map(key));
        combined_log.extend_from_slice(NOISE.as_bytes());
        combined_log.extend_from_slice(log);
        if combined_log.last() != Some(&b'\n') {
            combined_log.push(b'\n');
        }
    }
    let combined: BTreeSet<Key> = parsers.parse(&combined_log).iter().map(key).collect();
    let missing: Vec<&Key> = alone.difference(&combined).collect();
    let extra: Vec<&Key> = combined.difference(&alone).collect();
    assert!(
        missing.is_empty(),
        "lost when logs follow each other: {missing:#?}"
    );
    assert!(
        extra.is_empty(),
        "only found when logs follow each other: {extra:#?}"
    );
}

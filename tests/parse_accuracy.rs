//! Accuracy of the built-in parsers on real build logs with ground truth.
//!
//! Every case under `fixtures/parsers/<tool>/<case>/` holds the exact bytes a tool printed
//! (`log.txt`) and the diagnostics its machine-readable mode reported (`truth.json`); see the
//! README there. A predicted diagnostic matches a true one when the file names (basename) and
//! lines agree, and the columns too when both have one; each diagnostic matches at most once,
//! exact column matches paired first. Truth columns are as printed, so the 0-based columns of
//! esbuild, vite and webpack are compared before our 1-based conversion.
//!
//! The test prints precision, recall and F1 per tool and overall, and category accuracy on the
//! matched pairs (`cargo test --test parse_accuracy -- --nocapture`); set
//! `SELFHEAL_ACCURACY_VERBOSE=1` to see every miss. It fails below F1 0.95 overall, 0.90 for any
//! tool, or category accuracy 0.95.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use selfheal::Diagnostic;
use selfheal::parse::ParserSet;
use selfheal_test_harness::{Test, trial};
use serde::Deserialize;

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![trial!(parsers_meet_the_accuracy_bar_on_real_logs)]
}

#[derive(Debug, Deserialize)]
struct Truth {
    diagnostics: Vec<TrueDiagnostic>,
}

#[derive(Debug, Deserialize)]
struct TrueDiagnostic {
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    message: String,
    category: String,
}

#[derive(Debug, Default, Clone, Copy)]
struct Score {
    truths: usize,
    predicted: usize,
    matched: usize,
    category_right: usize,
}

impl Score {
    fn add(&mut self, other: Score) {
        self.truths += other.truths;
        self.predicted += other.predicted;
        self.matched += other.matched;
        self.category_right += other.category_right;
    }

    fn precision(&self) -> f64 {
        ratio(self.matched, self.predicted)
    }

    fn recall(&self) -> f64 {
        ratio(self.matched, self.truths)
    }

    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn category_accuracy(&self) -> f64 {
        ratio(self.category_right, self.matched)
    }
}

/// An empty denominator means nothing could go wrong.
fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The column as the tool printed it.
fn printed_column(d: &Diagnostic) -> Option<u32> {
    let zero_based = matches!(d.tool.as_str(), "esbuild" | "vite" | "webpack");
    d.column
        .map(|c| if zero_based { c.saturating_sub(1) } else { c })
}

fn matches(truth: &TrueDiagnostic, predicted: &Diagnostic) -> bool {
    let same_file = match (&truth.file, &predicted.file) {
        (Some(t), Some(p)) => basename(t) == basename(p),
        (None, None) => true,
        _ => false,
    };
    let same_column = match (truth.column, printed_column(predicted)) {
        (Some(t), Some(p)) => t == p,
        _ => true,
    };
    same_file && truth.line == predicted.line && same_column
}

fn score_case(dir: &Path, parsers: &ParserSet, verbose: bool) -> Score {
    let log = fs::read(dir.join("log.txt")).expect("log.txt");
    let truth: Truth =
        serde_json::from_slice(&fs::read(dir.join("truth.json")).expect("truth.json"))
            .expect("truth.json parses");
    let predicted = parsers.parse(&log);
    let mut used = vec![false; predicted.len()];
    let mut score = Score {
        truths: truth.diagnostics.len(),
        predicted: predicted.len(),
        ..Score::default()
    };
    // Exact pairs first (same column, or both without one), then pairs where one side has no
    // column: in a log where two tools report the same line, each truth pairs with its own tool.
    let mut pairs: Vec<Option<usize>> = vec![None; truth.diagnostics.len()];
    for exact in [true, false] {
        for (ti, t) in truth.diagnostics.iter().enumerate() {
            if pairs[ti].is_some() {
                continue;
            }
            let found = predicted.iter().enumerate().position(|(i, p)| {
                !used[i] && matches(t, p) && (!exact || t.column == printed_column(p))
            });
            if let Some(i) = found {
                used[i] = true;
                pairs[ti] = Some(i);
            }
        }
    }
    for (t, pair) in truth.diagnostics.iter().zip(&pairs) {
        match pair.map(|i| (i, &predicted[i])) {
            Some((_, p)) => {
                score.matched += 1;
                if p.category.as_str() == t.category {
                    score.category_right += 1;
                } else if verbose {
                    println!(
                        "  {}: category {} instead of {} for {:?}",
                        dir.display(),
                        p.category,
                        t.category,
                        t.message
                    );
                }
            }
            None if verbose => println!(
                "  {}: missed {:?}:{:?}:{:?} {:?}",
                dir.display(),
                t.file,
                t.line,
                t.column,
                t.message
            ),
            None => {}
        }
    }
    if verbose {
        for (p, _) in predicted.iter().zip(&used).filter(|(_, u)| !**u) {
            println!(
                "  {}: extra {:?}:{:?}:{:?} [{}] {:?}",
                dir.display(),
                p.file,
                p.line,
                p.column,
                p.tool,
                p.message
            );
        }
    }
    score
}

fn cases(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for tool in fs::read_dir(root).expect("fixtures/parsers") {
        let tool = tool.expect("entry").path();
        if !tool.is_dir() {
            continue;
        }
        let name = tool.file_name().unwrap().to_string_lossy().to_string();
        for case in fs::read_dir(&tool).expect("tool dir") {
            let case = case.expect("entry").path();
            if case.join("truth.json").is_file() {
                out.push((name.clone(), case));
            }
        }
    }
    out.sort();
    out
}

fn parsers_meet_the_accuracy_bar_on_real_logs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/parsers");
    let verbose = std::env::var_os("SELFHEAL_ACCURACY_VERBOSE").is_some();
    let parsers = ParserSet::new();
    let mut per_tool: BTreeMap<String, Score> = BTreeMap::new();
    let cases = cases(&root);
    assert!(
        cases.len() >= 260,
        "fixtures missing: {} cases",
        cases.len()
    );
    for (tool, dir) in &cases {
        let score = score_case(dir, &parsers, verbose);
        per_tool.entry(tool.clone()).or_default().add(score);
    }
    let mut total = Score::default();
    println!(
        "\n{:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9}",
        "tool", "truth", "found", "P", "R", "F1", "category"
    );
    for (tool, score) in &per_tool {
        total.add(*score);
        println!(
            "{:<10} {:>6} {:>6} {:>6.3} {:>6.3} {:>6.3} {:>9.3}",
            tool,
            score.truths,
            score.predicted,
            score.precision(),
            score.recall(),
            score.f1(),
            score.category_accuracy()
        );
    }
    println!(
        "{:<10} {:>6} {:>6} {:>6.3} {:>6.3} {:>6.3} {:>9.3}   ({} cases)",
        "overall",
        total.truths,
        total.predicted,
        total.precision(),
        total.recall(),
        total.f1(),
        total.category_accuracy(),
        cases.len()
    );

    let weak: Vec<String> = per_tool
        .iter()
        .filter(|(_, s)| s.f1() < 0.90)
        .map(|(t, s)| format!("{t} ({:.3})", s.f1()))
        .collect();
    assert!(weak.is_empty(), "tools below F1 0.90: {weak:?}");
    assert!(total.f1() >= 0.95, "overall F1 {:.3} < 0.95", total.f1());
    assert!(
        total.category_accuracy() >= 0.95,
        "category accuracy {:.3} < 0.95",
        total.category_accuracy()
    );
}

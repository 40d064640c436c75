//! The heal corpus's Rust cases, healed for real with cargo: every case whose fix is in the
//! tools' own output is healed with no model and no cache, and the case's `verify` command
//! agrees; a case that needs a model ends escalated, its files as they were.

use std::path::{Path, PathBuf};
use std::process::Command;

use selfheal::build::{BuildPlan, BuildStep, LocalBuilder};
use selfheal::heal::{FixSource, Healer, Outcome};
use selfheal::workspace::Workspace;
use selfheal_test_harness::{Test, trial};
use serde_json::Value;

use crate::support;

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![trial!(async cases_the_tools_can_fix_are_healed_without_a_model)]
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/heal");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("plan.json").is_file())
        .collect();
    cases.sort();
    cases
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn cases_the_tools_can_fix_are_healed_without_a_model() {
    let scratch = support::scratch("heal-corpus");
    let mut healed = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let meta = read_json(&case.join("meta.json"));
        let plan_json = read_json(&case.join("plan.json"));
        let project = scratch.join(&name);
        copy(&case.join("project"), &project);
        let plan = BuildPlan::new(plan_json["steps"].as_array().unwrap().iter().map(|step| {
            BuildStep::shell(
                step["name"].as_str().unwrap(),
                step["run"].as_str().unwrap(),
            )
        }));
        let workspace = Workspace::open(&project).unwrap();
        let before = workspace.snapshot().unwrap();
        let report = Healer::new(LocalBuilder::new())
            .heal(&workspace, &plan, &|_| {})
            .await
            .unwrap();
        let verify = Command::new("sh")
            .args(["-c", plan_json["verify"].as_str().unwrap()])
            .current_dir(&project)
            .output()
            .unwrap();
        if meta["deterministic"] == true {
            assert_eq!(report.outcome, Outcome::Healed, "{name}: {report:#?}");
            assert!(
                verify.status.success(),
                "{name}: verify fails after healing"
            );
            assert!(
                (report.attempts.iter().skip(1)).all(|a| a.source == Some(FixSource::Fixer)),
                "{name}"
            );
            healed.push(name);
        } else {
            assert_eq!(report.outcome, Outcome::Escalated, "{name}: {report:#?}");
            // Only the build's own output may differ (cargo writes Cargo.lock).
            let diff = workspace.diff(&before).unwrap();
            let touched: Vec<&str> = (diff.lines())
                .filter_map(|line| line.strip_prefix("+++ b/"))
                .filter(|path| *path != "Cargo.lock")
                .collect();
            assert!(touched.is_empty(), "{name}: {diff}");
        }
    }
    assert!(healed.len() >= 7, "{healed:?}");
    let _ = std::fs::remove_dir_all(scratch);
}

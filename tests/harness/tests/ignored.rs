//! The harness reports a test whose requirement is missing as ignored, with the reason, and in CI
//! runs it (so that it fails): this binary runs itself as the suite under test.

use std::process::{Command, ExitCode};

use selfheal_test_harness::{Need, Test, trial};

/// Set in the copy of this binary that plays the suite under test.
const SUITE: &str = "SELFHEAL_HARNESS_SUITE";
/// Never set: what the suite's gated test needs.
const MISSING: &str = "SELFHEAL_HARNESS_MISSING_SERVER";

fn main() -> ExitCode {
    if std::env::var_os(SUITE).is_some() {
        let server = Need::env(MISSING, "a test starts none");
        return selfheal_test_harness::run(vec![
            Test::sync("needs_the_server", || panic!("ran without its server")).needs(&server),
            trial!(plain),
        ]);
    }
    selfheal_test_harness::run(vec![
        trial!(a_missing_requirement_is_reported_ignored_with_the_reason),
        trial!(in_ci_a_missing_requirement_fails_the_test),
    ])
}

fn plain() {}

/// Runs the suite (this binary, one thread) with `CI` as given; its exit success and output.
fn suite(ci: Option<&str>) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().expect("this binary"));
    command
        .args(["--test-threads", "1"])
        .env(SUITE, "1")
        .env_remove(MISSING)
        .env_remove("CI");
    if let Some(ci) = ci {
        command.env("CI", ci);
    }
    let output = command.output().expect("the suite runs");
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text.into_owned())
}

fn a_missing_requirement_is_reported_ignored_with_the_reason() {
    for ci in [None, Some(""), Some("false")] {
        let (passed, output) = suite(ci);
        assert!(passed, "{output}");
        assert!(
            output.contains(&format!(
                "test needs_the_server ... ignored ({MISSING} is not set (a test starts none))"
            )),
            "{output}"
        );
        assert!(
            (output.lines())
                .any(|line| line.starts_with("test plain ") && line.ends_with("... ok")),
            "{output}"
        );
        assert!(output.contains("1 passed; 0 failed; 1 ignored"), "{output}");
    }
}

fn in_ci_a_missing_requirement_fails_the_test() {
    let (passed, output) = suite(Some("true"));
    assert!(!passed, "{output}");
    assert!(output.contains("ran without its server"), "{output}");
    assert!(output.contains("1 passed; 1 failed; 0 ignored"), "{output}");
}

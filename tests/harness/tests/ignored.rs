//! The harness reports a test whose requirement is missing as ignored, with the reason, and in CI
//! runs it (so that it fails); a test asked to run alone runs in a process of its own: this
//! binary runs itself as the suite under test.

use std::process::{Command, ExitCode};

use selfheal_test_harness::{Need, Test, trial};

/// Set in the copy of this binary that plays the suite under test.
const SUITE: &str = "SELFHEAL_HARNESS_SUITE";
/// Never set: what the suite's gated test needs.
const MISSING: &str = "SELFHEAL_HARNESS_MISSING_SERVER";
/// The process that started the suite.
const STARTER: &str = "SELFHEAL_HARNESS_STARTER";

fn main() -> ExitCode {
    if std::env::var_os(SUITE).is_some() {
        let server = Need::env(MISSING, "a test starts none");
        return selfheal_test_harness::run(vec![
            Test::sync("needs_the_server", || panic!("ran without its server")).needs(&server),
            trial!(plain),
            trial!(in_a_process_of_its_own).alone(),
        ]);
    }
    selfheal_test_harness::run(vec![
        trial!(a_missing_requirement_is_reported_ignored_with_the_reason),
        trial!(in_ci_a_missing_requirement_fails_the_test),
        trial!(a_test_run_alone_runs_in_a_child_of_the_suite),
    ])
}

fn plain() {}

/// Started by the suite, not by the process that started the suite.
fn in_a_process_of_its_own() {
    let starter: u32 = std::env::var(STARTER).unwrap().parse().unwrap();
    assert_ne!(
        std::os::unix::process::parent_id(),
        starter,
        "ran inside the suite"
    );
}

/// Runs the suite (this binary, one thread) with `CI` as given; its exit success and output.
fn suite(ci: Option<&str>) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().expect("this binary"));
    command
        .args(["--test-threads", "1"])
        .env(SUITE, "1")
        .env(STARTER, std::process::id().to_string())
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
            reported(&output, "needs_the_server")
                .is_some_and(|result| result
                    == format!("ignored ({MISSING} is not set (a test starts none))")),
            "{output}"
        );
        assert_eq!(reported(&output, "plain"), Some("ok"), "{output}");
        assert!(output.contains("2 passed; 0 failed; 1 ignored"), "{output}");
    }
}

fn in_ci_a_missing_requirement_fails_the_test() {
    let (passed, output) = suite(Some("true"));
    assert!(!passed, "{output}");
    assert!(output.contains("ran without its server"), "{output}");
    assert!(output.contains("2 passed; 1 failed; 0 ignored"), "{output}");
}

fn a_test_run_alone_runs_in_a_child_of_the_suite() {
    let (passed, output) = suite(None);
    assert!(passed, "{output}");
    assert_eq!(
        reported(&output, "in_a_process_of_its_own"),
        Some("ok"),
        "{output}"
    );
}

/// What the suite's `test NAME ... RESULT` line says of `name` (libtest pads the names).
fn reported<'a>(output: &'a str, name: &str) -> Option<&'a str> {
    output.lines().find_map(|line| {
        let (test, result) = line.strip_prefix("test ")?.split_once(" ... ")?;
        (test.trim_end() == name).then_some(result)
    })
}

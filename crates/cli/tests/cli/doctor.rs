//! `selfheal doctor` as a user runs it.

use selfheal_test_harness::{Test, trial};
use std::process::Command;

const PROVIDER_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GEMINI_BASE_URL",
    "GEMINI_MODEL",
];

fn doctor(args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_selfheal"));
    command.arg("doctor").args(args);
    for var in PROVIDER_VARS {
        command.env_remove(var);
    }
    command.envs(vars.iter().copied());
    command.output().expect("selfheal runs")
}

fn offline_json_reports_configuration_without_calling() {
    let out = doctor(
        &["--offline", "--json", "--timeout", "5"],
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-abc-1234"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let providers = report["providers"].as_array().unwrap();
    assert_eq!(providers[0]["name"], "anthropic");
    assert_eq!(providers[0]["status"], "skipped");
    assert_eq!(providers[0]["key"], "…1234");
    assert_eq!(
        providers[1]["endpoint"],
        "http://127.0.0.1:9/v1/chat/completions"
    );
    assert_eq!(providers[2]["status"], "not_configured");
    assert!(
        report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "cargo" && t["status"] == "ok")
    );
    let docker_broken = report["docker_expected"] == true && report["docker"]["status"] != "ok";
    assert_eq!(out.status.success(), !docker_broken);
}

fn a_configured_provider_that_does_not_answer_fails_the_check() {
    let out = doctor(
        &["--timeout", "5"],
        &[("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FAIL openai"), "{text}");
    assert!(
        text.contains("- openai: connection: cannot connect"),
        "{text}"
    );
    assert!(
        text.contains(" -   anthropic not configured: ANTHROPIC_API_KEY is not set"),
        "{text}"
    );
}

pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(offline_json_reports_configuration_without_calling),
        trial!(a_configured_provider_that_does_not_answer_fails_the_check),
    ]
}

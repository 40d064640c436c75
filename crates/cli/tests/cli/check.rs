//! `selfheal check` as a user runs it: real commands, real compilers, a real Docker engine.

use crate::common::{assert_exit, scratch, selfheal};
use selfheal_test_harness::{Need, Test, trial};
use serde_json::Value;

pub(crate) fn tests() -> Vec<Test> {
    let image = Need::docker_image(IMAGE, ".ci/run makes it");
    vec![
        trial!(a_failing_step_is_reported_with_its_diagnostics_and_stops_the_plan),
        trial!(passing_steps_exit_0_and_timeouts_are_failures),
        trial!(usage_and_infrastructure_errors_exit_2),
        trial!(steps_run_in_a_container_with_limits).needs(&image),
        trial!(a_step_gets_what_tools_need_and_none_of_the_hosts_secrets),
        trial!(a_variable_the_step_spells_out_reaches_it_unless_it_is_a_credential),
    ]
}

/// The host's static busybox as an image.
const IMAGE: &str = "selfheal-test-busybox:1";

fn project(name: &str) -> std::path::PathBuf {
    scratch(&format!("cli-check-{name}"))
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn a_failing_step_is_reported_with_its_diagnostics_and_stops_the_plan() {
    let dir = project("fail");
    std::fs::write(
        dir.join("main.c"),
        "int main(void) {\n  int x = 1\n  return x;\n}\n",
    )
    .expect("source");
    let root = dir.to_str().expect("utf-8 path");
    let output = selfheal(
        &[
            "check",
            root,
            "--step",
            "echo preparing",
            "--step",
            "gcc -c main.c -o main.o",
            "--step",
            "echo never",
            "--json",
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    assert_eq!(report["ok"], false);
    let steps = report["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2, "the plan stops at the failure: {report}");
    assert_eq!(steps[0]["name"], "echo");
    assert_eq!(steps[0]["exit_code"], 0);
    assert_eq!(steps[0]["diagnostics"].as_array().map(Vec::len), Some(0));
    let failed = &steps[1];
    assert_eq!(
        (failed["name"].as_str(), failed["command"].as_str()),
        (Some("gcc"), Some("gcc -c main.c -o main.o"))
    );
    assert_eq!(failed["exit_code"], 1);
    assert_eq!(
        (
            failed["signal"].clone(),
            failed["timed_out"].clone(),
            failed["oom_killed"].clone()
        ),
        (Value::Null, Value::Bool(false), Value::Bool(false))
    );
    assert!(failed["duration_ms"].is_u64());
    let diagnostic = &failed["diagnostics"][0];
    assert_eq!(
        (diagnostic["file"].as_str(), diagnostic["line"].as_u64()),
        (Some("main.c"), Some(3)),
        "{failed}"
    );

    let text = selfheal(&["check", root, "--step", "gcc -c main.c -o main.o"], b"");
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.starts_with("FAILED gcc (gcc -c main.c -o main.o): failed (exit 1)"),
        "{stdout}"
    );
    assert!(stdout.contains("--> main.c:3"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn passing_steps_exit_0_and_timeouts_are_failures() {
    let dir = project("pass");
    let root = dir.to_str().expect("utf-8 path");
    let ok = selfheal(
        &["check", root, "--step", "true", "--step", "echo done"],
        b"",
    );
    assert_exit(&ok, 0);
    let slow = selfheal(
        &[
            "check",
            root,
            "--step",
            "sleep 30",
            "--timeout",
            "1",
            "--json",
        ],
        b"",
    );
    assert_eq!(slow.status.code(), Some(1));
    let report = json(&slow);
    assert_eq!(report["steps"][0]["timed_out"], true);
    assert!(
        report["steps"][0]["duration_ms"]
            .as_u64()
            .is_some_and(|ms| ms < 10_000)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn usage_and_infrastructure_errors_exit_2() {
    let dir = project("usage");
    let root = dir.to_str().expect("utf-8 path");
    assert_eq!(
        selfheal(&["check", root], b"").status.code(),
        Some(2),
        "a step is required"
    );
    assert_eq!(
        selfheal(&["check", root, "--step", "true", "--memory", "64"], b"")
            .status
            .code(),
        Some(2),
        "--memory needs --docker"
    );
    let missing = selfheal(&["check", "/nonexistent/project", "--step", "true"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/project"));
    let no_engine = std::process::Command::new(env!("CARGO_BIN_EXE_selfheal"))
        .args(["check", root, "--docker", "busybox", "--step", "true"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("selfheal runs");
    assert_eq!(no_engine.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_engine.stderr).contains("Docker engine unavailable"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn steps_run_in_a_container_with_limits() {
    let image = IMAGE;
    let dir = project("docker");
    std::fs::write(dir.join("input.txt"), "hello\n").expect("input");
    let root = dir.to_str().expect("utf-8 path");
    let output = selfheal(
        &[
            "check",
            root,
            "--docker",
            image,
            "--memory",
            "64",
            "--cpus",
            "1",
            "--step",
            "cat input.txt && exit 3",
            "--json",
        ],
        b"",
    );
    assert_exit(&output, 1);
    let report = json(&output);
    assert_eq!(report["steps"][0]["exit_code"], 3);
    let oom = selfheal(
        &[
            "check",
            root,
            "--docker",
            image,
            "--memory",
            "64",
            "--step",
            "dd if=/dev/zero of=/dev/null bs=256M count=1",
            "--json",
        ],
        b"",
    );
    assert_eq!(json(&oom)["steps"][0]["oom_killed"], true);
    let _ = std::fs::remove_dir_all(&dir);
}

fn a_step_gets_what_tools_need_and_none_of_the_hosts_secrets() {
    let dir = project("env");
    let root = dir.to_str().expect("utf-8 path");
    let secrets = [
        ("OPENAI_API_KEY", "sk-proj-abc123"),
        ("SUPABASE_SERVICE_ROLE_KEY", "eyJhbGciOi"),
        ("STRIPE_KEY", "sk_live_123"),
        ("PGPASSWORD", "hunter2"),
        ("REDIS_URL", "redis://:hunter2@cache:6379"),
        ("NPM_CONFIG__AUTH", "dXNlcjpwYXNz"),
        ("SENTRY_DSN", "https://abc@o1.ingest.sentry.io/1"),
        ("MYAPP_SESSION_KEY", "s3cr3t"),
        ("HTTPS_PROXY", "http://user:hunter2@proxy:3128"),
    ];
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_selfheal"))
        .args(["check", root, "--verbose", "--step", "env"])
        .envs(secrets)
        .env("LC_ALL", "C.UTF-8")
        .env("npm_config_registry", "http://127.0.0.1:4873/")
        .output()
        .expect("selfheal runs");
    assert_eq!(output.status.code(), Some(0));
    let seen = String::from_utf8_lossy(&output.stderr);
    for (name, value) in secrets {
        assert!(
            !seen.contains(name) && !seen.contains(value),
            "{name} reached the step: {seen}"
        );
    }
    for name in [
        "PATH=",
        "HOME=",
        "LC_ALL=C.UTF-8",
        "npm_config_registry=http://127.0.0.1:4873/",
    ] {
        assert!(seen.contains(name), "{name} is missing: {seen}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn a_variable_the_step_spells_out_reaches_it_unless_it_is_a_credential() {
    let dir = project("spelled");
    let root = dir.to_str().expect("utf-8 path");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_selfheal"))
        .args([
            "check",
            root,
            "--verbose",
            "--step",
            "echo \"tools=$HEAL_TOOLS key=${STRIPE_KEY}\"; env",
        ])
        .env("HEAL_TOOLS", "/opt/tools")
        .env("OTHER_TOOLS", "/opt/other")
        .env("STRIPE_KEY", "sk_live_123")
        .output()
        .expect("selfheal runs");
    assert_eq!(output.status.code(), Some(0));
    let seen = String::from_utf8_lossy(&output.stderr);
    assert!(
        seen.contains("tools=/opt/tools key=\n") || seen.contains("tools=/opt/tools key="),
        "{seen}"
    );
    assert!(
        !seen.contains("sk_live_123"),
        "a credential needs the host's word: {seen}"
    );
    assert!(
        !seen.contains("OTHER_TOOLS"),
        "only what the step names: {seen}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! `selfheal heal` as a user runs it: a real Python build, a model behind a 127.0.0.1 server
//! speaking OpenAI's wire format.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use selfheal_test_harness::{Test, trial};

use crate::common::assert_exit;

pub(crate) fn tests() -> Vec<Test> {
    let fleet = crate::common::fleet_server();
    vec![
        trial!(a_broken_project_is_healed_through_the_model_and_reported_as_json),
        trial!(a_fix_learned_on_one_machine_heals_on_another_through_the_fleet_cache).needs(&fleet),
        trial!(without_a_model_or_a_cached_fix_it_says_what_is_left_and_exits_1),
        trial!(a_recorded_run_replays_without_the_model),
        trial!(metrics_are_served_while_a_heal_runs_and_spans_are_written_as_json_lines),
    ]
}

const BROKEN: &str = "def greet():\n    print(mesage)\n\nmesage_text = 'hi'\ngreet()\n";

fn project(name: &str) -> PathBuf {
    let dir = crate::common::scratch(&format!("cli-heal-{name}"));
    std::fs::create_dir_all(dir.join("app")).expect("project directory");
    std::fs::write(dir.join("app/main.py"), BROKEN).expect("source");
    dir
}

/// Answers every request with a chat completion holding `content`; counts the requests.
fn model(content: &str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let count = Arc::new(AtomicUsize::new(0));
    let chunk = |choices: serde_json::Value, usage: serde_json::Value| {
        let chunk = serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
            "created": 1, "model": "gpt-4o", "choices": choices, "usage": usage});
        format!("data: {chunk}\n\n")
    };
    let body = [
        chunk(
            serde_json::json!([{"index": 0, "delta": {"role": "assistant", "content": content}}]),
            serde_json::Value::Null,
        ),
        chunk(
            serde_json::json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
            serde_json::Value::Null,
        ),
        chunk(
            serde_json::json!([]),
            serde_json::json!({"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340}),
        ),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let counter = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut request = vec![0; length];
            let _ = reader.read_exact(&mut request);
            counter.fetch_add(1, Ordering::SeqCst);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, count)
}

/// The model's fix for [`BROKEN`].
fn typo_fix() -> serde_json::Value {
    serde_json::json!({"analysis": "typo", "fixes": [
        {"file": "main.py", "action": "patch", "search": "print(mesage)", "replace": "print(mesage_text)"}
    ]})
}

/// Checks that `output` reports [`BROKEN`] in `app` healed by the model's fix; the report.
fn healed_by_the_model(output: &std::process::Output, app: &std::path::Path) -> serde_json::Value {
    assert_exit(output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["outcome"], "healed");
    assert_eq!(report["attempts"][1]["source"], "llm");
    assert!(
        std::fs::read_to_string(app.join("main.py"))
            .expect("source")
            .contains("print(mesage_text)")
    );
    report
}

fn heal(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_selfheal"));
    command.arg("heal").args(args);
    for name in [
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "GEMINI_API_KEY",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("selfheal runs")
}

fn a_broken_project_is_healed_through_the_model_and_reported_as_json() {
    let dir = project("model");
    let fix = typo_fix();
    let (url, requests) = model(&format!("Here you go:\n```json\n{fix}\n```"));
    let app = dir.join("app");
    let cache = dir.join("cache");
    let args = [
        app.to_str().expect("utf-8"),
        "--step",
        "python3 main.py",
        "--cache",
        cache.to_str().expect("utf-8"),
        "--json",
    ];
    let output = heal(&args, &[("OPENAI_BASE_URL", &url), ("OPENAI_API_KEY", "k")]);
    healed_by_the_model(&output, &app);
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(progress.contains("asking openai for a fix"), "{progress}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    // Broken again: the cache heals it; no request.
    std::fs::write(app.join("main.py"), BROKEN).expect("source");
    let output = heal(&args, &[("OPENAI_BASE_URL", &url), ("OPENAI_API_KEY", "k")]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    let _ = std::fs::remove_dir_all(dir);
}

fn a_fix_learned_on_one_machine_heals_on_another_through_the_fleet_cache() {
    let fleet = crate::common::fleet_database("heal");
    let dir = project("fleet");
    let (url, requests) = model(&typo_fix().to_string());
    let app = dir.join("app");
    let run = |cache: &str, model: &[(&str, &str)]| {
        let cache = dir.join(cache);
        let args = [
            app.to_str().expect("utf-8"),
            "--step",
            "python3 main.py",
            "--cache",
            cache.to_str().expect("utf-8"),
            "--json",
        ];
        let mut env = vec![("SELFHEAL_CACHE_URL", fleet.as_str())];
        env.extend_from_slice(model);
        heal(&args, &env)
    };
    healed_by_the_model(
        &run(
            "machine-a",
            &[("OPENAI_BASE_URL", &url), ("OPENAI_API_KEY", "k")],
        ),
        &app,
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    // Another machine, no model: the fleet's fix heals it.
    std::fs::write(app.join("main.py"), BROKEN).expect("source");
    let output = run("machine-b", &[]);
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["fixes"][0]["source"], "cache", "{report}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    let _ = std::fs::remove_dir_all(dir);
}

fn without_a_model_or_a_cached_fix_it_says_what_is_left_and_exits_1() {
    let dir = project("none");
    let app = dir.join("app");
    let app = app.to_str().expect("utf-8");
    let output = heal(&[app, "--step", "python3 main.py", "--no-cache"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("not healed: escalated"), "{text}");
    assert!(text.contains("name 'mesage' is not defined"), "{text}");

    std::fs::write(dir.join("app/main.py"), "print('ok')\n").expect("source");
    let output = heal(&[app, "--step", "python3 main.py", "--no-cache"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("already green"));
    let output = heal(
        &["/nonexistent/selfheal", "--step", "true", "--no-cache"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

fn a_recorded_run_replays_without_the_model() {
    let dir = project("cassette");
    let fix = typo_fix();
    let (url, requests) = model(&format!("```json\n{fix}\n```"));
    let app = dir.join("app");
    let cassette = dir.join("run.cassette");
    let app_arg = app.to_str().expect("utf-8");
    let cassette_arg = cassette.to_str().expect("utf-8");
    let step = ["--step", "python3 main.py", "--json"];
    let record = [&[app_arg, "--record", cassette_arg][..], &step].concat();
    let output = heal(
        &record,
        &[("OPENAI_BASE_URL", &url), ("OPENAI_API_KEY", "k")],
    );
    assert_exit(&output, 0);
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    std::fs::write(app.join("main.py"), BROKEN).expect("source");
    let replay = [&[app_arg, "--replay", cassette_arg][..], &step].concat();
    let output = heal(&replay, &[]);
    let report = healed_by_the_model(&output, &app);
    assert_eq!(report["usage"]["input_tokens"], 300);
    assert_eq!(requests.load(Ordering::SeqCst), 1, "replayed, not asked");

    // Another build than the recorded one: a usage error, not a guess.
    let other = heal(
        &[
            app_arg,
            "--replay",
            cassette_arg,
            "--step",
            "python3 other.py",
        ],
        &[],
    );
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("cassette"));
    let _ = std::fs::remove_dir_all(dir);
}

/// `GET /metrics` on `address`, or `None` while nothing answers there.
fn scrape(address: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn metrics_are_served_while_a_heal_runs_and_spans_are_written_as_json_lines() {
    let dir = project("observe");
    let (url, _) = model(&typo_fix().to_string());
    let address = {
        let free = TcpListener::bind("127.0.0.1:0").expect("a port");
        free.local_addr().expect("address").to_string()
    };
    let trace = dir.join("trace.jsonl");
    let app = dir.join("app");
    // Each build takes a second: the run lasts long enough to be scraped while it runs.
    let mut command = Command::new(env!("CARGO_BIN_EXE_selfheal"));
    command
        .args([
            "heal",
            app.to_str().expect("utf-8"),
            "--step",
            "sleep 1; python3 main.py",
        ])
        .args(["--no-cache", "--metrics-addr", &address])
        .args(["--trace-json", trace.to_str().expect("utf-8")])
        .env("OPENAI_BASE_URL", &url)
        .env("OPENAI_API_KEY", "sk-cli-secret")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("selfheal starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let scraped = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no metrics while the run went on"
        );
        match scrape(&address) {
            // The first build's step and its parsed error, recorded while the run goes on.
            Some(page)
                if page.contains("selfheal_build_step_seconds")
                    && page.contains("selfheal_diagnostics_total") =>
            {
                break page;
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    };
    let output = child.wait_with_output().expect("selfheal ends");
    assert_exit(&output, 0);
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(
        scraped.contains("# TYPE selfheal_build_step_seconds"),
        "{scraped}"
    );
    assert!(
        scraped.contains("selfheal_diagnostics_total{category=\"runtime\",severity=\"error\"} 1"),
        "{scraped}"
    );

    let lines = std::fs::read_to_string(&trace).expect("the trace file");
    assert!(!lines.contains("sk-cli-secret"), "a secret in the trace");
    let spans: Vec<serde_json::Value> = (lines.lines())
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .filter(|line: &serde_json::Value| line["fields"]["message"] == "close")
        .collect();
    let named = |name: &str| spans.iter().filter(|s| s["span"]["name"] == name).count();
    assert_eq!(named("heal_run"), 1, "{lines}");
    assert_eq!(named("build_step"), 2);
    assert_eq!(named("llm_call"), 1);
    assert_eq!(named("apply"), 1);
    let _ = std::fs::remove_dir_all(dir);
}

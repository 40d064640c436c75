//! `selfheal json-repair` as a user and as a batch tool run it.

use selfheal_test_harness::{Test, trial};
use std::io::{BufRead, BufReader, Write};

use crate::common::{scratch, selfheal, spawn};
use serde_json::{Value, json};

const FENCED: &str =
    "Sure! Here is the config:\n```json\n{'name': 'app', 'private': True,}\n```\nGood luck.";

fn stdout_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn prints_the_recovered_value_compactly() {
    let out = selfheal(&["json-repair"], FENCED.as_bytes());
    assert!(out.status.success());
    assert_eq!(out.stdout, b"{\"name\":\"app\",\"private\":true}\n");
    assert!(out.stderr.is_empty());
}

fn pretty_output_is_indented() {
    let out = selfheal(&["json-repair", "--pretty", "-"], FENCED.as_bytes());
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.contains("\n  \"name\": \"app\""), "{text}");
    assert_eq!(stdout_json(&out), json!({"name": "app", "private": true}));
}

fn nothing_found_exits_one_with_a_one_line_reason() {
    let out = selfheal(&["json-repair"], b"I'm sorry, I can't help with that.");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "selfheal: nothing sensible found: no JSON object or array in the reply\n"
    );
    let empty = selfheal(&["json-repair"], b"  \n");
    assert_eq!(empty.status.code(), Some(1));
}

fn the_fix_schema_prefers_the_proposal() {
    let reply = "Build output:\n```json\n{\"status\": \"failed\"}\n```\nFix:\n```json\n\
                 {\"analysis\": \"a\", \"fixes\": []}\n```";
    let generic = selfheal(&["json-repair"], reply.as_bytes());
    assert_eq!(stdout_json(&generic), json!({"status": "failed"}));
    let fix = selfheal(&["json-repair", "--schema", "fix"], reply.as_bytes());
    assert_eq!(stdout_json(&fix), json!({"analysis": "a", "fixes": []}));
}

fn explain_reports_the_stage_and_repairs() {
    let out = selfheal(&["json-repair", "--explain"], FENCED.as_bytes());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("stage: extracted; repairs: "),
        "{stderr}"
    );
    for kind in ["single_quotes ×3", "python_literal ×1", "trailing_comma ×1"] {
        assert!(stderr.contains(kind), "{kind} in {stderr}");
    }
}

fn reads_a_file_with_invalid_utf8() {
    let dir = scratch("json");
    let path = dir.join("reply.txt");
    std::fs::write(&path, b"\xff\xfe noise {\"a\": [1, 2,]} \xc3").unwrap();
    let out = selfheal(&["json-repair", path.to_str().unwrap()], b"");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success());
    assert_eq!(stdout_json(&out), json!({"a": [1, 2]}));
}

fn batch_mode_answers_every_line_in_order() {
    let requests = [
        json!({"input": FENCED, "schema": "generic"}).to_string(),
        "this is not json".to_string(),
        json!({"input": "no JSON here", "schema": "fix"}).to_string(),
        String::new(),
        json!({"input": "{\"a\": 1", "schema": "fix"}).to_string(),
        json!({"input": "[1, 2]"}).to_string(),
        json!({"input": "{}", "schema": "yaml"}).to_string(),
    ]
    .join("\n");
    let out = selfheal(&["json-repair", "--jsonl"], requests.as_bytes());
    assert!(out.status.success());
    let responses: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(responses.len(), 7);
    assert_eq!(
        responses[0],
        json!({"value": {"name": "app", "private": true}, "ok": true, "stage": "extracted"})
    );
    assert_eq!(responses[1]["ok"], false);
    assert_eq!(responses[1]["value"], Value::Null);
    assert!(
        responses[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("not a request")
    );
    assert_eq!(
        responses[2],
        json!({"value": null, "ok": false, "stage": null,
               "reason": "no JSON object or array in the reply"})
    );
    assert_eq!(responses[3]["error"], "empty request line");
    assert_eq!(
        responses[4],
        json!({"value": {}, "ok": true, "stage": "truncated"})
    );
    assert_eq!(
        responses[5],
        json!({"value": [1, 2], "ok": true, "stage": "strict"})
    );
    assert_eq!(responses[6]["ok"], false);
    assert!(responses[6]["error"].as_str().unwrap().contains("yaml"));
}

fn batch_mode_answers_before_the_next_request() {
    let mut child = spawn(&["json-repair", "--jsonl"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for (input, want) in [("[1,]", json!([1])), ("{'k': 'v'}", json!({"k": "v"}))] {
        writeln!(stdin, "{}", json!({"input": input, "schema": "generic"})).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let response: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(response["value"], want);
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

fn batch_mode_handles_large_and_deep_inputs() {
    let content = "x\\n".repeat(1_000_000);
    let large = format!("{{\"path\": \"bundle.js\", \"content\": \"{content}");
    let deep = "[".repeat(100_000);
    let requests = format!(
        "{}\n{}\n",
        json!({"input": large, "schema": "generic"}),
        json!({"input": deep, "schema": "generic"})
    );
    let out = selfheal(&["json-repair", "--jsonl"], requests.as_bytes());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let first: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(first["stage"], "truncated");
    assert_eq!(first["value"]["content"].as_str().unwrap().len(), 2_000_000);
    let second = lines.next().unwrap();
    let want = format!(
        "{{\"value\":{}{},\"ok\":true,\"stage\":\"truncated\"}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(second == want, "deep response differs");
    assert_eq!(lines.next(), None);
}

pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(prints_the_recovered_value_compactly),
        trial!(pretty_output_is_indented),
        trial!(nothing_found_exits_one_with_a_one_line_reason),
        trial!(the_fix_schema_prefers_the_proposal),
        trial!(explain_reports_the_stage_and_repairs),
        trial!(reads_a_file_with_invalid_utf8),
        trial!(batch_mode_answers_every_line_in_order),
        trial!(batch_mode_answers_before_the_next_request),
        trial!(batch_mode_handles_large_and_deep_inputs),
    ]
}

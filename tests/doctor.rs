//! `doctor::run` against providers served on 127.0.0.1.

use std::time::Duration;

use selfheal::doctor::{self, CheckStatus, DoctorOptions};
use selfheal_test_harness::{Test, trial};
use serde_json::json;

use crate::support::{Reply, Server};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![trial!(async configured_providers_are_called_and_judged)]
}

async fn configured_providers_are_called_and_judged() {
    let claude = Server::start().await;
    let gpt = Server::start().await;
    claude.push(Reply::json(
        200,
        json!({"content": [{"type": "text", "text": "OK"}], "model": "claude-haiku-4-5",
            "stop_reason": "end_turn", "usage": {"input_tokens": 12, "output_tokens": 1}}),
    ));
    gpt.push(Reply::json(
        401,
        json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}),
    ));
    let (claude_url, gpt_url) = (claude.url(), format!("{}/v1", gpt.url()));
    let vars = move |name: &str| match name {
        "ANTHROPIC_API_KEY" => Some("sk-ant-test-9876".to_string()),
        "ANTHROPIC_BASE_URL" => Some(claude_url.clone()),
        "OPENAI_API_KEY" => Some("sk-wrong".to_string()),
        "OPENAI_BASE_URL" => Some(gpt_url.clone()),
        _ => None,
    };
    let options = DoctorOptions {
        offline: false,
        timeout: Duration::from_secs(10),
    };
    let report = doctor::run(&options, &vars).await;
    let [anthropic, openai, gemini] = &report.providers[..] else {
        panic!("{:?}", report.providers)
    };
    assert_eq!(anthropic.status, CheckStatus::Ok);
    assert_eq!(anthropic.key.as_deref(), Some("…9876"));
    assert_eq!(anthropic.model.as_deref(), Some("claude-haiku-4-5"));
    assert_eq!(anthropic.detail, "answers (13 tokens)");
    assert_eq!(claude.received()[0].body["max_tokens"], 16);
    assert_eq!(openai.status, CheckStatus::Failed);
    assert!(
        openai
            .detail
            .starts_with("authentication (HTTP 401, invalid_api_key)"),
        "{}",
        openai.detail
    );
    assert_eq!(gemini.status, CheckStatus::NotConfigured);
    assert!(!report.healthy());
    assert_eq!(
        report.problems().len(),
        1 + usize::from(report.docker_expected && report.docker.status != CheckStatus::Ok)
    );

    let offline = doctor::run(
        &DoctorOptions {
            offline: true,
            ..options
        },
        &vars,
    )
    .await;
    assert!(
        offline.providers[..2]
            .iter()
            .all(|p| p.status == CheckStatus::Skipped)
    );
    assert_eq!(
        claude.received().len() + gpt.received().len(),
        2,
        "offline calls nobody"
    );
}

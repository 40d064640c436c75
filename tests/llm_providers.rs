//! The Anthropic, OpenAI and Gemini providers against a server on 127.0.0.1 that speaks each
//! API's wire format: JSON replies, SSE streams cut at arbitrary bytes (inside events and
//! multi-byte characters), each provider's error bodies, dropped connections, malformed
//! bodies and a server slower than the timeout.

use std::time::Duration;

use futures_util::StreamExt;
use selfheal::Error;
use selfheal::llm::{
    Anthropic, CompletionRequest, FinishReason, Gemini, OpenAi, Provider, ProviderError,
    ProviderErrorKind, StreamEvent, Usage, collect,
};
use selfheal_test_harness::{Test, trial};
use serde_json::json;

use crate::support::{Reply, Server, openai_stream, split, sse_text};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(async anthropic_complete_speaks_the_messages_api),
        trial!(async anthropic_stream_survives_any_piece_boundary),
        trial!(async anthropic_errors_keep_type_status_and_body),
        trial!(async anthropic_stream_error_event_and_dropped_connection),
        trial!(async malformed_cut_and_slow_responses),
        trial!(async openai_complete_and_stream),
        trial!(async openai_errors_tell_quota_from_rate_limits),
        trial!(async azure_uses_deployments_and_api_key),
        trial!(async gemini_complete_and_stream),
        trial!(async gemini_errors_and_retry_info),
        trial!(missing_keys_are_clear_config_errors),
    ]
}

const TEXT: &str = "{\"analysis\": \"naïve café — 😀 fixed\", \"fixes\": []}";

fn request() -> CompletionRequest {
    CompletionRequest::new("Fix the build. Answer in JSON.")
        .system("You fix builds.")
        .max_tokens(512)
}

fn provider_error(result: Result<impl std::fmt::Debug, Error>) -> ProviderError {
    match result {
        Err(Error::Provider(e)) => e,
        other => panic!("expected a provider error, got {other:?}"),
    }
}

fn anthropic_stream(text: &str) -> String {
    let mut events = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null,
                "usage": {"input_tokens": 120, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
    ];
    for piece in split(text, 5) {
        events.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    events.extend([
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": 42}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    sse_text(&events)
}

fn anthropic(server: &Server) -> Anthropic {
    Anthropic::new("sk-ant-test")
        .unwrap()
        .base_url(server.url())
        .timeout(Duration::from_secs(10))
}

async fn anthropic_complete_speaks_the_messages_api() {
    let server = Server::start().await;
    server.push(Reply::json(
        200,
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 120, "output_tokens": 42, "cache_read_input_tokens": 8}}),
    ));
    let mut req = request().temperature(0.2);
    req.stop = vec!["</fix>".into()];
    let completion = anthropic(&server).complete(&req).await.unwrap();
    assert_eq!(completion.text, TEXT);
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 128,
            output_tokens: 42
        }
    );
    assert_eq!(completion.stop_reason, FinishReason::EndTurn);
    assert_eq!(completion.model, "claude-sonnet-4-5-20250929");
    assert_eq!(completion.provider, "anthropic");

    let sent = &server.received()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.body["model"], "claude-sonnet-4-5");
    assert_eq!(sent.body["max_tokens"], 512);
    assert_eq!(sent.body["system"], "You fix builds.");
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "user", "content": "Fix the build. Answer in JSON."}])
    );
    assert_eq!(sent.body["stop_sequences"], json!(["</fix>"]));
    assert!((sent.body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
}

async fn anthropic_stream_survives_any_piece_boundary() {
    for size in [3, 7, 64] {
        let server = Server::start().await;
        server.push(Reply::sse(&anthropic_stream(TEXT), size));
        let completion = collect(anthropic(&server).stream(request())).await.unwrap();
        assert_eq!(completion.text, TEXT, "pieces of {size} bytes");
        assert_eq!(
            completion.usage,
            Usage {
                input_tokens: 120,
                output_tokens: 42
            }
        );
        assert_eq!(completion.stop_reason, FinishReason::EndTurn);
        assert_eq!(server.received()[0].body["stream"], true);
    }
}

async fn anthropic_errors_keep_type_status_and_body() {
    let server = Server::start().await;
    let provider = anthropic(&server);
    let overloaded =
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    server.push(Reply::json(529, overloaded.clone()));
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::Overloaded);
    assert_eq!(e.status, Some(529));
    assert_eq!(e.code.as_deref(), Some("overloaded_error"));
    assert_eq!(e.message, "Overloaded");
    assert_eq!(e.body.as_deref(), Some(overloaded.to_string().as_str()));
    assert!(e.kind.is_retryable());

    server.push(Reply::json_with(
        429,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}),
        &[("retry-after", "17")],
    ));
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(17)));

    for (status, kind_name, message, kind) in [
        (
            400,
            "invalid_request_error",
            "prompt is too long: 212000 tokens > 200000 maximum",
            ProviderErrorKind::ContextLength,
        ),
        (
            401,
            "authentication_error",
            "invalid x-api-key",
            ProviderErrorKind::Authentication,
        ),
        (
            403,
            "permission_error",
            "not allowed",
            ProviderErrorKind::PermissionDenied,
        ),
        (
            404,
            "not_found_error",
            "model: claude-9",
            ProviderErrorKind::NotFound,
        ),
        (
            500,
            "api_error",
            "Internal error",
            ProviderErrorKind::Server,
        ),
    ] {
        server.push(Reply::json(
            status,
            json!({"type": "error", "error": {"type": kind_name, "message": message}}),
        ));
        let e = provider_error(provider.complete(&request()).await);
        assert_eq!((e.kind, e.status), (kind, Some(status)), "{message}");
    }
}

async fn anthropic_stream_error_event_and_dropped_connection() {
    let server = Server::start().await;
    let provider = anthropic(&server);
    let mut text = anthropic_stream("part");
    let cut = text.find("event: content_block_stop").unwrap();
    text.truncate(cut);
    text.push_str(&sse_text(&[(
        "error",
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )]));
    server.push(Reply::sse(&text, 11));
    let mut events = provider.stream(request());
    let mut got_text = String::new();
    let mut error = None;
    while let Some(event) = events.next().await {
        match event {
            StreamEvent::Text(t) => got_text.push_str(&t),
            StreamEvent::Error(e) => error = Some(e),
            _ => {}
        }
    }
    assert_eq!(got_text, "part");
    let e = provider_error(Err::<(), _>(error.unwrap()));
    assert_eq!(e.kind, ProviderErrorKind::Overloaded);

    let full = anthropic_stream(TEXT);
    server.push(Reply::sse_dropped(&full, 9, full.len() / 2));
    let e = provider_error(collect(provider.stream(request())).await);
    assert_eq!(e.kind, ProviderErrorKind::Connection);
    assert!(e.kind.is_retryable());
}

async fn malformed_cut_and_slow_responses() {
    let server = Server::start().await;
    let provider = anthropic(&server);
    server.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: "<html>gateway</html>".into(),
    });
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::MalformedResponse);
    assert_eq!(e.body.as_deref(), Some("<html>gateway</html>"));

    server.push(Reply::json(200, json!({"type": "message"})));
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::MalformedResponse);

    let body = json!({"content": [{"type": "text", "text": TEXT}], "usage": {}}).to_string();
    let sent = body.len() / 2;
    server.push(Reply::CutBody { body, sent });
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::Connection);

    server.push(Reply::Stall(Duration::from_secs(5)));
    let slow = provider.clone().timeout(Duration::from_millis(300));
    let e = provider_error(slow.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::Timeout);

    server.push(Reply::Stall(Duration::from_secs(5)));
    let timed = request().timeout(Duration::from_millis(300));
    let e = provider_error(provider.complete(&timed).await);
    assert_eq!(
        e.kind,
        ProviderErrorKind::Timeout,
        "the request's timeout wins"
    );

    let closed = Anthropic::new("k").unwrap().base_url("http://127.0.0.1:9");
    let e = provider_error(closed.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::Connection);
}

fn openai(server: &Server) -> OpenAi {
    OpenAi::compatible(format!("{}/v1", server.url()), Some("sk-test".into()))
        .unwrap()
        .model("gpt-4o")
}

async fn openai_complete_and_stream() {
    let server = Server::start().await;
    server.push(Reply::json(
        200,
        json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT, "refusal": null},
                "logprobs": null, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 90, "completion_tokens": 33, "total_tokens": 123}}),
    ));
    let completion = openai(&server).complete(&request().json()).await.unwrap();
    assert_eq!(completion.text, TEXT);
    assert_eq!(completion.stop_reason, FinishReason::MaxTokens);
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 90,
            output_tokens: 33
        }
    );
    let sent = &server.received()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(sent.body["model"], "gpt-4o");
    assert_eq!(sent.body["max_tokens"], 512);
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "system", "content": "You fix builds."},
               {"role": "user", "content": "Fix the build. Answer in JSON."}])
    );
    assert_eq!(sent.body["response_format"], json!({"type": "json_object"}));

    for size in [4, 33] {
        server.push(Reply::sse(&openai_stream(TEXT), size));
        let completion = collect(openai(&server).stream(request())).await.unwrap();
        assert_eq!(completion.text, TEXT, "pieces of {size} bytes");
        assert_eq!(completion.usage.total(), 123);
        assert_eq!(completion.stop_reason, FinishReason::EndTurn);
    }
    let streamed = server.received().pop().unwrap();
    assert_eq!(streamed.body["stream"], true);
    assert_eq!(
        streamed.body["stream_options"],
        json!({"include_usage": true})
    );
    assert!(streamed.body.get("response_format").is_none());
}

async fn openai_errors_tell_quota_from_rate_limits() {
    let server = Server::start().await;
    let provider = openai(&server);
    server.push(Reply::json(
        429,
        json!({"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
    ));
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::QuotaExhausted);
    assert!(!e.kind.is_retryable());

    server.push(Reply::json_with(
        429,
        json!({"error": {"message": "Rate limit reached for gpt-4o", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
        &[("retry-after-ms", "1500"), ("retry-after", "2")],
    ));
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_millis(1500)));

    server.push(Reply::json(
        400,
        json!({"error": {"message": "This model's maximum context length is 128000 tokens.", "type": "invalid_request_error",
            "param": "messages", "code": "context_length_exceeded"}}),
    ));
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::ContextLength);

    // Compatible servers answer in their own shapes.
    server.push(Reply::json(
        404,
        json!({"error": "model \"qwen\" not found, try pulling it first"}),
    ));
    let e = provider_error(provider.complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::NotFound);
    assert_eq!(e.message, "model \"qwen\" not found, try pulling it first");
}

async fn azure_uses_deployments_and_api_key() {
    let server = Server::start().await;
    server.push(Reply::json(
        200,
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
    ));
    let azure = OpenAi::azure(server.url(), "fixer", "2024-10-21", "azure-key").unwrap();
    azure.complete(&request()).await.unwrap();
    let sent = &server.received()[0];
    assert_eq!(
        sent.path,
        "/openai/deployments/fixer/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(sent.header("api-key"), Some("azure-key"));
    assert_eq!(sent.header("authorization"), None);
    assert!(sent.body.get("model").is_none());
    assert_eq!(sent.body["max_completion_tokens"], 512);
}

fn gemini(server: &Server) -> Gemini {
    Gemini::new("g-key").unwrap().base_url(server.url())
}

async fn gemini_complete_and_stream() {
    let server = Server::start().await;
    server.push(Reply::json(
        200,
        json!({"candidates": [{"content": {"parts": [{"text": TEXT}], "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": 20, "totalTokenCount": 90},
            "modelVersion": "gemini-2.5-pro"}),
    ));
    let completion = gemini(&server).complete(&request().json()).await.unwrap();
    assert_eq!(completion.text, TEXT);
    assert_eq!(completion.usage.total(), 90);
    assert_eq!(completion.model, "gemini-2.5-pro");
    let sent = &server.received()[0];
    assert_eq!(sent.path, "/models/gemini-2.5-pro:generateContent");
    assert_eq!(sent.header("x-goog-api-key"), Some("g-key"));
    assert_eq!(
        sent.body["systemInstruction"],
        json!({"parts": [{"text": "You fix builds."}]})
    );
    assert_eq!(sent.body["contents"][0]["role"], "user");
    assert_eq!(sent.body["generationConfig"]["maxOutputTokens"], 512);
    assert_eq!(
        sent.body["generationConfig"]["responseMimeType"],
        "application/json"
    );

    let pieces = split(TEXT, 9);
    let mut events = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        let mut chunk = json!({"candidates": [{"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": (i + 1) * 2}});
        if last {
            chunk["candidates"][0]["finishReason"] = json!("MAX_TOKENS");
        }
        events.push(("", chunk));
    }
    server.push(Reply::sse(&sse_text(&events).replace('\n', "\r\n"), 6));
    let completion = collect(gemini(&server).stream(request())).await.unwrap();
    assert_eq!(completion.text, TEXT);
    assert_eq!(completion.stop_reason, FinishReason::MaxTokens);
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 70,
            output_tokens: pieces.len() as u64 * 2
        }
    );
    assert_eq!(
        server.received()[1].path,
        "/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    );
}

async fn gemini_errors_and_retry_info() {
    let server = Server::start().await;
    server.push(Reply::json(
        429,
        json!({"error": {"code": 429, "message": "Quota exceeded for metric: generate_content_requests_per_minute",
            "status": "RESOURCE_EXHAUSTED", "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}),
    ));
    let e = provider_error(gemini(&server).complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::RateLimited);
    assert_eq!(e.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));

    server.push(Reply::json(
        400,
        json!({"error": {"code": 400, "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            "status": "INVALID_ARGUMENT"}}),
    ));
    let e = provider_error(gemini(&server).complete(&request()).await);
    assert_eq!(e.kind, ProviderErrorKind::ContextLength);

    server.push(Reply::json(
        200,
        json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5}}),
    ));
    let completion = gemini(&server).complete(&request()).await.unwrap();
    assert_eq!(completion.stop_reason, FinishReason::ContentFilter);
    assert_eq!(completion.text, "");
}

fn missing_keys_are_clear_config_errors() {
    let none = |_: &str| None;
    let message = |r: Result<(), Error>| r.unwrap_err().to_string();
    assert_eq!(
        message(Anthropic::from_vars(none).map(|_| ())),
        "not configured: ANTHROPIC_API_KEY is not set"
    );
    assert_eq!(
        message(OpenAi::from_vars(none).map(|_| ())),
        "not configured: OPENAI_API_KEY is not set (nor OPENAI_BASE_URL for a local server)"
    );
    assert_eq!(
        message(Gemini::from_vars(|k| (k == "GEMINI_API_KEY").then(|| "  ".into())).map(|_| ())),
        "not configured: GEMINI_API_KEY is not set"
    );
    let local =
        OpenAi::from_vars(|k| (k == "OPENAI_BASE_URL").then(|| "http://localhost:11434/v1".into()));
    assert_eq!(
        local.unwrap().endpoint(),
        "http://localhost:11434/v1/chat/completions"
    );
    let claude = Anthropic::from_vars(|k| match k {
        "ANTHROPIC_API_KEY" => Some("k".into()),
        "ANTHROPIC_MODEL" => Some("claude-haiku-4-5".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(claude.default_model(), "claude-haiku-4-5");
}

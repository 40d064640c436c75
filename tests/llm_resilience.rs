//! The resilience layers around real providers talking to a scripted server on 127.0.0.1:
//! retries and their delays (on a virtual clock: nothing sleeps), breaker state changes,
//! fallback order and mid-stream switches, usage, cost and budget refusals.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use selfheal::Error;
use selfheal::llm::{
    Anthropic, BreakerConfig, BreakerState, Budget, BudgetLimit, CircuitBreaker, CompletionRequest,
    Fallback, LayerOptions, Meter, Metered, OpenAi, PriceTable, Provider, ProviderErrorKind,
    Redacted, Retry, RetryPolicy, StreamEvent, Usage, chain_from_vars, collect, provider_from_vars,
};
use selfheal::redact::Redactor;
use selfheal::time::{Jitter, VirtualClock};
use selfheal_test_harness::{Test, trial};
use serde_json::{Value, json};

use crate::support::{Reply, Server, sse_text};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(async defaults_survive_three_transient_failures),
        trial!(async permanent_failures_are_not_retried),
        trial!(async waits_are_capped_and_deadlines_respected),
        trial!(async streams_are_retried_and_a_failed_answer_is_started_over),
        trial!(async breaker_opens_probes_and_closes),
        trial!(async fallback_moves_down_the_chain_in_order),
        trial!(async fallback_skips_an_open_breaker_without_calling_it),
        trial!(async a_stream_failing_midway_continues_on_the_next_provider),
        trial!(async the_meter_counts_tokens_and_dollars_of_every_call),
        trial!(async budgets_refuse_calls_before_they_are_made),
        trial!(async the_full_stack_heals_through_failures_and_accounts_for_them),
        trial!(async requests_are_redacted_before_they_leave),
        trial!(async the_chain_from_configuration_is_the_seed_order),
        trial!(async one_provider_from_configuration_is_stacked_like_the_packages_ones),
    ]
}

fn request() -> CompletionRequest {
    CompletionRequest::new("Fix the build.").max_tokens(100)
}

fn anthropic(server: &Server) -> Arc<dyn Provider> {
    Arc::new(
        Anthropic::new("k")
            .unwrap()
            .base_url(server.url())
            .timeout(Duration::from_secs(10)),
    )
}

fn openai(server: &Server) -> Arc<dyn Provider> {
    Arc::new(
        OpenAi::compatible(server.url(), Some("k".into()))
            .unwrap()
            .model("gpt-4o"),
    )
}

fn claude_reply(text: &str) -> Reply {
    Reply::json(
        200,
        json!({"content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "model": "claude-sonnet-4-5-20250929", "usage": {"input_tokens": 1000, "output_tokens": 500}}),
    )
}

fn gpt_reply(text: &str) -> Reply {
    Reply::json(
        200,
        json!({"model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
            "finish_reason": "stop"}], "usage": {"prompt_tokens": 10, "completion_tokens": 5}}),
    )
}

fn anthropic_error(kind: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": kind}})
}

fn claude_stream(text: &str) -> String {
    sse_text(&[
        (
            "message_start",
            json!({"type": "message_start", "message": {"model": "claude-sonnet-4-5", "usage": {"input_tokens": 200, "output_tokens": 1}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 30}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ])
}

fn retry(inner: Arc<dyn Provider>, clock: &VirtualClock) -> Retry {
    Retry::new(inner, RetryPolicy::default())
        .clock(Arc::new(clock.clone()))
        .jitter(Arc::new(Jitter::seeded(42)))
}

fn within(actual: Duration, expected: Duration, spread: f64) -> bool {
    let (a, e) = (actual.as_secs_f64(), expected.as_secs_f64());
    a >= e * (1.0 - spread) - 1e-9 && a <= e * (1.0 + spread) + 1e-9
}

async fn defaults_survive_three_transient_failures() {
    let server = Server::start().await;
    let clock = VirtualClock::new();
    server.push(Reply::json_with(
        429,
        anthropic_error("rate_limit_error"),
        &[("retry-after", "3")],
    ));
    server.push(Reply::json(529, anthropic_error("overloaded_error")));
    let body = json!({"content": [{"type": "text", "text": "x"}]}).to_string();
    let sent = body.len() / 2;
    server.push(Reply::CutBody { body, sent });
    server.push(claude_reply("fixed"));

    let completion = retry(anthropic(&server), &clock)
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(completion.text, "fixed");
    assert_eq!(server.received().len(), 4);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    assert_eq!(sleeps[0], Duration::from_secs(3), "Retry-After is honoured");
    assert!(within(sleeps[1], Duration::from_secs(2), 0.1), "{sleeps:?}");
    assert!(within(sleeps[2], Duration::from_secs(4), 0.1), "{sleeps:?}");
}

async fn permanent_failures_are_not_retried() {
    for (status, body) in [
        (400, anthropic_error("invalid_request_error")),
        (401, anthropic_error("authentication_error")),
        (403, anthropic_error("permission_error")),
        (404, anthropic_error("not_found_error")),
        (
            400,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 300000 tokens > 200000 maximum"}}),
        ),
    ] {
        let server = Server::start().await;
        let clock = VirtualClock::new();
        server.push(Reply::json(status, body.clone()));
        let result = retry(anthropic(&server), &clock).complete(&request()).await;
        assert!(result.is_err(), "{body}");
        assert_eq!(server.received().len(), 1, "{body}");
        assert!(clock.sleeps().is_empty());
    }
    let server = Server::start().await;
    let clock = VirtualClock::new();
    server.push(Reply::json(
        429,
        json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}),
    ));
    let result = retry(openai(&server), &clock).complete(&request()).await;
    assert!(
        matches!(&result, Err(Error::Provider(e)) if e.kind == ProviderErrorKind::QuotaExhausted)
    );
    assert_eq!(server.received().len(), 1);
}

async fn waits_are_capped_and_deadlines_respected() {
    let server = Server::start().await;
    let clock = VirtualClock::new();
    let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(600));
    server.push(Reply::json_with(
        503,
        anthropic_error("api_error"),
        &[("retry-after", &later)],
    ));
    server.push(claude_reply("ok"));
    retry(anthropic(&server), &clock)
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_secs(60)],
        "an HTTP-date ten minutes away is cut to the cap"
    );

    // 10 s asked, 5 s allowed: no attempt is started that could not finish in time.
    let server = Server::start().await;
    let clock = VirtualClock::new();
    server.push(Reply::json_with(
        429,
        anthropic_error("rate_limit_error"),
        &[("retry-after", "10")],
    ));
    let timed = request().timeout(Duration::from_secs(5));
    let result = retry(anthropic(&server), &clock).complete(&timed).await;
    assert!(matches!(&result, Err(Error::Provider(e)) if e.kind == ProviderErrorKind::RateLimited));
    assert_eq!(server.received().len(), 1);
    assert!(clock.sleeps().is_empty());

    // Attempts give up after max_attempts.
    let server = Server::start().await;
    let clock = VirtualClock::new();
    for _ in 0..6 {
        server.push(Reply::json(500, anthropic_error("api_error")));
    }
    let result = retry(anthropic(&server), &clock).complete(&request()).await;
    assert!(result.is_err());
    assert_eq!(server.received().len(), 5);
    assert_eq!(clock.sleeps().len(), 4);
}

async fn streams_are_retried_and_a_failed_answer_is_started_over() {
    let server = Server::start().await;
    let clock = VirtualClock::new();
    server.push(Reply::json(529, anthropic_error("overloaded_error")));
    let full = claude_stream("never");
    server.push(Reply::sse_dropped(
        &full,
        16,
        full.find("never").unwrap() - 40,
    ));
    server.push(Reply::sse(&claude_stream("the answer"), 13));
    let completion = collect(retry(anthropic(&server), &clock).stream(request()))
        .await
        .unwrap();
    assert_eq!(completion.text, "the answer");
    assert_eq!(server.received().len(), 3);
    assert_eq!(clock.sleeps().len(), 2);
    // Usage of the dropped attempt (its message_start) is counted too.
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 400,
            output_tokens: 31
        }
    );

    // A failure after text has arrived starts the answer over: the caller is told to drop
    // what it has, and gets the whole second answer.
    let server = Server::start().await;
    let full = claude_stream("half an answer");
    server.push(Reply::sse_dropped(
        &full,
        16,
        full.find("message_delta").unwrap(),
    ));
    let mut overloaded = claude_stream("half");
    overloaded.truncate(overloaded.find("event: message_delta").unwrap());
    overloaded.push_str(&sse_text(&[("error", anthropic_error("overloaded_error"))]));
    server.push(Reply::sse(&overloaded, 16));
    server.push(Reply::sse(&claude_stream("a whole answer"), 13));
    let mut events = retry(anthropic(&server), &clock).stream(request());
    let mut restarts = Vec::new();
    let mut collector = Vec::new();
    while let Some(event) = events.next().await {
        if let StreamEvent::Switched { error, .. } = &event {
            restarts.push(error.as_provider_error().map(|e| e.kind));
        }
        collector.push(event);
    }
    assert_eq!(
        restarts,
        [
            Some(ProviderErrorKind::Connection),
            Some(ProviderErrorKind::Overloaded)
        ]
    );
    let completion = collect(Box::pin(futures_util::stream::iter(collector)))
        .await
        .unwrap();
    assert_eq!(completion.text, "a whole answer");
    assert_eq!(server.received().len(), 3);

    // A failure that is not transient is passed on, text or not.
    let server = Server::start().await;
    let mut refused = claude_stream("half");
    refused.truncate(refused.find("event: message_delta").unwrap());
    refused.push_str(&sse_text(&[(
        "error",
        anthropic_error("invalid_request_error"),
    )]));
    server.push(Reply::sse(&refused, 16));
    let result = collect(retry(anthropic(&server), &clock).stream(request())).await;
    assert!(matches!(result, Err(Error::Provider(e)) if !e.kind.is_retryable()));
    assert_eq!(server.received().len(), 1);
}

async fn breaker_opens_probes_and_closes() {
    let server = Server::start().await;
    let clock = VirtualClock::new();
    let config = BreakerConfig {
        failure_threshold: 2,
        reset_timeout: Duration::from_secs(30),
        half_open_probes: 1,
    };
    let breaker = CircuitBreaker::with_clock(anthropic(&server), config, Arc::new(clock.clone()));
    assert_eq!(breaker.state(), BreakerState::Closed);

    // A refused request says nothing about the provider.
    server.push(Reply::json(400, anthropic_error("invalid_request_error")));
    assert!(breaker.complete(&request()).await.is_err());
    server.push(Reply::json(500, anthropic_error("api_error")));
    assert!(breaker.complete(&request()).await.is_err());
    assert_eq!(breaker.state(), BreakerState::Closed);
    server.push(Reply::json(529, anthropic_error("overloaded_error")));
    assert!(breaker.complete(&request()).await.is_err());
    assert_eq!(breaker.state(), BreakerState::Open);

    let refused = breaker.complete(&request()).await;
    match refused {
        Err(Error::CircuitOpen { retry_in, .. }) => assert_eq!(retry_in, Duration::from_secs(30)),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received().len(), 3, "an open circuit calls nobody");

    clock.advance(Duration::from_secs(30));
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    server.push(Reply::json(500, anthropic_error("api_error")));
    assert!(breaker.complete(&request()).await.is_err());
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "a failed probe reopens"
    );

    clock.advance(Duration::from_secs(30));
    server.push(claude_reply("back"));
    assert_eq!(breaker.complete(&request()).await.unwrap().text, "back");
    assert_eq!(breaker.state(), BreakerState::Closed);

    // Streams count too.
    server.push(Reply::json(500, anthropic_error("api_error")));
    server.push(Reply::json(500, anthropic_error("api_error")));
    for _ in 0..2 {
        assert!(collect(breaker.stream(request())).await.is_err());
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(matches!(
        collect(breaker.stream(request())).await,
        Err(Error::CircuitOpen { .. })
    ));
}

async fn fallback_moves_down_the_chain_in_order() {
    let primary = Server::start().await;
    let secondary = Server::start().await;
    let chain = Fallback::new(vec![anthropic(&primary), openai(&secondary)]);
    assert_eq!(chain.name(), "fallback(anthropic, openai)");

    primary.push(Reply::json(401, anthropic_error("authentication_error")));
    secondary.push(gpt_reply("from gpt"));
    let completion = chain.complete(&request()).await.unwrap();
    assert_eq!(
        (completion.text.as_str(), completion.provider.as_str()),
        ("from gpt", "openai")
    );
    assert_eq!(primary.received().len(), 1);

    primary.push(claude_reply("from claude"));
    assert_eq!(
        chain.complete(&request()).await.unwrap().provider,
        "anthropic"
    );
    assert_eq!(
        secondary.received().len(),
        1,
        "the secondary is only asked when needed"
    );

    primary.push(Reply::json(500, anthropic_error("api_error")));
    secondary.push(Reply::json(503, json!({"error": {"message": "busy"}})));
    match chain.complete(&request()).await {
        Err(Error::AllProvidersFailed(errors)) => {
            let providers: Vec<_> = errors
                .iter()
                .map(|e| e.as_provider_error().unwrap().provider.clone())
                .collect();
            assert_eq!(providers, ["anthropic", "openai"]);
        }
        other => panic!("{other:?}"),
    }
}

async fn fallback_skips_an_open_breaker_without_calling_it() {
    let primary = Server::start().await;
    let secondary = Server::start().await;
    let clock = VirtualClock::new();
    let config = BreakerConfig {
        failure_threshold: 1,
        ..BreakerConfig::default()
    };
    let guarded: Arc<dyn Provider> = Arc::new(CircuitBreaker::with_clock(
        anthropic(&primary),
        config,
        Arc::new(clock.clone()),
    ));
    let chain = Fallback::new(vec![guarded, openai(&secondary)]);
    primary.push(Reply::json(529, anthropic_error("overloaded_error")));
    secondary.push(gpt_reply("one"));
    secondary.push(gpt_reply("two"));
    assert_eq!(chain.complete(&request()).await.unwrap().text, "one");
    assert_eq!(chain.complete(&request()).await.unwrap().text, "two");
    assert_eq!(
        primary.received().len(),
        1,
        "the open breaker kept the primary out"
    );
}

async fn a_stream_failing_midway_continues_on_the_next_provider() {
    let primary = Server::start().await;
    let secondary = Server::start().await;
    let chain = Fallback::new(vec![anthropic(&primary), openai(&secondary)]);
    let full = claude_stream("abandoned answer");
    primary.push(Reply::sse_dropped(
        &full,
        20,
        full.find("message_delta").unwrap(),
    ));
    let gpt = sse_text(&[
        (
            "",
            json!({"choices": [{"index": 0, "delta": {"content": "complete "}, "finish_reason": null}]}),
        ),
        (
            "",
            json!({"choices": [{"index": 0, "delta": {"content": "answer"}, "finish_reason": "stop"}]}),
        ),
    ]) + "data: [DONE]\n\n";
    secondary.push(Reply::sse(&gpt, 10));

    let mut events = chain.stream(request());
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        seen.push(match event {
            StreamEvent::Start { provider, .. } => format!("start {provider}"),
            StreamEvent::Text(text) => format!("text {text}"),
            StreamEvent::Usage(_) => "usage".into(),
            StreamEvent::Stop(_) => "stop".into(),
            StreamEvent::Error(e) => format!("error {e}"),
            StreamEvent::Switched { to, error } => {
                assert_eq!(
                    error.as_provider_error().unwrap().kind,
                    ProviderErrorKind::Connection
                );
                format!("switched to {to}")
            }
        });
    }
    assert_eq!(
        seen,
        [
            "start anthropic",
            "usage",
            "text abandoned answer",
            "switched to openai",
            "start openai",
            "text complete ",
            "text answer",
            "stop"
        ]
    );
    primary.push(Reply::sse_dropped(
        &full,
        20,
        full.find("message_delta").unwrap(),
    ));
    secondary.push(Reply::sse(&gpt, 10));
    let completion = collect(chain.stream(request())).await.unwrap();
    assert_eq!(
        completion.text, "complete answer",
        "text before the switch is dropped"
    );
    assert_eq!(completion.provider, "openai");
}

async fn the_meter_counts_tokens_and_dollars_of_every_call() {
    let server = Server::start().await;
    let meter = Meter::new(Budget::unlimited());
    let metered = Metered::new(anthropic(&server), meter.clone());

    server.push(claude_reply("ok"));
    metered.complete(&request()).await.unwrap();
    server.push(Reply::json(500, anthropic_error("api_error")));
    assert!(metered.complete(&request()).await.is_err());
    let full = claude_stream("cut");
    server.push(Reply::sse_dropped(
        &full,
        20,
        full.find("message_delta").unwrap(),
    ));
    assert!(collect(metered.stream(request())).await.is_err());

    let report = meter.report();
    assert_eq!((report.calls, report.failed_calls), (3, 2));
    assert_eq!(
        report.usage,
        Usage {
            input_tokens: 1200,
            output_tokens: 501
        }
    );
    let expected = (1000.0 * 3.0 + 500.0 * 15.0 + 200.0 * 3.0 + 1.0 * 15.0) / 1e6;
    assert!(
        (report.cost_usd - expected).abs() < 1e-12,
        "{}",
        report.cost_usd
    );
    assert_eq!(report.records[0].model, "claude-sonnet-4-5-20250929");
    assert!(
        report.records[1]
            .error
            .as_deref()
            .unwrap()
            .contains("HTTP 500")
    );
    assert_eq!(
        report.records[2].usage.input_tokens, 200,
        "usage of a failed stream"
    );
}

async fn budgets_refuse_calls_before_they_are_made() {
    let server = Server::start().await;
    let tokens = Meter::new(Budget::default().max_tokens(1550));
    let metered = Metered::new(anthropic(&server), tokens.clone());
    server.push(claude_reply("ok"));
    metered.complete(&request()).await.unwrap();
    match metered.complete(&request()).await {
        Err(Error::Budget(e)) => {
            assert_eq!(e.limit, BudgetLimit::Tokens);
            assert_eq!(e.spent, 1500.0);
            assert_eq!(e.needed, 104.0, "4 prompt tokens and a 100-token answer");
            assert_eq!(e.allowed, 1550.0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.received().len(),
        1,
        "the refused call was never sent"
    );
    assert_eq!(tokens.report().calls, 1);

    // Dollars: a 1M-token answer of a $15/M model cannot fit in $1.
    let dollars = Meter::new(Budget::default().max_usd(1.0));
    let big = request().max_tokens(1_000_000);
    let result = Metered::new(anthropic(&server), dollars)
        .complete(&big)
        .await;
    assert!(matches!(result, Err(Error::Budget(e)) if e.limit == BudgetLimit::Usd));

    // Time: on a virtual clock, after the budget's time the meter refuses.
    let clock = VirtualClock::new();
    let timed = Meter::with_clock(
        Budget::default().time(Duration::from_secs(60)),
        PriceTable::defaults(),
        Arc::new(clock.clone()),
    );
    let metered = Metered::new(anthropic(&server), timed.clone());
    clock.advance(Duration::from_secs(45));
    assert_eq!(timed.time_left(), Some(Duration::from_secs(15)));
    server.push(claude_reply("in time"));
    metered.complete(&request()).await.unwrap();
    clock.advance(Duration::from_secs(15));
    let late = metered.complete(&request()).await;
    assert!(matches!(late, Err(Error::Budget(e)) if e.limit == BudgetLimit::Time));
    let streamed = collect(metered.stream(request())).await;
    assert!(matches!(streamed, Err(Error::Budget(_))));
    assert_eq!(server.received().len(), 2);

    // A spent budget ends a fallback chain: the next provider could not afford it either.
    let other = Server::start().await;
    let spent = Meter::new(Budget::default().max_tokens(10));
    let chain = Fallback::new(vec![
        Arc::new(Metered::new(anthropic(&server), spent.clone())),
        Arc::new(Metered::new(openai(&other), spent)),
    ]);
    assert!(matches!(
        chain.complete(&request()).await,
        Err(Error::Budget(_))
    ));
    assert!(other.received().is_empty());
}

async fn the_full_stack_heals_through_failures_and_accounts_for_them() {
    let primary = Server::start().await;
    let secondary = Server::start().await;
    let clock = VirtualClock::new();
    let meter = Meter::new(Budget::unlimited());
    let stack = |provider: Arc<dyn Provider>| -> Arc<dyn Provider> {
        let metered: Arc<dyn Provider> = Arc::new(Metered::new(provider, meter.clone()));
        let guarded: Arc<dyn Provider> = Arc::new(CircuitBreaker::with_clock(
            metered,
            BreakerConfig::default(),
            Arc::new(clock.clone()),
        ));
        Arc::new(retry(guarded, &clock))
    };
    let chain = Fallback::new(vec![stack(anthropic(&primary)), stack(openai(&secondary))])
        .clock(Arc::new(clock.clone()));

    // Five overloads exhaust the primary's retries and open its breaker; GPT answers.
    for _ in 0..5 {
        primary.push(Reply::json(529, anthropic_error("overloaded_error")));
    }
    secondary.push(gpt_reply("from the fallback"));
    let completion = chain.complete(&request()).await.unwrap();
    assert_eq!(completion.text, "from the fallback");
    assert_eq!(primary.received().len(), 5);

    // The next call skips the open breaker at once.
    secondary.push(gpt_reply("again"));
    assert_eq!(chain.complete(&request()).await.unwrap().text, "again");
    assert_eq!(primary.received().len(), 5);

    let report = meter.report();
    assert_eq!((report.calls, report.failed_calls), (7, 5));
    assert_eq!(report.usage.total(), 30);
    let waited: Duration = clock.sleeps().iter().sum();
    assert!(
        waited > Duration::from_secs(12) && waited < Duration::from_secs(18),
        "{waited:?}"
    );
}

async fn requests_are_redacted_before_they_leave() {
    let server = Server::start().await;
    server.push(claude_reply("ok"));
    let redacted = Redacted::new(
        anthropic(&server),
        Redactor::new().with_secret("hunter2-db-pass"),
    );
    let request = CompletionRequest::new(
        "npm ERR! 401 with token npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789\nDATABASE_PASSWORD=hunter2-db-pass",
    )
    .system("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz");
    redacted.complete(&request).await.unwrap();
    let sent = server.received()[0].body.to_string();
    for secret in ["npm_AbCdEf", "hunter2-db-pass", "sk-ant-api03"] {
        assert!(!sent.contains(secret), "{secret} leaked: {sent}");
    }
    assert!(sent.contains("[REDACTED:npm-token]") && sent.contains("[REDACTED:anthropic-key]"));
}

async fn the_chain_from_configuration_is_the_seed_order() {
    let claude = Server::start().await;
    let gpt = Server::start().await;
    let (claude_url, gpt_url) = (claude.url(), gpt.url());
    let vars = move |name: &str| match name {
        "ANTHROPIC_API_KEY" => Some("k".to_string()),
        "ANTHROPIC_BASE_URL" => Some(claude_url.clone()),
        "OPENAI_BASE_URL" => Some(gpt_url.clone()),
        _ => None,
    };
    let meter = Meter::new(Budget::unlimited());
    let chain = chain_from_vars(vars, &meter).unwrap();
    assert_eq!(chain.name(), "fallback(anthropic, openai)");
    claude.push(Reply::json(401, anthropic_error("authentication_error")));
    gpt.push(gpt_reply("second in line"));
    assert_eq!(
        chain.complete(&request()).await.unwrap().text,
        "second in line"
    );
    assert_eq!(meter.report().calls, 2);
    assert!(matches!(
        chain_from_vars(|_: &str| None, &meter),
        Err(Error::Config(_))
    ));
}

async fn one_provider_from_configuration_is_stacked_like_the_packages_ones() {
    let google = Server::start().await;
    let url = google.url();
    let vars = move |name: &str| match name {
        "GOOGLE_API_KEY" => Some("g".to_string()),
        "GEMINI_BASE_URL" => Some(url.clone()),
        _ => None,
    };
    let layers = LayerOptions::default();
    // No name: the first configured in the seed's order — Gemini through GOOGLE_API_KEY.
    let found = provider_from_vars(None, Some("gemini-test"), &layers, &vars)
        .unwrap()
        .expect("configured");
    assert_eq!(
        (found.name(), found.default_model()),
        ("gemini", "gemini-test")
    );
    // Behind retries: a 503 is tried again and the answer comes through.
    google.push(Reply::json(
        503,
        json!({"error": {"code": 503, "status": "UNAVAILABLE"}}),
    ));
    google.push(Reply::json(
        200,
        json!({"candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}]}),
    ));
    let quick =
        LayerOptions::from_parts(Some(json!({"base_delay": 0.01})), None, None, None).unwrap();
    let retried = provider_from_vars(Some("gemini"), None, &quick, &vars)
        .unwrap()
        .unwrap();
    assert_eq!(retried.complete(&request()).await.unwrap().text, "ok");
    assert_eq!(google.received().len(), 2);

    let nothing = |_: &str| None;
    assert!(
        provider_from_vars(None, None, &layers, nothing)
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        provider_from_vars(Some("anthropic"), None, &layers, nothing),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        provider_from_vars(Some("mistral"), None, &layers, nothing),
        Err(Error::InvalidInput(_))
    ));
}

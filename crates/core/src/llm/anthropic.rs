//! Anthropic's Messages API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::http::{self, ErrorBody, JsonEvent, text_at};
use super::{
    Completion, CompletionRequest, CompletionStream, FinishReason, Provider, ProviderError,
    ProviderErrorKind, Role, StreamEvent, Usage, UsageCounter,
};
use crate::{Error, Result};

const NAME: &str = "anthropic";

/// Claude through the Messages API (`x-api-key`, `anthropic-version`).
///
/// ```no_run
/// use selfheal::llm::Anthropic;
///
/// let claude = Anthropic::from_env()?.model("claude-haiku-4-5");
/// # Ok::<(), selfheal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Anthropic {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    api_key: String,
    base_url: String,
    version: String,
    model: String,
    timeout: Duration,
    client: reqwest::Client,
}

impl Anthropic {
    /// The model used when a request names none.
    pub const DEFAULT_MODEL: &'static str = "claude-sonnet-4-5";

    /// A provider with this key and the defaults: `https://api.anthropic.com`, API version
    /// `2023-06-01`, [`Anthropic::DEFAULT_MODEL`], 10 minutes per call at most.
    pub fn new(api_key: impl Into<String>) -> Result<Self> {
        Ok(Anthropic {
            config: Arc::new(Config {
                api_key: api_key.into(),
                base_url: "https://api.anthropic.com".into(),
                version: "2023-06-01".into(),
                model: Self::DEFAULT_MODEL.into(),
                timeout: Duration::from_secs(600),
                client: http::default_client()?,
            }),
        })
    }

    /// From `ANTHROPIC_API_KEY` (required), `ANTHROPIC_BASE_URL` and `ANTHROPIC_MODEL`.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(super::env_var)
    }

    /// As [`Anthropic::from_env`], reading the variables from `vars` (a host's configuration).
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = |name: &str| vars(name).filter(|v| !v.trim().is_empty());
        let key = vars("ANTHROPIC_API_KEY")
            .ok_or_else(|| Error::Config("ANTHROPIC_API_KEY is not set".into()))?;
        let mut provider = Anthropic::new(key)?;
        if let Some(url) = vars("ANTHROPIC_BASE_URL") {
            provider = provider.base_url(url);
        }
        if let Some(model) = vars("ANTHROPIC_MODEL") {
            provider = provider.model(model);
        }
        Ok(provider)
    }

    /// Another endpoint (a proxy, a gateway); `/v1/messages` is appended.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).base_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The default model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).model = model.into();
        self
    }

    /// The `anthropic-version` header.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).version = version.into();
        self
    }

    /// The longest one HTTP call may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).timeout = timeout;
        self
    }

    /// The HTTP client to use (proxies, custom roots).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        Arc::make_mut(&mut self.config).client = client;
        self
    }

    /// The endpoint calls go to.
    pub fn endpoint(&self) -> String {
        format!("{}/v1/messages", self.config.base_url)
    }

    fn body(&self, request: &CompletionRequest, stream: bool) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                json!({"role": role, "content": m.content})
            })
            .collect();
        let mut body = json!({
            "model": request.model.as_deref().unwrap_or(&self.config.model),
            "max_tokens": request.max_tokens,
            "messages": messages,
        });
        if let Some(system) = &request.system {
            body["system"] = json!(system);
        }
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        if !request.stop.is_empty() {
            body["stop_sequences"] = json!(request.stop);
        }
        if stream {
            body["stream"] = json!(true);
        }
        body
    }

    async fn send(&self, request: &CompletionRequest, stream: bool) -> Result<reqwest::Response> {
        let config = &self.config;
        let builder = config
            .client
            .post(self.endpoint())
            .header("x-api-key", &config.api_key)
            .header("anthropic-version", &config.version);
        let timeout = request
            .timeout
            .map_or(config.timeout, |t| t.min(config.timeout));
        http::send(
            NAME,
            builder,
            &self.body(request, stream),
            timeout,
            describe,
        )
        .await
    }
}

/// `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`.
fn describe(body: &Value) -> ErrorBody {
    ErrorBody {
        code: text_at(body, "/error/type"),
        message: text_at(body, "/error/message"),
        retry_after: None,
    }
}

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" => FinishReason::EndTurn,
        "max_tokens" => FinishReason::MaxTokens,
        "stop_sequence" => FinishReason::StopSequence,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

fn usage(value: &Value) -> Usage {
    let count = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: count("input_tokens")
            + count("cache_creation_input_tokens")
            + count("cache_read_input_tokens"),
        output_tokens: count("output_tokens"),
    }
}

fn stream_error(event: &Value) -> Error {
    let code = text_at(event, "/error/type");
    let kind = match code.as_deref() {
        Some("overloaded_error") => ProviderErrorKind::Overloaded,
        Some("rate_limit_error") => ProviderErrorKind::RateLimited,
        Some("api_error") => ProviderErrorKind::Server,
        Some("invalid_request_error") => ProviderErrorKind::InvalidRequest,
        _ => ProviderErrorKind::Server,
    };
    let mut error = ProviderError::new(
        NAME,
        kind,
        text_at(event, "/error/message").unwrap_or_else(|| "error event in the stream".into()),
    );
    error.code = code;
    error.body = Some(event.to_string());
    error.into()
}

#[async_trait::async_trait]
impl Provider for Anthropic {
    fn name(&self) -> &str {
        NAME
    }

    fn default_model(&self) -> &str {
        &self.config.model
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        let started = Instant::now();
        let response = self.send(request, false).await?;
        let body = http::read_json(NAME, response).await?;
        let text: String = body
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| super::malformed(NAME, "no `content` in the reply", &body))?
            .iter()
            .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .collect();
        Ok(Completion {
            text,
            usage: body.get("usage").map(usage).unwrap_or_default(),
            stop_reason: stop_reason(body["stop_reason"].as_str().unwrap_or("end_turn")),
            model: text_at(&body, "/model").unwrap_or_else(|| self.config.model.clone()),
            provider: NAME.into(),
            latency: started.elapsed(),
        })
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let this = self.clone();
        Box::pin(async_stream::stream! {
            let model = request.model.clone().unwrap_or_else(|| this.config.model.clone());
            yield StreamEvent::Start { provider: NAME.into(), model };
            let response = match this.send(&request, true).await {
                Ok(response) => response,
                Err(error) => {
                    yield StreamEvent::Error(error);
                    return;
                }
            };
            let mut events = std::pin::pin!(http::json_events(NAME, response));
            let mut counter = UsageCounter::default();
            let mut stop = FinishReason::EndTurn;
            while let Some(event) = events.next().await {
                let (name, data) = match event {
                    Ok(JsonEvent::Data { name, data }) => (name, data),
                    Ok(JsonEvent::Done) => continue,
                    Err(error) => {
                        yield StreamEvent::Error(error);
                        return;
                    }
                };
                match data.get("type").and_then(Value::as_str).unwrap_or(&name) {
                    "message_start" => {
                        if let Some(added) = counter.total(usage(&data["message"]["usage"])) {
                            yield StreamEvent::Usage(added);
                        }
                    }
                    "content_block_delta" => {
                        if let Some(text) = data["delta"]["text"].as_str() {
                            yield StreamEvent::Text(text.to_string());
                        }
                    }
                    "message_delta" => {
                        if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                            stop = stop_reason(reason);
                        }
                        if let Some(added) = counter.total(usage(&data["usage"])) {
                            yield StreamEvent::Usage(added);
                        }
                    }
                    "message_stop" => {
                        yield StreamEvent::Stop(stop);
                        return;
                    }
                    "error" => {
                        yield StreamEvent::Error(stream_error(&data));
                        return;
                    }
                    _ => {}
                }
            }
            yield StreamEvent::Error(super::cut_short(NAME, "message_stop"));
        })
    }
}

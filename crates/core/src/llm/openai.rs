//! OpenAI's Chat Completions API, and every server that speaks it.

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

const NAME: &str = "openai";
const OFFICIAL: &str = "https://api.openai.com/v1";

/// Chat Completions: OpenAI itself, or any compatible server through its base URL — Ollama
/// (`http://localhost:11434/v1`), vLLM, LM Studio, OpenRouter — and Azure OpenAI.
///
/// ```no_run
/// use selfheal::llm::OpenAi;
///
/// let gpt = OpenAi::from_env()?;
/// let local = OpenAi::compatible("http://localhost:11434/v1", None)?.model("qwen2.5-coder");
/// let azure = OpenAi::azure("https://my-org.openai.azure.com", "gpt-4o", "2024-10-21", "key")?;
/// # Ok::<(), selfheal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OpenAi {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    /// Bearer token, or Azure's `api-key`.
    api_key: Option<String>,
    base_url: String,
    /// Azure: the deployment replaces the model, the key goes in `api-key`.
    azure: Option<Azure>,
    model: String,
    timeout: Duration,
    client: reqwest::Client,
}

#[derive(Debug, Clone)]
struct Azure {
    deployment: String,
    api_version: String,
}

impl OpenAi {
    /// The model used when a request names none.
    pub const DEFAULT_MODEL: &'static str = "gpt-4.1";

    /// OpenAI with this key and the defaults: [`OpenAi::DEFAULT_MODEL`], 10 minutes per call.
    pub fn new(api_key: impl Into<String>) -> Result<Self> {
        Self::with(Some(api_key.into()), OFFICIAL.into(), None)
    }

    /// A compatible server at `base_url` (up to, not including, `/chat/completions`); local
    /// servers need no key.
    pub fn compatible(base_url: impl Into<String>, api_key: Option<String>) -> Result<Self> {
        Self::with(api_key, base_url.into(), None)
    }

    /// Azure OpenAI: `endpoint` is `https://NAME.openai.azure.com`.
    pub fn azure(
        endpoint: impl Into<String>,
        deployment: impl Into<String>,
        api_version: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Result<Self> {
        let deployment = deployment.into();
        let mut provider = Self::with(
            Some(api_key.into()),
            endpoint.into(),
            Some(Azure {
                deployment: deployment.clone(),
                api_version: api_version.into(),
            }),
        )?;
        Arc::make_mut(&mut provider.config).model = deployment;
        Ok(provider)
    }

    fn with(api_key: Option<String>, base_url: String, azure: Option<Azure>) -> Result<Self> {
        Ok(OpenAi {
            config: Arc::new(Config {
                api_key,
                base_url: base_url.trim_end_matches('/').to_string(),
                azure,
                model: Self::DEFAULT_MODEL.into(),
                timeout: Duration::from_secs(600),
                client: http::default_client()?,
            }),
        })
    }

    /// From `OPENAI_API_KEY`, `OPENAI_BASE_URL` and `OPENAI_MODEL`. The key is required unless
    /// a base URL points at a server of your own.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(super::env_var)
    }

    /// As [`OpenAi::from_env`], reading the variables from `vars` (a host's configuration).
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = |name: &str| vars(name).filter(|v| !v.trim().is_empty());
        let key = vars("OPENAI_API_KEY");
        let base_url = vars("OPENAI_BASE_URL");
        let mut provider = match (key, base_url) {
            (key, Some(url)) => OpenAi::compatible(url, key)?,
            (Some(key), None) => OpenAi::new(key)?,
            (None, None) => {
                return Err(Error::Config(
                    "OPENAI_API_KEY is not set (nor OPENAI_BASE_URL for a local server)".into(),
                ));
            }
        };
        if let Some(model) = vars("OPENAI_MODEL") {
            provider = provider.model(model);
        }
        Ok(provider)
    }

    /// The default model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).model = model.into();
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
        let config = &self.config;
        match &config.azure {
            Some(azure) => format!(
                "{}/openai/deployments/{}/chat/completions?api-version={}",
                config.base_url, azure.deployment, azure.api_version
            ),
            None => format!("{}/chat/completions", config.base_url),
        }
    }

    /// OpenAI and Azure want `max_completion_tokens` (reasoning models refuse `max_tokens`);
    /// other servers know `max_tokens`.
    fn token_limit_field(&self) -> &'static str {
        if self.config.azure.is_some() || self.config.base_url == OFFICIAL {
            "max_completion_tokens"
        } else {
            "max_tokens"
        }
    }

    fn body(&self, request: &CompletionRequest, stream: bool) -> Value {
        let mut messages = Vec::with_capacity(request.messages.len() + 1);
        if let Some(system) = &request.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        for m in &request.messages {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            messages.push(json!({"role": role, "content": m.content}));
        }
        let mut body = json!({ "messages": messages });
        if self.config.azure.is_none() {
            body["model"] = json!(request.model.as_deref().unwrap_or(&self.config.model));
        }
        body[self.token_limit_field()] = json!(request.max_tokens);
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        // JSON mode is refused unless the conversation mentions JSON.
        if request.json && mentions_json(request) {
            body["response_format"] = json!({"type": "json_object"});
        }
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    async fn send(&self, request: &CompletionRequest, stream: bool) -> Result<reqwest::Response> {
        let config = &self.config;
        let mut builder = config.client.post(self.endpoint());
        if let Some(key) = &config.api_key {
            builder = match config.azure {
                Some(_) => builder.header("api-key", key),
                None => builder.bearer_auth(key),
            };
        }
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

fn mentions_json(request: &CompletionRequest) -> bool {
    let has = |text: &str| text.to_ascii_lowercase().contains("json");
    request.system.as_deref().is_some_and(has) || request.messages.iter().any(|m| has(&m.content))
}

/// One request to an embeddings endpoint in OpenAI's format (`POST {base_url}/embeddings`,
/// floats) for `texts`, with the endpoint's errors read as the chat provider reads them; the
/// reply's JSON. `name` names the caller in errors.
pub(crate) async fn embeddings(
    name: &str,
    client: &reqwest::Client,
    (base_url, api_key): (&str, Option<&str>),
    model: &str,
    texts: &[String],
    timeout: Duration,
) -> Result<Value> {
    let mut request = client.post(format!("{base_url}/embeddings"));
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    let body = json!({"model": model, "input": texts, "encoding_format": "float"});
    let response = http::send(name, request, &body, timeout, describe).await?;
    http::read_json(name, response).await
}

/// `{"error": {"message", "type", "code"}}`, or the shapes compatible servers use instead
/// (`{"error": "…"}`, `{"message": "…"}`, `{"detail": "…"}`).
fn describe(body: &Value) -> ErrorBody {
    let error = &body["error"];
    let message = error
        .as_str()
        .map(str::to_string)
        .or_else(|| text_at(error, "/message"))
        .or_else(|| text_at(body, "/message"))
        .or_else(|| text_at(body, "/detail"));
    let code = text_at(error, "/code").or_else(|| text_at(error, "/type"));
    ErrorBody {
        code,
        message,
        retry_after: None,
    }
}

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::EndTurn,
        "length" => FinishReason::MaxTokens,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

fn usage(value: &Value) -> Usage {
    Usage {
        input_tokens: value["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: value["completion_tokens"].as_u64().unwrap_or(0),
    }
}

fn stream_error(event: &Value) -> Error {
    let described = describe(event);
    let mut error = ProviderError::new(
        NAME,
        ProviderErrorKind::Server,
        described
            .message
            .unwrap_or_else(|| "error event in the stream".into()),
    );
    error.code = described.code;
    error.body = Some(event.to_string());
    error.into()
}

#[async_trait::async_trait]
impl Provider for OpenAi {
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
        let choice = body
            .pointer("/choices/0")
            .ok_or_else(|| super::malformed(NAME, "no `choices` in the reply", &body))?;
        Ok(Completion {
            text: text_at(choice, "/message/content").unwrap_or_default(),
            usage: usage(&body["usage"]),
            stop_reason: stop_reason(choice["finish_reason"].as_str().unwrap_or("stop")),
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
            let mut stop = None;
            while let Some(event) = events.next().await {
                let data = match event {
                    Ok(JsonEvent::Data { data, .. }) => data,
                    Ok(JsonEvent::Done) => {
                        yield StreamEvent::Stop(stop.unwrap_or(FinishReason::EndTurn));
                        return;
                    }
                    Err(error) => {
                        yield StreamEvent::Error(error);
                        return;
                    }
                };
                if data.get("error").is_some() {
                    yield StreamEvent::Error(stream_error(&data));
                    return;
                }
                if let Some(choice) = data.pointer("/choices/0") {
                    if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
                        && !text.is_empty()
                    {
                        yield StreamEvent::Text(text.to_string());
                    }
                    if let Some(reason) = choice["finish_reason"].as_str() {
                        stop = Some(stop_reason(reason));
                    }
                }
                if data["usage"].is_object()
                    && let Some(added) = counter.total(usage(&data["usage"]))
                {
                    yield StreamEvent::Usage(added);
                }
            }
            // Some servers close without `[DONE]`; a finish reason means the answer is whole.
            match stop {
                Some(stop) => yield StreamEvent::Stop(stop),
                None => yield StreamEvent::Error(super::cut_short(NAME, "[DONE]")),
            }
        })
    }
}

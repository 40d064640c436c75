//! Google's Gemini API (`generateContent`, `streamGenerateContent` with SSE).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::http::{self, ErrorBody, JsonEvent, google_duration, text_at};
use super::{
    Completion, CompletionRequest, CompletionStream, FinishReason, Provider, ProviderError,
    ProviderErrorKind, Role, StreamEvent, Usage, UsageCounter,
};
use crate::{Error, Result};

const NAME: &str = "gemini";

/// Gemini through the Generative Language API (`x-goog-api-key`).
///
/// ```no_run
/// use selfheal::llm::Gemini;
///
/// let gemini = Gemini::from_env()?.model("gemini-2.5-flash");
/// # Ok::<(), selfheal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Gemini {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    api_key: String,
    base_url: String,
    model: String,
    timeout: Duration,
    client: reqwest::Client,
}

impl Gemini {
    /// The model used when a request names none.
    pub const DEFAULT_MODEL: &'static str = "gemini-2.5-pro";

    /// A provider with this key and the defaults: `https://generativelanguage.googleapis.com/v1beta`,
    /// [`Gemini::DEFAULT_MODEL`], 10 minutes per call.
    pub fn new(api_key: impl Into<String>) -> Result<Self> {
        Ok(Gemini {
            config: Arc::new(Config {
                api_key: api_key.into(),
                base_url: "https://generativelanguage.googleapis.com/v1beta".into(),
                model: Self::DEFAULT_MODEL.into(),
                timeout: Duration::from_secs(600),
                client: http::default_client()?,
            }),
        })
    }

    /// From `GEMINI_API_KEY` (or `GOOGLE_API_KEY`), `GEMINI_BASE_URL` and `GEMINI_MODEL`.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(super::env_var)
    }

    /// As [`Gemini::from_env`], reading the variables from `vars` (a host's configuration).
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = |name: &str| vars(name).filter(|v| !v.trim().is_empty());
        let key = vars("GEMINI_API_KEY")
            .or_else(|| vars("GOOGLE_API_KEY"))
            .ok_or_else(|| Error::Config("GEMINI_API_KEY is not set".into()))?;
        let mut provider = Gemini::new(key)?;
        if let Some(url) = vars("GEMINI_BASE_URL") {
            provider = provider.base_url(url);
        }
        if let Some(model) = vars("GEMINI_MODEL") {
            provider = provider.model(model);
        }
        Ok(provider)
    }

    /// Another endpoint, up to (not including) `/models/…`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).base_url = url.into().trim_end_matches('/').to_string();
        self
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

    /// The endpoint a request goes to.
    pub fn endpoint(&self, model: &str, stream: bool) -> String {
        let model = model.strip_prefix("models/").unwrap_or(model);
        if stream {
            format!(
                "{}/models/{model}:streamGenerateContent?alt=sse",
                self.config.base_url
            )
        } else {
            format!("{}/models/{model}:generateContent", self.config.base_url)
        }
    }

    fn body(request: &CompletionRequest) -> Value {
        let contents: Vec<Value> = request
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "model",
                };
                json!({"role": role, "parts": [{"text": m.content}]})
            })
            .collect();
        let mut generation = json!({ "maxOutputTokens": request.max_tokens });
        if let Some(temperature) = request.temperature {
            generation["temperature"] = json!(temperature);
        }
        if !request.stop.is_empty() {
            generation["stopSequences"] = json!(request.stop);
        }
        if request.json {
            generation["responseMimeType"] = json!("application/json");
        }
        let mut body = json!({ "contents": contents, "generationConfig": generation });
        if let Some(system) = &request.system {
            body["systemInstruction"] = json!({"parts": [{"text": system}]});
        }
        body
    }

    async fn send(&self, request: &CompletionRequest, stream: bool) -> Result<reqwest::Response> {
        let config = &self.config;
        let model = request.model.as_deref().unwrap_or(&config.model);
        let builder = config
            .client
            .post(self.endpoint(model, stream))
            .header("x-goog-api-key", &config.api_key);
        let timeout = request
            .timeout
            .map_or(config.timeout, |t| t.min(config.timeout));
        http::send(NAME, builder, &Self::body(request), timeout, describe).await
    }
}

/// `{"error": {"code": 429, "message": "…", "status": "RESOURCE_EXHAUSTED", "details": [{"@type":
/// "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]}}`.
fn describe(body: &Value) -> ErrorBody {
    let retry_after = body["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|detail| detail["retryDelay"].as_str())
        .find_map(google_duration);
    ErrorBody {
        code: text_at(body, "/error/status"),
        message: text_at(body, "/error/message"),
        retry_after,
    }
}

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "STOP" => FinishReason::EndTurn,
        "MAX_TOKENS" => FinishReason::MaxTokens,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => {
            FinishReason::ContentFilter
        }
        other => FinishReason::Other(other.to_string()),
    }
}

fn usage(value: &Value) -> Usage {
    let count = |key: &str| value[key].as_u64().unwrap_or(0);
    Usage {
        input_tokens: count("promptTokenCount"),
        output_tokens: count("candidatesTokenCount") + count("thoughtsTokenCount"),
    }
}

/// The text of the first candidate, its finish reason, and whether the prompt was blocked.
fn read_chunk(chunk: &Value) -> (String, Option<FinishReason>) {
    let candidate = &chunk["candidates"][0];
    let text = candidate["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|part| part["text"].as_str())
        .collect();
    let blocked = chunk.pointer("/promptFeedback/blockReason").is_some();
    let stop = candidate["finishReason"]
        .as_str()
        .map(stop_reason)
        .or(blocked.then_some(FinishReason::ContentFilter));
    (text, stop)
}

#[async_trait::async_trait]
impl Provider for Gemini {
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
        if body.get("candidates").is_none() && body.get("promptFeedback").is_none() {
            return Err(super::malformed(
                NAME,
                "no `candidates` in the reply",
                &body,
            ));
        }
        let (text, stop) = read_chunk(&body);
        Ok(Completion {
            text,
            usage: usage(&body["usageMetadata"]),
            stop_reason: stop.unwrap_or(FinishReason::EndTurn),
            model: text_at(&body, "/modelVersion").unwrap_or_else(|| {
                request
                    .model
                    .clone()
                    .unwrap_or_else(|| self.config.model.clone())
            }),
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
                    Ok(JsonEvent::Done) => continue,
                    Err(error) => {
                        yield StreamEvent::Error(error);
                        return;
                    }
                };
                if let Some(error) = data.get("error") {
                    let mut e = ProviderError::new(
                        NAME,
                        ProviderErrorKind::Server,
                        text_at(error, "/message").unwrap_or_else(|| "error in the stream".into()),
                    );
                    e.code = text_at(error, "/status");
                    e.body = Some(data.to_string());
                    yield StreamEvent::Error(e.into());
                    return;
                }
                let (text, finished) = read_chunk(&data);
                if !text.is_empty() {
                    yield StreamEvent::Text(text);
                }
                if let Some(added) = counter.total(usage(&data["usageMetadata"])) {
                    yield StreamEvent::Usage(added);
                }
                if finished.is_some() {
                    stop = finished;
                }
            }
            match stop {
                Some(stop) => yield StreamEvent::Stop(stop),
                None => yield StreamEvent::Error(super::cut_short(NAME, "a finish reason")),
            }
        })
    }
}

//! Model APIs: the [`Provider`] trait, the Anthropic, OpenAI and Gemini providers, and the
//! layers that keep calls alive when the APIs are not.
//!
//! A provider answers a [`CompletionRequest`] whole ([`Provider::complete`]) or as a stream of
//! [`StreamEvent`]s ([`Provider::stream`]). Resilience is composed around any provider —
//! including one a host application implements — in layers, each a provider itself:
//!
//! - [`Metered`] counts tokens and dollars into a shared [`Meter`] and refuses calls the
//!   [`Budget`] cannot afford;
//! - [`CircuitBreaker`] stops calling a provider that keeps failing, and probes it later;
//! - [`Retry`] tries again after transient failures, with backoff, jitter and `Retry-After`;
//! - [`Fallback`] moves down a chain of providers, mid-stream included.
//!
//! The usual stack wraps each provider as `Retry(CircuitBreaker(Metered(provider)))` — every
//! HTTP attempt is metered and budgeted, the breaker sees every attempt, retries stop when the
//! breaker opens — and puts the stacks in a `Fallback`:
//!
//! ```no_run
//! use std::sync::Arc;
//! use selfheal::llm::{Anthropic, Budget, CompletionRequest, Fallback, Meter, OpenAi, Provider, ProviderExt};
//!
//! # async fn run() -> selfheal::Result<()> {
//! let meter = Meter::new(Budget::default().max_usd(2.0));
//! let claude = Anthropic::from_env()?.metered(&meter).with_breaker_defaults().with_retry_defaults();
//! let gpt = OpenAi::from_env()?.metered(&meter).with_breaker_defaults().with_retry_defaults();
//! let llm = Fallback::new(vec![claude, gpt]);
//!
//! let answer = llm.complete(&CompletionRequest::new("Why does `tsc` say TS2307?")).await?;
//! println!("{} ({} tokens, ${:.4} so far)", answer.text, answer.usage.total(), meter.report().cost_usd);
//! # Ok(()) }
//! ```

mod anthropic;
mod breaker;
mod fallback;
mod gemini;
mod http;
mod layers;
mod metered;
mod openai;
mod redacted;
mod retry;
mod sse;
mod types;

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;

pub use crate::error::{BudgetExceeded, BudgetLimit, ProviderError, ProviderErrorKind};
pub use anthropic::Anthropic;
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use fallback::Fallback;
pub use gemini::Gemini;
pub(crate) use http::default_client;
pub use layers::{BreakerOptions, Layer, LayerOptions, LayerSettings, RetryOptions};
pub use metered::{Budget, CallRecord, Meter, Metered, ModelPrice, PriceTable, UsageReport};
pub use openai::OpenAi;
pub(crate) use openai::embeddings;
pub use redacted::Redacted;
pub use retry::{Retry, RetryPolicy};
pub use types::{
    Completion, CompletionRequest, CompletionStream, FinishReason, HostReply, Message,
    RequestOptions, Role, StreamEvent, Usage,
};

use crate::redact::Redactor;
use crate::{Error, Result};

/// A model API, or a layer around one.
///
/// Object-safe (`Arc<dyn Provider>`), so layers and host languages can implement it.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// The name used in reports and errors: `anthropic`, `openai`, `gemini`, or the host's.
    fn name(&self) -> &str;

    /// The model used when a request names none.
    fn default_model(&self) -> &str;

    /// Answers the request whole.
    async fn complete(&self, request: &CompletionRequest) -> Result<Completion>;

    /// Answers the request as a stream of events; failures arrive as [`StreamEvent::Error`].
    fn stream(&self, request: CompletionRequest) -> CompletionStream;
}

impl std::fmt::Debug for dyn Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Provider({})", self.name())
    }
}

/// Layers as methods on any shared provider.
pub trait ProviderExt {
    /// Retries transient failures with `policy`.
    fn with_retry(self, policy: RetryPolicy) -> Arc<dyn Provider>;
    /// Retries with the seed's defaults (base 1 s, ×2, cap 60 s, 10 % jitter, 5 attempts).
    fn with_retry_defaults(self) -> Arc<dyn Provider>;
    /// Guards the provider with a circuit breaker.
    fn with_breaker(self, config: BreakerConfig) -> Arc<dyn Provider>;
    /// Guards with the default breaker (open after 5 failures, probe after 60 s).
    fn with_breaker_defaults(self) -> Arc<dyn Provider>;
    /// Records every call in `meter` and checks its budget first.
    fn metered(self, meter: &Meter) -> Arc<dyn Provider>;
    /// Redacts secrets from every request with `redactor`.
    fn redacted(self, redactor: Redactor) -> Arc<dyn Provider>;
}

impl<P: Provider + 'static> ProviderExt for P {
    fn with_retry(self, policy: RetryPolicy) -> Arc<dyn Provider> {
        Arc::new(Retry::new(Arc::new(self), policy))
    }

    fn with_retry_defaults(self) -> Arc<dyn Provider> {
        self.with_retry(RetryPolicy::default())
    }

    fn with_breaker(self, config: BreakerConfig) -> Arc<dyn Provider> {
        Arc::new(CircuitBreaker::new(Arc::new(self), config))
    }

    fn with_breaker_defaults(self) -> Arc<dyn Provider> {
        self.with_breaker(BreakerConfig::default())
    }

    fn metered(self, meter: &Meter) -> Arc<dyn Provider> {
        Arc::new(Metered::new(Arc::new(self), meter.clone()))
    }

    fn redacted(self, redactor: Redactor) -> Arc<dyn Provider> {
        Arc::new(Redacted::new(Arc::new(self), redactor))
    }
}

/// The providers in the seed's order of preference.
const PROVIDERS: [&str; 3] = ["anthropic", "openai", "gemini"];

/// The provider `name` (`anthropic`, `openai`, `gemini`), read from the configuration by its
/// own `from_vars` (its key, base URL and model; `GOOGLE_API_KEY` for Gemini too), with `model`
/// when one is given.
fn named(
    name: &str,
    model: Option<&str>,
    vars: &impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>> {
    Ok(match name {
        "anthropic" => {
            let provider = Anthropic::from_vars(vars)?;
            Arc::new(match model {
                Some(model) => provider.model(model),
                None => provider,
            })
        }
        "openai" => {
            let provider = OpenAi::from_vars(vars)?;
            Arc::new(match model {
                Some(model) => provider.model(model),
                None => provider,
            })
        }
        "gemini" => {
            let provider = Gemini::from_vars(vars)?;
            Arc::new(match model {
                Some(model) => provider.model(model),
                None => provider,
            })
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "unknown provider `{other}`: use anthropic, openai or gemini"
            )));
        }
    })
}

/// One provider from configuration, behind `layers` (the one way a provider is stacked): the
/// one `name` names, or with no name the first the configuration sets up in the seed's order
/// (Claude, GPT, Gemini); `None` when no name is given and none is set up. `model` replaces
/// the provider's default model. `vars` reads the configuration
/// (`|name| std::env::var(name).ok()`).
pub fn provider_from_vars(
    name: Option<&str>,
    model: Option<&str>,
    layers: &LayerOptions,
    vars: impl Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn Provider>>> {
    let provider = match name {
        Some(name) => named(name, model, &vars)?,
        None => match PROVIDERS
            .iter()
            .find_map(|name| named(name, model, &vars).ok())
        {
            Some(provider) => provider,
            None => return Ok(None),
        },
    };
    layers.around(provider).map(Some)
}

/// The seed's chain from configuration: Claude first, then GPT, then Gemini — each provider
/// whose key (or, for OpenAI-compatible servers, base URL) is set — each metered into `meter`,
/// behind the default [`LayerOptions`] (circuit breaker and retries), with secrets redacted
/// from every request. `vars` reads the configuration (`|name| std::env::var(name).ok()`).
pub fn chain_from_vars(
    vars: impl Fn(&str) -> Option<String>,
    meter: &Meter,
) -> Result<Arc<dyn Provider>> {
    let layers = LayerOptions::default();
    let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
    for name in PROVIDERS {
        if let Ok(provider) = named(name, None, &vars) {
            providers.push(layers.around(provider.metered(meter))?);
        }
    }
    if providers.is_empty() {
        return Err(Error::Config(
            "no model provider: set ANTHROPIC_API_KEY, OPENAI_API_KEY (or OPENAI_BASE_URL) or GEMINI_API_KEY".into(),
        ));
    }
    let redactor = Redactor::new().with_env_secrets();
    Ok(match providers.len() {
        1 => providers.remove(0).redacted(redactor),
        _ => Fallback::new(providers).redacted(redactor),
    })
}

#[async_trait::async_trait]
impl Provider for Arc<dyn Provider> {
    fn name(&self) -> &str {
        self.as_ref().name()
    }

    fn default_model(&self) -> &str {
        self.as_ref().default_model()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        self.as_ref().complete(request).await
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        self.as_ref().stream(request)
    }
}

/// The settings a provider's `from_vars` reads: the values `given` (when set), else the
/// environment variable of the same name.
///
/// ```
/// use selfheal::llm::{OpenAi, given_or_env};
///
/// let api = OpenAi::from_vars(given_or_env([("OPENAI_API_KEY", Some("sk-test".into()))]))?;
/// # Ok::<(), selfheal::Error>(())
/// ```
pub fn given_or_env<const N: usize>(
    given: [(&'static str, Option<String>); N],
) -> impl Fn(&str) -> Option<String> {
    move |name| {
        given
            .iter()
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok())
    }
}

/// The stream of an answer that comes whole: its text in one piece, then its usage and stop
/// reason — or the error. For providers that cannot stream (a replay, a host's own function).
pub fn stream_whole(
    completion: impl std::future::Future<Output = Result<Completion>> + Send + 'static,
) -> CompletionStream {
    let events = futures_util::stream::once(completion).flat_map(|result| {
        let events = match result {
            Ok(completion) => vec![
                StreamEvent::Start {
                    provider: completion.provider,
                    model: completion.model,
                },
                StreamEvent::Text(completion.text),
                StreamEvent::Usage(completion.usage),
                StreamEvent::Stop(completion.stop_reason),
            ],
            Err(error) => vec![StreamEvent::Error(error)],
        };
        futures_util::stream::iter(events)
    });
    Box::pin(events)
}

/// Reads a stream to its end into a [`Completion`]: the text after the last
/// [`StreamEvent::Switched`], the usage of every attempt, the last stop reason.
pub async fn collect(stream: CompletionStream) -> Result<Completion> {
    collect_observed(stream, |_| {}).await
}

/// [`collect`], showing each event to `observe` as it arrives (to pass the text on as it
/// streams in).
pub async fn collect_observed(
    mut stream: CompletionStream,
    mut observe: impl FnMut(&StreamEvent) + Send,
) -> Result<Completion> {
    let mut collector = Collector::new();
    while let Some(event) = stream.next().await {
        observe(&event);
        if let Some(result) = collector.take(event) {
            return result;
        }
    }
    Err(collector.unfinished())
}

/// Builds a [`Completion`] from a stream's events, one at a time.
pub(crate) struct Collector {
    started: Instant,
    text: String,
    usage: Usage,
    provider: String,
    model: String,
}

impl Collector {
    pub(crate) fn new() -> Self {
        Collector {
            started: Instant::now(),
            text: String::new(),
            usage: Usage::default(),
            provider: String::new(),
            model: String::new(),
        }
    }

    /// Takes in one event; the result once the stream has ended with it.
    pub(crate) fn take(&mut self, event: StreamEvent) -> Option<Result<Completion>> {
        match event {
            StreamEvent::Start { provider, model } => {
                self.provider = provider;
                self.model = model;
            }
            StreamEvent::Text(piece) => self.text.push_str(&piece),
            StreamEvent::Usage(more) => self.usage += more,
            StreamEvent::Switched { .. } => self.text.clear(),
            StreamEvent::Error(error) => return Some(Err(error)),
            StreamEvent::Stop(stop_reason) => {
                return Some(Ok(Completion {
                    text: std::mem::take(&mut self.text),
                    usage: self.usage,
                    stop_reason,
                    model: self.model.clone(),
                    provider: self.provider.clone(),
                    latency: self.started.elapsed(),
                }));
            }
        }
        None
    }

    /// The error of a stream that ended without a stop.
    pub(crate) fn unfinished(&self) -> Error {
        Error::Provider(ProviderError::new(
            &self.provider,
            ProviderErrorKind::Connection,
            "the stream ended without a stop",
        ))
    }
}

/// The request for an attempt starting at `now` of a call that began at `started`: with the
/// time left as its timeout, when the request is timed.
pub(crate) fn time_left<'a>(
    request: &'a CompletionRequest,
    started: Instant,
    now: Instant,
) -> std::borrow::Cow<'a, CompletionRequest> {
    match request.timeout {
        Some(timeout) => {
            let mut timed = request.clone();
            timed.timeout = Some(timeout.saturating_sub(now.saturating_duration_since(started)));
            std::borrow::Cow::Owned(timed)
        }
        None => std::borrow::Cow::Borrowed(request),
    }
}

/// Turns the running totals providers report into the increments [`StreamEvent::Usage`]
/// carries. Each count only grows: a report that omits a count leaves it as it was.
#[derive(Debug, Default)]
pub(crate) struct UsageCounter {
    reported: Usage,
}

impl UsageCounter {
    /// The increment since the last report, if any.
    pub(crate) fn total(&mut self, total: Usage) -> Option<Usage> {
        let added = Usage {
            input_tokens: total
                .input_tokens
                .saturating_sub(self.reported.input_tokens),
            output_tokens: total
                .output_tokens
                .saturating_sub(self.reported.output_tokens),
        };
        self.reported += added;
        (added.total() > 0).then_some(added)
    }
}

/// An environment variable, for the `from_env` constructors.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A reply that parsed as JSON but lacks what the API promises.
pub(crate) fn malformed(provider: &str, what: &str, body: &serde_json::Value) -> Error {
    let mut error = ProviderError::new(provider, ProviderErrorKind::MalformedResponse, what);
    error.body = Some(body.to_string().chars().take(64 * 1024).collect());
    error.into()
}

/// A stream that ended before the event that closes it.
pub(crate) fn cut_short(provider: &str, closing: &str) -> Error {
    ProviderError::new(
        provider,
        ProviderErrorKind::Connection,
        format!("the stream ended before `{closing}`"),
    )
    .into()
}

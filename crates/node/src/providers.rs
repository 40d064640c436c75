//! Model providers: the built-in ones, with their resilience layers as constructor options.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::Either5;
use napi_derive::napi;
use selfheal::llm::{
    self, Anthropic as AnthropicApi, CompletionRequest, Fallback as FallbackChain,
    Gemini as GeminiApi, LayerOptions, OpenAi, Provider as Api, RequestOptions,
};
use serde_json::Value;

use crate::convert::{snake_keys, to_json};
use crate::errors::{self, Result};
use crate::host::HostedProvider;

/// What every built-in provider's constructor takes. Times are in seconds.
#[napi(object)]
#[derive(Default)]
pub struct ProviderOptions {
    /// The API key (default: the provider's environment variable).
    pub api_key: Option<String>,
    /// The model used when a request names none (default: the environment, else the
    /// provider's default).
    pub model: Option<String>,
    /// Another server speaking the same API (default: the environment, else the vendor's).
    #[napi(js_name = "baseURL")]
    pub base_url: Option<String>,
    /// How long one HTTP call may take.
    pub timeout: Option<f64>,
    /// Retries with backoff: on by default, `false` for none, or settings (`maxAttempts`,
    /// `baseDelay`, `multiplier`, `maxDelay`, `jitter`, `maxRetryAfter`).
    #[napi(ts_type = "boolean | RetryOptions")]
    pub retry: Option<Value>,
    /// A circuit breaker: on by default, `false` for none, or settings (`failureThreshold`,
    /// `resetTimeout`).
    #[napi(ts_type = "boolean | BreakerOptions")]
    pub breaker: Option<Value>,
    /// A budget of tokens over the provider's life: calls that would go over it are refused
    /// (`E_BUDGET`).
    pub max_tokens: Option<i64>,
    /// A budget in US dollars, from the provider's list prices.
    pub max_usd: Option<f64>,
}

/// What `complete` takes besides the prompt.
#[napi(object)]
pub struct CompleteOptions {
    /// A system prompt.
    pub system: Option<String>,
    /// The model for this call.
    pub model: Option<String>,
    /// The longest reply, in tokens.
    pub max_tokens: Option<u32>,
}

/// The layers `options` ask for around `api`.
fn layered<P: Api + 'static>(
    api: P,
    options: &ProviderOptions,
    set_timeout: fn(P, Duration) -> P,
) -> Result<Arc<dyn Api>> {
    let api: Arc<dyn Api> = match options.timeout {
        Some(secs) => Arc::new(set_timeout(
            api,
            Duration::try_from_secs_f64(secs)
                .map_err(|e| errors::config(format!("timeout: {e}")))?,
        )),
        None => Arc::new(api),
    };
    let max_tokens = options
        .max_tokens
        .map(|tokens| {
            u64::try_from(tokens).map_err(|_| errors::config("maxTokens: must not be negative"))
        })
        .transpose()?;
    let layers = LayerOptions::from_parts(
        options.retry.clone().map(snake_keys),
        options.breaker.clone().map(snake_keys),
        max_tokens,
        options.max_usd,
    )
    .map_err(errors::to_js)?;
    layers.around(api).map_err(errors::to_js)
}

/// Asks `provider`; the completion as the package shows it.
pub(crate) async fn complete(
    provider: Arc<dyn Api>,
    prompt: String,
    options: Option<CompleteOptions>,
) -> Result<Value> {
    let request = CompletionRequest::new(prompt).with_options(options.map_or_else(
        RequestOptions::default,
        |options| RequestOptions {
            system: options.system,
            model: options.model,
            max_tokens: options.max_tokens,
        },
    ));
    let completion = provider.complete(&request).await.map_err(errors::to_js)?;
    let mut value = to_json(&completion);
    if let Value::Object(fields) = &mut value {
        // The crate writes the latency in milliseconds; the name says so here.
        if let Some(latency) = fields.remove("latency") {
            fields.insert("latencyMs".into(), latency);
        }
    }
    Ok(value)
}

/// What every provider class offers: its name and model, and `complete`.
macro_rules! provider_methods {
    ($class:ident) => {
        #[napi]
        impl $class {
            /// The name used in reports (`openai`, `fallback(anthropic, openai)`).
            #[napi(getter)]
            pub fn name(&self) -> String {
                self.inner.name().to_string()
            }

            /// The model used when a request names none.
            #[napi(getter)]
            pub fn model(&self) -> String {
                self.inner.default_model().to_string()
            }

            /// Asks the model, through every layer; resolves to `{ text, usage: { inputTokens,
            /// outputTokens }, model, provider, stopReason, latencyMs }`.
            #[napi(ts_return_type = "Promise<Completion>")]
            pub async fn complete(
                &self,
                prompt: String,
                options: Option<CompleteOptions>,
            ) -> Result<Value> {
                complete(self.inner.clone(), prompt, options).await
            }
        }
    };
}
pub(crate) use provider_methods;

/// A built-in provider class: configuration from its options, else from the environment
/// variables the crate reads; its layers from the same options.
macro_rules! http_provider {
    ($(#[$doc:meta])* $class:ident, $js:literal, $api:ident, $key:literal, $url:literal, $model:literal) => {
        $(#[$doc])*
        #[napi(js_name = $js)]
        pub struct $class {
            pub(crate) inner: Arc<dyn Api>,
        }

        #[napi]
        impl $class {
            /// Throws `E_CONFIG` when the key is missing or an option is invalid.
            #[napi(constructor)]
            pub fn new(options: Option<ProviderOptions>) -> Result<Self> {
                let options = options.unwrap_or_default();
                let api = $api::from_vars(llm::given_or_env([
                    ($key, options.api_key.clone()),
                    ($url, options.base_url.clone()),
                    ($model, options.model.clone()),
                ]))
                .map_err(errors::to_js)?;
                Ok($class { inner: layered(api, &options, $api::timeout)? })
            }
        }

        provider_methods!($class);
    };
}

http_provider!(
    /// Anthropic's Messages API. The key, base URL and model default to `ANTHROPIC_API_KEY`,
    /// `ANTHROPIC_BASE_URL` and `ANTHROPIC_MODEL`.
    Anthropic, "Anthropic", AnthropicApi, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"
);

http_provider!(
    /// OpenAI's Chat Completions API, or any compatible server at `baseURL` (which then needs
    /// no key). The key, base URL and model default to `OPENAI_API_KEY`, `OPENAI_BASE_URL` and
    /// `OPENAI_MODEL`.
    OpenAI, "OpenAI", OpenAi, "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"
);

http_provider!(
    /// Google's Gemini API. The key, base URL and model default to `GEMINI_API_KEY`,
    /// `GEMINI_BASE_URL` and `GEMINI_MODEL`.
    Gemini, "Gemini", GeminiApi, "GEMINI_API_KEY", "GEMINI_BASE_URL", "GEMINI_MODEL"
);

/// Providers tried in order: the next one answers when one fails.
#[napi]
pub struct Fallback {
    pub(crate) inner: Arc<dyn Api>,
}

/// A built-in provider, or one written in JavaScript.
pub type AnyProvider<'a> =
    Either5<&'a Anthropic, &'a OpenAI, &'a Gemini, &'a Fallback, &'a HostedProvider>;

/// The provider behind any of the provider classes.
pub(crate) fn provider_of(provider: &AnyProvider<'_>) -> Arc<dyn Api> {
    match provider {
        Either5::A(p) => p.inner.clone(),
        Either5::B(p) => p.inner.clone(),
        Either5::C(p) => p.inner.clone(),
        Either5::D(p) => p.inner.clone(),
        Either5::E(p) => p.inner.clone(),
    }
}

#[napi]
impl Fallback {
    /// Throws `E_CONFIG` when `providers` is empty.
    #[napi(
        constructor,
        ts_args_type = "providers: Array<Anthropic | OpenAI | Gemini | Fallback>"
    )]
    pub fn new(providers: Vec<AnyProvider<'_>>) -> Result<Self> {
        if providers.is_empty() {
            return Err(errors::config(
                "a fallback chain needs at least one provider",
            ));
        }
        let chain = providers.iter().map(provider_of).collect();
        Ok(Fallback {
            inner: Arc::new(FallbackChain::new(chain)),
        })
    }
}

provider_methods!(Fallback);

//! Model providers: the built-in ones with their resilience layers as constructor options, and
//! any Python object with `complete(request)`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use selfheal::llm::{
    self, Anthropic as AnthropicApi, Completion, CompletionRequest, CompletionStream,
    Fallback as FallbackChain, Gemini as GeminiApi, HostReply, LayerOptions, OpenAi,
    Provider as Api, ProviderError, ProviderErrorKind, RequestOptions,
};
use selfheal::{Error, Result};

use crate::convert::{from_python, serialize};
use crate::errors;
use crate::host::{self, Scope};
use crate::pending::{self, Deliver, Pending};

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Provider>()?;
    module.add_class::<Anthropic>()?;
    module.add_class::<OpenAI>()?;
    module.add_class::<Gemini>()?;
    module.add_class::<Fallback>()?;
    module.add_class::<Request>()?;
    module.add_class::<Message>()?;
    Ok(())
}

/// A model provider with its layers. Made by `Anthropic`, `OpenAI`, `Gemini` or `Fallback`;
/// a `Healer` also takes any object with `complete(request)` as a provider.
#[pyclass(subclass, frozen, module = "selfheal")]
pub(crate) struct Provider {
    pub(crate) inner: Arc<dyn Api>,
}

#[pymethods]
impl Provider {
    /// The name used in reports (`openai`, `fallback(anthropic, openai)`).
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The model used when a request names none.
    #[getter]
    fn model(&self) -> &str {
        self.inner.default_model()
    }

    /// Asks the model, through every layer; resolves to a dict with `text`, `usage`
    /// (`input_tokens`, `output_tokens`), `model`, `provider`, `stop_reason` and `latency_ms`.
    #[pyo3(signature = (prompt, *, system = None, model = None, max_tokens = None))]
    fn complete<'py>(
        &self,
        py: Python<'py>,
        prompt: String,
        system: Option<String>,
        model: Option<String>,
        max_tokens: Option<u32>,
    ) -> PyResult<Pending> {
        let request = CompletionRequest::new(prompt).with_options(RequestOptions {
            system,
            model,
            max_tokens,
        });
        let provider = self.inner.clone();
        // Python providers in a chain run their `async def`s on the caller's loop, and raise
        // their exceptions here.
        let scope = Scope::new(pyo3_async_runtimes::tokio::get_current_locals(py)?);
        let call = Scope::enter(
            scope.clone(),
            async move { provider.complete(&request).await },
        );
        pending::spawn(async move {
            let completion = call.await;
            Box::new(move |py: Python<'_>| {
                if let Some(error) = scope.failure(py) {
                    return Err(error);
                }
                Ok(serialize(py, &completion.map_err(errors::to_py)?)?.unbind())
            }) as Deliver
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<Provider {} model={}>",
            self.inner.name(),
            self.inner.default_model()
        )
    }
}

/// The options every built-in provider takes: its layers.
struct Layers<'py> {
    retry: Option<Bound<'py, PyAny>>,
    breaker: Option<Bound<'py, PyAny>>,
    max_tokens: Option<u64>,
    max_usd: Option<f64>,
    fallback: Vec<Bound<'py, PyAny>>,
}

impl Layers<'_> {
    /// `api` in the layers asked for (retries and breaker by default), first in a fallback
    /// chain when there is one.
    fn around(self, api: Arc<dyn Api>) -> PyResult<Provider> {
        let options = LayerOptions::from_parts(
            self.retry
                .as_ref()
                .map(|layer| from_python(layer))
                .transpose()?,
            self.breaker
                .as_ref()
                .map(|layer| from_python(layer))
                .transpose()?,
            self.max_tokens,
            self.max_usd,
        )
        .map_err(errors::to_py)?;
        let mut provider = options.around(api).map_err(errors::to_py)?;
        if !self.fallback.is_empty() {
            let mut chain = vec![provider];
            for next in &self.fallback {
                chain.push(provider_from(next)?);
            }
            provider = Arc::new(FallbackChain::new(chain));
        }
        Ok(Provider { inner: provider })
    }
}

fn timed<P: Api + 'static>(
    provider: P,
    timeout: Option<f64>,
    set: fn(P, Duration) -> P,
) -> PyResult<Arc<dyn Api>> {
    Ok(match timeout {
        Some(secs) => Arc::new(set(
            provider,
            Duration::try_from_secs_f64(secs)
                .map_err(|e| errors::config(format!("timeout: {e}")))?,
        )),
        None => Arc::new(provider),
    })
}

/// A built-in HTTP provider class: its configuration comes from the arguments, else from the
/// environment variables the crate reads; its layers from [`Layers`].
macro_rules! http_provider {
    ($(#[$doc:meta])* $class:ident, $api:ident, $key:literal, $url:literal, $model:literal) => {
        $(#[$doc])*
        #[pyclass(extends = Provider, frozen, module = "selfheal")]
        pub(crate) struct $class;

        #[pymethods]
        impl $class {
            #[new]
            #[pyo3(signature = (api_key = None, *, model = None, base_url = None, timeout = None, retry = None, breaker = None, max_tokens = None, max_usd = None, fallback = Vec::new()))]
            #[allow(clippy::too_many_arguments)]
            fn new<'py>(
                api_key: Option<String>,
                model: Option<String>,
                base_url: Option<String>,
                timeout: Option<f64>,
                retry: Option<Bound<'py, PyAny>>,
                breaker: Option<Bound<'py, PyAny>>,
                max_tokens: Option<u64>,
                max_usd: Option<f64>,
                fallback: Vec<Bound<'py, PyAny>>,
            ) -> PyResult<PyClassInitializer<Self>> {
                let api = $api::from_vars(llm::given_or_env([($key, api_key), ($url, base_url), ($model, model)]))
                    .map_err(errors::to_py)?;
                let layers = Layers { retry, breaker, max_tokens, max_usd, fallback };
                let provider = layers.around(timed(api, timeout, $api::timeout)?)?;
                Ok(PyClassInitializer::from(provider).add_subclass($class))
            }
        }
    };
}

http_provider!(
    /// Anthropic's Messages API. The key, base URL and model default to `ANTHROPIC_API_KEY`,
    /// `ANTHROPIC_BASE_URL` and `ANTHROPIC_MODEL`.
    ///
    /// Layers: `retry` (default on; a dict sets `max_attempts`, `base_delay`, `multiplier`,
    /// `max_delay`, `jitter`, `max_retry_after`), `breaker` (default on; `failure_threshold`,
    /// `reset_timeout`), a budget (`max_tokens`, `max_usd` over the provider's life), and
    /// `fallback`: providers tried in order when this one fails. Times are in seconds.
    Anthropic, AnthropicApi, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"
);

http_provider!(
    /// OpenAI's Chat Completions API, or any compatible server at `base_url` (which then needs
    /// no key). The key, base URL and model default to `OPENAI_API_KEY`, `OPENAI_BASE_URL` and
    /// `OPENAI_MODEL`. Layers as for `Anthropic`.
    OpenAI, OpenAi, "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"
);

http_provider!(
    /// Google's Gemini API. The key, base URL and model default to `GEMINI_API_KEY` (or
    /// `GOOGLE_API_KEY`), `GEMINI_BASE_URL` and `GEMINI_MODEL`. Layers as for `Anthropic`.
    Gemini, GeminiApi, "GEMINI_API_KEY", "GEMINI_BASE_URL", "GEMINI_MODEL"
);

/// Providers tried in order: the next one answers when one fails (mid-stream included).
#[pyclass(extends = Provider, frozen, module = "selfheal")]
pub(crate) struct Fallback;

#[pymethods]
impl Fallback {
    #[new]
    fn new(providers: Vec<Bound<'_, PyAny>>) -> PyResult<PyClassInitializer<Self>> {
        if providers.is_empty() {
            return Err(errors::config(
                "a fallback chain needs at least one provider",
            ));
        }
        let chain = providers
            .iter()
            .map(provider_from)
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyClassInitializer::from(Provider {
            inner: Arc::new(FallbackChain::new(chain)),
        })
        .add_subclass(Fallback))
    }
}

/// A built-in provider, or a Python object with `complete(request)` as one.
pub(crate) fn provider_from(object: &Bound<'_, PyAny>) -> PyResult<Arc<dyn Api>> {
    if let Ok(provider) = object.cast::<Provider>() {
        return Ok(provider.get().inner.clone());
    }
    if !object.hasattr("complete")? {
        return Err(PyTypeError::new_err(
            "a provider is Anthropic, OpenAI, Gemini, Fallback or an object with complete(request)",
        ));
    }
    let model = object
        .getattr("model")
        .and_then(|model| model.extract::<String>())
        .unwrap_or_else(|_| "default".into());
    Ok(Arc::new(PythonProvider(Arc::new(Hosted {
        object: object.clone().unbind(),
        name: host::name_of(object)?,
        model,
    }))))
}

/// What a Python provider's `complete` receives.
#[pyclass(frozen, module = "selfheal")]
pub(crate) struct Request {
    inner: CompletionRequest,
    default_model: String,
}

#[pymethods]
impl Request {
    /// The system prompt, if any.
    #[getter]
    fn system(&self) -> Option<&str> {
        self.inner.system.as_deref()
    }
    /// The conversation, oldest first.
    #[getter]
    fn messages(&self) -> Vec<Message> {
        self.inner
            .messages
            .iter()
            .map(|m| Message {
                role: crate::convert::name_of(&m.role),
                content: m.content.clone(),
            })
            .collect()
    }
    /// The model asked for (the provider's own when the request names none).
    #[getter]
    fn model(&self) -> &str {
        self.inner.model.as_deref().unwrap_or(&self.default_model)
    }
    /// The longest answer wanted, in tokens.
    #[getter]
    fn max_tokens(&self) -> u32 {
        self.inner.max_tokens
    }
    /// The sampling temperature, if set.
    #[getter]
    fn temperature(&self) -> Option<f32> {
        self.inner.temperature
    }
    /// True when the answer must be JSON.
    #[getter]
    fn json(&self) -> bool {
        self.inner.json
    }
    /// The last user message: the prompt.
    #[getter]
    fn prompt(&self) -> &str {
        self.inner
            .messages
            .last()
            .map_or("", |m| m.content.as_str())
    }

    fn __repr__(&self) -> String {
        format!(
            "<Request model={} messages={}>",
            self.model(),
            self.inner.messages.len()
        )
    }
}

/// One message of a `Request`.
#[pyclass(frozen, get_all, module = "selfheal")]
pub(crate) struct Message {
    /// `user` or `assistant`.
    role: String,
    /// The text.
    content: String,
}

#[pymethods]
impl Message {
    fn __repr__(&self) -> String {
        format!("<Message {}: {} chars>", self.role, self.content.len())
    }
}

struct Hosted {
    object: Py<PyAny>,
    name: String,
    model: String,
}

/// A Python object's `complete(request)` as a provider. It answers whole: the loop streams
/// the answer as one piece.
#[derive(Clone)]
struct PythonProvider(Arc<Hosted>);

impl PythonProvider {
    async fn answer(
        &self,
        scope: Option<Arc<Scope>>,
        request: CompletionRequest,
    ) -> Result<Completion> {
        let started = Instant::now();
        let hosted = &self.0;
        let model = request
            .model
            .clone()
            .unwrap_or_else(|| hosted.model.clone());
        let object = Python::attach(|py| hosted.object.clone_ref(py));
        let default_model = hosted.model.clone();
        let answer = host::call(scope.clone(), object, "complete", move |py| {
            let request = Py::new(
                py,
                Request {
                    inner: request,
                    default_model,
                },
            )?;
            Ok(PyTuple::new(py, [request])?.unbind())
        })
        .await
        .and_then(|answer| Python::attach(|py| reply(answer.bind(py), &hosted.name)));
        match answer {
            Ok(reply) => Ok(reply.completion(model, hosted.name.clone(), started.elapsed())),
            Err(error) => {
                let message = Python::attach(|py| error.value(py).to_string());
                if let Some(scope) = scope {
                    scope.fail(error);
                }
                Err(Error::Provider(ProviderError::new(
                    &hosted.name,
                    ProviderErrorKind::Other,
                    message,
                )))
            }
        }
    }
}

/// A Python provider's answer: the text, or `{"text": ..., "usage": {...}}`.
fn reply(answer: &Bound<'_, PyAny>, name: &str) -> PyResult<HostReply> {
    serde_json::from_value(from_python(answer)?).map_err(|_| {
        PyTypeError::new_err(format!(
            "{name}.complete must return a str or a dict with `text` (and `usage`)"
        ))
    })
}

#[async_trait::async_trait]
impl Api for PythonProvider {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn default_model(&self) -> &str {
        &self.0.model
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        self.answer(Scope::current(), request.clone()).await
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let provider = self.clone();
        let scope = Scope::current();
        llm::stream_whole(async move { provider.answer(scope, request).await })
    }
}

//! Calling JavaScript from the heal loop: the functions `index.js` hands over (as weak
//! threadsafe functions, so an idle healer never keeps the process alive), the run a call is
//! made for, and providers written in JavaScript.

use std::sync::Arc;

use async_trait::async_trait;
use napi::Status;
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use selfheal::llm::{
    self, Completion, CompletionRequest, CompletionStream as Tokens, HostReply, Provider as Api,
    ProviderError, ProviderErrorKind,
};
use serde_json::{Value, json};

use crate::errors::Result;
use crate::providers::{CompleteOptions, complete, provider_methods};

tokio::task_local! {
    /// The run a host callback is made for: `index.js` routes the callback's errors to it.
    pub(crate) static RUN: u32;
}

/// A JavaScript function the package calls with a JSON request and that resolves to a JSON
/// reply. Weak: an idle healer never keeps the process alive.
pub(crate) type HostFunction =
    ThreadsafeFunction<String, Promise<String>, String, Status, false, true>;

/// A provider written in JavaScript (its `complete` is called through `index.js`).
#[derive(Clone)]
struct HostProvider {
    complete: Arc<HostFunction>,
    name: String,
    model: String,
}

/// Calls `function` with `payload` and waits for the JSON its Promise resolves to.
pub(crate) async fn ask(function: &HostFunction, payload: String) -> napi::Result<String> {
    function.call_async_catch(payload).await?.await
}

impl HostProvider {
    fn failed(&self, message: impl Into<String>) -> selfheal::Error {
        selfheal::Error::Provider(ProviderError::new(
            &self.name,
            ProviderErrorKind::Other,
            message,
        ))
    }

    async fn answer(
        self,
        run: Option<u32>,
        request: CompletionRequest,
    ) -> selfheal::Result<Completion> {
        let started = std::time::Instant::now();
        let model = request.model.clone().unwrap_or_else(|| self.model.clone());
        let payload = json!({
            "run": run,
            "request": {
                "system": request.system,
                "messages": request.messages,
                "model": model,
                "maxTokens": request.max_tokens,
            },
        });
        let reply = ask(&self.complete, payload.to_string())
            .await
            .map_err(|e| self.failed(e.reason.clone()))?;
        let reply: HostReply = serde_json::from_str(&reply)
            .map_err(|e| self.failed(format!("complete returned {e}")))?;
        Ok(reply.completion(model, self.name, started.elapsed()))
    }
}

#[async_trait]
impl Api for HostProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn default_model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, request: &CompletionRequest) -> selfheal::Result<Completion> {
        self.clone().answer(current_run(), request.clone()).await
    }

    fn stream(&self, request: CompletionRequest) -> Tokens {
        llm::stream_whole(self.clone().answer(current_run(), request))
    }
}

/// The run a host callback is made for, if any.
pub(crate) fn current_run() -> Option<u32> {
    RUN.try_with(|run| *run).ok()
}

/// A provider written in JavaScript, as `index.js` hands it over: usable wherever a built-in
/// provider is (a `Healer`, a `Fallback` chain).
#[napi]
pub struct HostedProvider {
    pub(crate) inner: Arc<dyn Api>,
}

#[napi]
impl HostedProvider {
    #[napi(
        constructor,
        ts_args_type = "complete: (payload: string) => Promise<string>, name: string, model: string"
    )]
    pub fn new(complete: HostFunction, name: String, model: String) -> Self {
        HostedProvider {
            inner: Arc::new(HostProvider {
                complete: Arc::new(complete),
                name,
                model,
            }),
        }
    }
}

provider_methods!(HostedProvider);

//! [`Redacted`]: no secret in a request reaches the provider.

use std::sync::Arc;

use super::{Completion, CompletionRequest, CompletionStream, Provider};
use crate::Result;
use crate::redact::Redactor;

/// Redacts the system prompt and every message before the inner provider sees them: the last
/// line of defence for prompts built outside [`fix::prompt`](crate::fix::prompt), which
/// redacts already.
#[derive(Debug, Clone)]
pub struct Redacted {
    inner: Arc<dyn Provider>,
    redactor: Redactor,
}

impl Redacted {
    /// Redacts requests to `inner` with `redactor`.
    pub fn new(inner: Arc<dyn Provider>, redactor: Redactor) -> Self {
        Redacted { inner, redactor }
    }

    fn clean(&self, request: &CompletionRequest) -> CompletionRequest {
        let mut clean = request.clone();
        if let Some(system) = &mut clean.system {
            *system = self.redactor.redact(system).into_owned();
        }
        for message in &mut clean.messages {
            message.content = self.redactor.redact(&message.content).into_owned();
        }
        clean
    }
}

#[async_trait::async_trait]
impl Provider for Redacted {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn default_model(&self) -> &str {
        self.inner.default_model()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        self.inner.complete(&self.clean(request)).await
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        self.inner.stream(self.clean(&request))
    }
}

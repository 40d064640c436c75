//! [`Fallback`]: an ordered chain of providers.

use std::sync::Arc;

use futures_util::StreamExt;

use super::{Completion, CompletionRequest, CompletionStream, Provider, StreamEvent};
use crate::time::{Clock, SystemClock};
use crate::{Error, Result};

/// Asks each provider in turn until one answers (the seed: Claude first, GPT next).
///
/// It moves on from a provider whose breaker is open, that failed for good, or whose retries
/// are exhausted — only a spent [budget](super::Budget) stops the chain, since the next
/// provider could not afford the call either. A stream that fails mid-way continues from the
/// next provider after a [`StreamEvent::Switched`], which tells the reader to drop the text it
/// has. When every provider fails, the error is [`Error::AllProvidersFailed`] with each one's
/// error in order.
#[derive(Debug, Clone)]
pub struct Fallback {
    providers: Arc<[Arc<dyn Provider>]>,
    name: String,
    clock: Arc<dyn Clock>,
}

impl Fallback {
    /// The chain, first choice first.
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Self {
        let names: Vec<&str> = providers.iter().map(|p| p.name()).collect();
        let name = format!("fallback({})", names.join(", "));
        Fallback {
            providers: providers.into(),
            name,
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads time on `clock` (to pass each provider the time left of a timed request).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

fn ends_the_chain(error: &Error) -> bool {
    matches!(error, Error::Budget(_))
}

#[async_trait::async_trait]
impl Provider for Fallback {
    fn name(&self) -> &str {
        &self.name
    }

    fn default_model(&self) -> &str {
        self.providers.first().map_or("", |p| p.default_model())
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        let started = self.clock.now();
        let mut errors = Vec::new();
        for provider in self.providers.iter() {
            let attempt = super::time_left(request, started, self.clock.now());
            match provider.complete(&attempt).await {
                Ok(completion) => return Ok(completion),
                Err(error) if ends_the_chain(&error) => return Err(error),
                Err(error) => errors.push(error),
            }
        }
        Err(Error::AllProvidersFailed(errors))
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let this = self.clone();
        Box::pin(async_stream::stream! {
            let started = this.clock.now();
            let mut errors = Vec::new();
            for (index, provider) in this.providers.iter().enumerate() {
                let attempt = super::time_left(&request, started, this.clock.now()).into_owned();
                let mut events = provider.stream(attempt);
                let mut failure = None;
                while let Some(event) = events.next().await {
                    match event {
                        StreamEvent::Error(error) if ends_the_chain(&error) => {
                            yield StreamEvent::Error(error);
                            return;
                        }
                        StreamEvent::Error(error) => {
                            failure = Some(error);
                            break;
                        }
                        StreamEvent::Stop(stop) => {
                            yield StreamEvent::Stop(stop);
                            return;
                        }
                        other => yield other,
                    }
                }
                let error = failure.unwrap_or_else(|| super::cut_short(provider.name(), "a stop"));
                errors.push(error.clone());
                if let Some(next) = this.providers.get(index + 1) {
                    yield StreamEvent::Switched { to: next.name().to_string(), error };
                }
            }
            yield StreamEvent::Error(Error::AllProvidersFailed(errors));
        })
    }
}

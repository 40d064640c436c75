//! [`Retry`]: tries a call again after transient failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::{Completion, CompletionRequest, CompletionStream, Provider, StreamEvent};
use crate::time::{self, Clock, Jitter, SystemClock};
use crate::{Error, Result};

/// When and how often [`Retry`] tries again. The defaults are the seed's: base 1 s, ×2, capped
/// at 60 s, ±10 % jitter, 5 attempts in all.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt.
    pub base_delay: Duration,
    /// The factor between consecutive waits.
    pub multiplier: f64,
    /// The longest computed wait.
    pub max_delay: Duration,
    /// The relative spread of waits: 0.1 gives ±10 %.
    pub jitter: f64,
    /// The longest wait a provider may ask for (`Retry-After`); longer requests are cut to it.
    pub max_retry_after: Duration,
    /// An attempt is not started with less time than this left before the request's timeout.
    pub min_attempt_time: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            multiplier: 2.0,
            max_delay: Duration::from_secs(60),
            jitter: 0.1,
            max_retry_after: Duration::from_secs(60),
            min_attempt_time: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `retry + 1` (retry 1 is the second attempt), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        self.jittered(retry, 0.0)
    }

    /// The wait before attempt `retry + 1`, moved by the jitter `sample` (in `[-1, 1)`).
    fn jittered(&self, retry: u32, sample: f64) -> Duration {
        let (base, max) = (self.base_delay, self.max_delay);
        time::backoff(base, self.multiplier, max, retry, self.jitter, sample)
    }
}

/// Retries transient failures — rate limits, overloads, 5xx, timeouts, dropped connections —
/// and nothing else: a 400, a bad key, an overlong prompt or an exhausted quota fail at once.
///
/// The wait grows exponentially with jitter, unless the provider named one (`Retry-After`,
/// `retry-after-ms`, Gemini's `retryDelay`), which is honoured up to
/// [`RetryPolicy::max_retry_after`]. When the request has a timeout, no attempt starts that
/// could not have [`RetryPolicy::min_attempt_time`] before it, and each attempt gets the time
/// that is left. A stream that fails after it has produced text is asked again too, after a
/// [`StreamEvent::Switched`] that tells the caller to drop the text of the failed answer.
#[derive(Debug, Clone)]
pub struct Retry {
    inner: Arc<dyn Provider>,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
    jitter: Arc<Jitter>,
}

impl Retry {
    /// Retries `inner` with `policy`, the system clock and entropy-seeded jitter.
    pub fn new(inner: Arc<dyn Provider>, policy: RetryPolicy) -> Self {
        Retry {
            inner,
            policy,
            clock: Arc::new(SystemClock),
            jitter: Arc::new(Jitter::from_entropy()),
        }
    }

    /// Waits and reads time on `clock`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Draws jitter from `jitter`.
    pub fn jitter(mut self, jitter: Arc<Jitter>) -> Self {
        self.jitter = jitter;
        self
    }

    /// The wait before the next attempt after `error` on retry number `retry`.
    fn delay(&self, retry: u32, error: &Error) -> Duration {
        let asked = error.as_provider_error().and_then(|e| e.retry_after);
        if let Some(asked) = asked {
            return asked.min(self.policy.max_retry_after);
        }
        self.policy.jittered(retry, self.jitter.sample())
    }

    /// Whether to try again after `error`, and after how long.
    fn next_wait(
        &self,
        retry: u32,
        error: &Error,
        started: Instant,
        timeout: Option<Duration>,
    ) -> Option<Duration> {
        if !error.is_retryable() || retry >= self.policy.max_attempts {
            return None;
        }
        let wait = self.delay(retry, error);
        if let Some(timeout) = timeout {
            let at = self.clock.now() + wait + self.policy.min_attempt_time;
            if at.saturating_duration_since(started) > timeout {
                return None;
            }
        }
        metrics::counter!("selfheal_llm_retries_total", "provider" => self.inner.name().to_string())
            .increment(1);
        tracing::debug!(
            provider = self.inner.name(),
            retry,
            wait_ms = wait.as_millis() as u64,
            "retrying a model call"
        );
        Some(wait)
    }
}

#[async_trait::async_trait]
impl Provider for Retry {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn default_model(&self) -> &str {
        self.inner.default_model()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        let started = self.clock.now();
        let mut retry = 0;
        loop {
            let attempt = super::time_left(request, started, self.clock.now());
            match self.inner.complete(&attempt).await {
                Ok(completion) => return Ok(completion),
                Err(error) => {
                    retry += 1;
                    match self.next_wait(retry, &error, started, request.timeout) {
                        Some(wait) => self.clock.sleep(wait).await,
                        None => return Err(error),
                    }
                }
            }
        }
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let this = self.clone();
        Box::pin(async_stream::stream! {
            let started = this.clock.now();
            let mut retry = 0;
            'attempts: loop {
                let attempt = super::time_left(&request, started, this.clock.now()).into_owned();
                let mut events = this.inner.stream(attempt);
                let mut answered = false;
                while let Some(event) = events.next().await {
                    match event {
                        StreamEvent::Error(error) => {
                            retry += 1;
                            let Some(wait) = this.next_wait(retry, &error, started, request.timeout)
                            else {
                                yield StreamEvent::Error(error);
                                return;
                            };
                            // Text already passed on belongs to an answer that will not be
                            // finished: the caller is told to drop it, and the request starts
                            // over (a dropped connection, an overloaded server mid-answer).
                            if answered {
                                let to = this.inner.name().to_string();
                                yield StreamEvent::Switched { to, error };
                            }
                            this.clock.sleep(wait).await;
                            continue 'attempts;
                        }
                        StreamEvent::Text(text) => {
                            answered = true;
                            yield StreamEvent::Text(text);
                        }
                        other => yield other,
                    }
                }
                return;
            }
        })
    }
}

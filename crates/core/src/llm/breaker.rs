//! [`CircuitBreaker`]: stops calling a provider that keeps failing.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::{Completion, CompletionRequest, CompletionStream, Provider, StreamEvent};
use crate::time::{Clock, SystemClock};
use crate::{Error, Result};

/// When a [`CircuitBreaker`] opens and how it recovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit (default 5).
    pub failure_threshold: u32,
    /// How long an open circuit refuses calls before it lets probes through (default 60 s).
    pub reset_timeout: Duration,
    /// Calls let through at once while half-open (default 1).
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            reset_timeout: Duration::from_secs(60),
            half_open_probes: 1,
        }
    }
}

/// The state of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls are refused until the reset timeout has passed.
    Open,
    /// A few probe calls go through: a success closes the circuit, a failure opens it again.
    HalfOpen,
}

/// Closed → open after [`BreakerConfig::failure_threshold`] consecutive failures → half-open
/// after [`BreakerConfig::reset_timeout`] → closed when a probe succeeds.
///
/// Failures that blame the provider count (transient errors, bad keys, exhausted quota); a
/// request the provider rightly refused (invalid, too long) does not. An open circuit answers
/// at once with [`Error::CircuitOpen`], which [`Retry`](super::Retry) does not retry and
/// [`Fallback`](super::Fallback) moves past.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    inner: Arc<dyn Provider>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<Circuit>,
    /// The guarded provider's name, for the metrics of transitions.
    provider: String,
}

#[derive(Debug)]
struct Circuit {
    state: BreakerState,
    failures: u32,
    opened_at: Option<Instant>,
    probes: u32,
}

/// How a call was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Normal,
    Probe,
}

/// How a call ended, for the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    /// Says nothing about the provider (a refused request, a stream dropped by its reader).
    Neutral,
}

impl Outcome {
    fn of(result: std::result::Result<(), &Error>) -> Outcome {
        match result {
            Ok(()) => Outcome::Success,
            Err(Error::Provider(e)) if e.kind.blames_provider() => Outcome::Failure,
            Err(_) => Outcome::Neutral,
        }
    }
}

impl CircuitBreaker {
    /// Guards `inner` with `config` and the system clock.
    pub fn new(inner: Arc<dyn Provider>, config: BreakerConfig) -> Self {
        Self::with_clock(inner, config, Arc::new(SystemClock))
    }

    /// Guards `inner`, reading time on `clock`.
    pub fn with_clock(
        inner: Arc<dyn Provider>,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        CircuitBreaker {
            shared: Arc::new(Shared {
                provider: inner.name().to_string(),
                config,
                clock,
                state: Mutex::new(Circuit {
                    state: BreakerState::Closed,
                    failures: 0,
                    opened_at: None,
                    probes: 0,
                }),
            }),
            inner,
        }
    }

    /// The state now (an open circuit whose timeout has passed reads as half-open).
    pub fn state(&self) -> BreakerState {
        let circuit = self.shared.lock();
        match (circuit.state, circuit.opened_at) {
            (BreakerState::Open, Some(at))
                if self.shared.clock.now() >= at + self.shared.config.reset_timeout =>
            {
                BreakerState::HalfOpen
            }
            (state, _) => state,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Circuit> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn admit(&self, provider: &str) -> Result<Admission> {
        let now = self.clock.now();
        let mut circuit = self.lock();
        if circuit.state == BreakerState::Open {
            let reopen = circuit.opened_at.unwrap_or(now) + self.config.reset_timeout;
            if now < reopen {
                return Err(Error::CircuitOpen {
                    provider: provider.to_string(),
                    retry_in: reopen - now,
                });
            }
            circuit.state = BreakerState::HalfOpen;
            circuit.probes = 0;
            count_transition(provider, "half_open");
        }
        match circuit.state {
            BreakerState::HalfOpen if circuit.probes >= self.config.half_open_probes.max(1) => {
                Err(Error::CircuitOpen {
                    provider: provider.to_string(),
                    retry_in: Duration::ZERO,
                })
            }
            BreakerState::HalfOpen => {
                circuit.probes += 1;
                Ok(Admission::Probe)
            }
            _ => Ok(Admission::Normal),
        }
    }

    fn record(&self, admission: Admission, outcome: Outcome) {
        let now = self.clock.now();
        let mut circuit = self.lock();
        if admission == Admission::Probe {
            circuit.probes = circuit.probes.saturating_sub(1);
        }
        match outcome {
            Outcome::Success => {
                if circuit.state != BreakerState::Closed {
                    count_transition(&self.provider, "closed");
                }
                circuit.state = BreakerState::Closed;
                circuit.failures = 0;
                circuit.opened_at = None;
            }
            Outcome::Failure => {
                circuit.failures += 1;
                let trips = admission == Admission::Probe
                    || circuit.failures >= self.config.failure_threshold.max(1);
                if trips && circuit.state != BreakerState::Open {
                    count_transition(&self.provider, "open");
                    circuit.state = BreakerState::Open;
                    circuit.opened_at = Some(now);
                }
            }
            Outcome::Neutral => {}
        }
    }
}

/// Records a neutral outcome if a call ends without one (its stream was dropped).
struct Pending {
    shared: Arc<Shared>,
    admission: Option<Admission>,
}

impl Pending {
    fn finish(&mut self, outcome: Outcome) {
        if let Some(admission) = self.admission.take() {
            self.shared.record(admission, outcome);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.finish(Outcome::Neutral);
    }
}

#[async_trait::async_trait]
impl Provider for CircuitBreaker {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn default_model(&self) -> &str {
        self.inner.default_model()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        let admission = self.shared.admit(self.inner.name())?;
        let mut pending = Pending {
            shared: self.shared.clone(),
            admission: Some(admission),
        };
        let result = self.inner.complete(request).await;
        pending.finish(Outcome::of(result.as_ref().map(|_| ())));
        result
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        Box::pin(async_stream::stream! {
            let admission = match shared.admit(inner.name()) {
                Ok(admission) => admission,
                Err(error) => {
                    yield StreamEvent::Error(error);
                    return;
                }
            };
            let mut pending = Pending { shared: shared.clone(), admission: Some(admission) };
            let mut events = inner.stream(request);
            while let Some(event) = events.next().await {
                match &event {
                    StreamEvent::Stop(_) => pending.finish(Outcome::Success),
                    StreamEvent::Error(error) => pending.finish(Outcome::of(Err(error))),
                    _ => {}
                }
                yield event;
            }
        })
    }
}

/// Counts a change of state (`open`, `half_open`, `closed`) in
/// `selfheal_breaker_transitions_total`.
fn count_transition(provider: &str, state: &'static str) {
    metrics::counter!(
        "selfheal_breaker_transitions_total",
        "provider" => provider.to_string(),
        "state" => state
    )
    .increment(1);
}

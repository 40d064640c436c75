//! Time and randomness, injected: whatever waits or jitters — the model layers' retries and
//! breakers, the heal loop's backoff, the fix cache's timestamps, the health monitor's window —
//! takes a [`Clock`] and a [`Jitter`], so tests run backoff schedules without sleeping; and the
//! one exponential [`backoff`] they all wait by.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Where layers read the time and wait.
#[async_trait::async_trait]
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
    /// The current date and time, for what is kept across processes (the fix cache's
    /// timestamps).
    fn system_time(&self) -> SystemTime {
        SystemTime::now()
    }
    /// Waits `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The real clock (tokio's timer).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A clock whose sleeps return at once and move its time forward; it records every sleep.
/// For tests and simulations.
///
/// ```
/// use std::time::Duration;
/// use selfheal::time::{Clock, VirtualClock};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let clock = VirtualClock::new();
/// let start = clock.now();
/// clock.sleep(Duration::from_secs(60)).await;
/// assert_eq!(clock.now() - start, Duration::from_secs(60));
/// assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct VirtualClock {
    start: Instant,
    start_time: SystemTime,
    state: Arc<Mutex<VirtualState>>,
}

#[derive(Debug, Default)]
struct VirtualState {
    elapsed: Duration,
    sleeps: Vec<Duration>,
}

impl VirtualClock {
    /// A clock at the current instant.
    pub fn new() -> Self {
        VirtualClock {
            start: Instant::now(),
            start_time: SystemTime::now(),
            state: Arc::default(),
        }
    }

    /// Moves time forward without a sleep being recorded.
    pub fn advance(&self, duration: Duration) {
        self.lock().elapsed += duration;
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VirtualState> {
        // A panic elsewhere cannot leave the state half-written: take it as it is.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        VirtualClock::new()
    }
}

#[async_trait::async_trait]
impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        self.start + self.lock().elapsed
    }

    fn system_time(&self) -> SystemTime {
        self.start_time + self.lock().elapsed
    }

    async fn sleep(&self, duration: Duration) {
        let mut state = self.lock();
        state.elapsed += duration;
        state.sleeps.push(duration);
    }
}

/// A seeded source of jitter: the same seed gives the same delays.
#[derive(Debug)]
pub struct Jitter {
    state: Mutex<u64>,
}

impl Jitter {
    /// A source with a fixed seed.
    pub fn seeded(seed: u64) -> Self {
        Jitter {
            // xorshift must not start at zero.
            state: Mutex::new(seed | 1),
        }
    }

    /// A source seeded from the clock and the process.
    pub fn from_entropy() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Jitter::seeded(nanos ^ u64::from(std::process::id()).rotate_left(32))
    }

    /// A number in `[-1, 1)`.
    pub fn sample(&self) -> f64 {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        // The top 53 bits as a fraction in [0, 1), stretched to [-1, 1).
        ((*state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// The wait before retry `n` (1-based): `base · factor^(n-1)`, capped at `max`, then moved by
/// up to `spread` of itself (0.1: ±10 %) by `sample` (in `[-1, 1)`, from a [`Jitter`]).
pub fn backoff(
    base: Duration,
    factor: f64,
    max: Duration,
    n: u32,
    spread: f64,
    sample: f64,
) -> Duration {
    let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
    let grown = base.as_secs_f64() * factor.max(1.0).powi(exponent);
    let capped = grown.min(max.as_secs_f64());
    let moved = capped * (1.0 + spread.clamp(0.0, 1.0) * sample.clamp(-1.0, 1.0));
    Duration::try_from_secs_f64(moved.max(0.0)).unwrap_or(max)
}

/// A random number, from the standard library's per-process random hash keys: for ids that
/// must differ between runs and processes (not for anything secret).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter::from_entropy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_jitter_repeats_itself_and_stays_in_range() {
        let draw = |seed| {
            let jitter = Jitter::seeded(seed);
            (0..1000).map(|_| jitter.sample()).collect::<Vec<f64>>()
        };
        let (a, b) = (draw(7), draw(7));
        assert_eq!(a, b);
        assert_ne!(a, draw(8));
        assert!(a.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((-0.1..0.1).contains(&mean), "{mean}");
        assert!(
            draw(0).iter().any(|x| *x != -1.0),
            "zero is not a stuck seed"
        );
    }

    #[test]
    fn backoff_grows_caps_and_spreads() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
        let wait = |n, spread, sample| backoff(base, 2.0, max, n, spread, sample);
        assert_eq!(wait(1, 0.1, 0.0), Duration::from_secs(1));
        assert_eq!(wait(4, 0.1, 0.0), Duration::from_secs(8));
        assert_eq!(wait(40, 0.1, 0.0), max, "capped");
        assert_eq!(wait(u32::MAX, 0.0, 0.0), max, "no overflow");
        assert_eq!(wait(2, 0.1, 1.0), Duration::from_millis(2200));
        assert_eq!(wait(2, 0.1, -1.0), Duration::from_millis(1800));
        assert_eq!(
            wait(2, 5.0, -1.0),
            Duration::ZERO,
            "the spread is at most the wait"
        );
        assert_eq!(
            backoff(base, 0.5, max, 3, 0.0, 0.0),
            base,
            "a factor below 1 does not shrink"
        );
    }
}

//! [`HealthMonitor`]: how the healer has been doing lately.

use std::sync::Arc;
use std::time::Duration;

use napi_derive::napi;
use selfheal::observe::HealthMonitor as Api;
use serde_json::Value;

use crate::convert::to_json;
use crate::errors::{self, Result};

/// Sliding-window figures over the runs of the healers it is given to (`new Healer({ monitor
/// })`): failure, timeout and escalation rates, mean duration, mean and p90 recovery time, cache
/// hit rate, and a `status` — `healthy`, `degraded` or `critical` by seed 004's thresholds
/// (failure rate 25 % / 50 %, timeout rate 10 % / 20 %, mean duration 120 s / 240 s).
#[napi]
pub struct HealthMonitor {
    pub(crate) inner: Arc<Api>,
}

#[napi]
impl HealthMonitor {
    /// Over the runs that ended in the last `window` seconds (default 3600). Throws `E_CONFIG`
    /// for a window that is not a positive number.
    #[napi(constructor)]
    pub fn new(window: Option<f64>) -> Result<Self> {
        let window = window.unwrap_or(3600.0);
        if !(window.is_finite() && window > 0.0) {
            return Err(errors::config(format!(
                "window: {window} is not a positive number of seconds"
            )));
        }
        Ok(HealthMonitor {
            inner: Arc::new(Api::new(Duration::from_secs_f64(window))),
        })
    }

    /// The figures now: `{ status, runs, failureRate, timeoutRate, escalationRate,
    /// meanDurationSecs, meanRecoverySecs, p90RecoverySecs, cacheHitRate, alerts }`.
    #[napi(ts_return_type = "Record<string, unknown>")]
    pub fn health(&self) -> Value {
        to_json(&self.inner.health())
    }
}

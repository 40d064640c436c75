//! [`HealthMonitor`]: how the healer has been doing lately.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use selfheal::observe::HealthMonitor as Api;

use crate::convert::serialize;
use crate::errors;

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<HealthMonitor>()
}

/// Sliding-window figures over the runs of the healers it is given to (`Healer(monitor=...)`):
/// failure, timeout and escalation rates, mean duration, mean and p90 recovery time, cache hit
/// rate, and a `status` — `healthy`, `degraded` or `critical` by seed 004's thresholds (failure
/// rate 25 % / 50 %, timeout rate 10 % / 20 %, mean duration 120 s / 240 s).
#[pyclass(frozen, module = "selfheal")]
pub(crate) struct HealthMonitor {
    pub(crate) inner: Arc<Api>,
}

#[pymethods]
impl HealthMonitor {
    /// Over the runs that ended in the last `window` seconds.
    #[new]
    #[pyo3(signature = (window = 3600.0))]
    fn new(window: f64) -> PyResult<Self> {
        if !(window.is_finite() && window > 0.0) {
            return Err(errors::config(format!(
                "window: {window} is not a positive number of seconds"
            )));
        }
        Ok(HealthMonitor {
            inner: Arc::new(Api::new(Duration::from_secs_f64(window))),
        })
    }

    /// The figures now, as a dict: `status`, `runs`, `failure_rate`, `timeout_rate`,
    /// `escalation_rate`, `mean_duration_secs`, `mean_recovery_secs`, `p90_recovery_secs`,
    /// `cache_hit_rate`, `alerts`.
    fn health<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.health())
    }
}

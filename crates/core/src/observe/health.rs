//! [`HealthMonitor`]: how the healer has been doing lately, as seed 004 watches it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::heal::{FixSource, HealReport, Outcome, RunRecorder};
use crate::time::{Clock, SystemClock};

/// A figure's warning and critical levels (a figure at or above a level reaches it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// Degraded from here.
    pub warning: f64,
    /// Critical from here.
    pub critical: f64,
}

/// The levels that make the healer degraded or critical (defaults from seed 004).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HealthThresholds {
    /// Runs that ended unhealed (escalated or out of time): 25 % / 50 %.
    pub failure_rate: Threshold,
    /// Runs that ran out of time: 10 % / 20 %.
    pub timeout_rate: Threshold,
    /// Mean run duration in seconds: 120 / 240.
    pub mean_duration_secs: Threshold,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        HealthThresholds {
            failure_rate: Threshold {
                warning: 0.25,
                critical: 0.50,
            },
            timeout_rate: Threshold {
                warning: 0.10,
                critical: 0.20,
            },
            mean_duration_secs: Threshold {
                warning: 120.0,
                critical: 240.0,
            },
        }
    }
}

/// Healthy, degraded (a figure at a warning level) or critical (one at a critical level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Every figure below its warning level.
    Healthy,
    /// A figure at or above its warning level.
    Degraded,
    /// A figure at or above its critical level.
    Critical,
}

/// The figures over the runs that ended within the window. Cancelled runs are not counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// What the figures add up to.
    pub status: HealthStatus,
    /// Runs counted.
    pub runs: usize,
    /// Share of runs that ended unhealed (escalated or out of time).
    pub failure_rate: f64,
    /// Share of runs that ran out of time.
    pub timeout_rate: f64,
    /// Share of runs handed over to a person.
    pub escalation_rate: f64,
    /// Mean run duration, in seconds.
    pub mean_duration_secs: f64,
    /// Mean time a healed run took to turn the build green, in seconds.
    pub mean_recovery_secs: Option<f64>,
    /// The 90th percentile of the same.
    pub p90_recovery_secs: Option<f64>,
    /// Of the fixes taken from the cache or the model, the share from the cache (a model is
    /// asked only after the cache had nothing).
    pub cache_hit_rate: Option<f64>,
    /// Each figure at or above a level, said in words (`failure rate 30% ≥ warning 25%`).
    pub alerts: Vec<String>,
}

impl Health {
    /// Sets the `selfheal_health_*` gauges to these figures (figures not known yet are left out).
    fn publish(&self) {
        use metrics::gauge;
        let status = match self.status {
            HealthStatus::Healthy => 0.0,
            HealthStatus::Degraded => 1.0,
            HealthStatus::Critical => 2.0,
        };
        gauge!("selfheal_health_status").set(status);
        gauge!("selfheal_health_runs").set(self.runs as f64);
        gauge!("selfheal_health_failure_rate").set(self.failure_rate);
        gauge!("selfheal_health_timeout_rate").set(self.timeout_rate);
        gauge!("selfheal_health_escalation_rate").set(self.escalation_rate);
        gauge!("selfheal_health_mean_duration_seconds").set(self.mean_duration_secs);
        for (name, value) in [
            (
                "selfheal_health_mean_recovery_seconds",
                self.mean_recovery_secs,
            ),
            (
                "selfheal_health_p90_recovery_seconds",
                self.p90_recovery_secs,
            ),
            ("selfheal_health_cache_hit_rate", self.cache_hit_rate),
        ] {
            if let Some(value) = value {
                gauge!(name).set(value);
            }
        }
    }
}

/// Sliding-window figures over finished runs: feed it reports ([`record`](Self::record), or
/// give it to a [`Healer`](crate::heal::Healer) with `monitor`) and ask for
/// [`health`](Self::health) whenever a host wants to show or serve it.
///
/// ```
/// use selfheal::observe::{HealthMonitor, HealthStatus};
///
/// let monitor = HealthMonitor::new(std::time::Duration::from_secs(3600));
/// assert_eq!(monitor.health().status, HealthStatus::Healthy); // no runs yet
/// ```
#[derive(Debug)]
pub struct HealthMonitor {
    window: Duration,
    thresholds: HealthThresholds,
    clock: Arc<dyn Clock>,
    runs: Mutex<VecDeque<Finished>>,
}

/// What the monitor keeps of a run.
#[derive(Debug, Clone, Copy)]
struct Finished {
    at: Instant,
    outcome: Outcome,
    duration: Duration,
    cache_fixes: u32,
    model_fixes: u32,
}

/// Runs kept at most, whatever the window: memory stays bounded under any load.
const MAX_RUNS: usize = 100_000;

impl HealthMonitor {
    /// A monitor over the runs of the last `window`, with the default thresholds.
    pub fn new(window: Duration) -> HealthMonitor {
        HealthMonitor {
            window,
            thresholds: HealthThresholds::default(),
            clock: Arc::new(SystemClock),
            runs: Mutex::default(),
        }
    }

    /// Other levels.
    pub fn thresholds(mut self, thresholds: HealthThresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// Another clock (tests use a virtual one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The figures now.
    pub fn health(&self) -> Health {
        let runs: Vec<Finished> = {
            let mut runs = self.lock();
            self.forget_old(&mut runs, self.clock.now());
            runs.iter().copied().collect()
        };
        let n = runs.len();
        let share = |count: usize| if n == 0 { 0.0 } else { count as f64 / n as f64 };
        let count = |outcome: Outcome| runs.iter().filter(|r| r.outcome == outcome).count();
        let (escalated, timed_out) = (count(Outcome::Escalated), count(Outcome::Failed));
        let mean_duration_secs = if n == 0 {
            0.0
        } else {
            runs.iter().map(|r| r.duration.as_secs_f64()).sum::<f64>() / n as f64
        };
        let mut recoveries: Vec<f64> = (runs.iter())
            .filter(|r| r.outcome == Outcome::Healed)
            .map(|r| r.duration.as_secs_f64())
            .collect();
        recoveries.sort_by(f64::total_cmp);
        let mean_recovery_secs = (!recoveries.is_empty())
            .then(|| recoveries.iter().sum::<f64>() / recoveries.len() as f64);
        // Nearest rank: the smallest value with at least 90 % of the values at or below it.
        let p90_recovery_secs = (!recoveries.is_empty()).then(|| {
            let rank = (0.9 * recoveries.len() as f64).ceil() as usize;
            recoveries[rank.clamp(1, recoveries.len()) - 1]
        });
        let (cache, model) = runs
            .iter()
            .fold((0, 0), |(c, m), r| (c + r.cache_fixes, m + r.model_fixes));
        let cache_hit_rate =
            (cache + model > 0).then(|| f64::from(cache) / f64::from(cache + model));
        let mut health = Health {
            status: HealthStatus::Healthy,
            runs: n,
            failure_rate: share(escalated + timed_out),
            timeout_rate: share(timed_out),
            escalation_rate: share(escalated),
            mean_duration_secs,
            mean_recovery_secs,
            p90_recovery_secs,
            cache_hit_rate,
            alerts: Vec::new(),
        };
        let t = &self.thresholds;
        for (name, value, threshold, percent) in [
            ("failure rate", health.failure_rate, t.failure_rate, true),
            ("timeout rate", health.timeout_rate, t.timeout_rate, true),
            (
                "mean duration",
                health.mean_duration_secs,
                t.mean_duration_secs,
                false,
            ),
        ] {
            let show = |x: f64| {
                if percent {
                    format!("{:.0}%", x * 100.0)
                } else {
                    format!("{x:.0} s")
                }
            };
            let (status, level, limit) = if value >= threshold.critical {
                (HealthStatus::Critical, "critical", threshold.critical)
            } else if value >= threshold.warning {
                (HealthStatus::Degraded, "warning", threshold.warning)
            } else {
                continue;
            };
            if n == 0 {
                continue;
            }
            health.status = health.status.max(status);
            health
                .alerts
                .push(format!("{name} {} ≥ {level} {}", show(value), show(limit)));
        }
        health
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Finished>> {
        self.runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn forget_old(&self, runs: &mut VecDeque<Finished>, now: Instant) {
        while runs
            .front()
            .is_some_and(|r| now.saturating_duration_since(r.at) > self.window)
        {
            runs.pop_front();
        }
    }
}

impl RunRecorder for HealthMonitor {
    /// Counts a finished run, and publishes the figures as gauges for a scraper
    /// (`selfheal_health_status` 0 healthy / 1 degraded / 2 critical, `…_failure_rate`,
    /// `…_timeout_rate`, `…_escalation_rate`, `…_mean_duration_seconds`,
    /// `…_mean_recovery_seconds`, `…_p90_recovery_seconds`, `…_cache_hit_rate`, `…_runs`).
    fn record(&self, report: &HealReport) {
        if report.outcome == Outcome::Cancelled {
            return;
        }
        let fixes = |source: FixSource| {
            (report.attempts.iter())
                .filter(|a| a.source == Some(source))
                .count() as u32
        };
        let now = self.clock.now();
        let mut runs = self.lock();
        runs.push_back(Finished {
            at: now,
            outcome: report.outcome,
            duration: report.duration,
            cache_fixes: fixes(FixSource::Cache),
            model_fixes: fixes(FixSource::Llm),
        });
        if runs.len() > MAX_RUNS {
            runs.pop_front();
        }
        self.forget_old(&mut runs, now);
        drop(runs);
        self.health().publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heal::AttemptReport;
    use crate::time::VirtualClock;

    fn report(outcome: Outcome, seconds: u64, sources: &[FixSource]) -> HealReport {
        let mut report = HealReport::empty();
        report.outcome = outcome;
        report.duration = Duration::from_secs(seconds);
        report.attempts = (sources.iter())
            .map(|source| AttemptReport {
                source: Some(*source),
                ..AttemptReport::numbered(2)
            })
            .collect();
        report
    }

    fn monitor(clock: &VirtualClock) -> HealthMonitor {
        HealthMonitor::new(Duration::from_secs(600)).clock(Arc::new(clock.clone()))
    }

    #[test]
    fn a_quarter_of_runs_unhealed_is_a_warning_a_fifth_timed_out_is_critical() {
        let clock = VirtualClock::new();
        let health = monitor(&clock);
        assert_eq!(health.health().status, HealthStatus::Healthy);
        for seconds in [10, 20, 30] {
            health.record(&report(Outcome::Healed, seconds, &[FixSource::Llm]));
        }
        health.record(&report(Outcome::Escalated, 40, &[]));
        let figures = health.health();
        assert_eq!((figures.runs, figures.failure_rate), (4, 0.25));
        assert_eq!(figures.escalation_rate, 0.25);
        assert_eq!(figures.status, HealthStatus::Degraded);
        assert_eq!(figures.alerts, ["failure rate 25% ≥ warning 25%"]);

        health.record(&report(Outcome::Failed, 50, &[]));
        let figures = health.health();
        assert_eq!(figures.timeout_rate, 0.2);
        assert_eq!(figures.status, HealthStatus::Critical);
        assert_eq!(
            figures.alerts,
            [
                "failure rate 40% ≥ warning 25%",
                "timeout rate 20% ≥ critical 20%"
            ]
        );
        // Cancelled runs are not counted.
        health.record(&report(Outcome::Cancelled, 1, &[]));
        assert_eq!(health.health().runs, 5);
    }

    #[test]
    fn the_figures_are_published_as_gauges_for_a_scraper() {
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let clock = VirtualClock::new();
        metrics::with_local_recorder(&recorder, || {
            let health = monitor(&clock);
            health.record(&report(Outcome::Healed, 10, &[FixSource::Cache]));
            health.record(&report(Outcome::Failed, 30, &[]));
        });
        let gauges: std::collections::HashMap<String, f64> = (snapshotter.snapshot().into_vec())
            .into_iter()
            .filter_map(|(key, _, _, value)| match value {
                metrics_util::debugging::DebugValue::Gauge(value) => {
                    Some((key.key().name().to_string(), value.into_inner()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(gauges["selfheal_health_status"], 2.0, "{gauges:?}");
        assert_eq!(gauges["selfheal_health_runs"], 2.0);
        assert_eq!(gauges["selfheal_health_timeout_rate"], 0.5);
        assert_eq!(gauges["selfheal_health_mean_duration_seconds"], 20.0);
        assert_eq!(gauges["selfheal_health_mean_recovery_seconds"], 10.0);
        assert_eq!(gauges["selfheal_health_cache_hit_rate"], 1.0);
    }

    #[test]
    fn runs_leave_the_window_as_time_passes() {
        let clock = VirtualClock::new();
        let health = monitor(&clock);
        health.record(&report(Outcome::Escalated, 5, &[]));
        clock.advance(Duration::from_secs(400));
        health.record(&report(Outcome::Healed, 5, &[]));
        assert_eq!(health.health().runs, 2);
        clock.advance(Duration::from_secs(201));
        let figures = health.health();
        assert_eq!((figures.runs, figures.failure_rate), (1, 0.0));
        assert_eq!(figures.status, HealthStatus::Healthy);
        clock.advance(Duration::from_secs(400));
        assert_eq!(health.health().runs, 0);
    }

    #[test]
    fn recovery_times_duration_and_cache_share() {
        let clock = VirtualClock::new();
        let health = monitor(&clock);
        for seconds in 1..=10 {
            let source = if seconds % 2 == 0 {
                FixSource::Cache
            } else {
                FixSource::Llm
            };
            health.record(&report(
                Outcome::Healed,
                seconds,
                &[source, FixSource::Fixer],
            ));
        }
        let figures = health.health();
        assert_eq!(figures.mean_recovery_secs, Some(5.5));
        assert_eq!(figures.p90_recovery_secs, Some(9.0));
        assert_eq!(figures.cache_hit_rate, Some(0.5));
        assert_eq!(figures.status, HealthStatus::Healthy);

        let slow = HealthMonitor::new(Duration::from_secs(600))
            .clock(Arc::new(clock.clone()))
            .thresholds(HealthThresholds::default());
        slow.record(&report(Outcome::AlreadyGreen, 130, &[]));
        let figures = slow.health();
        assert_eq!(figures.status, HealthStatus::Degraded);
        assert_eq!(figures.alerts, ["mean duration 130 s ≥ warning 120 s"]);
        assert_eq!(
            (figures.mean_recovery_secs, figures.cache_hit_rate),
            (None, None)
        );
        slow.record(&report(Outcome::Healed, 400, &[]));
        assert_eq!(slow.health().status, HealthStatus::Critical);
    }
}

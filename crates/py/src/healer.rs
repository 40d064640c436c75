//! [`Healer`] and the handle of one of its runs ([`Run`]), with the run's [`Event`]s and its
//! [`HealReport`]. The asyncio-facing `heal`, `heal_sync` and `stream` are written in Python
//! on top of [`Run`] (`python/selfheal/__init__.py`).

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyAttributeError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_async_runtimes::TaskLocals;
use selfheal::heal::{self, Event as Api, EventSink, HealConfig, HealOptions, Outcome, RunHandle};
use selfheal::workspace::Workspace;
use serde_json::Value;

use crate::builders::{builder_from, plan_from};
use crate::cache::FixCache;
use crate::convert::{from_python, name_of, serialize, to_python};
use crate::diagnostics::{Diagnostic, parsers_from};
use crate::errors;
use crate::host::Scope;
use crate::observe::HealthMonitor;
use crate::pending::{self, Deliver, Pending};
use crate::providers::provider_from;

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Healer>()?;
    module.add_class::<Run>()?;
    module.add_class::<Event>()?;
    module.add_class::<HealReport>()?;
    module.add_function(wrap_pyfunction!(default_fixers, module)?)?;
    Ok(())
}

/// The names of the deterministic fixers a `Healer` uses by default, in the order it asks
/// them. `missing-dependencies` installs packages the source imports (scripts off, pip only
/// into the project's virtualenv); the option `install=False` turns every install off.
#[pyfunction]
fn default_fixers() -> Vec<String> {
    heal::default_fixers()
        .iter()
        .map(|f| f.name().to_string())
        .collect()
}

/// The heal loop: build, read the errors, fix (deterministic fixers, then the fix cache, then
/// the model), apply safely, rebuild — until the build is green or nothing is left to try.
///
/// `provider`: `Anthropic`/`OpenAI`/`Gemini`/`Fallback` or any object with
/// `complete(request)`; none: fixers and cache only. `builder`: `LocalBuilder` (default),
/// `DockerBuilder` or any object with `run(step, workspace)`. `cache`: a `FixCache`.
/// `config`: a dict (`max_attempts`, `timeout`, `max_tokens`, `max_usd`, `stuck_after`,
/// `keep_partial`, `fixer_safety`, `backoff`, `max_backoff`, `jitter_seed`, `context`).
/// `fixers`: names from `default_fixers()`, in order. `parsers`: pattern dicts or objects with
/// `parse(log)`, added to the built-in parsers. `on_escalation(report)` is called when a run
/// escalates.
#[pyclass(subclass, frozen, module = "selfheal")]
pub(crate) struct Healer {
    inner: Arc<heal::Healer>,
}

#[pymethods]
impl Healer {
    #[new]
    #[pyo3(signature = (provider = None, builder = None, cache = None, config = None, fixers = None, parsers = None, on_escalation = None, monitor = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        provider: Option<&Bound<'_, PyAny>>,
        builder: Option<&Bound<'_, PyAny>>,
        cache: Option<&Bound<'_, FixCache>>,
        config: Option<&Bound<'_, PyDict>>,
        fixers: Option<Vec<String>>,
        parsers: Option<&Bound<'_, PyList>>,
        on_escalation: Option<Py<PyAny>>,
        monitor: Option<&Bound<'_, HealthMonitor>>,
    ) -> PyResult<Self> {
        let mut healer = match builder {
            Some(builder) => heal::Healer::new(builder_from(builder)?),
            None => heal::Healer::new(selfheal::build::LocalBuilder::new()),
        };
        if let Some(provider) = provider {
            healer = healer.provider(provider_from(provider)?);
        }
        if let Some(cache) = cache {
            healer = healer.cache(cache.get().inner.clone());
        }
        if let Some(monitor) = monitor {
            healer = healer.monitor(Arc::clone(&monitor.get().inner));
        }
        if let Some(config) = config {
            healer = healer.config(config_from(config)?);
        }
        if let Some(names) = fixers {
            healer = healer.fixers(heal::fixers_named(&names).map_err(errors::to_py)?);
        }
        if let Some(parsers) = parsers {
            healer = healer.parsers(parsers_from(parsers)?.0);
        }
        if let Some(handler) = on_escalation {
            healer = healer.on_escalation(move |report| {
                let report = HealReport {
                    inner: report.clone(),
                };
                if let Some(scope) = Scope::current() {
                    scope.notify(&handler, report);
                }
            });
        }
        Ok(Healer {
            inner: Arc::new(healer),
        })
    }

    /// Starts healing `workspace` (a folder) with `steps`; `async def` callbacks run on
    /// `event_loop`. Use `heal`, `heal_sync` or `stream` rather than this.
    #[pyo3(signature = (workspace, steps, event_loop, *, on_event = None, stream = false))]
    fn start(
        &self,
        py: Python<'_>,
        workspace: std::path::PathBuf,
        steps: &Bound<'_, PyAny>,
        event_loop: &Bound<'_, PyAny>,
        on_event: Option<Py<PyAny>>,
        stream: bool,
    ) -> PyResult<Run> {
        let plan = plan_from(steps)?;
        let workspace = Workspace::open(&workspace).map_err(|e| errors::to_py(e.into()))?;
        let scope = Scope::new(TaskLocals::new(event_loop.clone()).copy_context(py)?);
        let sink = Sink {
            on_event,
            scope: scope.clone(),
        };
        let (handle, run) = RunHandle::start(
            self.inner.clone(),
            workspace,
            plan,
            sink,
            stream,
            scope.canceller.clone(),
        );
        pyo3_async_runtimes::tokio::get_runtime().spawn(Scope::enter(scope.clone(), run));
        Ok(Run {
            scope,
            handle: Arc::new(handle),
        })
    }
}

fn config_from(config: &Bound<'_, PyDict>) -> PyResult<HealConfig> {
    let options: HealOptions = serde_json::from_value(from_python(config.as_any())?)
        .map_err(|e| errors::config(format!("config: {e}")))?;
    options.config().map_err(errors::to_py)
}

/// Where a run's events go besides its stream: the host's `on_event`.
struct Sink {
    on_event: Option<Py<PyAny>>,
    scope: Arc<Scope>,
}

impl EventSink for Sink {
    fn event(&self, event: Api) {
        if let Some(callback) = &self.on_event {
            self.scope.notify(callback, Event { inner: event });
        }
    }
}

type Finished = Option<selfheal::Result<heal::HealReport>>;

/// One heal run in progress. Dropping it cancels the run.
#[pyclass(frozen, module = "selfheal")]
pub(crate) struct Run {
    scope: Arc<Scope>,
    handle: Arc<RunHandle>,
}

impl Drop for Run {
    fn drop(&mut self) {
        self.handle.cancel();
    }
}

/// The run's end as Python sees it: the report, the exception a callback raised, or the
/// crate's error.
fn ended(py: Python<'_>, scope: &Scope, finished: Finished) -> PyResult<HealReport> {
    if let Some(error) = scope.failure(py) {
        return Err(error);
    }
    match finished {
        Some(Ok(report)) => Ok(HealReport { inner: report }),
        Some(Err(error)) => Err(errors::to_py(error)),
        None => Err(PyRuntimeError::new_err(
            "the heal run stopped without a report",
        )),
    }
}

#[pymethods]
impl Run {
    /// Stops the run: the attempt in progress is undone, and the report's outcome is
    /// `cancelled`.
    fn cancel(&self) {
        self.handle.cancel();
    }

    /// Resolves to the run's `HealReport` once it has ended.
    fn report(&self) -> PyResult<Pending> {
        let (scope, handle) = (self.scope.clone(), self.handle.clone());
        pending::spawn(async move {
            let finished = handle.report().await;
            Box::new(
                move |py: Python<'_>| Ok(Py::new(py, ended(py, &scope, finished)?)?.into_any()),
            ) as Deliver
        })
    }

    /// Blocks until the run has ended (the GIL released) and returns its `HealReport`.
    /// Ctrl-C cancels the run, waits for the attempt in progress to be undone, and raises
    /// `KeyboardInterrupt`.
    fn wait(&self, py: Python<'_>) -> PyResult<HealReport> {
        let runtime = pyo3_async_runtimes::tokio::get_runtime();
        loop {
            // The timer is made inside the runtime, which it needs.
            let polled = py.detach(|| {
                runtime.block_on(async {
                    tokio::time::timeout(Duration::from_millis(50), self.handle.report()).await
                })
            });
            if let Ok(finished) = polled {
                return ended(py, &self.scope, finished);
            }
            if let Err(interrupt) = py.check_signals() {
                self.handle.cancel();
                py.detach(|| runtime.block_on(self.handle.report()));
                return Err(interrupt);
            }
        }
    }

    /// Resolves to the events that happened since the last call (at least one), or to an
    /// empty list once the run has ended. Only for runs started with `stream=True`.
    fn next_events(&self) -> PyResult<Pending> {
        if !self.handle.streams() {
            return Err(PyRuntimeError::new_err(
                "the run was not started with stream=True",
            ));
        }
        let handle = self.handle.clone();
        pending::spawn(async move {
            let batch = handle.next_events().await.unwrap_or_default();
            Box::new(move |py: Python<'_>| {
                let batch = batch.into_iter().map(|inner| Py::new(py, Event { inner }));
                Ok(PyList::new(py, batch.collect::<PyResult<Vec<_>>>()?)?
                    .into_any()
                    .unbind())
            }) as Deliver
        })
    }
}

/// One thing that happened during a heal run. `kind` names it (`run_started`,
/// `step_started`, `output_line`, `step_finished`, `diagnostics`, `fixer_applied`,
/// `cache_hit`, `cache_miss`, `llm_request`, `llm_delta`, `llm_switched`, `llm_response`,
/// `package_install`, `fix_applied`, `fix_refused`, `fix_rolled_back`, `attempt_finished`, `backoff`, `fallback`, and last `healed`,
/// `escalated`, `failed` or `cancelled`); its fields are attributes (`event.attempt`,
/// `event.line`) and `to_dict()` has them all with `"event": kind`.
#[pyclass(frozen, module = "selfheal")]
pub(crate) struct Event {
    inner: Api,
}

impl Event {
    fn fields(&self) -> serde_json::Map<String, Value> {
        match serde_json::to_value(&self.inner) {
            Ok(Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        }
    }
}

#[pymethods]
impl Event {
    /// What happened (`step_started`, `fix_applied`, …).
    #[getter]
    fn kind(&self) -> String {
        match self.fields().remove("event") {
            Some(Value::String(kind)) => kind,
            _ => String::new(),
        }
    }

    /// True for the event that ends a run.
    #[getter]
    fn is_last(&self) -> bool {
        self.inner.is_last()
    }

    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        if let (Api::Diagnostics { diagnostics, .. }, "diagnostics") = (&self.inner, name) {
            let list = diagnostics
                .iter()
                .map(|d| Py::new(py, Diagnostic { inner: d.clone() }));
            return Ok(PyList::new(py, list.collect::<PyResult<Vec<_>>>()?)?.into_any());
        }
        match self.fields().get(name) {
            Some(value) if name != "event" => to_python(py, value),
            _ => Err(PyAttributeError::new_err(format!(
                "a `{}` event has no `{name}`",
                self.kind()
            ))),
        }
    }

    /// Every field as plain data, with `"event": kind`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        let mut fields = self.fields();
        fields.remove("event");
        let mut shown: Vec<String> = fields
            .iter()
            .take(4)
            .map(|(key, value)| {
                let mut value = value.to_string();
                if value.len() > 60 {
                    let cut = (0..=57)
                        .rev()
                        .find(|&i| value.is_char_boundary(i))
                        .unwrap_or(0);
                    value.truncate(cut);
                    value.push_str("...");
                }
                format!("{key}={value}")
            })
            .collect();
        if fields.len() > 4 {
            shown.push("...".into());
        }
        format!("<Event {} {}>", self.kind(), shown.join(" "))
    }
}

/// How a heal run ended: `outcome` (`healed`, `healed_with_changed_plan`, `already_green`,
/// `escalated`, `failed`, `cancelled`), every attempt, the diagnostics left, the fixes kept, model usage and cost,
/// and for an escalation what a person taking over needs.
#[pyclass(frozen, module = "selfheal")]
pub(crate) struct HealReport {
    inner: heal::HealReport,
}

#[pymethods]
impl HealReport {
    /// `healed`, `healed_with_changed_plan`, `already_green`, `escalated`, `failed` or
    /// `cancelled`.
    #[getter]
    fn outcome(&self) -> String {
        name_of(&self.inner.outcome)
    }
    /// True when the host's plan, as written, passes (`healed` or `already_green`).
    #[getter]
    fn ok(&self) -> bool {
        matches!(self.inner.outcome, Outcome::Healed | Outcome::AlreadyGreen)
    }
    /// Every attempt, the first build included: dicts with `number`, `source`, `by`, `diff`,
    /// `rolled_back`, `apply_error`, `refused`, `errors`, `new`, `fixed`, `persisting`,
    /// `duration`.
    #[getter]
    fn attempts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.attempts)
    }
    /// The diagnostics of the last build.
    #[getter]
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let diagnostics = self.inner.diagnostics.iter();
        diagnostics
            .map(|d| Diagnostic { inner: d.clone() })
            .collect()
    }
    /// The fixes that stayed: dicts with `attempt`, `source`, `by`, `files`.
    #[getter]
    fn fixes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.fixes)
    }
    /// Model tokens: `{"input_tokens": n, "output_tokens": m}`.
    #[getter]
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.usage)
    }
    /// Model cost in USD.
    #[getter]
    fn cost_usd(&self) -> f64 {
        self.inner.cost_usd
    }
    /// For an escalated run: `reason`, `diagnostics` and `next_action`; else `None`.
    #[getter]
    fn escalation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.escalation)
    }
    /// What fallbacks changed of the plan or the builder for the build to pass (outcome
    /// `healed_with_changed_plan`), in words.
    #[getter]
    fn changed_plan(&self) -> Vec<String> {
        self.inner.changed_plan.clone()
    }
    /// The protected files the kept fixes changed, where the host allowed their class: dicts
    /// with `attempt`, `path`, `class`.
    #[getter]
    fn protected_changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.protected_changes)
    }
    /// Seconds the run took.
    #[getter]
    fn duration(&self) -> f64 {
        self.inner.duration.as_secs_f64()
    }

    /// Every field as plain data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "<HealReport {} attempts={} fixes={} errors_left={} tokens={} cost_usd={:.4}>",
            self.outcome(),
            self.inner.attempts.len(),
            self.inner.fixes.len(),
            self.inner.diagnostics.len(),
            self.inner.usage.total(),
            self.inner.cost_usd
        )
    }
}

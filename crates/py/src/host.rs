//! Calling Python from the heal loop: the run's [`Scope`] (its event loop and the first
//! exception a callback raised) and [`call`], which runs a sync or `async def` method.

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_async_runtimes::TaskLocals;
use selfheal::heal::Canceller;

use crate::errors::Cancelled;

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// What the Python callbacks of one heal run share.
pub(crate) struct Scope {
    /// The asyncio loop `async def` callbacks run on.
    locals: TaskLocals,
    /// The first exception a callback raised: it ends the run and is raised by its report.
    failure: Mutex<Option<PyErr>>,
    /// Stops the run: a callback failed, or the host cancelled it.
    pub(crate) canceller: Canceller,
}

impl Scope {
    pub(crate) fn new(locals: TaskLocals) -> Arc<Self> {
        Arc::new(Scope {
            locals,
            failure: Mutex::new(None),
            canceller: Canceller::new(),
        })
    }

    /// The scope of the run being polled, when there is one.
    pub(crate) fn current() -> Option<Arc<Scope>> {
        SCOPE.try_with(Arc::clone).ok()
    }

    /// Runs `future` with `scope` as the current one.
    pub(crate) async fn enter<F: Future>(scope: Arc<Scope>, future: F) -> F::Output {
        SCOPE.scope(scope, future).await
    }

    /// Keeps the first exception and stops the run (which then ends cancelled, even when the
    /// failed call reaches the loop first).
    pub(crate) fn fail(&self, error: PyErr) {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(error);
        self.canceller.cancel();
    }

    /// Calls a host's plain handler (`on_event`, `on_escalation`) with `value`; an exception
    /// in it stops the run.
    pub(crate) fn notify<T: pyo3::PyClass + Into<PyClassInitializer<T>>>(
        &self,
        handler: &Py<PyAny>,
        value: T,
    ) {
        Python::attach(|py| {
            if let Err(error) = Py::new(py, value).and_then(|value| handler.call1(py, (value,))) {
                self.fail(error);
            }
        });
    }

    /// The exception that ended the run, unless it was `Cancelled` (which ends it as a
    /// cancellation).
    pub(crate) fn failure(&self, py: Python<'_>) -> Option<PyErr> {
        let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure
            .as_ref()
            .filter(|error| !error.is_instance_of::<Cancelled>(py))
            .map(|error| error.clone_ref(py))
    }
}

/// Calls `object.method(*args)` off the async threads, and awaits the result on the run's loop
/// when the method is `async def` (or returns any awaitable).
pub(crate) async fn call<A>(
    scope: Option<Arc<Scope>>,
    object: Py<PyAny>,
    method: &'static str,
    args: A,
) -> PyResult<Py<PyAny>>
where
    A: FnOnce(Python<'_>) -> PyResult<Py<PyTuple>> + Send + 'static,
{
    let returned = tokio::task::spawn_blocking(move || {
        Python::attach(|py| {
            let args = args(py)?;
            Ok::<_, PyErr>(
                object
                    .bind(py)
                    .call_method1(method, args.bind(py).clone())?
                    .unbind(),
            )
        })
    })
    .await
    .map_err(|e| PyRuntimeError::new_err(format!("calling {method}: {e}")))??;
    let awaited = Python::attach(|py| {
        let value = returned.bind(py);
        if !value.hasattr("__await__")? {
            return Ok::<_, PyErr>(None);
        }
        let scope = scope.ok_or_else(|| {
            PyRuntimeError::new_err(format!("async {method} called outside a heal run"))
        })?;
        pyo3_async_runtimes::into_future_with_locals(&scope.locals, value.clone()).map(Some)
    })?;
    match awaited {
        Some(future) => future.await,
        None => Ok(returned),
    }
}

/// The name a host object goes by: its `name` attribute when it is a string, else its class
/// name.
pub(crate) fn name_of(object: &Bound<'_, PyAny>) -> PyResult<String> {
    match object
        .getattr("name")
        .and_then(|name| name.extract::<String>())
    {
        Ok(name) => Ok(name),
        Err(_) => Ok(object.get_type().name()?.to_string()),
    }
}

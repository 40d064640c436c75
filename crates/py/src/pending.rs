//! Native async work as a Python awaitable that no runtime thread ever resolves from inside the
//! interpreter.
//!
//! The work runs on the tokio runtime and leaves its result in a slot, then closes the write end
//! of a pipe. The awaiting coroutine (`selfheal._wait`) watches the read end with
//! `loop.add_reader` and, once it is readable, takes the result on the event loop's own thread.
//! Resolving an asyncio future from a runtime thread would need that thread to enter Python just
//! as the awaiting program may be ending — and a thread that re-enters a finalizing interpreter
//! is killed mid-way.

use std::io::PipeReader;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::task::AbortHandle;

/// Turns the work's result into Python objects, on the thread that awaits it.
pub(crate) type Deliver = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// Native work in progress. `await` it; dropping it (or `cancel()`) stops the work.
#[pyclass(frozen, module = "selfheal")]
pub(crate) struct Pending {
    ready: PipeReader,
    result: Arc<Mutex<Option<Deliver>>>,
    task: AbortHandle,
}

/// Starts `work` on the runtime.
pub(crate) fn spawn<F>(work: F) -> PyResult<Pending>
where
    F: Future<Output = Deliver> + Send + 'static,
{
    let (ready, signal) = std::io::pipe()?;
    let result = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&result);
    let task = pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
        let deliver = work.await;
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(deliver);
        // Closing the write end makes the read end readable: that is the whole signal.
        drop(signal);
    });
    Ok(Pending {
        ready,
        result,
        task: task.abort_handle(),
    })
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[pymethods]
impl Pending {
    /// The file descriptor that becomes readable when the work has ended.
    fn fileno(&self) -> i32 {
        self.ready.as_raw_fd()
    }

    /// The work's result (or its exception), once `fileno()` is readable.
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let deliver = self
            .result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match deliver {
            Some(deliver) => deliver(py),
            None if self.task.is_finished() => Err(PyRuntimeError::new_err(
                "the result was already taken, or the work was cancelled",
            )),
            None => Err(PyRuntimeError::new_err("the work has not ended yet")),
        }
    }

    /// Stops the work.
    fn cancel(&self) {
        self.task.abort();
    }

    fn __await__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("selfheal")?
            .getattr("_wait")?
            .call1((slf,))?
            .call_method0("__await__")
    }
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Pending>()
}

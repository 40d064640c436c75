//! Builders — local processes, Docker containers, or a Python object with
//! `run(step, workspace)` — and build steps from strings, dicts or `Step`s.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use selfheal::build::{
    BuildPlan, BuildStep, Builder as Api, Command, CompletedStep, ContainerOptions,
    DockerBuilder as DockerApi, LineSink, LocalBuilder as LocalApi, StepOutput,
};
use selfheal::heal::{CommandSpec, StepFields, StepSpec};
use selfheal::{Error, Result};

use crate::convert::from_python;
use crate::errors;
use crate::host::{self, Scope};

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Builder>()?;
    module.add_class::<LocalBuilder>()?;
    module.add_class::<DockerBuilder>()?;
    module.add_class::<Step>()?;
    Ok(())
}

/// Where build steps run. Made by `LocalBuilder` or `DockerBuilder`; a `Healer` also takes any
/// object with `run(step, workspace)` as a builder.
#[pyclass(subclass, frozen, module = "selfheal")]
pub(crate) struct Builder {
    pub(crate) inner: Arc<dyn Api>,
}

/// Runs each step as a local process group, killed as a whole on timeout or cancellation.
/// `timeout` (seconds) applies to steps that set none.
#[pyclass(extends = Builder, frozen, module = "selfheal")]
pub(crate) struct LocalBuilder;

#[pymethods]
impl LocalBuilder {
    #[new]
    #[pyo3(signature = (*, timeout = None))]
    fn new(timeout: Option<f64>) -> PyResult<PyClassInitializer<Self>> {
        let mut builder = LocalApi::new();
        if let Some(timeout) = timeout {
            builder = builder.default_timeout(seconds(timeout, "timeout")?);
        }
        Ok(PyClassInitializer::from(Builder {
            inner: Arc::new(builder),
        })
        .add_subclass(LocalBuilder))
    }
}

/// Runs each step in a fresh, locked-down container of `image`: an unprivileged user, 4096 MiB
/// and 2 CPUs unless `memory_mib` / `cpus` say otherwise, no network unless `network` (and then
/// not to the host's own or link-local addresses unless `allow_host_addresses`). Connects to the engine at `DOCKER_HOST` or the local socket;
/// raises `BuildError` when no engine answers.
#[pyclass(extends = Builder, frozen, module = "selfheal")]
pub(crate) struct DockerBuilder;

#[pymethods]
impl DockerBuilder {
    #[new]
    #[pyo3(signature = (image, *, network = false, allow_host_addresses = false, memory_mib = None, cpus = None, user = None, timeout = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        image: String,
        network: bool,
        allow_host_addresses: bool,
        memory_mib: Option<u64>,
        cpus: Option<f64>,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let options = ContainerOptions {
            network,
            allow_host_addresses,
            memory_mib,
            cpus,
            user,
            timeout: timeout.map(|t| seconds(t, "timeout")).transpose()?,
        };
        let runtime = pyo3_async_runtimes::tokio::get_runtime();
        let builder = py
            .detach(|| runtime.block_on(DockerApi::connect(image)))
            .map_err(errors::to_py)?
            .options(options);
        Ok(PyClassInitializer::from(Builder {
            inner: Arc::new(builder),
        })
        .add_subclass(DockerBuilder))
    }
}

fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|e| errors::config(format!("{what}: {e}")))
}

/// One build step, as a Python builder's `run` receives it (and as `steps` may give it).
#[pyclass(frozen, module = "selfheal")]
#[derive(Clone)]
pub(crate) struct Step {
    pub(crate) inner: BuildStep,
}

#[pymethods]
impl Step {
    /// A step running `command` (a shell line, or a list of program and arguments without a
    /// shell), named after its program unless `name` is given; `timeout` in seconds, `env`
    /// added to the environment, `cwd` relative to the workspace.
    #[new]
    #[pyo3(signature = (command, *, name = None, timeout = None, env = None, cwd = None, continue_on_failure = false))]
    fn new(
        command: &Bound<'_, PyAny>,
        name: Option<String>,
        timeout: Option<f64>,
        env: Option<BTreeMap<String, String>>,
        cwd: Option<String>,
        continue_on_failure: bool,
    ) -> PyResult<Self> {
        let command =
            match command.extract::<String>() {
                Ok(line) => CommandSpec::Line(line),
                Err(_) => CommandSpec::Argv(command.extract().map_err(|_| {
                    PyTypeError::new_err("a step's command is a str or a list of str")
                })?),
            };
        let step = StepSpec::Fields(StepFields {
            command,
            name,
            timeout,
            env: env.unwrap_or_default(),
            cwd,
            continue_on_failure,
        })
        .step()
        .map_err(errors::to_py)?;
        Ok(Step { inner: step })
    }

    /// The step's name in reports.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    /// The command as a shell line.
    #[getter]
    fn command(&self) -> String {
        match &self.inner.command {
            Command::Shell(line) => line.clone(),
            argv @ Command::Argv(_) => argv.to_string(),
        }
    }
    /// The argument vector that runs it (`["/bin/sh", "-c", line]` for a shell line).
    #[getter]
    fn argv(&self) -> Vec<String> {
        self.inner.command.argv()
    }
    /// Seconds it may run, if limited.
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.inner.timeout.map(|t| t.as_secs_f64())
    }
    /// Variables added to the environment.
    #[getter]
    fn env(&self) -> BTreeMap<String, String> {
        self.inner.env.iter().cloned().collect()
    }
    /// The working directory relative to the workspace, if not the workspace itself.
    #[getter]
    fn cwd(&self) -> Option<String> {
        self.inner.cwd.as_ref().map(|cwd| cwd.to_string())
    }
    /// Whether later steps run when this one fails.
    #[getter]
    fn continue_on_failure(&self) -> bool {
        self.inner.continue_on_failure
    }

    fn __repr__(&self) -> String {
        format!("<Step {}: {}>", self.inner.name, self.command())
    }
}

/// The plan of `steps`: command strings, `Step`s, or dicts with `command` and optionally
/// `name`, `timeout`, `env`, `cwd`, `continue_on_failure`.
pub(crate) fn plan_from(steps: &Bound<'_, PyAny>) -> PyResult<BuildPlan> {
    if steps.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("steps is a list: [\"npm run build\"]"));
    }
    let mut plan = Vec::new();
    for step in steps.try_iter()? {
        let step = step?;
        if let Ok(step) = step.cast::<Step>() {
            plan.push(step.get().inner.clone());
        } else if step.is_instance_of::<PyString>() || step.is_instance_of::<PyDict>() {
            let spec: StepSpec = serde_json::from_value(from_python(&step)?)
                .map_err(|e| errors::config(format!("step: {e}")))?;
            plan.push(spec.step().map_err(errors::to_py)?);
        } else {
            return Err(PyTypeError::new_err("a step is a str, a dict or a Step"));
        }
    }
    if plan.is_empty() {
        return Err(errors::config("a build needs at least one step"));
    }
    Ok(BuildPlan::new(plan))
}

/// A built-in builder, or a Python object with `run(step, workspace)` as one.
pub(crate) fn builder_from(object: &Bound<'_, PyAny>) -> PyResult<Arc<dyn Api>> {
    if let Ok(builder) = object.cast::<Builder>() {
        return Ok(builder.get().inner.clone());
    }
    if !object.hasattr("run")? {
        return Err(PyTypeError::new_err(
            "a builder is LocalBuilder, DockerBuilder or an object with run(step, workspace)",
        ));
    }
    Ok(Arc::new(PythonBuilder {
        object: object.clone().unbind(),
        name: host::name_of(object)?,
    }))
}

/// A Python object's `run(step, workspace)` as a builder. It returns a dict (`exit_code`, and
/// `output` or `stdout`/`stderr`, optionally `timed_out`) or a `subprocess.CompletedProcess`;
/// its output reaches the loop when it returns.
struct PythonBuilder {
    object: Py<PyAny>,
    name: String,
}

#[async_trait::async_trait]
impl Api for PythonBuilder {
    async fn run_step(
        &self,
        workspace: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> Result<StepOutput> {
        let started = Instant::now();
        let scope = Scope::current();
        let object = Python::attach(|py| self.object.clone_ref(py));
        let given = Step {
            inner: step.clone(),
        };
        let root = workspace.to_path_buf();
        let ran = host::call(scope.clone(), object, "run", move |py| {
            let args = [
                Py::new(py, given)?.into_any(),
                root.into_pyobject(py)?.into_any().unbind(),
            ];
            Ok(PyTuple::new(py, args)?.unbind())
        })
        .await
        .and_then(|ran| Python::attach(|py| Ran::read(ran.bind(py), &self.name)));
        let ran = match ran {
            Ok(ran) => ran,
            Err(error) => {
                let reason = Python::attach(|py| error.value(py).to_string());
                if let Some(scope) = scope {
                    scope.fail(error);
                }
                return Err(Error::build(&step.name, reason));
            }
        };
        Ok(CompletedStep {
            exit_code: ran.exit_code,
            stdout: ran.stdout,
            stderr: ran.stderr,
            timed_out: ran.timed_out,
        }
        .into_output(step, started.elapsed(), sink))
    }
}

/// What a Python builder's `run` returned.
struct Ran {
    exit_code: i32,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

impl Ran {
    fn read(ran: &Bound<'_, PyAny>, name: &str) -> PyResult<Self> {
        let field = |keys: &[&str]| -> PyResult<Option<Bound<'_, PyAny>>> {
            for key in keys {
                let found = match ran.cast::<PyDict>() {
                    Ok(dict) => dict.get_item(key)?,
                    Err(_) => ran.getattr(*key).ok(),
                };
                if let Some(found) = found.filter(|v| !v.is_none()) {
                    return Ok(Some(found));
                }
            }
            Ok(None)
        };
        let exit_code = field(&["exit_code", "returncode"])?.ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{name}.run must return a dict with `exit_code` and `output` (or `stdout`/`stderr`), or a subprocess.CompletedProcess"
            ))
        })?;
        let text = |keys: &[&str]| -> PyResult<String> {
            Ok(match field(keys)? {
                None => String::new(),
                Some(value) => match value.cast::<PyBytes>() {
                    Ok(bytes) => String::from_utf8_lossy(bytes.as_bytes()).into_owned(),
                    Err(_) => value.extract()?,
                },
            })
        };
        Ok(Ran {
            exit_code: exit_code.extract()?,
            stdout: text(&["output", "stdout"])?,
            stderr: text(&["stderr"])?,
            timed_out: field(&["timed_out"])?
                .map(|v| v.is_truthy())
                .transpose()?
                .unwrap_or(false),
        })
    }
}

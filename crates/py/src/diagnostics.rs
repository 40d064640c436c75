//! `parse`, `recover_json`, [`Diagnostic`], and error parsers written in Python.

use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use selfheal::ErrorKind;
use selfheal::json::{self, Hint};
use selfheal::parse::{ParserSet, PatternSpec, WholeLogParser};
use serde_json::Value;

use crate::convert::{self, deserialize, from_python, serialize, to_python};
use crate::errors;
use crate::host::Scope;

/// The default parsers, built once: `parse` on a short log costs a lookup, not a build.
static DEFAULT_PARSERS: LazyLock<ParserSet> = LazyLock::new(ParserSet::new);

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Diagnostic>()?;
    module.add_class::<Recovered>()?;
    module.add_function(wrap_pyfunction!(parse, module)?)?;
    module.add_function(wrap_pyfunction!(recover_json, module)?)?;
    Ok(())
}

/// One error or warning found in a build log.
///
/// Read-only attributes mirror the fields of `to_dict()`: `tool`, `category`, `subcategory`,
/// `severity`, `code`, `message`, `file`, `line`, `column`, `end_line`, `end_column`,
/// `snippet`, `stack`, `fixits`, `notes`, `suggestions`, `confidence`, `log_lines`,
/// `fingerprint`.
#[pyclass(frozen, module = "selfheal", eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct Diagnostic {
    pub(crate) inner: selfheal::Diagnostic,
}

#[pymethods]
impl Diagnostic {
    /// A diagnostic from the fields of `to_dict()`; `message` is required, the rest default
    /// (tool `custom`, category `unknown`, severity `error`).
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Diagnostic {
            inner: diagnostic_from(data, "custom")?,
        })
    }

    /// The tool that reported it (`tsc`, `rustc`, `pytest`, …).
    #[getter]
    fn tool(&self) -> &str {
        &self.inner.tool
    }
    /// `dependency`, `syntax`, `type`, `runtime`, `resource`, `configuration`, `network` or
    /// `unknown`.
    #[getter]
    fn category(&self) -> String {
        self.inner.category.to_string()
    }
    /// The finer class (`missing_package`, `type_mismatch`, …).
    #[getter]
    fn subcategory(&self) -> String {
        self.inner.subcategory.to_string()
    }
    /// `critical`, `error` or `warning`.
    #[getter]
    fn severity(&self) -> String {
        self.inner.severity.to_string()
    }
    /// The tool's code (`TS2322`, `E0308`, `F401`), if any.
    #[getter]
    fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }
    /// The message, without location or severity.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }
    /// The file, relative to the project root when inside it.
    #[getter]
    fn file(&self) -> Option<&str> {
        self.inner.file.as_deref()
    }
    /// 1-based line.
    #[getter]
    fn line(&self) -> Option<u32> {
        self.inner.line
    }
    /// 1-based column.
    #[getter]
    fn column(&self) -> Option<u32> {
        self.inner.column
    }
    /// Last line of the span.
    #[getter]
    fn end_line(&self) -> Option<u32> {
        self.inner.end_line
    }
    /// Column just past the span.
    #[getter]
    fn end_column(&self) -> Option<u32> {
        self.inner.end_column
    }
    /// The code frame the tool printed.
    #[getter]
    fn snippet(&self) -> Option<&str> {
        self.inner.snippet.as_deref()
    }
    /// Stack frames, outermost first (dicts with `file`, `line`, `column`, `function`).
    #[getter]
    fn stack<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.stack)
    }
    /// Replacements the tool printed (dicts with `message`, `file`, `edit`).
    #[getter]
    fn fixits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.fixits)
    }
    /// Further message lines and `note:`/`help:` text.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.inner.notes.clone()
    }
    /// Advice for this kind of error.
    #[getter]
    fn suggestions(&self) -> Vec<String> {
        self.inner.suggestions.clone()
    }
    /// How sure the parser is (0..1).
    #[getter]
    fn confidence(&self) -> f64 {
        self.inner.confidence
    }
    /// The first and last log line it was read from (1-based).
    #[getter]
    fn log_lines(&self) -> (u32, u32) {
        (self.inner.log_lines.start, self.inner.log_lines.end)
    }
    /// Stable identity across runs and machines.
    #[getter]
    fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }

    /// Every field as plain data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        let d = &self.inner;
        let location = d.location().map(|l| format!(" {l}")).unwrap_or_default();
        let code = d
            .code
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        format!(
            "<Diagnostic {} {}{code} {}/{}{location}: {:?}>",
            d.tool, d.severity, d.category, d.subcategory, d.message
        )
    }
}

/// A diagnostic from a host's dict: the fields given over those of an empty one from `tool`.
pub(crate) fn diagnostic_from(
    data: &Bound<'_, PyAny>,
    tool: &str,
) -> PyResult<selfheal::Diagnostic> {
    if let Ok(diagnostic) = data.cast::<Diagnostic>() {
        return Ok(diagnostic.get().inner.clone());
    }
    selfheal::Diagnostic::from_fields(from_python(data)?, tool).map_err(errors::to_py)
}

/// Parses a build or test log into diagnostics, errors first, root causes before cascades.
///
/// `log` is the tool output (`str` or `bytes`; colors, `\r` rewrites and invalid UTF-8 are
/// handled). `custom_formats` adds formats for this call: pattern dicts (`name`, `regex` with
/// named groups, `category`, …, as `selfheal parse --patterns` takes them) or objects with a
/// `parse(log) -> list[dict]` method.
#[pyfunction]
#[pyo3(signature = (log, *, custom_formats = None))]
fn parse(
    py: Python<'_>,
    log: &Bound<'_, PyAny>,
    custom_formats: Option<&Bound<'_, PyList>>,
) -> PyResult<Vec<Diagnostic>> {
    let custom = match custom_formats {
        Some(formats) if !formats.is_empty() => Some(parsers_from(formats)?),
        _ => None,
    };
    let diagnostics = if let Ok(text) = log.cast::<PyString>() {
        let text = text.to_cow()?;
        parse_with(py, custom.as_ref(), text.as_bytes())
    } else if let Ok(bytes) = log.cast::<PyBytes>() {
        parse_with(py, custom.as_ref(), bytes.as_bytes())
    } else {
        return Err(PyTypeError::new_err("log must be str or bytes"));
    };
    if let Some((_, hosted)) = &custom {
        for parser in hosted {
            parser.raise_failure()?;
        }
    }
    Ok(diagnostics
        .into_iter()
        .map(|inner| Diagnostic { inner })
        .collect())
}

fn parse_with(
    py: Python<'_>,
    custom: Option<&(ParserSet, Vec<Arc<PythonParser>>)>,
    log: &[u8],
) -> Vec<selfheal::Diagnostic> {
    let parsers = custom.map_or(&*DEFAULT_PARSERS, |(parsers, _)| parsers);
    py.detach(|| parsers.parse(log))
}

/// The default parsers plus `formats`; the Python-written ones are also returned on their own,
/// to collect their exceptions after a parse outside a heal run.
pub(crate) fn parsers_from(
    formats: &Bound<'_, PyList>,
) -> PyResult<(ParserSet, Vec<Arc<PythonParser>>)> {
    let mut parsers = ParserSet::new();
    let mut hosted = Vec::new();
    for format in formats.iter() {
        if format.is_instance_of::<PyDict>() {
            let spec: PatternSpec = deserialize(&format, "pattern")?;
            parsers.add_pattern(spec).map_err(errors::to_py)?;
        } else if format.hasattr("parse")? {
            let parser = Arc::new(PythonParser::new(&format)?);
            let reader = parser.clone();
            parsers.add(Arc::new(WholeLogParser::new(
                parser.name.clone(),
                move |log| reader.read(log),
            )));
            hosted.push(parser);
        } else {
            return Err(PyTypeError::new_err(
                "a custom format is a pattern dict or an object with parse(log)",
            ));
        }
    }
    Ok((parsers, hosted))
}

/// What `recover_json` found: the value, how, and what had to be repaired.
#[pyclass(frozen, module = "selfheal")]
pub(crate) struct Recovered {
    value: Py<PyAny>,
    /// `strict`, `repaired`, `extracted` or `truncated`.
    #[pyo3(get)]
    stage: String,
    repairs: Value,
    /// Byte offsets `(start, end)` of the JSON in the text.
    #[pyo3(get)]
    span: (usize, usize),
}

#[pymethods]
impl Recovered {
    /// The recovered value (dict or list).
    #[getter]
    fn value(&self, py: Python<'_>) -> Py<PyAny> {
        self.value.clone_ref(py)
    }

    /// The repairs made, each a dict with `kind`, `count` and `first_offset`.
    #[getter]
    fn repairs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.repairs)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Recovered stage={} repairs={} span={:?}>",
            self.stage,
            self.repairs.as_array().map_or(0, Vec::len),
            self.span
        )
    }
}

/// Recovers the JSON in an LLM reply: fenced, wrapped in prose, cut off or subtly invalid.
///
/// `schema` picks the value when the text holds several: `"fix"` (an object with `analysis`
/// and `fixes`), a list of keys the object must have, or `None` (the first value). Raises
/// `JsonNotFound` when the text holds no JSON object or array.
#[pyfunction]
#[pyo3(signature = (text, schema = None))]
fn recover_json(
    py: Python<'_>,
    text: &str,
    schema: Option<&Bound<'_, PyAny>>,
) -> PyResult<Recovered> {
    let hint = match schema {
        None => Hint::none(),
        Some(schema) => match schema.extract::<String>() {
            Ok(name) => Hint::named(&name).ok_or_else(|| {
                errors::config(format!(
                    "unknown schema `{name}`: use \"fix\" or a list of keys"
                ))
            })?,
            Err(_) => Hint::keys(schema.extract::<Vec<String>>()?),
        },
    };
    let recovered = py
        .detach(|| json::recover(text, &hint))
        .map_err(|e| errors::of_kind(e.into(), e.to_string()))?;
    if json::nests_deeper(&recovered.value, json::HOST_DEPTH) {
        json::drop_deep(recovered.into_value());
        return Err(errors::of_kind(
            ErrorKind::JsonTooDeep,
            format!("the value nests deeper than {} levels", json::HOST_DEPTH),
        ));
    }
    let value = to_python(py, &recovered.value)?.unbind();
    let repairs = serde_json::to_value(&recovered.repairs).unwrap_or(Value::Null);
    let stage = convert::name_of(&recovered.stage);
    let span = (recovered.span.start, recovered.span.end);
    json::drop_deep(recovered.into_value());
    Ok(Recovered {
        value,
        stage,
        repairs,
        span,
    })
}

/// An error parser written in Python: an object with `parse(log: str) -> list[dict]` (and
/// optionally a `name`). It reads the whole cleaned log once it has ended; its diagnostics join
/// the built-in parsers' ones (made relative, merged, ordered).
pub(crate) struct PythonParser {
    object: Py<PyAny>,
    name: String,
    /// An exception raised outside a heal run, for `parse` to raise.
    failure: Mutex<Option<PyErr>>,
}

impl PythonParser {
    pub(crate) fn new(object: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PythonParser {
            object: object.clone().unbind(),
            name: crate::host::name_of(object)?,
            failure: Mutex::new(None),
        })
    }

    fn fail(&self, error: PyErr) {
        match Scope::current() {
            Some(scope) => scope.fail(error),
            None => {
                let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
                failure.get_or_insert(error);
            }
        }
    }

    fn raise_failure(&self) -> PyResult<()> {
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        failure.map_or(Ok(()), Err)
    }

    /// The parser's diagnostics for `log`; an exception it raises is kept (see `fail`).
    fn read(&self, log: &str) -> Vec<selfheal::Diagnostic> {
        self.diagnostics(log).unwrap_or_else(|error| {
            self.fail(error);
            Vec::new()
        })
    }

    fn diagnostics(&self, log: &str) -> PyResult<Vec<selfheal::Diagnostic>> {
        Python::attach(|py| {
            let found = self.object.bind(py).call_method1("parse", (log,))?;
            found
                .try_iter()
                .map_err(|_| {
                    PyTypeError::new_err(format!("{}.parse must return a list of dicts", self.name))
                })?
                .map(|item| diagnostic_from(&item?, &self.name))
                .collect()
        })
    }
}

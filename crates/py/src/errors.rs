//! The exception hierarchy, and how the crate's errors map onto it.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use selfheal::{Error, ErrorKind};

create_exception!(
    selfheal,
    SelfHealError,
    PyException,
    "Base class of every error selfheal raises. A build that stays red is not an error: it is a report."
);
create_exception!(
    selfheal,
    ProviderError,
    SelfHealError,
    "A model API failed (every retry and fallback included), or its circuit breaker is open."
);
create_exception!(
    selfheal,
    BuildError,
    SelfHealError,
    "A build step could not be run or supervised (its program cannot start, Docker is down)."
);
create_exception!(
    selfheal,
    ConfigError,
    SelfHealError,
    "Something is missing or invalid in the configuration (an API key, an option, a pattern)."
);
create_exception!(
    selfheal,
    CacheError,
    SelfHealError,
    "The fix cache cannot be opened, read or written."
);
create_exception!(
    selfheal,
    BudgetExceeded,
    SelfHealError,
    "A model call was refused because it would go over the token or dollar budget."
);
create_exception!(
    selfheal,
    Cancelled,
    SelfHealError,
    "Raise it from a callback (provider, builder, parser) to stop a run: the attempt in progress is undone and the run ends with outcome \"cancelled\"."
);
create_exception!(
    selfheal,
    WorkspaceError,
    SelfHealError,
    "A path was refused (outside the workspace, a link leading out) or a workspace file cannot be read or written."
);
create_exception!(
    selfheal,
    JsonNotFound,
    SelfHealError,
    "recover_json found no JSON object or array in the text."
);
create_exception!(
    selfheal,
    JsonTooDeep,
    JsonNotFound,
    "recover_json found JSON nesting deeper than the package hands to Python (selfheal's one limit)."
);

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("SelfHealError", py.get_type::<SelfHealError>())?;
    module.add("ProviderError", py.get_type::<ProviderError>())?;
    module.add("BuildError", py.get_type::<BuildError>())?;
    module.add("ConfigError", py.get_type::<ConfigError>())?;
    module.add("CacheError", py.get_type::<CacheError>())?;
    module.add("BudgetExceeded", py.get_type::<BudgetExceeded>())?;
    module.add("Cancelled", py.get_type::<Cancelled>())?;
    module.add("WorkspaceError", py.get_type::<WorkspaceError>())?;
    module.add("JsonNotFound", py.get_type::<JsonNotFound>())?;
    module.add("JsonTooDeep", py.get_type::<JsonTooDeep>())?;
    Ok(())
}

/// The Python exception for one of the crate's errors.
pub(crate) fn to_py(error: Error) -> PyErr {
    of_kind(error.kind(), error.to_string())
}

/// The exception of `kind` (the crate's table of kinds, one class each).
pub(crate) fn of_kind(kind: ErrorKind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    match kind {
        ErrorKind::Provider => ProviderError::new_err(message),
        ErrorKind::Budget => BudgetExceeded::new_err(message),
        ErrorKind::Build => BuildError::new_err(message),
        ErrorKind::Config => ConfigError::new_err(message),
        ErrorKind::Cache => CacheError::new_err(message),
        ErrorKind::Workspace => WorkspaceError::new_err(message),
        ErrorKind::Cancelled => Cancelled::new_err(message),
        ErrorKind::JsonNotFound => JsonNotFound::new_err(message),
        ErrorKind::JsonTooDeep => JsonTooDeep::new_err(message),
        _ => SelfHealError::new_err(message),
    }
}

/// A [`ConfigError`] with `message`.
pub(crate) fn config(message: impl Into<String>) -> PyErr {
    ConfigError::new_err(message.into())
}

//! The one public error type of selfheal.
//!
//! Build failures, unparseable LLM output and failed fixes are data in reports, not errors; an
//! [`Error`] means the machinery itself could not do its job (bad configuration, I/O, a service
//! that cannot be reached).

mod budget;
mod provider;
mod workspace;

pub use budget::{BudgetExceeded, BudgetLimit};
pub use provider::{ProviderError, ProviderErrorKind};
pub use workspace::WorkspaceError;

/// The error underneath an [`Error`] (the I/O, Docker, database or serialisation error that made
/// the operation fail), shared so that the error stays cheap to clone. It dereferences to that
/// error, which is what [`source`](std::error::Error::source) gives: downcast it to its type.
#[derive(Debug, Clone)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl std::ops::Deref for Cause {
    type Target = dyn std::error::Error + Send + Sync;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// Everything that can go wrong in selfheal's machinery.
///
/// Cheap to clone, so that reports and event streams can carry it. Its message says what
/// failed and why in one line (the underlying error's text included); an error that came from
/// another keeps it as its [`source`](std::error::Error::source) too.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A user-supplied parser pattern cannot be used.
    #[error("invalid pattern `{name}`: {reason}")]
    InvalidPattern {
        /// The pattern's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An argument or configuration value is invalid (a malformed URL, a negative duration, an
    /// unknown name); something missing is [`Error::Config`].
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(std::sync::Arc<std::io::Error>),
    /// Something needed is not configured (an API key, a base URL, a cache folder); an invalid
    /// value is [`Error::InvalidInput`].
    #[error("not configured: {0}")]
    Config(String),
    /// A model API failed; see [`ProviderError::kind`](ProviderError).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A provider's circuit breaker is open: it failed too often and is left alone for a while.
    #[error("{provider}: circuit open after repeated failures; next try in {retry_in:?}")]
    CircuitOpen {
        /// The provider.
        provider: String,
        /// How long until the breaker lets a probe call through.
        retry_in: std::time::Duration,
    },
    /// A call was refused because it would exceed the budget.
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// A workspace path was refused or a workspace file could not be read or written.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// A build step could not be run or supervised: its program cannot be started, its working
    /// directory is outside the workspace. (A step that runs and fails is not an error.)
    #[error("step `{step}`: {reason}")]
    Build {
        /// The step's name.
        step: String,
        /// What went wrong.
        reason: String,
        /// The error that made it go wrong, when another did.
        source: Option<Cause>,
    },
    /// The Docker engine cannot be reached.
    #[error("Docker engine unavailable: {message}")]
    DockerUnavailable {
        /// What failed.
        message: String,
        /// The engine client's error.
        source: Option<Cause>,
    },
    /// The Docker engine refused or failed a request.
    #[error("Docker: {message}")]
    Docker {
        /// What failed.
        message: String,
        /// The engine client's (or the archive's) error.
        source: Option<Cause>,
    },
    /// The fix cache's store cannot be opened, read or written.
    #[error("fix cache: {message}")]
    Cache {
        /// What failed.
        message: String,
        /// The store's error (SQLite, PostgreSQL, I/O, serialisation).
        source: Option<Cause>,
    },
    /// A replayed run asked for something its cassette does not hold, or the cassette cannot
    /// be read.
    #[error("cassette: {message}")]
    Cassette {
        /// What failed.
        message: String,
        /// The error reading it, when one did.
        source: Option<Cause>,
    },
    /// Every provider of a fallback chain failed; their errors in order.
    #[error("all providers failed: {}", join(.0))]
    AllProvidersFailed(Vec<Error>),
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Io(std::sync::Arc::new(error))
    }
}

fn join(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// A build step that could not be run or supervised.
    pub fn build(step: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Build {
            step: step.into(),
            reason: reason.into(),
            source: None,
        }
    }

    #[cfg(feature = "docker")]
    pub(crate) fn docker_unavailable(message: impl Into<String>) -> Self {
        Error::DockerUnavailable {
            message: message.into(),
            source: None,
        }
    }

    #[cfg(feature = "docker")]
    pub(crate) fn docker(message: impl Into<String>) -> Self {
        Error::Docker {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn cache(message: impl Into<String>) -> Self {
        Error::Cache {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn cassette(message: impl Into<String>) -> Self {
        Error::Cassette {
            message: message.into(),
            source: None,
        }
    }

    /// Keeps `cause` as this error's source, on the kinds that carry one (the message already
    /// says it in words).
    pub(crate) fn caused_by(
        mut self,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        match &mut self {
            Error::Build { source, .. }
            | Error::DockerUnavailable { source, .. }
            | Error::Docker { source, .. }
            | Error::Cache { source, .. }
            | Error::Cassette { source, .. } => {
                *source = Some(Cause(std::sync::Arc::new(cause)));
            }
            _ => {}
        }
        self
    }

    /// True when trying the same operation again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            Error::Provider(e) => e.kind.is_retryable(),
            Error::InvalidPattern { .. }
            | Error::InvalidInput(_)
            | Error::Config(_)
            | Error::CircuitOpen { .. }
            | Error::Budget(_)
            | Error::AllProvidersFailed(_)
            | Error::Build { .. }
            | Error::Workspace(_)
            | Error::DockerUnavailable { .. }
            | Error::Docker { .. }
            | Error::Cache { .. }
            | Error::Cassette { .. } => false,
        }
    }

    /// The family of this error, as the Python and Node packages expose it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Provider(_) | Error::CircuitOpen { .. } | Error::AllProvidersFailed(_) => {
                ErrorKind::Provider
            }
            Error::Budget(_) => ErrorKind::Budget,
            Error::Build { .. }
            | Error::DockerUnavailable { .. }
            | Error::Docker { .. }
            | Error::Cassette { .. } => ErrorKind::Build,
            Error::InvalidPattern { .. } | Error::InvalidInput(_) | Error::Config(_) => {
                ErrorKind::Config
            }
            Error::Cache { .. } => ErrorKind::Cache,
            Error::Workspace(_) => ErrorKind::Workspace,
            Error::Io(_) => ErrorKind::Io,
        }
    }

    /// The provider's error, when a model API failed.
    pub fn as_provider_error(&self) -> Option<&ProviderError> {
        match self {
            Error::Provider(e) => Some(e),
            _ => None,
        }
    }
}

/// The families of errors a host tells apart (retry later, fix the configuration, …): those of
/// [`Error::kind`], and the few the packages raise for what is not an [`Error`] (a
/// cancellation, a reply without usable JSON). One table for every code a package raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A model API failed (every retry and fallback included), or its circuit breaker is open.
    Provider,
    /// A model call would go over the token or dollar budget.
    Budget,
    /// A build step could not be run or supervised (its program cannot start, Docker is down).
    Build,
    /// Something is missing or invalid in the configuration (an API key, an option, a pattern).
    Config,
    /// The fix cache cannot be opened, read or written.
    Cache,
    /// A path was refused, or a workspace file cannot be read or written.
    Workspace,
    /// Any other I/O failure.
    Io,
    /// The run was cancelled: what a host's callback raises to stop a run (the run itself
    /// ends with the outcome `cancelled`, not with an [`Error`]).
    Cancelled,
    /// `json::recover` found no JSON object or array in the text
    /// ([`json::NotFound`](crate::json::NotFound)).
    JsonNotFound,
    /// The JSON found nests deeper than a package hands to its language
    /// ([`json::HOST_DEPTH`](crate::json::HOST_DEPTH)) or than recovery reads.
    JsonTooDeep,
}

impl ErrorKind {
    /// A stable code for the kind: `E_PROVIDER`, `E_BUDGET`, `E_BUILD`, `E_CONFIG`, `E_CACHE`,
    /// `E_WORKSPACE`, `E_IO`, `E_CANCELLED`, `E_JSON_NOT_FOUND`, `E_JSON_TOO_DEEP` — every code
    /// the Python and Node packages raise.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Provider => "E_PROVIDER",
            ErrorKind::Budget => "E_BUDGET",
            ErrorKind::Build => "E_BUILD",
            ErrorKind::Config => "E_CONFIG",
            ErrorKind::Cache => "E_CACHE",
            ErrorKind::Workspace => "E_WORKSPACE",
            ErrorKind::Io => "E_IO",
            ErrorKind::Cancelled => "E_CANCELLED",
            ErrorKind::JsonNotFound => "E_JSON_NOT_FOUND",
            ErrorKind::JsonTooDeep => "E_JSON_TOO_DEEP",
        }
    }
}

impl From<crate::json::NotFound> for ErrorKind {
    fn from(not_found: crate::json::NotFound) -> Self {
        match not_found {
            crate::json::NotFound::TooDeep => ErrorKind::JsonTooDeep,
            crate::json::NotFound::Empty | crate::json::NotFound::NoValue => {
                ErrorKind::JsonNotFound
            }
        }
    }
}

/// `Result` with selfheal's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code() {
        let kinds = [
            ErrorKind::Provider,
            ErrorKind::Budget,
            ErrorKind::Build,
            ErrorKind::Config,
            ErrorKind::Cache,
            ErrorKind::Workspace,
            ErrorKind::Io,
            ErrorKind::Cancelled,
        ];
        let codes: std::collections::HashSet<&str> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), kinds.len());
        assert_eq!(Error::cache("x").kind().code(), "E_CACHE");
        assert_eq!(Error::invalid_input("x").kind(), ErrorKind::Config);
        assert_eq!(Error::docker("down").kind(), ErrorKind::Build);
    }
}

//! The one public error type of selfheal.
//!
//! Build failures, unparseable LLM output and failed fixes are data in reports, not errors; an
//! [`Error`] means the machinery itself could not do its job (bad configuration, I/O, a service
//! that cannot be reached).

/// Everything that can go wrong in selfheal's machinery.
///
/// Cheap to clone, so that reports and event streams can carry it.
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
    /// An argument or configuration value is invalid.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(std::sync::Arc<std::io::Error>),
    /// Something needed is not configured (an API key, a base URL).
    #[error("not configured: {0}")]
    Config(String),
    /// A model API failed; see [`ProviderError::kind`](crate::llm::ProviderError).
    #[error(transparent)]
    Provider(#[from] crate::llm::ProviderError),
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
    Budget(#[from] crate::llm::BudgetExceeded),
    /// A workspace path was refused or a workspace file could not be read or written.
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    /// A build step could not be run or supervised: its program cannot be started, its working
    /// directory is outside the workspace. (A step that runs and fails is not an error.)
    #[error("step `{step}`: {reason}")]
    Build {
        /// The step's name.
        step: String,
        /// What went wrong.
        reason: String,
    },
    /// The Docker engine cannot be reached.
    #[error("Docker engine unavailable: {0}")]
    DockerUnavailable(String),
    /// The Docker engine refused or failed a request.
    #[error("Docker: {0}")]
    Docker(String),
    /// The fix cache's store cannot be opened, read or written.
    #[error("fix cache: {0}")]
    Cache(String),
    /// A replayed run asked for something its cassette does not hold, or the cassette cannot
    /// be read.
    #[error("cassette: {0}")]
    Cassette(String),
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
            | Error::DockerUnavailable(_)
            | Error::Docker(_)
            | Error::Cache(_)
            | Error::Cassette(_) => false,
        }
    }

    /// The provider's error, when a model API failed.
    pub fn as_provider_error(&self) -> Option<&crate::llm::ProviderError> {
        match self {
            Error::Provider(e) => Some(e),
            _ => None,
        }
    }
}

/// `Result` with selfheal's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

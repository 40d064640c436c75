//! The one public error type of selfheal.
//!
//! Build failures, unparseable LLM output and failed fixes are data in reports, not errors; an
//! [`Error`] means the machinery itself could not do its job (bad configuration, I/O, a service
//! that cannot be reached).

/// Everything that can go wrong in selfheal's machinery.
#[derive(Debug, thiserror::Error)]
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
    Io(#[from] std::io::Error),
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
            Error::InvalidPattern { .. } | Error::InvalidInput(_) => false,
        }
    }
}

/// `Result` with selfheal's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

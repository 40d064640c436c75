//! [`ProviderError`]: what a model API answered when it did not answer, kept whole.

use std::fmt;
use std::time::Duration;

/// What kind of failure a provider reported; decides whether trying again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// Too many requests for now (HTTP 429 without quota exhaustion).
    RateLimited,
    /// The provider is overloaded (Anthropic 529 `overloaded_error`, HTTP 503).
    Overloaded,
    /// A server error (HTTP 5xx).
    Server,
    /// No answer in time.
    Timeout,
    /// The connection failed or dropped before the answer was complete.
    Connection,
    /// The answer could not be read (not the provider's format, cut-off JSON).
    MalformedResponse,
    /// The key is missing, wrong or revoked (HTTP 401).
    Authentication,
    /// The key may not use this model or endpoint (HTTP 403).
    PermissionDenied,
    /// The model or endpoint does not exist (HTTP 404).
    NotFound,
    /// The request is invalid (HTTP 400, 422).
    InvalidRequest,
    /// The prompt is longer than the model's context.
    ContextLength,
    /// The account is out of credit or quota (`insufficient_quota`): waiting does not help.
    QuotaExhausted,
    /// Anything else the provider answered.
    Other,
}

impl ProviderErrorKind {
    /// True when the same request may succeed later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ProviderErrorKind::RateLimited
                | ProviderErrorKind::Overloaded
                | ProviderErrorKind::Server
                | ProviderErrorKind::Timeout
                | ProviderErrorKind::Connection
                | ProviderErrorKind::MalformedResponse
        )
    }

    /// True when the failure says something about the provider rather than the request: it
    /// counts against the provider's circuit breaker.
    pub fn blames_provider(self) -> bool {
        self.is_retryable()
            || matches!(
                self,
                ProviderErrorKind::Authentication
                    | ProviderErrorKind::PermissionDenied
                    | ProviderErrorKind::QuotaExhausted
            )
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderErrorKind::RateLimited => "rate_limited",
            ProviderErrorKind::Overloaded => "overloaded",
            ProviderErrorKind::Server => "server",
            ProviderErrorKind::Timeout => "timeout",
            ProviderErrorKind::Connection => "connection",
            ProviderErrorKind::MalformedResponse => "malformed_response",
            ProviderErrorKind::Authentication => "authentication",
            ProviderErrorKind::PermissionDenied => "permission_denied",
            ProviderErrorKind::NotFound => "not_found",
            ProviderErrorKind::InvalidRequest => "invalid_request",
            ProviderErrorKind::ContextLength => "context_length",
            ProviderErrorKind::QuotaExhausted => "quota_exhausted",
            ProviderErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ProviderErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call to a model API, with everything the provider said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// The provider (`anthropic`, `openai`, `gemini`, or a host's name).
    pub provider: String,
    /// What kind of failure it is.
    pub kind: ProviderErrorKind,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The provider's own error type or code (`overloaded_error`, `insufficient_quota`,
    /// `RESOURCE_EXHAUSTED`).
    pub code: Option<String>,
    /// The provider's message, or what went wrong on the way.
    pub message: String,
    /// The raw response body (at most 64 KiB), when there was one.
    pub body: Option<String>,
    /// How long the provider asked to wait before trying again (`Retry-After`,
    /// `retry-after-ms`, Gemini's `retryDelay`).
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// An error without a response (connection, timeout, a stream cut short).
    pub fn new(provider: &str, kind: ProviderErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            provider: provider.to_string(),
            kind,
            status: None,
            code: None,
            message: message.into(),
            body: None,
            retry_after: None,
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.provider, self.kind)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status}")?;
            if let Some(code) = &self.code {
                write!(f, ", {code}")?;
            }
            f.write_str(")")?;
        } else if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ProviderError {}

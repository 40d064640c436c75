//! The HTTP side shared by the providers: one client, errors classified from status and body,
//! `Retry-After` in all its forms, and SSE bodies as events.

use std::sync::{Once, OnceLock};
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::sse::{SseDecoder, SseEvent};
use crate::error::{ProviderError, ProviderErrorKind};
use crate::{Error, Result};

/// Bodies kept in errors are cut to this many bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A whole (not streamed) answer longer than this is refused: no model answers with more.
const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// The process-wide client: connection pools are shared by every provider that does not bring
/// its own.
pub(crate) fn default_client() -> Result<reqwest::Client> {
    static CLIENT: OnceLock<std::result::Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            install_crypto_provider();
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(15))
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::InvalidInput(format!("cannot build the HTTP client: {e}")))
}

/// rustls needs a process-wide crypto provider before the first TLS connection; `ring` is
/// installed unless the host installed one already.
pub(crate) fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error means another provider is installed: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// What a provider's error body says.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    /// The provider's error type or code.
    pub(crate) code: Option<String>,
    /// Its message.
    pub(crate) message: Option<String>,
    /// A wait the body asks for (Gemini's `RetryInfo`).
    pub(crate) retry_after: Option<Duration>,
}

/// Sends a JSON request; a non-success status becomes a classified [`ProviderError`], where
/// `describe` reads the provider's error body.
pub(crate) async fn send(
    provider: &str,
    request: reqwest::RequestBuilder,
    body: &Value,
    timeout: Duration,
    describe: fn(&Value) -> ErrorBody,
) -> Result<reqwest::Response> {
    let response = request
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| transport_error(provider, &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let (raw, _) = read_capped(response, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let parsed: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let described = describe(&parsed);
    let mut error = ProviderError {
        provider: provider.to_string(),
        kind: kind_of_status(status.as_u16()),
        status: Some(status.as_u16()),
        code: described.code,
        message: described.message.unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("unexpected status")
                .to_string()
        }),
        body: Some(text),
        retry_after: retry_after(&headers).or(described.retry_after),
    };
    refine_kind(&mut error);
    Err(error.into())
}

/// Reads a whole JSON body, of [`MAX_RESPONSE_BODY`] bytes at most.
pub(crate) async fn read_json(provider: &str, response: reqwest::Response) -> Result<Value> {
    let (raw, cut) = read_capped(response, MAX_RESPONSE_BODY)
        .await
        .map_err(|e| transport_error(provider, &e))?;
    let malformed = |message: String| {
        let mut error = ProviderError::new(provider, ProviderErrorKind::MalformedResponse, message);
        error.body = Some(String::from_utf8_lossy(&raw[..raw.len().min(MAX_ERROR_BODY)]).into());
        Error::from(error)
    };
    if cut {
        return Err(malformed(format!(
            "the response is longer than {MAX_RESPONSE_BODY} bytes"
        )));
    }
    serde_json::from_slice(&raw).map_err(|e| malformed(format!("the response is not JSON: {e}")))
}

/// The body's first `max` bytes, and whether there was more (which is not read).
async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> std::result::Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(piece) = response.chunk().await? {
        let room = max - body.len();
        if piece.len() > room {
            body.extend_from_slice(&piece[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&piece);
    }
    Ok((body, false))
}

/// The SSE events of a streaming response; transport failures and oversized lines end it with
/// an error.
pub(crate) fn sse_events(
    provider: &str,
    response: reqwest::Response,
) -> impl Stream<Item = std::result::Result<SseEvent, ProviderError>> + Send + use<> {
    let provider = provider.to_string();
    let mut bytes = response.bytes_stream();
    async_stream::stream! {
        let mut decoder = SseDecoder::default();
        while let Some(piece) = bytes.next().await {
            let piece = match piece {
                Ok(piece) => piece,
                Err(e) => {
                    yield Err(match transport_error(&provider, &e) {
                        Error::Provider(p) => p,
                        other => ProviderError::new(&provider, ProviderErrorKind::Connection, other.to_string()),
                    });
                    return;
                }
            };
            match decoder.push(&piece) {
                Ok(events) => {
                    for event in events {
                        yield Ok(event);
                    }
                }
                Err(_) => {
                    yield Err(ProviderError::new(
                        &provider,
                        ProviderErrorKind::MalformedResponse,
                        "an event-stream line is longer than 16 MiB",
                    ));
                    return;
                }
            }
        }
        if let Some(event) = decoder.finish() {
            yield Ok(event);
        }
    }
}

/// The string at `pointer` in `value`.
pub(crate) fn text_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A stream event whose data is not the JSON the provider promised.
pub(crate) fn malformed_event(provider: &str, data: &str, error: &serde_json::Error) -> Error {
    let mut e = ProviderError::new(
        provider,
        ProviderErrorKind::MalformedResponse,
        format!("an event is not JSON: {error}"),
    );
    e.body = Some(data.chars().take(MAX_ERROR_BODY).collect());
    e.into()
}

/// One event of a JSON event stream.
pub(crate) enum JsonEvent {
    /// An event and its JSON data.
    Data { name: String, data: Value },
    /// OpenAI's `data: [DONE]`.
    Done,
}

/// The events of a streaming response with their data parsed as JSON; data that is not JSON
/// ends the stream with a [`ProviderErrorKind::MalformedResponse`] error.
pub(crate) fn json_events(
    provider: &str,
    response: reqwest::Response,
) -> impl Stream<Item = Result<JsonEvent>> + Send + use<> {
    let name = provider.to_string();
    sse_events(provider, response).map(move |event| {
        let event = event?;
        if event.data.trim() == "[DONE]" {
            return Ok(JsonEvent::Done);
        }
        match serde_json::from_str(&event.data) {
            Ok(data) => Ok(JsonEvent::Data {
                name: event.event,
                data,
            }),
            Err(e) => Err(malformed_event(&name, &event.data, &e)),
        }
    })
}

/// A failure before or while reading a response.
pub(crate) fn transport_error(provider: &str, error: &reqwest::Error) -> Error {
    let kind = if error.is_timeout() {
        ProviderErrorKind::Timeout
    } else if error.is_builder() {
        return Error::InvalidInput(format!("{provider}: invalid request: {}", chain(error)));
    } else {
        ProviderErrorKind::Connection
    };
    let what = if error.is_body() || error.is_decode() {
        "the response was cut off"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "no answer in time"
    } else {
        "the request failed"
    };
    ProviderError::new(provider, kind, format!("{what}: {}", chain(error))).into()
}

/// An error and its sources, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn kind_of_status(status: u16) -> ProviderErrorKind {
    match status {
        429 => ProviderErrorKind::RateLimited,
        503 | 529 => ProviderErrorKind::Overloaded,
        408 | 504 => ProviderErrorKind::Timeout,
        500..=599 => ProviderErrorKind::Server,
        401 => ProviderErrorKind::Authentication,
        403 => ProviderErrorKind::PermissionDenied,
        404 => ProviderErrorKind::NotFound,
        413 => ProviderErrorKind::ContextLength,
        400 | 422 => ProviderErrorKind::InvalidRequest,
        _ => ProviderErrorKind::Other,
    }
}

/// Codes and messages that say more than the status.
fn refine_kind(error: &mut ProviderError) {
    let code = error.code.as_deref().unwrap_or("").to_ascii_lowercase();
    let message = error.message.to_ascii_lowercase();
    error.kind = match code.as_str() {
        "insufficient_quota" | "billing_hard_limit_reached" => ProviderErrorKind::QuotaExhausted,
        "context_length_exceeded" | "request_too_large" | "string_above_max_length" => {
            ProviderErrorKind::ContextLength
        }
        "overloaded_error" => ProviderErrorKind::Overloaded,
        "rate_limit_error" | "rate_limit_exceeded" => ProviderErrorKind::RateLimited,
        _ if is_context_message(&message) => ProviderErrorKind::ContextLength,
        _ if error.kind == ProviderErrorKind::RateLimited
            && error.retry_after.is_none()
            && (message.contains("billing") || message.contains("credit balance")) =>
        {
            ProviderErrorKind::QuotaExhausted
        }
        _ => error.kind,
    };
}

fn is_context_message(message: &str) -> bool {
    [
        "prompt is too long",
        "maximum context length",
        "context window",
        "context length",
        "input token count",
        "too many tokens",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// `retry-after-ms` (milliseconds), else `Retry-After` (seconds or an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = header("retry-after")?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A duration written as Google does (`"30s"`, `"1.5s"`).
pub(crate) fn google_duration(text: &str) -> Option<Duration> {
    let seconds = text.trim().strip_suffix('s')?.parse::<f64>().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn retry_after_in_every_form() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1.5")])),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2"), ("retry-after-ms", "250")])),
            Some(Duration::from_millis(250))
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = retry_after(&headers(&[("retry-after", &later)])).unwrap();
        assert!(wait > Duration::from_secs(27) && wait <= Duration::from_secs(30));
        let earlier = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &earlier)])),
            Some(Duration::ZERO)
        );
        for junk in ["soon", "-1", "NaN", "1e400"] {
            assert_eq!(retry_after(&headers(&[("retry-after", junk)])), None);
        }
        assert_eq!(google_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(google_duration("0.25s"), Some(Duration::from_millis(250)));
        assert_eq!(google_duration("30"), None);
    }

    #[test]
    fn codes_and_messages_refine_the_status() {
        let error = |status: u16, code: Option<&str>, message: &str, retry: Option<u64>| {
            let mut e = ProviderError {
                provider: "p".into(),
                kind: kind_of_status(status),
                status: Some(status),
                code: code.map(str::to_string),
                message: message.into(),
                body: None,
                retry_after: retry.map(Duration::from_secs),
            };
            refine_kind(&mut e);
            e.kind
        };
        use ProviderErrorKind::*;
        assert_eq!(
            error(429, Some("rate_limit_exceeded"), "slow down", None),
            RateLimited
        );
        assert_eq!(
            error(
                429,
                Some("insufficient_quota"),
                "You exceeded your current quota",
                None
            ),
            QuotaExhausted
        );
        assert_eq!(
            error(
                429,
                Some("RESOURCE_EXHAUSTED"),
                "check your plan and billing details",
                None
            ),
            QuotaExhausted
        );
        assert_eq!(
            error(
                429,
                Some("RESOURCE_EXHAUSTED"),
                "quota per minute",
                Some(30)
            ),
            RateLimited
        );
        assert_eq!(
            error(529, Some("overloaded_error"), "Overloaded", None),
            Overloaded
        );
        assert_eq!(
            error(
                400,
                Some("invalid_request_error"),
                "prompt is too long: 210000 tokens > 200000 maximum",
                None
            ),
            ContextLength
        );
        assert_eq!(
            error(400, Some("context_length_exceeded"), "x", None),
            ContextLength
        );
        assert_eq!(
            error(
                400,
                Some("INVALID_ARGUMENT"),
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                None
            ),
            ContextLength
        );
        assert_eq!(
            error(401, Some("authentication_error"), "invalid x-api-key", None),
            Authentication
        );
        assert_eq!(error(500, None, "boom", None), Server);
        assert_eq!(error(418, None, "teapot", None), Other);
    }
}

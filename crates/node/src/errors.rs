//! The crate's errors as JavaScript errors with a stable code (`E_PROVIDER`, `E_CONFIG`, …).
//!
//! napi-rs gives an error's `code` only from its fixed statuses, and rejects Promises with
//! those alone; so the code leads the message (`E_CACHE: …`) and `index.js` moves it to `code`
//! as it makes the error a `SelfHealError`.

use napi::Status;
use selfheal::{Error, ErrorKind};

pub(crate) use napi::Result;

/// The JavaScript error for one of the crate's errors.
pub(crate) fn to_js(error: Error) -> napi::Error {
    coded(error.kind().code(), error)
}

/// An error with `code` and `message`.
pub(crate) fn coded(code: &str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{code}: {message}"))
}

/// An error of `kind`.
pub(crate) fn of_kind(kind: ErrorKind, message: impl std::fmt::Display) -> napi::Error {
    coded(kind.code(), message)
}

/// An `E_CONFIG` error: an option or argument is invalid.
pub(crate) fn config(message: impl std::fmt::Display) -> napi::Error {
    of_kind(ErrorKind::Config, message)
}

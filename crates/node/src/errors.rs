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
    of_kind(error.kind(), error)
}

/// An error of `kind`: its code is the crate's ([`ErrorKind::code`]), never one of our own.
pub(crate) fn of_kind(kind: ErrorKind, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(
        Status::GenericFailure,
        format!("{}: {message}", kind.code()),
    )
}

/// An `E_CONFIG` error: an option or argument is invalid.
pub(crate) fn config(message: impl std::fmt::Display) -> napi::Error {
    of_kind(ErrorKind::Config, message)
}

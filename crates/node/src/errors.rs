//! The crate's errors as JavaScript errors with a stable `code` (`E_PROVIDER`, `E_CONFIG`, …);
//! `index.js` makes them `SelfHealError` instances.

use selfheal::{Error, ErrorKind};

/// A native result: its error becomes a JavaScript `Error` whose `code` is the status string.
pub(crate) type Result<T> = napi::Result<T, String>;

/// The JavaScript error for one of the crate's errors.
pub(crate) fn to_js(error: Error) -> napi::Error<String> {
    coded(error.kind(), error.to_string())
}

/// An error of `kind` with `message`.
pub(crate) fn coded(kind: ErrorKind, message: impl ToString) -> napi::Error<String> {
    napi::Error::new(kind.code().to_string(), message)
}

/// An `E_CONFIG` error: an option or argument is invalid.
pub(crate) fn config(message: impl ToString) -> napi::Error<String> {
    coded(ErrorKind::Config, message)
}

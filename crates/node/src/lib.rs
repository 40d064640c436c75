//! The Node.js package `selfheal` (its native half, `native.js`): napi-rs conversions and
//! Promise bridging over the `selfheal` crate, which holds all of the logic.
//!
//! The package's entry (`index.js`) adds what JavaScript does better on top: the
//! `Healer`'s options, `AbortSignal` and async iteration, callback errors rethrown as they were,
//! and the `SelfHealError` class.

mod convert;
mod errors;

// The modules holding `#[napi]` items are public: napi exports must be `pub`.
pub mod builders;
pub mod cache;
pub mod diagnostics;
pub mod healer;
pub mod host;
pub mod observe;
pub mod providers;

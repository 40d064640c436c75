//! The tokio runtime the package's native work runs on: napi-rs's own.

/// Runs `future` to completion on the runtime, blocking the calling thread (for constructors,
/// which cannot be async).
pub(crate) fn block_on<F: Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    napi::bindgen_prelude::block_on(future)
}

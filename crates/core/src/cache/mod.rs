//! The fix cache: memory of fixes that turned a build green, found again for the same kind of
//! error.
//!
//! An error is reduced to its [`ErrorSignature`] (its kind, without the instance: paths, lines,
//! identifiers and numbers become placeholders) and embedded as a vector by an [`Embedder`].
//! Only fixes whose signature shares the hard-filter keys (tool, category, code, package) are
//! ever considered, so a fix is never served across a different error code.

mod embed;
mod signature;

pub use embed::{Embedder, LexicalEmbedder, cosine};
pub use signature::{ErrorSignature, FilterKey};

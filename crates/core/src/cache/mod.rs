//! The fix cache: memory of fixes that turned a build green, found again for the same kind of
//! error.
//!
//! An error is reduced to its [`ErrorSignature`] (its kind, without the instance: paths, lines,
//! identifiers and numbers become placeholders) and embedded as a vector by an [`Embedder`].
//! Only fixes whose signature shares the hard-filter keys (tool, category, code, package) are
//! ever considered, so a fix is never served across a different error code.

mod config;
mod embed;
mod entry;
mod fix_cache;
#[cfg(feature = "fleet")]
pub mod fleet;
mod index;
#[cfg(feature = "fleet")]
mod mirror;
mod openai_embedder;
mod signature;
mod sqlite;
mod store;
mod vectors;

pub use config::{CacheConfig, Retention, ScoreWeights};
pub use embed::{Embedder, LexicalEmbedder, cosine};
pub(crate) use entry::digest;
pub use entry::{CachedFix, FixContext, FixId, FixStats};
pub use fix_cache::{
    CacheHit, CacheStats, ExportedFix, FixCache, FixCacheBuilder, ImportReport, Match, STORE_FILE,
    Score, storable,
};
pub use index::IndexConfig;
#[cfg(feature = "fleet")]
pub use mirror::{FLEET_URL_VAR, FleetMirror, FleetOptions, FleetStatus, SyncReport, fleet_url};
pub use openai_embedder::OpenAiEmbedder;
pub use signature::{ErrorSignature, FilterKey};
pub use sqlite::{Durability, SqliteStore};
pub use store::{Changes, FixRecord, FixStore, NewFix, RecordVector, Revision};

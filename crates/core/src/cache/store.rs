//! Where cached fixes live between processes: the [`FixStore`] trait.
//!
//! The cache keeps its index in memory and reads the store only at start, to follow other
//! writers ([`FixStore::changes`]) and to fetch the edits of a hit. Counters are updated by the
//! store in one atomic step, so that several processes (or, with a server store, several
//! machines) sharing one store never lose a count.

use std::fmt;

use super::entry::{CachedFix, FixContext, FixId, FixStats};
use super::{ErrorSignature, Retention};
use crate::Result;
use crate::fix::FixProposal;

/// The position of a store's change log: every write takes the next revision, and a reader that
/// has seen revision `r` catches up with [`FixStore::changes`]`(r)`.
pub type Revision = i64;

/// A fix as the cache's index holds it: what lookups filter and rank by. Its signature text,
/// example and edits stay in the store until the fix is served ([`FixStore::get`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FixRecord {
    /// The fix's id.
    pub id: FixId,
    /// The [`FilterKey::partition`](super::FilterKey::partition) of its signature.
    pub partition: u64,
    /// The [`ErrorSignature::hash`] of its signature.
    pub signature_hash: u64,
    /// Its signature's vector, or the signature to compute one from.
    pub vector: RecordVector,
    /// The project it was made in.
    pub context: FixContext,
    /// Its use counts and times.
    pub stats: FixStats,
    /// Whether it failed too often to be served.
    pub deprecated: bool,
    /// What identifies its edits within its partition.
    pub digest: u64,
    /// The revision of its last write.
    pub revision: Revision,
}

/// A [`FixRecord`]'s vector as the store has it.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordVector {
    /// Computed by the embedder the records were asked for.
    Stored(Vec<f32>),
    /// Not computed by that embedder: its signature, to compute it.
    Missing(ErrorSignature),
}

/// A fix to remember, with its signature's vector.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFix {
    /// The kind of error it fixed.
    pub signature: ErrorSignature,
    /// The error's message as printed.
    pub example: String,
    /// The project it was made in.
    pub context: FixContext,
    /// The edits.
    pub proposal: FixProposal,
    /// The [`Embedder::id`](super::Embedder::id) of `embedding`.
    pub embedder: String,
    /// The signature's vector.
    pub embedding: Vec<f32>,
}

/// What was written after a revision: everything, or a page of it (see `more`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Fixes added or updated.
    pub fixes: Vec<FixRecord>,
    /// Fixes removed by pruning.
    pub removed: Vec<FixId>,
    /// `(signature hash, fix digest)` pairs that failed: never served for that signature again.
    pub failures: Vec<(u64, u64)>,
    /// The revision these changes bring the reader to.
    pub revision: Revision,
    /// A page ended before the store's latest revision: ask again from `revision`.
    pub more: bool,
}

/// The persistence of a [`FixCache`](super::FixCache).
///
/// Implementations apply the [`Retention`] rules themselves (deprecation on each recorded use,
/// [`prune`](FixStore::prune)) so that a shared store decides them once for every reader.
#[async_trait::async_trait]
pub trait FixStore: Send + Sync + fmt::Debug {
    /// What was written after `since` (`0`: everything), with vectors of `embedder` only: a
    /// page of about `limit` fixes (never ending in the middle of one write's fixes), with the
    /// removals and failures up to the page's revision.
    async fn changes(&self, since: Revision, embedder: &str, limit: usize) -> Result<Changes>;

    /// One fix, complete.
    async fn get(&self, id: FixId) -> Result<Option<CachedFix>>;

    /// A fix turned a build green: adds it, or counts a success for the fix with the same edits
    /// in the same partition.
    async fn record_success(
        &self,
        fix: NewFix,
        at: i64,
        retention: &Retention,
    ) -> Result<FixRecord>;

    /// A fix did not turn the build green: remembers it as failed for `signature` and counts a
    /// failure for the cached fix with the same edits in the same partition, if there is one
    /// (which is returned).
    async fn record_failure(
        &self,
        signature: &ErrorSignature,
        proposal: &FixProposal,
        at: i64,
        retention: &Retention,
    ) -> Result<Option<FixRecord>>;

    /// The fixes that failed for a signature, most recent first.
    async fn failed_attempts(&self, signature_hash: u64) -> Result<Vec<FixProposal>>;

    /// Stores vectors computed by `embedder` for existing fixes.
    async fn set_embeddings(
        &self,
        embedder: &str,
        embeddings: Vec<(FixId, Vec<f32>)>,
    ) -> Result<()>;

    /// Removes what the retention rules say is dead at time `at`; returns the removed ids.
    async fn prune(&self, at: i64, retention: &Retention) -> Result<Vec<FixId>>;

    /// Complete fixes by descending id, starting below `before` (`None`: from the newest).
    async fn list(&self, before: Option<FixId>, limit: usize) -> Result<Vec<CachedFix>>;

    /// Adds fixes with their stats (an export from another cache); a fix with the same edits in
    /// the same partition has the stats added to its own. Returns how many were new.
    async fn import(&self, fixes: Vec<(NewFix, FixStats)>, retention: &Retention) -> Result<usize>;

    /// Brings the store up to date with its store of record: a mirror uploads what it learned
    /// and pulls what others did. A store that is its own store of record has nothing to do.
    async fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// A cheap hint, asked before every lookup: whether the store knows it holds changes after
    /// `revision` (a mirror that just pulled some). `false` leaves catching up to the cache's
    /// [`sync_interval`](super::CacheConfig::sync_interval).
    fn news_since(&self, revision: Revision) -> bool {
        let _ = revision;
        false
    }
}

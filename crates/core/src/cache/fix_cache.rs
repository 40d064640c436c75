//! [`FixCache`]: lookup, learning and retention over a [`FixStore`] and an in-memory index.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::{Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::entry::{CachedFix, FixContext, FixId, FixStats, digest};
use super::index::{GraphBuild, Index};
use super::sqlite::SqliteStore;
use super::store::{Changes, FixRecord, FixStore, NewFix, RecordVector, Revision};
use super::{CacheConfig, Embedder, ErrorSignature, LexicalEmbedder};
use crate::fix::{Edit, FixProposal};
use crate::redact::Redactor;
use crate::time::{Clock, SystemClock};
use crate::workspace::EditPolicy;
use crate::{Diagnostic, Error, Result};

/// The file of the embedded store inside a cache folder.
pub const STORE_FILE: &str = "fixes.sqlite3";

/// Fixes imported per store transaction.
const IMPORT_BATCH: usize = 1_000;
/// Fixes per page when catching up with the store.
const CHANGES_PAGE: usize = 8_192;

/// Memory of fixes that turned builds green, served again for the same kind of error.
///
/// Cheap to clone; clones share one cache. Safe to use from many tasks at once, and several
/// processes may open the same folder: each catches up with the others' writes at most
/// [`CacheConfig::sync_interval`] after they commit.
///
/// ```
/// use selfheal::cache::{FixCache, FixContext};
/// use selfheal::fix::FixProposal;
/// use selfheal::parse::ParserSet;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("selfheal-doc-cache-{}", std::process::id()));
/// let cache = FixCache::open(&dir).await?;
/// let parse = |log: &str| ParserSet::new().parse(log).remove(0);
///
/// let error = parse("src/App.tsx(3,10): error TS2304: Cannot find name 'useState'.\n");
/// let fix = FixProposal::from_reply(r#"{"fixes": [{"file": "src/App.tsx", "action": "patch",
///     "search": "import React from 'react';",
///     "replace": "import React, { useState } from 'react';"}]}"#)?;
/// cache.record_success(&error, &FixContext::default(), &fix).await?;
///
/// // The same error elsewhere, about another name, finds it.
/// let again = parse("src/Form.tsx(9,7): error TS2304: Cannot find name 'useEffect'.\n");
/// let hit = cache.lookup(&again, &FixContext::default()).await?.expect("a hit");
/// assert_eq!(hit.fix.proposal, fix);
/// assert!(hit.score.total > 0.6);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct FixCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FixCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixCache")
            .field("store", &self.inner.store)
            .field("embedder", &self.inner.embedder_id)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Arc<dyn FixStore>,
    /// The store, when it is a mirror of a fleet's (the builder's [`fleet`](FixCacheBuilder::fleet)).
    #[cfg(feature = "fleet")]
    mirror: Option<super::FleetMirror>,
    embedder: Arc<dyn Embedder>,
    embedder_id: String,
    threshold: f32,
    config: CacheConfig,
    clock: Arc<dyn Clock>,
    state: RwLock<State>,
    sync: tokio::sync::Mutex<SyncState>,
    /// Graph builds queued or running.
    builds: tokio::sync::watch::Sender<usize>,
    build_queue: std::sync::Mutex<BuildQueue>,
}

#[derive(Default)]
struct BuildQueue {
    pending: std::collections::VecDeque<u64>,
    working: bool,
}

struct SyncState {
    revision: Revision,
    last: Option<Instant>,
}

struct State {
    index: Index,
    fixes: HashMap<FixId, Known>,
    /// `(signature hash, digest)` of fixes that failed for that signature.
    failed: HashSet<(u64, u64)>,
    hits: u64,
    misses: u64,
}

/// What the cache keeps in memory about a fix: enough to rank it.
struct Known {
    partition: u64,
    signature: u64,
    digest: u64,
    stats: FixStats,
    deprecated: bool,
    context: FixContext,
    revision: Revision,
}

/// A cached fix served for an error, with why it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheHit {
    /// The fix.
    pub fix: CachedFix,
    /// How its signature matched.
    pub matched: Match,
    /// Its ranking score and the parts it is made of.
    pub score: Score,
}

/// How a cached fix's signature matched the error's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// The same normalized message.
    Exact,
    /// A similar one (vector similarity at or above the threshold).
    Similar,
}

/// A ranking score: `total` is the weighted sum of the parts, each in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The weighted sum.
    pub total: f64,
    /// Cosine similarity of the signatures (1 for an exact match).
    pub similarity: f64,
    /// The fix's success rate.
    pub success_rate: f64,
    /// `exp(-days since last use / recency_days)`.
    pub recency: f64,
    /// `log10(uses + 1) / 3`, at most 1.
    pub use_count: f64,
    /// [`FixContext::agreement`] of the projects, with the error code.
    pub context: f64,
}

/// Figures about a cache.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheStats {
    /// Cached fixes.
    pub fixes: usize,
    /// Of which deprecated.
    pub deprecated: usize,
    /// Distinct error signatures.
    pub signatures: usize,
    /// Partitions (distinct hard-filter keys).
    pub partitions: usize,
    /// Signatures searched through an HNSW graph (the rest are searched exactly).
    pub signatures_in_graphs: usize,
    /// `(signature, fix)` pairs remembered as failed.
    pub failed_attempts: usize,
    /// Uses, successes and failures over all fixes.
    pub uses: u64,
    /// Successes over all fixes.
    pub successes: u64,
    /// Failures over all fixes.
    pub failures: u64,
    /// Lookups of this process that found a fix.
    pub hits: u64,
    /// Lookups of this process that found none.
    pub misses: u64,
    /// The embedder.
    pub embedder: String,
}

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedFix {
    /// The error's signature (with its filter keys).
    pub signature: ErrorSignature,
    /// The message as printed.
    pub example: String,
    /// The project.
    pub context: FixContext,
    /// The edits.
    pub proposal: FixProposal,
    /// How it has done.
    pub stats: FixStats,
    /// Whether it is deprecated.
    #[serde(default)]
    pub deprecated: bool,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Fixes read.
    pub read: usize,
    /// Of which new to this cache (the others were merged into fixes with the same edits).
    pub added: usize,
    /// Of which left out: the edit policy refuses them (see [`storable`]).
    pub refused: usize,
}

/// Builds a [`FixCache`] with another embedder, settings or clock.
#[derive(Default)]
pub struct FixCacheBuilder {
    embedder: Option<Arc<dyn Embedder>>,
    config: CacheConfig,
    clock: Option<Arc<dyn Clock>>,
    #[cfg(feature = "fleet")]
    fleet: Option<(String, super::FleetOptions)>,
}

impl FixCacheBuilder {
    /// The embedder (default: [`LexicalEmbedder`]).
    pub fn embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// The settings.
    pub fn config(mut self, config: CacheConfig) -> Self {
        self.config = config;
        self
    }

    /// Where the cache reads the date (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Shares fixes with a fleet of workers through the PostgreSQL database at `url`
    /// (`postgres://user@host/db`): the store in the folder given to [`open`](Self::open)
    /// becomes this worker's mirror of it (see [`FleetMirror`](super::FleetMirror)).
    #[cfg(feature = "fleet")]
    pub fn fleet(mut self, url: impl Into<String>, options: super::FleetOptions) -> Self {
        self.fleet = Some((url.into(), options));
        self
    }

    /// Opens the embedded store in `dir` (created when missing).
    pub async fn open(self, dir: impl AsRef<Path>) -> Result<FixCache> {
        let path = dir.as_ref().join(STORE_FILE);
        let durability = self.config.durability;
        #[cfg(feature = "fleet")]
        if let Some((url, options)) = self.fleet.clone() {
            let mirror = super::FleetMirror::open(path, &url, durability, options).await?;
            let store = Arc::new(mirror.clone());
            return self.build(store, Some(mirror)).await;
        }
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(path, durability))
            .await
            .map_err(|e| Error::cache(format!("opening the store failed: {e}")).caused_by(e))??;
        self.store(Arc::new(store)).await
    }

    /// Uses `store` and loads what it holds.
    pub async fn store(self, store: Arc<dyn FixStore>) -> Result<FixCache> {
        #[cfg(feature = "fleet")]
        return self.build(store, None).await;
        #[cfg(not(feature = "fleet"))]
        return self.build(store).await;
    }

    async fn build(
        self,
        store: Arc<dyn FixStore>,
        #[cfg(feature = "fleet")] mirror: Option<super::FleetMirror>,
    ) -> Result<FixCache> {
        self.config.validate().map_err(Error::InvalidInput)?;
        let embedder = self
            .embedder
            .unwrap_or_else(|| Arc::new(LexicalEmbedder::default()));
        let threshold = self
            .config
            .similarity_threshold
            .unwrap_or_else(|| embedder.similarity_threshold());
        let cache = FixCache {
            inner: Arc::new(Inner {
                store,
                #[cfg(feature = "fleet")]
                mirror,
                embedder_id: embedder.id(),
                state: RwLock::new(State {
                    index: Index::new(self.config.index, embedder.dimensions()),
                    fixes: HashMap::new(),
                    failed: HashSet::new(),
                    hits: 0,
                    misses: 0,
                }),
                embedder,
                threshold,
                config: self.config,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                sync: tokio::sync::Mutex::new(SyncState {
                    revision: 0,
                    last: None,
                }),
                builds: tokio::sync::watch::Sender::new(0),
                build_queue: std::sync::Mutex::default(),
            }),
        };
        cache.catch_up_now().await?;
        Ok(cache)
    }
}

impl FixCache {
    /// Opens the cache in `dir` with the defaults.
    pub async fn open(dir: impl AsRef<Path>) -> Result<FixCache> {
        FixCache::builder().open(dir).await
    }

    /// A builder for another embedder, settings or clock.
    pub fn builder() -> FixCacheBuilder {
        FixCacheBuilder::default()
    }

    /// The folder used when none is given: `$SELFHEAL_CACHE_DIR`, else the platform's cache
    /// folder (`$XDG_CACHE_HOME/selfheal`, `~/.cache/selfheal`, `~/Library/Caches/selfheal`,
    /// `%LOCALAPPDATA%\selfheal`).
    pub fn default_dir() -> Result<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var("SELFHEAL_CACHE_DIR") {
            return Ok(PathBuf::from(dir));
        }
        let base = if cfg!(windows) {
            var("LOCALAPPDATA").map(PathBuf::from)
        } else if cfg!(target_os = "macos") {
            var("HOME").map(|home| PathBuf::from(home).join("Library/Caches"))
        } else {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
        };
        base.map(|base| base.join("selfheal"))
            .ok_or_else(|| Error::Config("no cache folder: set SELFHEAL_CACHE_DIR or HOME".into()))
    }

    /// The best cached fix for a diagnostic, if any qualifies.
    pub async fn lookup(
        &self,
        diagnostic: &Diagnostic,
        context: &FixContext,
    ) -> Result<Option<CacheHit>> {
        Ok(self
            .candidates(diagnostic, context, 1)
            .await?
            .into_iter()
            .next())
    }

    /// Up to `limit` cached fixes for a diagnostic, best first.
    ///
    /// Only fixes with the same hard-filter keys are considered; an exact signature match is
    /// taken first, else signatures at least the threshold similar. Deprecated fixes, fixes
    /// below the minimum success rate and fixes that failed for this signature are never served.
    pub async fn candidates(
        &self,
        diagnostic: &Diagnostic,
        context: &FixContext,
        limit: usize,
    ) -> Result<Vec<CacheHit>> {
        self.sync_if_due().await?;
        let signature = ErrorSignature::of(diagnostic);
        let partition = signature.filter.partition();
        let mut ranked = {
            let state = self.read();
            match state.index.exact(partition, signature.hash) {
                Some(fixes) => self.rank(&state, &signature, context, &[(1.0, fixes)]),
                None => Vec::new(),
            }
        };
        if ranked.is_empty() {
            let query = self.embed_one(&signature).await?;
            let state = self.read();
            let found = (state.index).search(
                partition,
                &query,
                self.inner.threshold,
                self.inner.config.candidates,
            );
            let groups: Vec<(f32, &[FixId])> = (found.iter())
                .map(|m| (m.similarity, m.fixes.as_slice()))
                .collect();
            ranked = self.rank(&state, &signature, context, &groups);
        }
        ranked.truncate(limit);
        let mut hits = Vec::with_capacity(ranked.len());
        for (id, score) in ranked {
            // A fix pruned by another process since the last sync is skipped, and so is one
            // the edit policy refuses (a store written by an older version, a hostile worker).
            if let Some(fix) = (self.inner.store.get(id).await?).filter(|f| storable(&f.proposal)) {
                let matched = if fix.signature.hash == signature.hash {
                    Match::Exact
                } else {
                    Match::Similar
                };
                hits.push(CacheHit {
                    fix,
                    matched,
                    score,
                });
            }
        }
        let mut state = self.write();
        if hits.is_empty() {
            state.misses += 1;
        } else {
            state.hits += 1;
        }
        Ok(hits)
    }

    /// Proposals that failed for this diagnostic's signature, most recent first: never served
    /// again for it, and worth telling a model about.
    pub async fn failed_attempts(&self, diagnostic: &Diagnostic) -> Result<Vec<FixProposal>> {
        let signature = ErrorSignature::of(diagnostic);
        self.inner.store.failed_attempts(signature.hash).await
    }

    /// A proposal turned the build green for this diagnostic: remembers it, or counts a success
    /// for the cached fix with the same edits. Returns the fix's id.
    pub async fn record_success(
        &self,
        diagnostic: &Diagnostic,
        context: &FixContext,
        proposal: &FixProposal,
    ) -> Result<FixId> {
        refuse_unstorable(proposal)?;
        let signature = ErrorSignature::of(diagnostic);
        let known = (self.read().index)
            .vector(signature.filter.partition(), signature.hash)
            .map(<[f32]>::to_vec);
        let embedding = match known {
            Some(vector) => vector,
            None => self.embed_one(&signature).await?,
        };
        let fix = NewFix {
            signature,
            example: redacted(diagnostic.message.clone()),
            context: context.clone(),
            proposal: proposal.clone(),
            embedder: self.inner.embedder_id.clone(),
            embedding,
        };
        let stored = (self.inner.store)
            .record_success(fix, self.now(), &self.inner.config.retention)
            .await?;
        let id = stored.id;
        self.apply(
            Changes {
                fixes: vec![stored],
                ..Changes::default()
            },
            true,
        );
        Ok(id)
    }

    /// A proposal did not turn the build green for this diagnostic: it is never served for
    /// this signature again, and the cached fix with the same edits (if any) counts a failure.
    pub async fn record_failure(
        &self,
        diagnostic: &Diagnostic,
        proposal: &FixProposal,
    ) -> Result<()> {
        refuse_unstorable(proposal)?;
        let signature = ErrorSignature::of(diagnostic);
        let stored = (self.inner.store)
            .record_failure(
                &signature,
                proposal,
                self.now(),
                &self.inner.config.retention,
            )
            .await?;
        self.apply(
            Changes {
                fixes: stored.into_iter().collect(),
                failures: vec![(signature.hash, digest(proposal))],
                ..Changes::default()
            },
            true,
        );
        Ok(())
    }

    /// Forgets fixes unused for too long or failing too often; returns how many.
    pub async fn prune(&self) -> Result<usize> {
        let removed = (self.inner.store)
            .prune(self.now(), &self.inner.config.retention)
            .await?;
        let count = removed.len();
        self.apply(
            Changes {
                removed,
                ..Changes::default()
            },
            true,
        );
        Ok(count)
    }

    /// Figures about the cache.
    pub async fn stats(&self) -> Result<CacheStats> {
        self.catch_up_now().await?;
        let state = self.read();
        let (partitions, signatures, signatures_in_graphs) = state.index.sizes();
        let sum = |field: fn(&FixStats) -> u32| -> u64 {
            state
                .fixes
                .values()
                .map(|k| u64::from(field(&k.stats)))
                .sum()
        };
        Ok(CacheStats {
            fixes: state.fixes.len(),
            deprecated: state.fixes.values().filter(|k| k.deprecated).count(),
            signatures,
            partitions,
            signatures_in_graphs,
            failed_attempts: state.failed.len(),
            uses: sum(|s| s.uses),
            successes: sum(|s| s.successes),
            failures: sum(|s| s.failures),
            hits: state.hits,
            misses: state.misses,
            embedder: self.inner.embedder_id.clone(),
        })
    }

    /// Cached fixes, newest first.
    pub async fn list(&self, limit: usize) -> Result<Vec<CachedFix>> {
        self.inner.store.list(None, limit).await
    }

    /// Writes every cached fix as one JSON line ([`ExportedFix`]); returns how many.
    pub async fn export(&self, out: &mut (dyn Write + Send)) -> Result<usize> {
        let mut before = None;
        let mut written = 0;
        loop {
            let page = self.inner.store.list(before, IMPORT_BATCH).await?;
            let Some(last) = page.last() else {
                return Ok(written);
            };
            before = Some(last.id);
            for fix in page {
                let line = ExportedFix {
                    signature: fix.signature,
                    example: fix.example,
                    context: fix.context,
                    proposal: fix.proposal,
                    stats: fix.stats,
                    deprecated: fix.deprecated,
                };
                serde_json::to_writer(&mut *out, &line)
                    .map_err(|e| Error::cache(format!("export: {e}")).caused_by(e))?;
                out.write_all(b"\n")?;
                written += 1;
            }
        }
    }

    /// Reads JSON lines written by [`export`](FixCache::export), recomputing their vectors with
    /// this cache's embedder. A line that cannot be read fails the import before anything of
    /// its batch is stored, naming the line.
    pub async fn import(&self, input: &mut (dyn BufRead + Send)) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut line = String::new();
        let mut number = 0;
        loop {
            line.clear();
            let done = input.read_line(&mut line)? == 0;
            number += 1;
            if !done && !line.trim().is_empty() {
                let fix: ExportedFix = serde_json::from_str(&line)
                    .map_err(|e| Error::invalid_input(format!("import line {number}: {e}")))?;
                report.read += 1;
                if storable(&fix.proposal) {
                    batch.push(fix);
                } else {
                    report.refused += 1;
                }
            }
            if batch.len() == IMPORT_BATCH || (done && !batch.is_empty()) {
                report.added += self.import_batch(std::mem::take(&mut batch)).await?;
            }
            if done {
                break;
            }
        }
        self.catch_up_now().await?;
        Ok(report)
    }

    /// Waits until every HNSW graph being built is in place (lookups are answered meanwhile,
    /// by exact search).
    pub async fn ready(&self) {
        let mut builds = self.inner.builds.subscribe();
        // The sender lives as long as `self`: the wait cannot fail.
        let _ = builds.wait_for(|running| *running == 0).await;
    }

    /// The fleet this cache mirrors, when it was opened with one
    /// ([`FixCacheBuilder::fleet`]): its queue of uploads, its worker name, a sync report.
    #[cfg(feature = "fleet")]
    pub fn mirror(&self) -> Option<&super::FleetMirror> {
        self.inner.mirror.as_ref()
    }

    /// Brings the store up to date with its store of record (a fleet mirror uploads what it
    /// learned and pulls what other workers did; see [`FixStore::sync`]), then catches up with
    /// the store's writes now. The cache is up to date with its store even when the first step
    /// fails (the server is down), and the failure is returned.
    pub async fn sync(&self) -> Result<()> {
        let synced = self.inner.store.sync().await;
        self.catch_up_now().await?;
        synced
    }

    /// Catches up with the store's writes (other processes', a mirror's pulls) now.
    async fn catch_up_now(&self) -> Result<()> {
        let mut sync = self.inner.sync.lock().await;
        self.catch_up(&mut sync).await
    }

    async fn sync_if_due(&self) -> Result<()> {
        // A lookup never waits for another task's sync: it uses what is loaded.
        let Ok(mut sync) = self.inner.sync.try_lock() else {
            return Ok(());
        };
        if sync
            .last
            .is_some_and(|last| last.elapsed() < self.inner.config.sync_interval)
            && !self.inner.store.news_since(sync.revision)
        {
            return Ok(());
        }
        self.catch_up(&mut sync).await
    }

    /// Reads and applies what the store has after the last revision seen, a page at a time:
    /// the next page is read while one is applied, and lookups run between pages. Graphs are
    /// built once everything is in.
    async fn catch_up(&self, sync: &mut SyncState) -> Result<()> {
        let mut page = self.changes_after(sync.revision).await?;
        while page.more {
            let revision = page.revision;
            let (next, ()) = tokio::join!(self.changes_after(revision), async {
                self.apply(page, false)
            });
            sync.revision = revision;
            page = next?;
        }
        sync.revision = page.revision;
        sync.last = Some(Instant::now());
        self.apply(page, true);
        Ok(())
    }

    async fn changes_after(&self, revision: Revision) -> Result<Changes> {
        let mut changes = (self.inner.store)
            .changes(revision, &self.inner.embedder_id, CHANGES_PAGE)
            .await?;
        self.embed_missing(&mut changes.fixes).await?;
        Ok(changes)
    }

    /// Fixes stored by another embedder get this one's vectors (stored for the next start).
    async fn embed_missing(&self, fixes: &mut [FixRecord]) -> Result<()> {
        // One text per signature, in first-seen order, with the fixes that share it.
        let mut position: HashMap<u64, usize> = HashMap::new();
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, record) in fixes.iter().enumerate() {
            let RecordVector::Missing(signature) = &record.vector else {
                continue;
            };
            let at = *position.entry(signature.hash).or_insert_with(|| {
                groups.push((signature.embedding_text(), Vec::new()));
                groups.len() - 1
            });
            groups[at].1.push(i);
        }
        if groups.is_empty() {
            return Ok(());
        }
        let texts: Vec<String> = groups.iter().map(|(text, _)| text.clone()).collect();
        let vectors = self.embed(&texts).await?;
        let mut updates = Vec::new();
        for ((_, members), vector) in groups.into_iter().zip(vectors) {
            for i in members {
                fixes[i].vector = RecordVector::Stored(vector.clone());
                updates.push((fixes[i].id, vector.clone()));
            }
        }
        self.inner
            .store
            .set_embeddings(&self.inner.embedder_id, updates)
            .await
    }

    /// Applies changes to the in-memory state and (with `build`) starts the graph builds the
    /// index calls for.
    fn apply(&self, changes: Changes, build: bool) {
        let builds = {
            let mut state = self.write();
            state.fixes.reserve(changes.fixes.len());
            for stored in changes.fixes {
                apply_fix(&mut state, stored);
            }
            for id in changes.removed {
                if let Some(known) = state.fixes.remove(&id) {
                    state.index.remove(known.partition, known.signature, id);
                }
            }
            state.failed.extend(changes.failures);
            if build {
                state.index.builds_needed()
            } else {
                Vec::new()
            }
        };
        spawn_builds(&self.inner, builds);
    }

    /// Scores the eligible fixes of matched signatures, best first.
    fn rank(
        &self,
        state: &State,
        signature: &ErrorSignature,
        context: &FixContext,
        groups: &[(f32, &[FixId])],
    ) -> Vec<(FixId, Score)> {
        let config = &self.inner.config;
        let now = self.now();
        let mut ranked = Vec::new();
        for &(similarity, fixes) in groups {
            for id in fixes {
                let Some(known) = state.fixes.get(id) else {
                    continue;
                };
                let success_rate = known.stats.success_rate();
                if known.deprecated
                    || success_rate < config.min_success_rate
                    || state.failed.contains(&(signature.hash, known.digest))
                {
                    continue;
                }
                let days = (now - known.stats.last_used).max(0) as f64 / 86_400.0;
                let similarity = f64::from(similarity.clamp(0.0, 1.0));
                let recency = (-days / config.recency_days).exp();
                let use_count = ((f64::from(known.stats.uses) + 1.0).log10() / 3.0).min(1.0);
                // The error code agrees by construction (it is a hard filter): it counts as one
                // agreeing part next to the project's.
                let context_match = (known.context.agreement(context) + 1.0) / 2.0;
                let w = &config.weights;
                let total = w.similarity * similarity
                    + w.success_rate * success_rate
                    + w.recency * recency
                    + w.use_count * use_count
                    + w.context * context_match;
                let score = Score {
                    total,
                    similarity,
                    success_rate,
                    recency,
                    use_count,
                    context: context_match,
                };
                ranked.push((*id, score));
            }
        }
        ranked.sort_by(|a, b| b.1.total.total_cmp(&a.1.total).then(a.0.cmp(&b.0)));
        ranked
    }

    /// The embedder's vectors for `texts`, checked: one per text, each of its dimensions.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let vectors = self.inner.embedder.embed(texts).await?;
        let dimensions = self.inner.embedder.dimensions();
        if vectors.len() != texts.len() || vectors.iter().any(|v| v.len() != dimensions) {
            return Err(Error::cache(format!(
                "embedder {} returned {} vectors for {} texts, or not all of {dimensions} \
                 dimensions",
                self.inner.embedder_id,
                vectors.len(),
                texts.len()
            )));
        }
        Ok(vectors)
    }

    async fn embed_one(&self, signature: &ErrorSignature) -> Result<Vec<f32>> {
        self.embed(&[signature.embedding_text()])
            .await?
            .pop()
            .ok_or_else(|| Error::cache("the embedder returned no vector"))
    }

    async fn import_batch(&self, batch: Vec<ExportedFix>) -> Result<usize> {
        let texts: Vec<String> = batch
            .iter()
            .map(|fix| fix.signature.embedding_text())
            .collect();
        let vectors = self.embed(&texts).await?;
        let fixes = batch
            .into_iter()
            .zip(vectors)
            .map(|(fix, embedding)| {
                let stats = fix.stats;
                let new = NewFix {
                    // The hash is recomputed: an edited export cannot forge a match.
                    signature: ErrorSignature::from_parts(
                        redacted(fix.signature.text),
                        fix.signature.filter,
                        fix.signature.file_kind,
                    ),
                    example: redacted(fix.example),
                    context: fix.context,
                    proposal: fix.proposal,
                    embedder: self.inner.embedder_id.clone(),
                    embedding,
                };
                (new, stats)
            })
            .collect();
        self.inner
            .store
            .import(fixes, &self.inner.config.retention)
            .await
    }

    fn now(&self) -> i64 {
        self.inner
            .clock
            .system_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        read_state(&self.inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        write_state(&self.inner)
    }
}

fn apply_fix(state: &mut State, record: FixRecord) {
    let id = record.id;
    if let Some(known) = state.fixes.get_mut(&id) {
        if record.revision >= known.revision {
            known.stats = record.stats;
            known.deprecated = record.deprecated;
            known.revision = record.revision;
        }
        return;
    }
    let RecordVector::Stored(vector) = record.vector else {
        return;
    };
    state.fixes.insert(
        id,
        Known {
            partition: record.partition,
            signature: record.signature_hash,
            digest: record.digest,
            stats: record.stats,
            deprecated: record.deprecated,
            context: record.context,
            revision: record.revision,
        },
    );
    (state.index).add(record.partition, record.signature_hash, &vector, id)
}

/// Queues graph builds for the cache's one builder thread (started when there is work; a
/// process exit does not wait for it). One thread at a time keeps lookups from starving while
/// a large store builds many graphs; each build uses the `rayon` pool inside.
fn spawn_builds(inner: &Arc<Inner>, partitions: Vec<u64>) {
    if partitions.is_empty() {
        return;
    }
    inner
        .builds
        .send_modify(|queued| *queued += partitions.len());
    let mut queue = lock_queue(inner);
    queue.pending.extend(partitions);
    if queue.working {
        return;
    }
    queue.working = true;
    drop(queue);
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let spawned = std::thread::Builder::new()
        .name("selfheal-index".into())
        .spawn(move || build_until_done(&weak));
    if spawned.is_err() {
        // Without a thread the partitions stay on exact search: correct, only slower.
        let mut queue = lock_queue(inner);
        let dropped = queue.pending.len();
        queue.pending.clear();
        queue.working = false;
        drop(queue);
        inner.builds.send_modify(|queued| *queued -= dropped);
    }
}

fn build_until_done(weak: &Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let Some(partition) = ({
            let mut queue = lock_queue(&inner);
            let next = queue.pending.pop_front();
            queue.working = next.is_some();
            next
        }) else {
            return;
        };
        let build = read_state(&inner).index.start_build(partition);
        // The cache may be dropped while the graph is built: hold only a weak reference.
        drop(inner);
        let built = build.map(GraphBuild::run);
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let again = built.and_then(|built| write_state(&inner).index.install(built));
        match again {
            Some(partition) => lock_queue(&inner).pending.push_back(partition),
            None => inner.builds.send_modify(|queued| *queued -= 1),
        }
    }
}

fn lock_queue(inner: &Inner) -> std::sync::MutexGuard<'_, BuildQueue> {
    inner
        .build_queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read_state(inner: &Inner) -> RwLockReadGuard<'_, State> {
    // State updates are single assignments and pushes: a panic elsewhere leaves it usable.
    inner
        .state
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_state(inner: &Inner) -> RwLockWriteGuard<'_, State> {
    inner
        .state
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the cache may keep, serve and share `proposal`: the default [`EditPolicy`]'s rules
/// that paths and sizes decide accept it. Whoever wrote a store or an export — an older version,
/// another worker of the fleet — a fix these refuse is never recorded, imported or served; and
/// whatever the cache serves is checked again, in full, when the heal loop applies it.
///
/// Nor is a fix whose text holds a secret ([`Redactor::process_wide`] finds one in its analysis
/// or its edits): redacting it would store a broken fix, and keeping it would store the secret.
pub fn storable(proposal: &FixProposal) -> bool {
    EditPolicy::default().refusals_by_path(proposal).is_empty() && !holds_secret(proposal)
}

/// Whether the proposal's own text holds a secret.
fn holds_secret(proposal: &FixProposal) -> bool {
    let redactor = Redactor::process_wide();
    let edit_texts = proposal.edits.iter().flat_map(|edit| match edit {
        Edit::Replace { content, .. } | Edit::Create { content, .. } => vec![content.as_str()],
        Edit::Patch {
            search, replace, ..
        } => vec![search.as_str(), replace.as_str()],
        Edit::Delete { .. } => Vec::new(),
    });
    std::iter::once(proposal.analysis.as_str())
        .chain(edit_texts)
        .any(|text| redactor.finds_secret(text))
}

/// `text` with secrets redacted, as everything the cache writes.
pub(crate) fn redacted(text: String) -> String {
    match Redactor::process_wide().redact(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => clean,
    }
}

fn refuse_unstorable(proposal: &FixProposal) -> Result<()> {
    if holds_secret(proposal) {
        return Err(Error::invalid_input(
            "the fix cache does not keep a fix whose text holds a secret",
        ));
    }
    let refusals = EditPolicy::default().refusals_by_path(proposal);
    if refusals.is_empty() {
        return Ok(());
    }
    let each: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    Err(Error::invalid_input(format!(
        "the fix cache does not keep a fix the edit policy refuses: {}",
        each.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::{Edit, RelativePath};

    fn fix(path: &str) -> FixProposal {
        FixProposal {
            edits: vec![Edit::Replace {
                path: RelativePath::new(path).unwrap(),
                content: "[core]\n\tfsmonitor = \"sh -c id\"\n".into(),
            }],
            ..FixProposal::default()
        }
    }

    #[tokio::test]
    async fn secrets_never_reach_a_row_and_a_fix_holding_one_is_not_kept() {
        let dir = crate::scratch::folder("cache-secrets");
        let cache = FixCache::open(&dir).await.unwrap();
        let key = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345";
        let error = Diagnostic::new("node", format!("401 Unauthorized: invalid key {key}"));
        let context = FixContext::default();
        let harmless = FixProposal {
            edits: vec![Edit::Replace {
                path: RelativePath::new("src/client.ts").unwrap(),
                content: "export const key = process.env.ANTHROPIC_API_KEY;\n".into(),
            }],
            ..FixProposal::default()
        };
        cache
            .record_success(&error, &context, &harmless)
            .await
            .unwrap();
        let leaking = FixProposal {
            edits: vec![Edit::Replace {
                path: RelativePath::new("src/client.ts").unwrap(),
                content: format!("export const key = '{key}';\n"),
            }],
            ..FixProposal::default()
        };
        assert!(!storable(&leaking));
        let refused = cache.record_success(&error, &context, &leaking).await;
        assert!(matches!(&refused, Err(Error::InvalidInput(m)) if m.contains("secret")));

        let mut exported = Vec::new();
        assert_eq!(cache.export(&mut exported).await.unwrap(), 1);
        let exported = String::from_utf8(exported).unwrap();
        assert!(!exported.contains(key), "{exported}");
        assert!(exported.contains("[REDACTED:anthropic-key]"));
        assert!(
            cache.lookup(&error, &context).await.unwrap().is_some(),
            "the same error still finds its fix"
        );

        // An export written elsewhere, with the key in its text, is imported redacted.
        let other = dir.join("other");
        let importer = FixCache::open(&other).await.unwrap();
        let raw = exported.replace("[REDACTED:anthropic-key]", key);
        let report = importer.import(&mut raw.as_bytes()).await.unwrap();
        assert_eq!(report.added, 1);
        let mut again = Vec::new();
        importer.export(&mut again).await.unwrap();
        assert!(!String::from_utf8(again).unwrap().contains(key));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_fix_the_policy_refuses_is_never_recorded_imported_or_served() {
        let dir = crate::scratch::folder("cache-policy");
        let cache = FixCache::open(&dir).await.unwrap();
        let error = Diagnostic::new("tsc", "Cannot find name 'useState'.");
        let context = FixContext::default();
        for path in [
            ".git/config",
            "node_modules/react/index.js",
            "tests/test_app.py",
        ] {
            let refused = cache.record_success(&error, &context, &fix(path)).await;
            assert!(
                matches!(&refused, Err(Error::InvalidInput(m)) if m.contains("edit policy")),
                "{refused:?}"
            );
            assert!(cache.record_failure(&error, &fix(path)).await.is_err());
        }
        assert_eq!(cache.stats().await.unwrap().fixes, 0);

        // A store written by an older version, or a hostile worker, holds one anyway.
        let signature = ErrorSignature::of(&error);
        let hostile = NewFix {
            embedding: cache.embed_one(&signature).await.unwrap(),
            embedder: cache.inner.embedder_id.clone(),
            signature,
            example: error.message.clone(),
            context: context.clone(),
            proposal: fix(".git/config"),
        };
        (cache.inner.store)
            .record_success(hostile, cache.now(), &cache.inner.config.retention)
            .await
            .unwrap();
        let reopened = FixCache::open(&dir).await.unwrap();
        assert_eq!(reopened.stats().await.unwrap().fixes, 1);
        assert!(reopened.lookup(&error, &context).await.unwrap().is_none());

        let mut exported = Vec::new();
        reopened.export(&mut exported).await.unwrap();
        let other = FixCache::open(dir.join("other")).await.unwrap();
        let report = other.import(&mut exported.as_slice()).await.unwrap();
        assert_eq!(
            report,
            ImportReport {
                read: 1,
                added: 0,
                refused: 1
            }
        );
        assert_eq!(other.stats().await.unwrap().fixes, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

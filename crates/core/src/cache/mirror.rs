//! [`FleetMirror`]: the embedded store as a worker's mirror of the fleet store.
//!
//! Everything the cache asks of its store is answered by the local SQLite file, so lookups never
//! touch the network and a worker keeps healing while the server is down. Every use the worker
//! counts is also journaled in the file (`outbox`, in the write's own transaction), and a
//! background task uploads the journal, folds counters and pulls what other workers learned:
//! at once when this worker learns something or the server announces a change
//! (`LISTEN/NOTIFY`), else every [`FleetOptions::poll_interval`], and after an outage with
//! growing pauses until the server answers again.
//!
//! Local ids stay local: a fix learned offline gets its fleet id when it is uploaded (the
//! server assigns it; the same fix uploaded by two workers is one fix), and fixes pulled from
//! the fleet are matched by partition and digest. A pull's pages are applied as they come and
//! its cursor is saved only at its end, so a pull cut short is repeated and nothing is lost;
//! applying a fix twice is harmless. An upload taken by the server but not acknowledged is
//! recognized by its sequence numbers when repeated, so nothing is counted twice.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use tokio::sync::Notify;

use super::entry::{CachedFix, FixId, FixStats};
use super::fleet::{ChangeCursor, FleetFix, FleetStore, FleetUse, PullEnd, parse_url};
use super::sqlite::{Durability, SqliteStore, next_revision};
use super::store::{Changes, FixRecord, FixStore, NewFix, Revision};
use super::{ErrorSignature, Retention};
use crate::fix::FixProposal;
use crate::{Error, Result};

/// The environment variable naming the fleet's database when a host does not.
pub const FLEET_URL_VAR: &str = "SELFHEAL_CACHE_URL";

/// The fleet database URL: the one given, else [`FLEET_URL_VAR`]'s (unset or empty: none).
pub fn fleet_url(given: Option<String>) -> Option<String> {
    given
        .or_else(|| std::env::var(FLEET_URL_VAR).ok())
        .filter(|url| !url.is_empty())
}

/// How a mirror keeps up with the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetOptions {
    /// How often to sync when nothing announces a change (announcements come through
    /// `LISTEN/NOTIFY`; this catches what a lost connection missed).
    pub poll_interval: Duration,
    /// The first pause after a failed sync; it doubles after each failure.
    pub retry_initial: Duration,
    /// The longest pause between attempts while the server is unreachable.
    pub retry_max: Duration,
    /// Journaled uses uploaded per server transaction.
    pub upload_batch: usize,
    /// Fixes applied per local transaction when pulling.
    pub pull_page: usize,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            poll_interval: Duration::from_secs(30),
            retry_initial: Duration::from_millis(250),
            retry_max: Duration::from_secs(15),
            upload_batch: 2_000,
            pull_page: 4_096,
        }
    }
}

/// What one sync moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Fixes this worker learned that the fleet did not have.
    pub fixes_uploaded: usize,
    /// Journaled use entries uploaded.
    pub uses_uploaded: usize,
    /// Fixes pulled (new or changed; a fix may come again).
    pub pulled: usize,
    /// Fixes removed by the fleet's pruning.
    pub removed: usize,
}

/// How the mirror stands with its server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetStatus {
    /// The last sync reached the server.
    pub online: bool,
    /// Why the last sync failed, while offline.
    pub last_error: Option<String>,
}

/// The local store of one worker, mirroring the fleet store at a PostgreSQL URL. Use it as a
/// [`FixCache`](super::FixCache)'s store (or let [`FixCacheBuilder::fleet`](super::FixCacheBuilder::fleet)
/// set it up).
#[derive(Debug, Clone)]
pub struct FleetMirror {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    local: SqliteStore,
    config: tokio_postgres::Config,
    worker: i64,
    options: FleetOptions,
    /// The server connection (`None` while offline); holding it serializes syncs.
    fleet: tokio::sync::Mutex<Option<FleetStore>>,
    /// Woken by this worker's writes, the server's announcements and a lost connection.
    wake: Arc<Notify>,
    /// The retention rules the cache last wrote with; folds apply them server-side.
    retention: Mutex<Retention>,
    /// The local revision of the last change a pull applied.
    pulled: AtomicI64,
    status: Mutex<FleetStatus>,
}

impl FleetMirror {
    /// Opens (creating it when missing) the local store at `path` as a mirror of the fleet
    /// store at `url`, and starts keeping it in sync in the background. It does not wait for
    /// the server: a worker whose server is down starts all the same, from its mirror.
    pub async fn open(
        path: impl AsRef<Path>,
        url: &str,
        durability: Durability,
        options: FleetOptions,
    ) -> Result<FleetMirror> {
        let config = parse_url(url)?;
        let path = path.as_ref().to_path_buf();
        let local =
            tokio::task::spawn_blocking(move || SqliteStore::open_as(&path, durability, true))
                .await
                .map_err(|e| {
                    Error::cache(format!("opening the store failed: {e}")).caused_by(e)
                })??;
        let worker = local.with(enlist).await?;
        let shared = Arc::new(Shared {
            local,
            config,
            worker,
            options,
            fleet: tokio::sync::Mutex::new(None),
            wake: Arc::new(Notify::new()),
            retention: Mutex::new(Retention::default()),
            pulled: AtomicI64::new(0),
            status: Mutex::new(FleetStatus::default()),
        });
        tokio::spawn(keep_in_sync(Arc::downgrade(&shared)));
        Ok(FleetMirror { shared })
    }

    /// Uploads what this worker learned and pulls what the fleet learned, now.
    pub async fn sync_now(&self) -> Result<SyncReport> {
        self.shared.sync().await
    }

    /// How the mirror stands with its server.
    pub fn status(&self) -> FleetStatus {
        lock(&self.shared.status).clone()
    }

    /// Journaled use entries not uploaded yet.
    pub async fn queued(&self) -> Result<u64> {
        self.shared
            .local
            .with(|connection| {
                connection.query_row("SELECT count(*) FROM outbox", [], |row| {
                    row.get::<_, i64>(0)
                })
            })
            .await
            .map(|count| count as u64)
    }

    /// This worker's id in the fleet (kept in the local store).
    pub fn worker(&self) -> i64 {
        self.shared.worker
    }

    fn learned(&self, retention: &Retention) {
        *lock(&self.shared.retention) = *retention;
        self.shared.wake.notify_one();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Syncs whenever woken or due, pausing longer after each failure, until the mirror is dropped.
async fn keep_in_sync(mirror: Weak<Shared>) {
    let mut retry = None;
    loop {
        let Some(shared) = mirror.upgrade() else {
            return;
        };
        let options = shared.options.clone();
        let pause = match shared.sync().await {
            Ok(_) => {
                retry = None;
                None
            }
            Err(_) => {
                let pause = retry.map_or(options.retry_initial, |last: Duration| {
                    (last * 2).min(options.retry_max)
                });
                retry = Some(pause);
                Some(pause)
            }
        };
        let wake = Arc::clone(&shared.wake);
        // Not kept alive by its own sync task while waiting.
        drop(shared);
        match pause {
            Some(pause) => tokio::time::sleep(pause).await,
            None => {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(options.poll_interval) => {}
                }
            }
        }
    }
}

impl Shared {
    async fn sync(&self) -> Result<SyncReport> {
        let mut fleet = self.fleet.lock().await;
        let result = self.sync_with(&mut fleet).await;
        let mut status = lock(&self.status);
        match &result {
            Ok(_) => {
                *status = FleetStatus {
                    online: true,
                    last_error: None,
                }
            }
            Err(error) => {
                // Reconnect next time.
                *fleet = None;
                *status = FleetStatus {
                    online: false,
                    last_error: Some(error.to_string()),
                };
            }
        }
        result
    }

    async fn sync_with(&self, fleet: &mut Option<FleetStore>) -> Result<SyncReport> {
        if fleet.as_ref().is_none_or(FleetStore::is_closed) {
            *fleet = None;
            let store = FleetStore::connect_notifying(&self.config, Arc::clone(&self.wake)).await?;
            *fleet = Some(store);
        }
        let Some(fleet) = fleet.as_mut() else {
            return Err(Error::cache("fleet store: not connected"));
        };
        let retention = *lock(&self.retention);
        let mut report = SyncReport::default();
        loop {
            let batch = self.options.upload_batch;
            let outgoing = self.local.with(move |c| outgoing(c, batch)).await?;
            let Some(through) = outgoing.through else {
                break;
            };
            let ids = fleet
                .upload(self.worker, &outgoing.fixes, &outgoing.uses, &retention)
                .await?;
            report.fixes_uploaded += outgoing.fixes.len();
            report.uses_uploaded += outgoing.uses.len();
            self.local
                .with(move |c| mark_uploaded(c, through, &ids))
                .await?;
        }
        fleet.fold(&retention).await?;
        let cursor = self.local.with(read_cursor).await?;
        let (pages, mut arriving) = tokio::sync::mpsc::channel(2);
        let pull = fleet.pull(cursor, self.options.pull_page, pages);
        let apply = async {
            let mut pulled = 0;
            while let Some(page) = arriving.recv().await {
                pulled += page.len();
                let revision = self.local.with(move |c| apply_page(c, page)).await?;
                self.pulled.fetch_max(revision, Ordering::Release);
            }
            Ok(pulled)
        };
        let (end, pulled) = tokio::try_join!(pull, apply)?;
        report.pulled = pulled;
        if end.cursor != cursor || !end.removed.is_empty() {
            let (removed, revision) = self.local.with(move |c| finish_pull(c, end)).await?;
            report.removed = removed;
            if let Some(revision) = revision {
                self.pulled.fetch_max(revision, Ordering::Release);
            }
        }
        Ok(report)
    }
}

/// Registers the store as a mirror: on first use it gets its worker id, and every fix it
/// already held is journaled for upload with its counts.
fn enlist(connection: &mut Connection) -> rusqlite::Result<i64> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let known: Option<i64> = transaction
        .query_row(
            "SELECT value FROM meta WHERE key = 'fleet_worker'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    let worker = match known {
        Some(worker) => worker,
        None => {
            let worker = new_worker_id();
            transaction.execute(
                "INSERT INTO meta (key, value) VALUES ('fleet_worker', ?1)",
                [worker],
            )?;
            transaction.execute(
                "INSERT INTO outbox (partition, digest, uses, successes, failures, at) \
                 SELECT partition, digest, uses, successes, failures, last_used FROM fixes \
                 WHERE fleet_id IS NULL ORDER BY id",
                [],
            )?;
            worker
        }
    };
    transaction.commit()?;
    Ok(worker)
}

/// A random positive id.
fn new_worker_id() -> i64 {
    (crate::time::random_u64() >> 1) as i64
}

/// A batch of the journal: its uses, the fixes among them the fleet has not given an id yet,
/// and the last sequence number in it (`None`: the journal is empty).
struct Outgoing {
    uses: Vec<FleetUse>,
    fixes: Vec<FleetFix>,
    through: Option<i64>,
}

fn outgoing(connection: &mut Connection, limit: usize) -> rusqlite::Result<Outgoing> {
    let transaction = connection.transaction()?;
    let uses: Vec<FleetUse> = transaction
        .prepare_cached(
            "SELECT seq, partition, digest, uses, successes, failures, at FROM outbox \
             ORDER BY seq LIMIT ?1",
        )?
        .query_map([limit as i64], |row| {
            Ok(FleetUse {
                seq: row.get(0)?,
                partition: row.get(1)?,
                digest: row.get(2)?,
                stats: FixStats {
                    uses: row.get(3)?,
                    successes: row.get(4)?,
                    failures: row.get(5)?,
                    created_at: row.get(6)?,
                    last_used: row.get(6)?,
                },
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let through = uses.last().map(|u| u.seq);
    let fixes = transaction
        .prepare_cached(
            "SELECT partition, digest, signature_hash, signature, example, context, proposal, \
             embedder, embedding, created_at, last_used FROM fixes \
             WHERE fleet_id IS NULL AND (partition, digest) IN \
                 (SELECT partition, digest FROM outbox WHERE seq <= ?1)",
        )?
        .query_map([through.unwrap_or(0)], |row| {
            Ok(FleetFix {
                id: 0,
                partition: row.get(0)?,
                digest: row.get(1)?,
                signature_hash: row.get(2)?,
                signature: row.get(3)?,
                example: row.get(4)?,
                context: row.get(5)?,
                proposal: row.get(6)?,
                embedder: row.get(7)?,
                embedding: row.get(8)?,
                stats: FixStats {
                    uses: 0,
                    successes: 0,
                    failures: 0,
                    created_at: row.get(9)?,
                    last_used: row.get(10)?,
                },
                deprecated: false,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    transaction.commit()?;
    Ok(Outgoing {
        uses,
        fixes,
        through,
    })
}

/// The server took the journal up to `through`: forget it, and key the fixes by their fleet ids.
fn mark_uploaded(
    connection: &mut Connection,
    through: i64,
    ids: &[((i64, i64), i64)],
) -> rusqlite::Result<()> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute("DELETE FROM outbox WHERE seq <= ?1", [through])?;
    {
        let mut key = transaction.prepare_cached(
            "UPDATE fixes SET fleet_id = ?3 WHERE partition = ?1 AND digest = ?2 \
             AND fleet_id IS NOT ?3",
        )?;
        for &((partition, digest), id) in ids {
            release_fleet_id(&transaction, id, partition, digest)?;
            key.execute(params![partition, digest, id])?;
        }
    }
    transaction.commit()
}

/// A fleet id belongs to one fix: a row still holding it for other edits (from a database
/// that was replaced) lets go of it.
fn release_fleet_id(
    connection: &Connection,
    id: i64,
    partition: i64,
    digest: i64,
) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "UPDATE fixes SET fleet_id = NULL WHERE fleet_id = ?1 \
             AND NOT (partition = ?2 AND digest = ?3)",
        )?
        .execute(params![id, partition, digest])?;
    Ok(())
}

fn read_cursor(connection: &mut Connection) -> rusqlite::Result<ChangeCursor> {
    let cursor: Option<i64> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'fleet_cursor'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(ChangeCursor(cursor.unwrap_or(0) as u64))
}

/// Applies pulled fixes in one transaction. The fleet's counters replace the local ones, plus
/// what this worker journaled and has not uploaded yet.
fn apply_page(connection: &mut Connection, page: Vec<FleetFix>) -> rusqlite::Result<Revision> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let revision: Revision = next_revision(&transaction)?;
    let mut pending: HashMap<(i64, i64), (u32, u32, u32)> = HashMap::new();
    {
        let mut journaled = transaction.prepare_cached(
            "SELECT partition, digest, sum(uses), sum(successes), sum(failures) FROM outbox \
             GROUP BY partition, digest",
        )?;
        let mut rows = journaled.query([])?;
        while let Some(row) = rows.next()? {
            pending.insert(
                (row.get(0)?, row.get(1)?),
                (row.get(2)?, row.get(3)?, row.get(4)?),
            );
        }
    }
    {
        let mut upsert = transaction.prepare_cached(
            "INSERT INTO fixes (revision, partition, digest, signature_hash, signature, example, \
             context, proposal, embedder, embedding, uses, successes, failures, created_at, \
             last_used, deprecated, fleet_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
             ON CONFLICT (partition, digest) DO UPDATE SET revision = excluded.revision, \
             uses = excluded.uses, successes = excluded.successes, \
             failures = excluded.failures, last_used = max(last_used, excluded.last_used), \
             deprecated = excluded.deprecated, fleet_id = excluded.fleet_id",
        )?;
        for fix in &page {
            // A fix the edit policy refuses, or with a secret in its text, is not kept, whichever
            // worker uploaded it.
            let proposal = serde_json::from_str::<crate::fix::FixProposal>(&fix.proposal);
            let redactor = crate::redact::Redactor::process_wide();
            let secret = [&fix.example, &fix.signature]
                .iter()
                .any(|text| redactor.finds_secret(text));
            if secret || !proposal.is_ok_and(|proposal| super::storable(&proposal)) {
                continue;
            }
            let (uses, successes, failures) = pending
                .get(&(fix.partition, fix.digest))
                .copied()
                .unwrap_or_default();
            release_fleet_id(&transaction, fix.id, fix.partition, fix.digest)?;
            upsert.execute(params![
                revision,
                fix.partition,
                fix.digest,
                fix.signature_hash,
                fix.signature,
                fix.example,
                fix.context,
                fix.proposal,
                fix.embedder,
                fix.embedding,
                fix.stats.uses.saturating_add(uses),
                fix.stats.successes.saturating_add(successes),
                fix.stats.failures.saturating_add(failures),
                fix.stats.created_at,
                fix.stats.last_used,
                fix.deprecated,
                fix.id,
            ])?;
        }
    }
    transaction.commit()?;
    Ok(revision)
}

/// Ends a pull: drops the fixes the fleet removed and saves the cursor. Returns how many were
/// dropped.
fn finish_pull(
    connection: &mut Connection,
    end: PullEnd,
) -> rusqlite::Result<(usize, Option<Revision>)> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut dropped = 0;
    let mut took = None;
    if !end.removed.is_empty() {
        let revision = next_revision(&transaction)?;
        took = Some(revision);
        let mut remove =
            transaction.prepare_cached("DELETE FROM fixes WHERE fleet_id = ?1 RETURNING id")?;
        let mut tombstone =
            transaction.prepare_cached("INSERT INTO removed (id, revision) VALUES (?1, ?2)")?;
        for fleet_id in &end.removed {
            let local: Option<FixId> = remove.query_row([fleet_id], |row| row.get(0)).optional()?;
            if let Some(local) = local {
                tombstone.execute(params![local, revision])?;
                dropped += 1;
            }
        }
    }
    transaction.execute(
        "INSERT INTO meta (key, value) VALUES ('fleet_cursor', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [end.cursor.0 as i64],
    )?;
    transaction.commit()?;
    Ok((dropped, took))
}

#[async_trait::async_trait]
impl FixStore for FleetMirror {
    async fn changes(&self, since: Revision, embedder: &str, limit: usize) -> Result<Changes> {
        self.shared.local.changes(since, embedder, limit).await
    }

    async fn get(&self, id: FixId) -> Result<Option<CachedFix>> {
        self.shared.local.get(id).await
    }

    async fn record_success(
        &self,
        fix: NewFix,
        at: i64,
        retention: &Retention,
    ) -> Result<FixRecord> {
        let stored = self.shared.local.record_success(fix, at, retention).await?;
        self.learned(retention);
        Ok(stored)
    }

    async fn record_failure(
        &self,
        signature: &ErrorSignature,
        proposal: &FixProposal,
        at: i64,
        retention: &Retention,
    ) -> Result<Option<FixRecord>> {
        let stored = (self.shared.local)
            .record_failure(signature, proposal, at, retention)
            .await?;
        self.learned(retention);
        Ok(stored)
    }

    async fn failed_attempts(&self, signature_hash: u64) -> Result<Vec<FixProposal>> {
        self.shared.local.failed_attempts(signature_hash).await
    }

    async fn set_embeddings(
        &self,
        embedder: &str,
        embeddings: Vec<(FixId, Vec<f32>)>,
    ) -> Result<()> {
        self.shared.local.set_embeddings(embedder, embeddings).await
    }

    /// Prunes the mirror, then the fleet when the server is reachable (other mirrors drop what
    /// it removed at their next pull). Returns what left the mirror.
    async fn prune(&self, at: i64, retention: &Retention) -> Result<Vec<FixId>> {
        let removed = self.shared.local.prune(at, retention).await?;
        let mut fleet = self.shared.fleet.lock().await;
        if let Some(store) = fleet.as_mut().filter(|store| !store.is_closed())
            && store.prune(at, retention).await.is_err()
        {
            *fleet = None;
        }
        Ok(removed)
    }

    async fn list(&self, before: Option<FixId>, limit: usize) -> Result<Vec<CachedFix>> {
        self.shared.local.list(before, limit).await
    }

    async fn import(&self, fixes: Vec<(NewFix, FixStats)>, retention: &Retention) -> Result<usize> {
        let added = self.shared.local.import(fixes, retention).await?;
        self.learned(retention);
        Ok(added)
    }

    async fn sync(&self) -> Result<()> {
        self.shared.sync().await.map(|_| ())
    }

    fn news_since(&self, revision: Revision) -> bool {
        self.shared.pulled.load(Ordering::Acquire) > revision
    }
}

//! The embedded default store: one SQLite file in write-ahead-log mode.
//!
//! SQLite is the only embedded engine that is safe for several processes sharing one file out of
//! the box; every write is one transaction, so a process killed at any point leaves the file at
//! the last committed write. Each write takes the next revision from a counter inside its
//! transaction; SQLite admits one writer at a time, so revisions commit in order and a reader's
//! `revision > r` never skips a late commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

use super::entry::{CachedFix, FixId, FixStats, digest};
use super::store::{Changes, FixRecord, FixStore, NewFix, RecordVector, Revision};
use super::{ErrorSignature, Retention};
use crate::fix::FixProposal;
use crate::{Error, Result};

/// The schema this version writes; older files are migrated, a newer file is refused rather
/// than misread.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('revision', 0);
CREATE TABLE fixes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    revision INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    digest INTEGER NOT NULL,
    signature_hash INTEGER NOT NULL,
    signature TEXT NOT NULL,
    example TEXT NOT NULL,
    context TEXT NOT NULL,
    proposal TEXT NOT NULL,
    embedder TEXT NOT NULL,
    embedding BLOB NOT NULL,
    uses INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    deprecated INTEGER NOT NULL,
    UNIQUE (partition, digest)
);
CREATE INDEX fixes_revision ON fixes (revision);
CREATE TABLE removed (id INTEGER PRIMARY KEY, revision INTEGER NOT NULL);
CREATE INDEX removed_revision ON removed (revision);
CREATE TABLE failed_attempts (
    signature_hash INTEGER NOT NULL,
    digest INTEGER NOT NULL,
    proposal TEXT NOT NULL,
    at INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (signature_hash, digest)
);
CREATE INDEX failed_attempts_revision ON failed_attempts (revision);
";

/// Version 2: a mirror of a fleet store keeps each fix's fleet id and, until uploaded, the uses
/// it recorded (see [`super::FleetMirror`]).
const SCHEMA_V2: &str = "
ALTER TABLE fixes ADD COLUMN fleet_id INTEGER;
CREATE UNIQUE INDEX fixes_fleet_id ON fixes (fleet_id);
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    partition INTEGER NOT NULL,
    digest INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX outbox_fix ON outbox (partition, digest);
";

/// The columns of a complete fix, in the order [`read_fix`] reads them.
const FIX_COLUMNS: &str = "id, signature, example, context, proposal, uses, successes, failures, \
     created_at, last_used, deprecated";

/// The columns of a [`FixRecord`], in the order [`read_record`] reads them; `?1` is the
/// embedder whose vectors are wanted (the signature is read only when there is none).
const RECORD_COLUMNS: &str = "id, partition, signature_hash, context, uses, successes, \
     failures, created_at, last_used, deprecated, digest, revision, \
     CASE WHEN embedder = ?1 THEN embedding END, \
     CASE WHEN embedder = ?1 THEN NULL ELSE signature END";

/// How much of the file a bulk read maps into memory.
const BULK_READ_MAP_BYTES: i64 = 1 << 40;

/// How hard a write waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// A committed write survives a crash of the process (the default; `synchronous=NORMAL`).
    #[default]
    Process,
    /// A committed write also survives a power loss (`synchronous=FULL`; about 10× slower
    /// writes).
    PowerLoss,
}

/// The SQLite fix store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// A mirror journals every counted use in `outbox` for upload.
    mirror: bool,
    connection: Mutex<Connection>,
    /// For point reads on the lookup path: in WAL mode it never waits for the writer.
    reader: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating it and its folder when missing) the store at `path`.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        SqliteStore::open_as(path.as_ref(), durability, false)
    }

    /// Opens the store at `path`; a `mirror` journals its uses for upload to a fleet store.
    pub(super) fn open_as(path: &Path, durability: Durability, mirror: bool) -> Result<Self> {
        let path = path.to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::cache(format!("cannot create folder {}: {e}", parent.display())).caused_by(e)
            })?;
        }
        let mut connection = Connection::open(&path).map_err(|e| fault(&path, e))?;
        configure(&connection, durability).map_err(|e| fault(&path, e))?;
        migrate(&mut connection, &path)?;
        // SQLite's own mutexes are not needed behind ours.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let reader = Connection::open_with_flags(&path, flags)
            .and_then(|reader| {
                reader.busy_timeout(Duration::from_secs(30))?;
                Ok(reader)
            })
            .map_err(|e| fault(&path, e))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                mirror,
                connection: Mutex::new(connection),
                reader: Mutex::new(reader),
            }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs SQLite's integrity check; `Ok` when the file is sound.
    pub async fn check_integrity(&self) -> Result<()> {
        self.with(|connection| {
            let verdict: String =
                connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
            Ok(verdict)
        })
        .await
        .and_then(|verdict| {
            if verdict == "ok" {
                Ok(())
            } else {
                Err(Error::cache(format!(
                    "{}: integrity check failed: {verdict}",
                    self.inner.path.display()
                )))
            }
        })
    }

    /// Runs `work` on the writing connection on a blocking thread: SQLite calls block on the
    /// disk and on other processes' locks.
    pub(super) async fn with<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.blocking(|inner| &inner.connection, work).await
    }

    /// Runs `work` on the reader connection on a blocking thread.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.blocking(|inner| &inner.reader, work).await
    }

    async fn blocking<T, F>(
        &self,
        connection: fn(&Inner) -> &Mutex<Connection>,
        work: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            work(&mut lock(connection(&inner))).map_err(|e| fault(&inner.path, e))
        })
        .await
        .map_err(|e| Error::cache(format!("store task failed: {e}")).caused_by(e))?
    }

    /// Runs a point read on the reader connection, right here when it is free: a read of a
    /// few pages by primary key takes microseconds, a trip to a blocking thread ten times that.
    async fn read_point<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if let Ok(mut reader) = self.inner.reader.try_lock() {
            return work(&mut reader).map_err(|e| fault(&self.inner.path, e));
        }
        self.read(work).await
    }
}

fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // SQLite rolls back an unfinished transaction itself: a poisoned lock holds a usable
    // connection.
    connection
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn fault(path: &Path, error: rusqlite::Error) -> Error {
    Error::cache(format!("{}: {error}", path.display())).caused_by(error)
}

fn configure(connection: &Connection, durability: Durability) -> rusqlite::Result<()> {
    connection.busy_timeout(Duration::from_secs(30))?;
    // Turning a new file to WAL needs it to itself: with another process opening it at that
    // moment, SQLite answers "locked" at once instead of waiting. Wait here instead.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(failure, _))
                if matches!(
                    failure.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            done => break done?,
        }
    }
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::PowerLoss => "FULL",
    };
    connection.pragma_update(None, "synchronous", synchronous)?;
    Ok(())
}

fn migrate(connection: &mut Connection, path: &Path) -> Result<()> {
    // Immediate: of several processes opening a new file at once, one creates the schema and
    // the others find it.
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| fault(path, e))?;
    let version: i64 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| fault(path, e))?;
    if version > SCHEMA_VERSION {
        return Err(Error::cache(format!(
            "{}: schema version {version} is newer than this selfheal's ({SCHEMA_VERSION})",
            path.display()
        )));
    }
    let steps = [SCHEMA, SCHEMA_V2];
    for step in &steps[version as usize..] {
        transaction
            .execute_batch(step)
            .map_err(|e| fault(path, e))?;
    }
    transaction
        .pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| fault(path, e))?;
    transaction.commit().map_err(|e| fault(path, e))
}

pub(super) fn next_revision(connection: &Connection) -> rusqlite::Result<Revision> {
    connection.query_row(
        "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value",
        [],
        |row| row.get(0),
    )
}

/// Journals counts of a fix's uses for upload, when the store is a mirror.
fn journal(
    connection: &Connection,
    mirror: bool,
    partition: i64,
    digest: i64,
    counts: FixStats,
) -> rusqlite::Result<()> {
    if mirror {
        connection
            .prepare_cached(
                "INSERT INTO outbox (partition, digest, uses, successes, failures, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                partition,
                digest,
                counts.uses,
                counts.successes,
                counts.failures,
                counts.last_used
            ])?;
    }
    Ok(())
}

/// The SQL that recomputes `deprecated` after a use, from the updated counters.
fn deprecation_rule(uses: &str, successes: &str, retention: &Retention) -> String {
    format!(
        "CASE WHEN {uses} >= {} AND ({successes}) * 1.0 / ({uses}) < {} THEN 1 ELSE 0 END",
        retention.deprecate_after_uses, retention.deprecate_below
    )
}

fn read_fix(row: &Row<'_>) -> rusqlite::Result<CachedFix> {
    Ok(CachedFix {
        id: row.get(0)?,
        signature: read_json(row, 1)?,
        example: row.get(2)?,
        context: read_json(row, 3)?,
        proposal: read_json(row, 4)?,
        stats: read_stats(row, 5)?,
        deprecated: row.get(10)?,
    })
}

fn read_record(row: &Row<'_>) -> rusqlite::Result<FixRecord> {
    // Borrowed, not copied: the blob is read straight into the vector.
    let vector = match row.get_ref(12)?.as_blob_or_null()? {
        Some(bytes) => RecordVector::Stored(vector_from_bytes(bytes).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                12,
                rusqlite::types::Type::Blob,
                "a vector's length is not a multiple of 4 bytes".into(),
            )
        })?),
        None => RecordVector::Missing(read_json(row, 13)?),
    };
    Ok(FixRecord {
        id: row.get(0)?,
        partition: row.get::<_, i64>(1)? as u64,
        signature_hash: row.get::<_, i64>(2)? as u64,
        vector,
        context: read_json(row, 3)?,
        stats: read_stats(row, 4)?,
        deprecated: row.get(9)?,
        digest: row.get::<_, i64>(10)? as u64,
        revision: row.get(11)?,
    })
}

/// The five [`FixStats`] columns from `first` on.
fn read_stats(row: &Row<'_>, first: usize) -> rusqlite::Result<FixStats> {
    Ok(FixStats {
        uses: row.get(first)?,
        successes: row.get(first + 1)?,
        failures: row.get(first + 2)?,
        created_at: row.get(first + 3)?,
        last_used: row.get(first + 4)?,
    })
}

fn read_json<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text = row.get_ref(index)?.as_str()?;
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A page of the changes after `since`: see [`FixStore::changes`].
fn read_changes(
    connection: &mut Connection,
    embedder: &str,
    since: Revision,
    limit: usize,
) -> rusqlite::Result<Changes> {
    let transaction = connection.transaction()?;
    let latest: Revision =
        transaction.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |row| {
            row.get(0)
        })?;
    let mut changes = Changes {
        revision: latest,
        ..Changes::default()
    };
    if latest == since {
        return Ok(changes);
    }
    let mut page = transaction.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM fixes WHERE revision > ?2 \
         ORDER BY revision, id LIMIT ?3"
    ))?;
    changes.fixes = page
        .query_map(params![embedder, since, limit as i64], read_record)?
        .collect::<rusqlite::Result<_>>()?;
    if changes.fixes.len() == limit
        && let Some(last) = changes.fixes.last()
    {
        // The rest of the last write's fixes: a page ends between writes.
        let (revision, id) = (last.revision, last.id);
        let mut rest = transaction.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM fixes WHERE revision = ?2 AND id > ?3 \
             ORDER BY id"
        ))?;
        let rest: Vec<FixRecord> = rest
            .query_map(params![embedder, revision, id], read_record)?
            .collect::<rusqlite::Result<_>>()?;
        changes.fixes.extend(rest);
        changes.revision = revision;
        changes.more = revision < latest;
    }
    let range = [since, changes.revision];
    let mut removed = transaction
        .prepare_cached("SELECT id FROM removed WHERE revision > ?1 AND revision <= ?2")?;
    changes.removed = removed
        .query_map(range, |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut failures = transaction.prepare_cached(
        "SELECT signature_hash, digest FROM failed_attempts \
         WHERE revision > ?1 AND revision <= ?2",
    )?;
    changes.failures = failures
        .query_map(range, |row| {
            Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<_>>()?;
    drop((page, removed, failures));
    transaction.commit()?;
    Ok(changes)
}

fn vector_to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    bytes.len().is_multiple_of(4).then(|| {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    })
}

fn json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Inserts a fix, or merges it into the fix with the same edits in its partition: `merge` is the
/// SQL assignment list of the update (it may use `excluded.*`).
fn upsert(
    connection: &Connection,
    fix: &NewFix,
    stats: FixStats,
    deprecated: bool,
    revision: Revision,
    merge: &str,
) -> rusqlite::Result<(FixRecord, bool)> {
    let existed: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM fixes WHERE partition = ?1 AND digest = ?2)",
        params![
            fix.signature.filter.partition() as i64,
            digest(&fix.proposal) as i64
        ],
        |row| row.get(0),
    )?;
    let sql = format!(
        "INSERT INTO fixes (revision, partition, digest, signature_hash, signature, example, \
         context, proposal, embedder, embedding, uses, successes, failures, created_at, \
         last_used, deprecated) \
         VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?1, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
         ON CONFLICT (partition, digest) DO UPDATE SET revision = excluded.revision, {merge} \
         RETURNING {RECORD_COLUMNS}"
    );
    let stored = connection.query_row(
        &sql,
        params![
            fix.embedder,
            revision,
            fix.signature.filter.partition() as i64,
            digest(&fix.proposal) as i64,
            fix.signature.hash as i64,
            json(&fix.signature)?,
            fix.example,
            json(&fix.context)?,
            json(&fix.proposal)?,
            vector_to_bytes(&fix.embedding),
            stats.uses,
            stats.successes,
            stats.failures,
            stats.created_at,
            stats.last_used,
            deprecated,
        ],
        read_record,
    )?;
    Ok((stored, !existed))
}

#[async_trait::async_trait]
impl FixStore for SqliteStore {
    async fn changes(&self, since: Revision, embedder: &str, limit: usize) -> Result<Changes> {
        let embedder = embedder.to_string();
        self.read(move |connection| {
            // Mapped only while reading: a bulk read of mapped pages skips a copy of each (at
            // 1M fixes the first load takes half the time), and the mapping is dropped after it.
            connection.pragma_update(None, "mmap_size", BULK_READ_MAP_BYTES)?;
            let changes = read_changes(connection, &embedder, since, limit);
            connection.pragma_update(None, "mmap_size", 0)?;
            changes
        })
        .await
    }

    async fn get(&self, id: FixId) -> Result<Option<CachedFix>> {
        self.read_point(move |connection| {
            connection
                .prepare_cached(&format!("SELECT {FIX_COLUMNS} FROM fixes WHERE id = ?1"))?
                .query_row([id], read_fix)
                .optional()
        })
        .await
    }

    async fn record_success(
        &self,
        fix: NewFix,
        at: i64,
        retention: &Retention,
    ) -> Result<FixRecord> {
        let merge = format!(
            "uses = uses + 1, successes = successes + 1, last_used = excluded.last_used, \
             deprecated = {}",
            deprecation_rule("uses + 1", "successes + 1", retention)
        );
        let mirror = self.inner.mirror;
        self.with(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let revision = next_revision(&transaction)?;
            let stats = FixStats {
                uses: 1,
                successes: 1,
                failures: 0,
                created_at: at,
                last_used: at,
            };
            let (stored, _) = upsert(&transaction, &fix, stats, false, revision, &merge)?;
            journal(
                &transaction,
                mirror,
                stored.partition as i64,
                stored.digest as i64,
                stats,
            )?;
            transaction.commit()?;
            Ok(stored)
        })
        .await
    }

    async fn record_failure(
        &self,
        signature: &ErrorSignature,
        proposal: &FixProposal,
        at: i64,
        retention: &Retention,
    ) -> Result<Option<FixRecord>> {
        let update = format!(
            "UPDATE fixes SET uses = uses + 1, failures = failures + 1, last_used = ?3, \
             revision = ?4, deprecated = {} \
             WHERE partition = ?2 AND digest = ?5 RETURNING {RECORD_COLUMNS}",
            deprecation_rule("uses + 1", "successes", retention)
        );
        let partition = signature.filter.partition() as i64;
        let signature_hash = signature.hash as i64;
        let digest = digest(proposal) as i64;
        let proposal = proposal.clone();
        let mirror = self.inner.mirror;
        self.with(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let revision = next_revision(&transaction)?;
            transaction.execute(
                "INSERT INTO failed_attempts (signature_hash, digest, proposal, at, revision) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT DO UPDATE SET at = excluded.at, revision = excluded.revision",
                params![signature_hash, digest, json(&proposal)?, at, revision],
            )?;
            let stored = transaction
                .query_row(
                    &update,
                    params!["", partition, at, revision, digest],
                    read_record,
                )
                .optional()?;
            if stored.is_some() {
                let counts = FixStats {
                    uses: 1,
                    successes: 0,
                    failures: 1,
                    created_at: at,
                    last_used: at,
                };
                journal(&transaction, mirror, partition, digest, counts)?;
            }
            transaction.commit()?;
            Ok(stored)
        })
        .await
    }

    async fn failed_attempts(&self, signature_hash: u64) -> Result<Vec<FixProposal>> {
        let proposals: Vec<String> = self
            .with(move |connection| {
                connection
                    .prepare_cached(
                        "SELECT proposal FROM failed_attempts WHERE signature_hash = ?1 \
                         ORDER BY at DESC, revision DESC",
                    )?
                    .query_map([signature_hash as i64], |row| row.get(0))?
                    .collect()
            })
            .await?;
        proposals
            .iter()
            .map(|text| {
                serde_json::from_str(text).map_err(|e| {
                    Error::cache(format!("a stored failed attempt is unreadable: {e}")).caused_by(e)
                })
            })
            .collect()
    }

    async fn set_embeddings(
        &self,
        embedder: &str,
        embeddings: Vec<(FixId, Vec<f32>)>,
    ) -> Result<()> {
        let embedder = embedder.to_string();
        self.with(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut update = transaction.prepare_cached(
                    "UPDATE fixes SET embedder = ?1, embedding = ?2 WHERE id = ?3",
                )?;
                for (id, vector) in &embeddings {
                    update.execute(params![embedder, vector_to_bytes(vector), id])?;
                }
            }
            transaction.commit()
        })
        .await
    }

    async fn prune(&self, at: i64, retention: &Retention) -> Result<Vec<FixId>> {
        let cutoff = at - i64::from(retention.prune_unused_days) * 86_400;
        let (uses, rate) = (retention.prune_after_uses, retention.prune_below);
        self.with(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let revision = next_revision(&transaction)?;
            let removed: Vec<FixId> = transaction
                .prepare(
                    "DELETE FROM fixes WHERE last_used < ?1 \
                     OR (uses >= ?2 AND successes * 1.0 / uses < ?3) RETURNING id",
                )?
                .query_map(params![cutoff, uses, rate], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            {
                let mut tombstone = transaction
                    .prepare_cached("INSERT INTO removed (id, revision) VALUES (?1, ?2)")?;
                for id in &removed {
                    tombstone.execute(params![id, revision])?;
                }
            }
            transaction.execute("DELETE FROM failed_attempts WHERE at < ?1", [cutoff])?;
            transaction.commit()?;
            Ok(removed)
        })
        .await
    }

    async fn list(&self, before: Option<FixId>, limit: usize) -> Result<Vec<CachedFix>> {
        let before = before.unwrap_or(FixId::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(move |connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {FIX_COLUMNS} FROM fixes WHERE id < ?1 ORDER BY id DESC LIMIT ?2"
                ))?
                .query_map(params![before, limit], read_fix)?
                .collect()
        })
        .await
    }

    async fn import(&self, fixes: Vec<(NewFix, FixStats)>, retention: &Retention) -> Result<usize> {
        let merge = format!(
            "uses = uses + excluded.uses, successes = successes + excluded.successes, \
             failures = failures + excluded.failures, \
             created_at = min(created_at, excluded.created_at), \
             last_used = max(last_used, excluded.last_used), deprecated = {}",
            deprecation_rule(
                "uses + excluded.uses",
                "successes + excluded.successes",
                retention
            )
        );
        let (below, after) = (retention.deprecate_below, retention.deprecate_after_uses);
        let mirror = self.inner.mirror;
        self.with(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let revision = next_revision(&transaction)?;
            let mut added = 0;
            for (fix, stats) in &fixes {
                let deprecated = stats.uses >= after && stats.success_rate() < below;
                let (stored, new) =
                    upsert(&transaction, fix, *stats, deprecated, revision, &merge)?;
                journal(
                    &transaction,
                    mirror,
                    stored.partition as i64,
                    stored.digest as i64,
                    *stats,
                )?;
                added += usize::from(new);
            }
            transaction.commit()?;
            Ok(added)
        })
        .await
    }
}

/// The store's vectors must be read back bit for bit.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::FixContext;

    #[test]
    fn vectors_round_trip() {
        let vector = vec![0.0, -1.5, f32::MIN_POSITIVE, 0.1];
        assert_eq!(vector_from_bytes(&vector_to_bytes(&vector)), Some(vector));
        assert_eq!(vector_from_bytes(&[1, 2, 3]), None);
    }

    fn new_fix(i: usize) -> NewFix {
        let diagnostic = crate::Diagnostic::new("tsc", format!("error number {i}"))
            .with_code(format!("TS{}", 1000 + i % 3));
        let proposal = serde_json::json!({"fixes": [
            {"file": "a.ts", "action": "create", "content": format!("fix {i}")}
        ]});
        NewFix {
            signature: ErrorSignature::of(&diagnostic),
            example: diagnostic.message,
            context: FixContext::default(),
            proposal: FixProposal::from_value(&proposal).unwrap(),
            embedder: "test".into(),
            embedding: vec![i as f32, 1.0],
        }
    }

    #[tokio::test]
    async fn changes_come_in_pages_that_never_split_a_write() {
        let dir = crate::scratch::folder("pages");
        let store = SqliteStore::open(dir.join("fixes.sqlite3"), Durability::Process).unwrap();
        let retention = Retention::default();
        for i in 0..3 {
            store
                .record_success(new_fix(i), 1, &retention)
                .await
                .unwrap();
        }
        let batch = (3..8)
            .map(|i| {
                (
                    new_fix(i),
                    FixStats {
                        uses: 1,
                        successes: 1,
                        failures: 0,
                        created_at: 1,
                        last_used: 1,
                    },
                )
            })
            .collect();
        store.import(batch, &retention).await.unwrap();
        store
            .record_success(new_fix(8), 1, &retention)
            .await
            .unwrap();

        let (mut since, mut pages, mut seen) = (0, Vec::new(), Vec::new());
        loop {
            let page = store.changes(since, "test", 4).await.unwrap();
            assert!(page.revision > since || page.fixes.is_empty());
            pages.push(page.fixes.len());
            seen.extend(page.fixes.iter().map(|f| f.id));
            since = page.revision;
            if !page.more {
                break;
            }
        }
        // 3 single writes, one write of 5, one single write: the write of 5 is not split.
        assert_eq!(pages, vec![8, 1]);
        assert_eq!(seen, (1..=9).collect::<Vec<FixId>>());
        let none = store.changes(since, "test", 4).await.unwrap();
        assert!(none.fixes.is_empty() && !none.more && none.revision == since);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_file_of_schema_1_is_migrated_with_its_fixes() {
        let dir = crate::scratch::folder("schema-1");
        let path = dir.join("fixes.sqlite3");
        let fix = new_fix(1);
        let old = Connection::open(&path).unwrap();
        old.execute_batch(&format!("{SCHEMA} PRAGMA user_version = 1;"))
            .unwrap();
        upsert(
            &old,
            &fix,
            FixStats {
                uses: 3,
                successes: 2,
                failures: 1,
                created_at: 1,
                last_used: 2,
            },
            false,
            next_revision(&old).unwrap(),
            "uses = uses",
        )
        .unwrap();
        drop(old);

        let store = SqliteStore::open(&path, Durability::Process).unwrap();
        let changes = store.changes(0, "test", 10).await.unwrap();
        assert_eq!(changes.fixes.len(), 1);
        assert_eq!(changes.fixes[0].stats.uses, 3);
        let served = store.get(changes.fixes[0].id).await.unwrap().unwrap();
        assert_eq!(served.proposal, fix.proposal);
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = crate::scratch::folder("schema");
        let path = dir.join("fixes.sqlite3");
        drop(SqliteStore::open(&path, Durability::Process).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let error = SqliteStore::open(&path, Durability::Process).unwrap_err();
        assert!(error.to_string().contains("schema version 99"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

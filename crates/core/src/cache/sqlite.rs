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
use super::store::{Changes, FixStore, NewFix, Revision, StoredFix};
use super::{ErrorSignature, Retention};
use crate::fix::FixProposal;
use crate::{Error, Result};

/// The schema this version writes; a newer file is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

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

/// The columns every fix query selects, in the order [`read_fix`] reads them; `?1` is the
/// embedder whose vectors are wanted.
const FIX_COLUMNS: &str = "id, signature, example, context, proposal, uses, successes, failures, \
     created_at, last_used, deprecated, CASE WHEN embedder = ?1 THEN embedding END, digest, \
     revision";

/// The same without example and proposal (they are fetched when a fix is served).
const INDEX_COLUMNS: &str = "id, signature, '', context, 'null', uses, successes, failures, \
     created_at, last_used, deprecated, CASE WHEN embedder = ?1 THEN embedding END, digest, \
     revision";

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
    connection: Mutex<Connection>,
    /// For point reads on the lookup path: in WAL mode it never waits for the writer.
    reader: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating it and its folder when missing) the store at `path`.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::Cache(format!("cannot create folder {}: {e}", parent.display()))
            })?;
        }
        let mut connection = Connection::open(&path).map_err(|e| fault(&path, e))?;
        configure(&connection, durability).map_err(|e| fault(&path, e))?;
        migrate(&mut connection, &path)?;
        let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|reader| {
                reader.busy_timeout(Duration::from_secs(30))?;
                Ok(reader)
            })
            .map_err(|e| fault(&path, e))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
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
                Err(Error::Cache(format!(
                    "{}: integrity check failed: {verdict}",
                    self.inner.path.display()
                )))
            }
        })
    }

    /// Runs `work` on the connection on a blocking thread: SQLite calls block on the disk and on
    /// other processes' locks.
    async fn with<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut connection = lock(&inner.connection);
            work(&mut connection).map_err(|e| fault(&inner.path, e))
        })
        .await
        .map_err(|e| Error::Cache(format!("store task failed: {e}")))?
    }
}

impl SqliteStore {
    /// Runs a point read on the reader connection, right here when it is free: a read of a
    /// few pages by primary key takes microseconds, a trip to a blocking thread ten times that.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if let Ok(reader) = self.inner.reader.try_lock() {
            return work(&reader).map_err(|e| fault(&self.inner.path, e));
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            work(&lock(&inner.reader)).map_err(|e| fault(&inner.path, e))
        })
        .await
        .map_err(|e| Error::Cache(format!("store task failed: {e}")))?
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
    Error::Cache(format!("{}: {error}", path.display()))
}

fn configure(connection: &Connection, durability: Durability) -> rusqlite::Result<()> {
    connection.busy_timeout(Duration::from_secs(30))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
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
    match version {
        0 => transaction
            .execute_batch(&format!("{SCHEMA} PRAGMA user_version = {SCHEMA_VERSION};"))
            .map_err(|e| fault(path, e))?,
        SCHEMA_VERSION => {}
        newer => {
            return Err(Error::Cache(format!(
                "{}: schema version {newer} is newer than this selfheal's ({SCHEMA_VERSION})",
                path.display()
            )));
        }
    }
    transaction.commit().map_err(|e| fault(path, e))
}

fn next_revision(connection: &Connection) -> rusqlite::Result<Revision> {
    connection.query_row(
        "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value",
        [],
        |row| row.get(0),
    )
}

/// The SQL that recomputes `deprecated` after a use, from the updated counters.
fn deprecation_rule(uses: &str, successes: &str, retention: &Retention) -> String {
    format!(
        "CASE WHEN {uses} >= {} AND ({successes}) * 1.0 / ({uses}) < {} THEN 1 ELSE 0 END",
        retention.deprecate_after_uses, retention.deprecate_below
    )
}

fn read_fix(row: &Row<'_>) -> rusqlite::Result<StoredFix> {
    let decode = |index: usize, error: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    };
    let signature: String = row.get(1)?;
    let context: String = row.get(3)?;
    let proposal: String = row.get(4)?;
    // Borrowed, not copied: the blob is read straight into the vector.
    let embedding = row.get_ref(11)?.as_blob_or_null()?;
    Ok(StoredFix {
        fix: CachedFix {
            id: row.get(0)?,
            signature: serde_json::from_str(&signature).map_err(|e| decode(1, e))?,
            example: row.get(2)?,
            context: serde_json::from_str(&context).map_err(|e| decode(3, e))?,
            proposal: if proposal == "null" {
                FixProposal::default()
            } else {
                serde_json::from_str(&proposal).map_err(|e| decode(4, e))?
            },
            stats: FixStats {
                uses: row.get(5)?,
                successes: row.get(6)?,
                failures: row.get(7)?,
                created_at: row.get(8)?,
                last_used: row.get(9)?,
            },
            deprecated: row.get(10)?,
        },
        embedding: embedding.and_then(vector_from_bytes),
        digest: row.get::<_, i64>(12)? as u64,
        revision: row.get(13)?,
    })
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
) -> rusqlite::Result<(StoredFix, bool)> {
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
         RETURNING {FIX_COLUMNS}"
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
        read_fix,
    )?;
    Ok((stored, !existed))
}

#[async_trait::async_trait]
impl FixStore for SqliteStore {
    async fn changes(&self, since: Revision, embedder: &str) -> Result<Changes> {
        let embedder = embedder.to_string();
        self.with(move |connection| {
            let transaction = connection.transaction()?;
            let revision: Revision = transaction.query_row(
                "SELECT value FROM meta WHERE key = 'revision'",
                [],
                |row| row.get(0),
            )?;
            let mut changes = Changes {
                revision,
                ..Changes::default()
            };
            if revision == since {
                return Ok(changes);
            }
            let mut fixes = transaction.prepare_cached(&format!(
                "SELECT {INDEX_COLUMNS} FROM fixes WHERE revision > ?2"
            ))?;
            changes.fixes = fixes
                .query_map(params![embedder, since], read_fix)?
                .collect::<rusqlite::Result<_>>()?;
            let mut removed =
                transaction.prepare_cached("SELECT id FROM removed WHERE revision > ?1")?;
            changes.removed = removed
                .query_map([since], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut failures = transaction.prepare_cached(
                "SELECT signature_hash, digest FROM failed_attempts WHERE revision > ?1",
            )?;
            changes.failures = failures
                .query_map([since], |row| {
                    Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
                })?
                .collect::<rusqlite::Result<_>>()?;
            drop((fixes, removed, failures));
            transaction.commit()?;
            Ok(changes)
        })
        .await
    }

    async fn get(&self, id: FixId) -> Result<Option<CachedFix>> {
        self.read(move |connection| {
            connection
                .prepare_cached(&format!("SELECT {FIX_COLUMNS} FROM fixes WHERE id = ?2"))?
                .query_row(params!["", id], read_fix)
                .optional()
                .map(|stored| stored.map(|s| s.fix))
        })
        .await
    }

    async fn record_success(
        &self,
        fix: NewFix,
        at: i64,
        retention: &Retention,
    ) -> Result<StoredFix> {
        let merge = format!(
            "uses = uses + 1, successes = successes + 1, last_used = excluded.last_used, \
             deprecated = {}",
            deprecation_rule("uses + 1", "successes + 1", retention)
        );
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
    ) -> Result<Option<StoredFix>> {
        let update = format!(
            "UPDATE fixes SET uses = uses + 1, failures = failures + 1, last_used = ?3, \
             revision = ?4, deprecated = {} \
             WHERE partition = ?2 AND digest = ?5 RETURNING {FIX_COLUMNS}",
            deprecation_rule("uses + 1", "successes", retention)
        );
        let partition = signature.filter.partition() as i64;
        let signature_hash = signature.hash as i64;
        let digest = digest(proposal) as i64;
        let proposal = proposal.clone();
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
                    read_fix,
                )
                .optional()?;
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
                    Error::Cache(format!("a stored failed attempt is unreadable: {e}"))
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
                    "SELECT {FIX_COLUMNS} FROM fixes WHERE id < ?2 ORDER BY id DESC LIMIT ?3"
                ))?
                .query_map(params!["", before, limit], |row| {
                    read_fix(row).map(|stored| stored.fix)
                })?
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
        self.with(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let revision = next_revision(&transaction)?;
            let mut added = 0;
            for (fix, stats) in &fixes {
                let deprecated = stats.uses >= after && stats.success_rate() < below;
                let (_, new) = upsert(&transaction, fix, *stats, deprecated, revision, &merge)?;
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

    #[test]
    fn vectors_round_trip() {
        let vector = vec![0.0, -1.5, f32::MIN_POSITIVE, 0.1];
        assert_eq!(vector_from_bytes(&vector_to_bytes(&vector)), Some(vector));
        assert_eq!(vector_from_bytes(&[1, 2, 3]), None);
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = std::env::temp_dir().join(format!("selfheal-schema-{}", std::process::id()));
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

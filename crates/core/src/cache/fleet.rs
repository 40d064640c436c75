//! The fleet store: fixes shared by build workers on many machines through PostgreSQL, the
//! store of record. Workers keep their local cache as a mirror and pull changes incrementally.
//!
//! A pull must not skip a change that commits late. Ids and sequence values are handed out at
//! insert time but become visible at commit time, in another order, so "everything after the
//! last id seen" loses rows. Every row instead carries the id of the transaction that last
//! changed it (`pg_current_xact_id()`), and a pull remembers the oldest transaction still
//! running when it looked (`pg_snapshot_xmin`): every transaction below that had ended and was
//! seen, every one from it on is looked at again next time. Rows may come twice; applying a
//! change is idempotent.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::{Client, IsolationLevel, NoTls};

use crate::{Error, Result};

/// The schema version this code writes; older schemas are migrated on connect.
const SCHEMA_VERSION: i32 = 1;

/// Serializes migrations when many workers connect at once.
const MIGRATION_LOCK: i64 = 0x5e1f_4ea1;

const SCHEMA_V1: &str = "
CREATE TABLE selfheal_fixes (
    id BIGSERIAL PRIMARY KEY,
    changed xid8 NOT NULL DEFAULT pg_current_xact_id(),
    signature_hash BIGINT NOT NULL,
    digest BIGINT NOT NULL,
    record JSONB NOT NULL,
    embedder TEXT NOT NULL,
    embedding BYTEA NOT NULL,
    deprecated BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (signature_hash, digest)
);
CREATE INDEX selfheal_fixes_changed ON selfheal_fixes (changed);
";

fn fleet_error(error: tokio_postgres::Error) -> Error {
    Error::Cache(format!("fleet store: {error}"))
}

/// Where a worker's last pull stopped (a transaction id): changes from it on are fetched next
/// time. Store it with the mirror; start from the default to fetch everything.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ChangeCursor(pub u64);

/// A fix as the fleet stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetFix {
    /// The fleet's id of the fix (assigned by the server).
    pub id: i64,
    /// The error signature's hash (what kind of error the fix is for).
    pub signature_hash: i64,
    /// The digest of the fix's edits: one fix per signature and digest.
    pub digest: i64,
    /// The fix as the local cache holds it (signature, example, context, proposal, stats).
    pub record: Value,
    /// The embedder that made `embedding`.
    pub embedder: String,
    /// The error message's embedding.
    pub embedding: Vec<u8>,
    /// Deprecated fixes are no longer served.
    pub deprecated: bool,
}

/// A fix to record: [`FleetFix`] without its id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFleetFix {
    /// See [`FleetFix::signature_hash`].
    pub signature_hash: i64,
    /// See [`FleetFix::digest`].
    pub digest: i64,
    /// See [`FleetFix::record`].
    pub record: Value,
    /// See [`FleetFix::embedder`].
    pub embedder: String,
    /// See [`FleetFix::embedding`].
    pub embedding: Vec<u8>,
}

/// A connection to the fleet's PostgreSQL database.
pub struct FleetStore {
    client: Client,
}

impl std::fmt::Debug for FleetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetStore").finish_non_exhaustive()
    }
}

impl FleetStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        let (mut client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(fleet_error)?;
        tokio::spawn(connection);
        migrate(&mut client).await?;
        Ok(FleetStore { client })
    }

    /// Records a fix, or refreshes the fix with the same signature and edits; returns its id.
    pub async fn record(&self, fix: &NewFleetFix) -> Result<i64> {
        let row = self
            .client
            .query_one(
                "INSERT INTO selfheal_fixes (signature_hash, digest, record, embedder, embedding)
                 VALUES ($1, $2, $3::text::jsonb, $4, $5)
                 ON CONFLICT (signature_hash, digest) DO UPDATE
                 SET record = EXCLUDED.record, changed = pg_current_xact_id()
                 RETURNING id",
                &[
                    &fix.signature_hash,
                    &fix.digest,
                    &fix.record.to_string(),
                    &fix.embedder,
                    &fix.embedding,
                ],
            )
            .await
            .map_err(fleet_error)?;
        Ok(row.get(0))
    }

    /// Marks a fix deprecated for the whole fleet.
    pub async fn deprecate(&self, id: i64) -> Result<()> {
        self.client
            .execute(
                "UPDATE selfheal_fixes SET deprecated = true, changed = pg_current_xact_id()
                 WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(fleet_error)?;
        Ok(())
    }

    /// The fixes changed since `since`, and the cursor to pull from next time. A fix may come
    /// again in a later pull; it is never missed.
    pub async fn pull(&mut self, since: ChangeCursor) -> Result<(Vec<FleetFix>, ChangeCursor)> {
        let transaction = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(fleet_error)?;
        // One snapshot for both statements: the cursor and the rows agree.
        let horizon: String = transaction
            .query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", &[])
            .await
            .map_err(fleet_error)?
            .get(0);
        let rows = transaction
            .query(
                "SELECT id, signature_hash, digest, record::text, embedder, embedding, deprecated
                 FROM selfheal_fixes WHERE changed >= $1::text::xid8 ORDER BY id",
                &[&since.0.to_string()],
            )
            .await
            .map_err(fleet_error)?;
        transaction.commit().await.map_err(fleet_error)?;
        let fixes = rows
            .iter()
            .map(|row| {
                let record: String = row.get(3);
                Ok(FleetFix {
                    id: row.get(0),
                    signature_hash: row.get(1),
                    digest: row.get(2),
                    record: serde_json::from_str(&record)
                        .map_err(|e| Error::Cache(format!("fleet store: fix record: {e}")))?,
                    embedder: row.get(4),
                    embedding: row.get(5),
                    deprecated: row.get(6),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let horizon = horizon
            .parse()
            .map_err(|e| Error::Cache(format!("fleet store: transaction id `{horizon}`: {e}")))?;
        Ok((fixes, ChangeCursor(horizon)))
    }
}

/// Creates or upgrades the schema, one worker at a time.
async fn migrate(client: &mut Client) -> Result<()> {
    let transaction = client.transaction().await.map_err(fleet_error)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(fleet_error)?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS selfheal_schema (version INTEGER NOT NULL)")
        .await
        .map_err(fleet_error)?;
    let version: Option<i32> = transaction
        .query_opt("SELECT max(version) FROM selfheal_schema", &[])
        .await
        .map_err(fleet_error)?
        .and_then(|row| row.get(0));
    match version.unwrap_or(0) {
        0 => {
            transaction
                .batch_execute(SCHEMA_V1)
                .await
                .map_err(fleet_error)?;
            transaction
                .execute(
                    "INSERT INTO selfheal_schema (version) VALUES ($1)",
                    &[&SCHEMA_VERSION],
                )
                .await
                .map_err(fleet_error)?;
        }
        SCHEMA_VERSION => {}
        newer => {
            return Err(Error::Cache(format!(
                "fleet store: the database has schema version {newer}, newer than this selfheal ({SCHEMA_VERSION}); upgrade selfheal"
            )));
        }
    }
    transaction.commit().await.map_err(fleet_error)
}

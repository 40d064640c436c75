//! The fleet store: fixes shared by build workers on many machines through PostgreSQL, the
//! store of record. Workers keep their local store as a mirror ([`FleetMirror`](super::FleetMirror))
//! and talk to the server only to upload what they learned and pull what others did.
//!
//! **Counters never contend on hot rows.** A worker appends its uses of fixes to
//! `selfheal_uses` (worker, sequence number, fix, counts, time); one worker at a time folds them
//! into the fixes' counters in a single statement, recomputing deprecation server-side. A
//! worker's uploads carry its own sequence numbers and the server keeps the highest one it
//! took, in the same transaction, so an upload repeated after a lost reply counts nothing twice.
//!
//! **A pull must not skip a change that commits late.** Ids and sequence values are handed out at
//! insert time but become visible at commit time, in another order, so "everything after the
//! last id seen" loses rows. Every row instead carries the id of the transaction that last
//! changed it (`pg_current_xact_id()`), and a pull remembers the oldest transaction still
//! running when it looked (`pg_snapshot_xmin`): every transaction below that had ended and was
//! seen, every one from it on is looked at again next time. Rows may come twice; applying a
//! change is idempotent. Pulls stream rows with binary `COPY`.
//!
//! Writers announce changes with `NOTIFY selfheal_fixes`; a mirror listens, so that it syncs at
//! once instead of at its next poll.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::Type;
use tokio_postgres::{AsyncMessage, Client, Connection, IsolationLevel, NoTls, Transaction};

use super::entry::{FixContext, FixStats, digest};
use super::store::NewFix;
use super::{ErrorSignature, Retention};
use crate::fix::FixProposal;
use crate::{Error, Result};

/// The schema version this code writes; older schemas are migrated on connect.
const SCHEMA_VERSION: i32 = 2;

/// Serializes migrations when many workers connect at once.
const MIGRATION_LOCK: i64 = 0x5e1f_4ea1;
/// Held by the one worker folding uses into counters.
const FOLD_LOCK: i64 = 0x5e1f_4ea2;

/// The channel writers notify and mirrors listen on.
const CHANNEL: &str = "selfheal_fixes";

/// How long a connection attempt may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 1: one opaque JSON record per fix, keyed by signature hash and digest.
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

/// Version 2: fixes keyed as the local store keys them (partition and digest) with their
/// counters, the append-only uses, the workers' upload marks and removal tombstones. JSON is
/// kept as text, exactly as workers wrote it (cast to `jsonb` to query it).
const SCHEMA_V2: &str = "
ALTER TABLE selfheal_fixes RENAME TO selfheal_fixes_v1;
ALTER INDEX selfheal_fixes_changed RENAME TO selfheal_fixes_v1_changed;
CREATE TABLE selfheal_fixes (
    id BIGSERIAL PRIMARY KEY,
    changed xid8 NOT NULL DEFAULT pg_current_xact_id(),
    partition BIGINT NOT NULL,
    digest BIGINT NOT NULL,
    signature_hash BIGINT NOT NULL,
    signature TEXT NOT NULL,
    example TEXT NOT NULL,
    context TEXT NOT NULL,
    proposal TEXT NOT NULL,
    embedder TEXT NOT NULL,
    embedding BYTEA NOT NULL,
    uses BIGINT NOT NULL DEFAULT 0,
    successes BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_used BIGINT NOT NULL,
    deprecated BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (partition, digest)
);
CREATE INDEX selfheal_fixes_changed ON selfheal_fixes (changed);
CREATE TABLE selfheal_uses (
    id BIGSERIAL PRIMARY KEY,
    worker BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    fix_id BIGINT NOT NULL REFERENCES selfheal_fixes (id) ON DELETE CASCADE,
    uses BIGINT NOT NULL,
    successes BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX selfheal_uses_fix ON selfheal_uses (fix_id);
CREATE TABLE selfheal_workers (
    worker BIGINT PRIMARY KEY,
    uploaded BIGINT NOT NULL,
    seen TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE selfheal_removed (
    id BIGINT PRIMARY KEY,
    changed xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX selfheal_removed_changed ON selfheal_removed (changed);
";

/// The columns of a [`FleetFix`], in the order [`FleetFix::from_copy`] reads them.
const FIX_COLUMNS: &str = "id, partition, digest, signature_hash, signature, example, context, \
     proposal, embedder, embedding, uses, successes, failures, created_at, last_used, deprecated";

const FIX_TYPES: [Type; 16] = [
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::BOOL,
];

fn fleet_error(error: tokio_postgres::Error) -> Error {
    // The cause (a refused connection, an untrusted certificate) is in the source chain.
    let mut message = format!("fleet store: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Error::cache(message).caused_by(error)
}

/// Where a worker's last pull stopped (a transaction id): changes from it on are fetched next
/// time. Store it with the mirror; start from the default to fetch everything.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ChangeCursor(pub u64);

/// A fix as the fleet stores it. The JSON fields are text as the local store keeps them, so a
/// fix passes between stores without being parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetFix {
    /// The fleet's id of the fix, assigned by the server (`0` for a fix not uploaded yet).
    pub id: i64,
    /// The partition of its signature's filter keys.
    pub partition: i64,
    /// The digest of its edits: one fix per partition and digest.
    pub digest: i64,
    /// Its signature's hash.
    pub signature_hash: i64,
    /// Its [`ErrorSignature`] as JSON.
    pub signature: String,
    /// The error's message as printed.
    pub example: String,
    /// Its [`FixContext`] as JSON.
    pub context: String,
    /// Its [`FixProposal`] as JSON.
    pub proposal: String,
    /// The embedder that made `embedding`.
    pub embedder: String,
    /// The signature's vector (little-endian `f32`s).
    pub embedding: Vec<u8>,
    /// Its counters, summed over the fleet.
    pub stats: FixStats,
    /// Deprecated fixes are no longer served.
    pub deprecated: bool,
}

impl FleetFix {
    /// A fix as a worker learned it, with its counts, not uploaded yet.
    pub fn new(fix: &NewFix, stats: FixStats) -> Result<FleetFix> {
        let NewFix {
            signature,
            example,
            context,
            proposal,
            embedder,
            embedding,
        } = fix;
        let json = |value: std::result::Result<String, serde_json::Error>| {
            value.map_err(|e| {
                Error::cache(format!("fleet store: a fix is not serializable: {e}")).caused_by(e)
            })
        };
        Ok(FleetFix {
            id: 0,
            partition: signature.filter.partition() as i64,
            digest: digest(proposal) as i64,
            signature_hash: signature.hash as i64,
            signature: json(serde_json::to_string(signature))?,
            example: example.clone(),
            context: json(serde_json::to_string(context))?,
            proposal: json(serde_json::to_string(proposal))?,
            embedder: embedder.clone(),
            embedding: embedding.iter().flat_map(|x| x.to_le_bytes()).collect(),
            stats,
            deprecated: false,
        })
    }

    fn from_copy(row: &tokio_postgres::binary_copy::BinaryCopyOutRow) -> Result<FleetFix> {
        let count = |index: usize| -> Result<u32> {
            let value: i64 = row.try_get(index).map_err(fleet_error)?;
            Ok(u32::try_from(value.max(0)).unwrap_or(u32::MAX))
        };
        Ok(FleetFix {
            id: row.try_get(0).map_err(fleet_error)?,
            partition: row.try_get(1).map_err(fleet_error)?,
            digest: row.try_get(2).map_err(fleet_error)?,
            signature_hash: row.try_get(3).map_err(fleet_error)?,
            signature: row.try_get(4).map_err(fleet_error)?,
            example: row.try_get(5).map_err(fleet_error)?,
            context: row.try_get(6).map_err(fleet_error)?,
            proposal: row.try_get(7).map_err(fleet_error)?,
            embedder: row.try_get(8).map_err(fleet_error)?,
            embedding: row.try_get(9).map_err(fleet_error)?,
            stats: FixStats {
                uses: count(10)?,
                successes: count(11)?,
                failures: count(12)?,
                created_at: row.try_get(13).map_err(fleet_error)?,
                last_used: row.try_get(14).map_err(fleet_error)?,
            },
            deprecated: row.try_get(15).map_err(fleet_error)?,
        })
    }
}

/// Uses of one fix by one worker, to be added to the fleet's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetUse {
    /// The worker's sequence number of this entry (increasing; an upload takes only entries
    /// above the highest one the server already took from the worker).
    pub seq: i64,
    /// The fix's partition.
    pub partition: i64,
    /// The fix's digest.
    pub digest: i64,
    /// The counts to add (`uses`, `successes`, `failures`; the time is `last_used`).
    pub stats: FixStats,
}

/// What a pull brought: the fixes came page by page; these end it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullEnd {
    /// Fleet ids of fixes removed since the cursor.
    pub removed: Vec<i64>,
    /// Where to pull from next time.
    pub cursor: ChangeCursor,
}

/// A connection to the fleet's PostgreSQL database.
pub struct FleetStore {
    client: Client,
}

impl std::fmt::Debug for FleetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetStore")
            .field("closed", &self.client.is_closed())
            .finish_non_exhaustive()
    }
}

/// Reads a connection URL (`postgres://user:password@host:port/database?options`), so that a
/// bad one is refused before any worker depends on it.
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| Error::InvalidInput(format!("fleet cache URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok(config)
}

impl FleetStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and brings the schema up to date. With `?sslmode=require` the connection uses TLS and
    /// the server's certificate is verified (see [`FleetStore::connect_with`]).
    pub async fn connect(url: &str) -> Result<Self> {
        FleetStore::connect_with(&parse_url(url)?).await
    }

    /// [`FleetStore::connect`] with a parsed configuration. `sslmode=require` connects with
    /// TLS, verifying the server's certificate against the CA certificates in `$PGSSLROOTCERT`
    /// (libpq's variable) or, without it, the platform's roots; other modes connect in plain
    /// text.
    pub async fn connect_with(config: &tokio_postgres::Config) -> Result<Self> {
        FleetStore::connect_notifying(config, Arc::new(Notify::new())).await
    }

    /// Connects; announcements (and the connection's end) wake `announced`'s waiter.
    pub(super) async fn connect_notifying(
        config: &tokio_postgres::Config,
        announced: Arc<Notify>,
    ) -> Result<Self> {
        let mut client = if config.get_ssl_mode() == SslMode::Require {
            let (client, connection) = config.connect(tls()?).await.map_err(fleet_error)?;
            tokio::spawn(drive(connection, Arc::clone(&announced)));
            client
        } else {
            let (client, connection) = config.connect(NoTls).await.map_err(fleet_error)?;
            tokio::spawn(drive(connection, Arc::clone(&announced)));
            client
        };
        migrate(&mut client).await?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(fleet_error)?;
        Ok(FleetStore { client })
    }

    /// Whether the connection is gone (the server went away); a closed store only fails.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Uploads what `worker` learned: creates the `fixes` the server lacks (the fleet assigns
    /// their ids), adds the `uses` it has not taken from this worker yet, and folds counters
    /// when no other worker is folding. Returns the fleet id of every fix named by either.
    pub async fn upload(
        &mut self,
        worker: i64,
        fixes: &[FleetFix],
        uses: &[FleetUse],
        retention: &Retention,
    ) -> Result<Vec<((i64, i64), i64)>> {
        let transaction = self.client.transaction().await.map_err(fleet_error)?;
        let uploaded: i64 = transaction
            .query_one(
                "INSERT INTO selfheal_workers (worker, uploaded) VALUES ($1, 0)
                 ON CONFLICT (worker) DO UPDATE SET seen = now() RETURNING uploaded",
                &[&worker],
            )
            .await
            .map_err(fleet_error)?
            .get(0);
        // A fix with a secret in its text, or one the edit policy refuses (stored by an older
        // version), never leaves.
        let redactor = crate::redact::Redactor::process_wide();
        let fixes: Vec<&FleetFix> = (fixes.iter())
            .filter(|fix| {
                let proposal = serde_json::from_str::<crate::fix::FixProposal>(&fix.proposal);
                proposal.is_ok_and(|proposal| super::storable(&proposal))
                    && ![&fix.signature, &fix.example]
                        .iter()
                        .any(|text| redactor.finds_secret(text))
            })
            .collect();
        if !fixes.is_empty() {
            let column =
                |f: fn(&FleetFix) -> i64| fixes.iter().map(|fix| f(fix)).collect::<Vec<_>>();
            let text = |f: fn(&FleetFix) -> &str| {
                // PostgreSQL text cannot hold NUL; JSON text never does, a raw message might.
                fixes
                    .iter()
                    .map(|fix| f(fix).replace('\0', "\u{fffd}"))
                    .collect::<Vec<_>>()
            };
            let embeddings: Vec<&[u8]> = fixes.iter().map(|f| f.embedding.as_slice()).collect();
            transaction
                .execute(
                    "INSERT INTO selfheal_fixes (partition, digest, signature_hash, signature,
                         example, context, proposal, embedder, embedding, created_at, last_used)
                     SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::text[],
                         $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[],
                         $10::int8[], $11::int8[])
                     ON CONFLICT (partition, digest) DO NOTHING",
                    &[
                        &column(|f| f.partition),
                        &column(|f| f.digest),
                        &column(|f| f.signature_hash),
                        &text(|f| &f.signature),
                        &text(|f| &f.example),
                        &text(|f| &f.context),
                        &text(|f| &f.proposal),
                        &text(|f| &f.embedder),
                        &embeddings,
                        &column(|f| f.stats.created_at),
                        &column(|f| f.stats.last_used),
                    ],
                )
                .await
                .map_err(fleet_error)?;
        }
        let fresh: Vec<&FleetUse> = uses.iter().filter(|u| u.seq > uploaded).collect();
        if let Some(highest) = fresh.iter().map(|u| u.seq).max() {
            let column = |f: fn(&FleetUse) -> i64| fresh.iter().map(|u| f(u)).collect::<Vec<_>>();
            // Uses of a fix the server no longer has (pruned meanwhile) have nothing to count.
            transaction
                .execute(
                    "INSERT INTO selfheal_uses (worker, seq, fix_id, uses, successes, failures, at)
                     SELECT $1, u.seq, f.id, u.uses, u.successes, u.failures, u.at
                     FROM unnest($2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[],
                         $7::int8[], $8::int8[])
                         AS u (seq, partition, digest, uses, successes, failures, at)
                     JOIN selfheal_fixes f USING (partition, digest)",
                    &[
                        &worker,
                        &column(|u| u.seq),
                        &column(|u| u.partition),
                        &column(|u| u.digest),
                        &column(|u| i64::from(u.stats.uses)),
                        &column(|u| i64::from(u.stats.successes)),
                        &column(|u| i64::from(u.stats.failures)),
                        &column(|u| u.stats.last_used),
                    ],
                )
                .await
                .map_err(fleet_error)?;
            transaction
                .execute(
                    "UPDATE selfheal_workers SET uploaded = $2 WHERE worker = $1",
                    &[&worker, &highest],
                )
                .await
                .map_err(fleet_error)?;
            // Folded in the same commit when nobody else is folding: a new fix arrives with its
            // first success counted.
            fold_in(&transaction, retention).await?;
        }
        let (partitions, digests): (Vec<i64>, Vec<i64>) = (fixes.iter())
            .map(|f| (f.partition, f.digest))
            .chain(uses.iter().map(|u| (u.partition, u.digest)))
            .unzip();
        let ids = transaction
            .query(
                "SELECT DISTINCT f.partition, f.digest, f.id FROM selfheal_fixes f
                 JOIN unnest($1::int8[], $2::int8[]) AS k (partition, digest)
                     USING (partition, digest)",
                &[&partitions, &digests],
            )
            .await
            .map_err(fleet_error)?
            .iter()
            .map(|row| ((row.get(0), row.get(1)), row.get(2)))
            .collect();
        notify(&transaction).await?;
        transaction.commit().await.map_err(fleet_error)?;
        Ok(ids)
    }

    /// Folds the uses uploaded so far into the fixes' counters, unless another worker is
    /// folding right now (its fold takes them). Returns how many use entries were folded.
    pub async fn fold(&mut self, retention: &Retention) -> Result<u64> {
        let transaction = self.client.transaction().await.map_err(fleet_error)?;
        let folded = fold_in(&transaction, retention).await?;
        if folded > 0 {
            notify(&transaction).await?;
        }
        transaction.commit().await.map_err(fleet_error)?;
        Ok(folded)
    }

    /// Streams the fixes changed since `since` to `pages` (about `page_size` at a time) and
    /// returns the removals and the cursor to pull from next time. A fix may come again in a
    /// later pull; it is never missed.
    pub async fn pull(
        &mut self,
        since: ChangeCursor,
        page_size: usize,
        pages: tokio::sync::mpsc::Sender<Vec<FleetFix>>,
    ) -> Result<PullEnd> {
        let transaction = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(fleet_error)?;
        // One snapshot for every statement: the cursor, the fixes and the removals agree.
        let horizon: String = transaction
            .query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", &[])
            .await
            .map_err(fleet_error)?
            .get(0);
        // COPY takes no parameters; the cursor is a number.
        let since = since.0;
        let copy = transaction
            .copy_out(&format!(
                "COPY (SELECT {FIX_COLUMNS} FROM selfheal_fixes WHERE changed >= '{since}'::xid8)
                 TO STDOUT (FORMAT binary)"
            ))
            .await
            .map_err(fleet_error)?;
        let rows = BinaryCopyOutStream::new(copy, &FIX_TYPES);
        let mut rows = std::pin::pin!(rows);
        let mut page = Vec::with_capacity(page_size);
        while let Some(row) = rows.try_next().await.map_err(fleet_error)? {
            page.push(FleetFix::from_copy(&row)?);
            if page.len() >= page_size {
                send(&pages, std::mem::take(&mut page)).await?;
            }
        }
        if !page.is_empty() {
            send(&pages, page).await?;
        }
        let removed = transaction
            .query(
                "SELECT id FROM selfheal_removed WHERE changed >= $1::text::xid8",
                &[&since.to_string()],
            )
            .await
            .map_err(fleet_error)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        transaction.commit().await.map_err(fleet_error)?;
        let horizon = horizon.parse().map_err(|e| {
            Error::cache(format!("fleet store: transaction id `{horizon}`: {e}")).caused_by(e)
        })?;
        Ok(PullEnd {
            removed,
            cursor: ChangeCursor(horizon),
        })
    }

    /// Marks a fix deprecated for the whole fleet.
    pub async fn deprecate(&mut self, id: i64) -> Result<()> {
        let transaction = self.client.transaction().await.map_err(fleet_error)?;
        transaction
            .execute(
                "UPDATE selfheal_fixes SET deprecated = true, changed = pg_current_xact_id()
                 WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(fleet_error)?;
        notify(&transaction).await?;
        transaction.commit().await.map_err(fleet_error)
    }

    /// Removes, for the whole fleet, what the retention rules say is dead at time `at` (seconds
    /// since the epoch); returns the removed ids. Mirrors drop them at their next pull.
    pub async fn prune(&mut self, at: i64, retention: &Retention) -> Result<Vec<i64>> {
        let cutoff = at - i64::from(retention.prune_unused_days) * 86_400;
        let transaction = self.client.transaction().await.map_err(fleet_error)?;
        let removed: Vec<i64> = transaction
            .query(
                "WITH gone AS (
                     DELETE FROM selfheal_fixes WHERE last_used < $1
                         OR (uses >= $2 AND successes::float8 / uses < $3)
                     RETURNING id)
                 INSERT INTO selfheal_removed (id) SELECT id FROM gone RETURNING id",
                &[
                    &cutoff,
                    &i64::from(retention.prune_after_uses),
                    &retention.prune_below,
                ],
            )
            .await
            .map_err(fleet_error)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if !removed.is_empty() {
            notify(&transaction).await?;
        }
        transaction.commit().await.map_err(fleet_error)?;
        Ok(removed)
    }
}

/// Runs a connection, waking `announce` on every notification and when the connection ends
/// (whoever waits then finds the store closed).
async fn drive<S, T>(mut connection: Connection<S, T>, announce: Arc<Notify>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut messages = futures_util::stream::poll_fn(|cx| connection.poll_message(cx));
    while let Some(Ok(message)) = messages.next().await {
        if let AsyncMessage::Notification(_) = message {
            announce.notify_one();
        }
    }
    announce.notify_one();
}

/// TLS for `sslmode=require`: the server's certificate is verified against the certificates in
/// `$PGSSLROOTCERT` (libpq's variable) when it is set, else against the platform's roots.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match std::env::var_os("PGSSLROOTCERT").filter(|path| !path.is_empty()) {
        Some(path) => {
            let unreadable = |e: &dyn std::fmt::Display| {
                Error::InvalidInput(format!(
                    "fleet cache TLS: PGSSLROOTCERT {}: {e}",
                    Path::new(&path).display()
                ))
            };
            for certificate in CertificateDer::pem_file_iter(&path).map_err(|e| unreadable(&e))? {
                let certificate = certificate.map_err(|e| unreadable(&e))?;
                roots.add(certificate).map_err(|e| unreadable(&e))?;
            }
        }
        None => {
            // Certificates the platform cannot read are skipped, as browsers do.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err(Error::Config(
            "fleet cache TLS: no root certificate to verify the server with (set PGSSLROOTCERT)"
                .into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidInput(format!("fleet cache TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

async fn send(pages: &tokio::sync::mpsc::Sender<Vec<FleetFix>>, page: Vec<FleetFix>) -> Result<()> {
    pages
        .send(page)
        .await
        .map_err(|_| Error::cache("fleet store: the pull's reader stopped"))
}

async fn notify(transaction: &Transaction<'_>) -> Result<()> {
    // Delivered at commit, and only then.
    transaction
        .batch_execute(&format!("NOTIFY {CHANNEL}"))
        .await
        .map_err(fleet_error)
}

/// Folds the uses visible to `transaction` into the counters when it gets the fold lock.
async fn fold_in(transaction: &Transaction<'_>, retention: &Retention) -> Result<u64> {
    let locked: bool = transaction
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&FOLD_LOCK])
        .await
        .map_err(fleet_error)?
        .get(0);
    if !locked {
        return Ok(0);
    }
    let folded: i64 = transaction
        .query_one(
            "WITH used AS (
                 DELETE FROM selfheal_uses RETURNING fix_id, uses, successes, failures, at),
             totals AS (
                 SELECT fix_id, sum(uses)::int8 AS uses, sum(successes)::int8 AS successes,
                     sum(failures)::int8 AS failures, max(at) AS at, count(*) AS entries
                 FROM used GROUP BY fix_id),
             counted AS (
                 UPDATE selfheal_fixes f SET
                     uses = f.uses + t.uses,
                     successes = f.successes + t.successes,
                     failures = f.failures + t.failures,
                     last_used = greatest(f.last_used, t.at),
                     deprecated = f.deprecated OR (f.uses + t.uses >= $1
                         AND (f.successes + t.successes)::float8 / (f.uses + t.uses) < $2),
                     changed = pg_current_xact_id()
                 FROM totals t WHERE f.id = t.fix_id)
             SELECT coalesce(sum(entries), 0)::int8 FROM totals",
            &[
                &i64::from(retention.deprecate_after_uses),
                &retention.deprecate_below,
            ],
        )
        .await
        .map_err(fleet_error)?
        .get(0);
    Ok(folded as u64)
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
    let version: i32 = transaction
        .query_one("SELECT coalesce(max(version), 0) FROM selfheal_schema", &[])
        .await
        .map_err(fleet_error)?
        .get(0);
    if version > SCHEMA_VERSION {
        return Err(Error::cache(format!(
            "fleet store: the database has schema version {version}, newer than this selfheal ({SCHEMA_VERSION}); upgrade selfheal"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version < 1 {
        transaction
            .batch_execute(SCHEMA_V1)
            .await
            .map_err(fleet_error)?;
    }
    transaction
        .batch_execute(SCHEMA_V2)
        .await
        .map_err(fleet_error)?;
    migrate_v1_fixes(&transaction).await?;
    transaction
        .execute(
            "INSERT INTO selfheal_schema (version) VALUES ($1)",
            &[&SCHEMA_VERSION],
        )
        .await
        .map_err(fleet_error)?;
    transaction.commit().await.map_err(fleet_error)
}

/// A version 1 fix record: the fix as the local cache held it.
#[derive(Deserialize)]
struct V1Record {
    signature: ErrorSignature,
    example: String,
    #[serde(default)]
    context: FixContext,
    proposal: FixProposal,
    stats: FixStats,
}

/// Moves version 1's fixes into version 2's table. The partition is computed from each
/// signature, which only this code knows how to do.
async fn migrate_v1_fixes(transaction: &Transaction<'_>) -> Result<()> {
    let rows = transaction
        .query(
            "SELECT id, record::text, embedder, embedding, deprecated
             FROM selfheal_fixes_v1 ORDER BY id",
            &[],
        )
        .await
        .map_err(fleet_error)?;
    for row in rows {
        let id: i64 = row.get(0);
        let record: String = row.get(1);
        let record: V1Record = serde_json::from_str(&record).map_err(|e| {
            Error::cache(format!(
                "fleet store: cannot migrate fix {id} of schema version 1: {e}"
            ))
            .caused_by(e)
        })?;
        let embedding: Vec<u8> = row.get(3);
        let vector: Vec<f32> = embedding
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let learned = NewFix {
            signature: record.signature,
            example: record.example,
            context: record.context,
            proposal: record.proposal,
            embedder: row.get(2),
            embedding: vector,
        };
        let mut fix = FleetFix::new(&learned, record.stats)?;
        fix.deprecated = row.get(4);
        fix.example = fix.example.replace('\0', "\u{fffd}");
        transaction
            .execute(
                "INSERT INTO selfheal_fixes (id, partition, digest, signature_hash, signature,
                     example, context, proposal, embedder, embedding, uses, successes, failures,
                     created_at, last_used, deprecated)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (partition, digest) DO NOTHING",
                &[
                    &id,
                    &fix.partition,
                    &fix.digest,
                    &fix.signature_hash,
                    &fix.signature,
                    &fix.example,
                    &fix.context,
                    &fix.proposal,
                    &fix.embedder,
                    &fix.embedding,
                    &i64::from(fix.stats.uses),
                    &i64::from(fix.stats.successes),
                    &i64::from(fix.stats.failures),
                    &fix.stats.created_at,
                    &fix.stats.last_used,
                    &fix.deprecated,
                ],
            )
            .await
            .map_err(fleet_error)?;
    }
    transaction
        .batch_execute(
            "SELECT setval(pg_get_serial_sequence('selfheal_fixes', 'id'),
                 greatest((SELECT max(id) FROM selfheal_fixes), 1));
             DROP TABLE selfheal_fixes_v1;",
        )
        .await
        .map_err(fleet_error)
}

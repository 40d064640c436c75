//! The fleet-shared fix cache against a real PostgreSQL server: a fix learned by one worker
//! process is served by another; counts from many workers at once are exact; a change that
//! commits late is never skipped; a worker cut off from the server keeps learning and uploads
//! when it returns; a server killed mid-sync loses and duplicates nothing; a database of the
//! previous schema is migrated with its fixes.
//!
//! The server comes from `SELFHEAL_TEST_PG_URL` (`.ci/run` starts a throwaway cluster on
//! 127.0.0.1); each test works in a database of its own. The kill test starts a cluster of its
//! own from the installed PostgreSQL binaries. Without them (outside CI) the tests that need them
//! are reported ignored, with the reason.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use selfheal::Diagnostic;
use selfheal::cache::fleet::{ChangeCursor, FleetFix, FleetStore, FleetUse, PullEnd};
use selfheal::cache::{
    Durability, ErrorSignature, FixCache, FixContext, FixStats, FixStore, FleetMirror,
    FleetOptions, NewFix, Retention, STORE_FILE,
};
use selfheal::fix::FixProposal;
use selfheal::parse::ParserSet;
use selfheal_test_harness::{Need, Test, trial};
use tokio_postgres::NoTls;

use crate::support;

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    let server = Need::env("SELFHEAL_TEST_PG_URL", ".ci/run starts a server");
    let cluster = Need::new(
        postgres_programs()
            .is_none()
            .then(|| "PostgreSQL is not installed (/usr/lib/postgresql/*/bin)".into()),
    );
    let openssl = Need::program("openssl", "apt install openssl");
    vec![
        trial!(async(threads = 2) a_fix_learned_by_one_worker_process_is_served_by_another).needs(&server),
        trial!(async(threads = 2) eight_workers_recording_uses_at_once_lose_no_count).needs(&server),
        trial!(async(threads = 2) a_change_that_commits_late_is_not_skipped).needs(&server),
        trial!(async(threads = 2) an_upload_repeated_after_a_lost_reply_counts_nothing_twice).needs(&server),
        trial!(async(threads = 2) concurrent_workers_migrate_once).needs(&server),
        trial!(async(threads = 2) a_database_of_schema_1_is_migrated_with_its_fixes).needs(&server),
        trial!(async(threads = 2) fleet_counts_deprecate_and_prune_for_every_worker).needs(&server),
        trial!(async(threads = 2) a_worker_cut_off_keeps_learning_and_uploads_when_the_server_returns).needs(&server),
        trial!(async(threads = 2) a_server_killed_mid_sync_loses_and_duplicates_nothing).needs(&cluster),
        trial!(async(threads = 2) a_server_that_accepts_only_tls_is_reached_with_sslmode_require).needs(&cluster).needs(&openssl),
    ]
}

/// A fresh database on the test server, as a URL.
async fn database(test: &str) -> String {
    let admin = std::env::var("SELFHEAL_TEST_PG_URL").expect("SELFHEAL_TEST_PG_URL");
    fresh_database(&admin, test).await
}

/// The newest installed PostgreSQL's programs (`initdb`, `pg_ctl`, `postgres`).
fn postgres_programs() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .max()
}

async fn fresh_database(admin: &str, test: &str) -> String {
    let client = connect(admin).await;
    let name = format!("selfheal_{test}_{}", std::process::id());
    // Databases are copied from a template that must not be in use: one at a time.
    static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = CREATING.lock().await;
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        client
            .batch_execute(&statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e:?}"));
    }
    let (base, _) = admin.rsplit_once('/').unwrap_or((admin, ""));
    format!("{base}/{name}")
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    tokio::spawn(connection);
    client
}

fn temp_dir(name: &str) -> PathBuf {
    support::scratch(&format!("fleet-{name}"))
}

fn parse(log: &str) -> Diagnostic {
    ParserSet::new().parse(log).remove(0)
}

fn proposal(tag: &str) -> FixProposal {
    FixProposal::from_value(&serde_json::json!({"fixes": [
        {"file": "src/fix.txt", "action": "patch", "search": "broken", "replace": tag}
    ]}))
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A mirror that notices an outage and a return within a fraction of a second.
fn quick() -> FleetOptions {
    FleetOptions {
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        ..FleetOptions::default()
    }
}

async fn worker(url: &str, dir: &Path) -> FixCache {
    FixCache::builder()
        .fleet(url, quick())
        .open(dir)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `count` fixes for one error, each with its own edits, as a mirror imports them.
fn fixes(count: usize) -> Vec<(NewFix, FixStats)> {
    let error = parse("src/a.ts(1,1): error TS2304: Cannot find name 'x'.\n");
    let signature = ErrorSignature::of(&error);
    let stats = FixStats {
        uses: 1,
        successes: 1,
        failures: 0,
        created_at: 1_700_000_000,
        last_used: 1_700_000_000,
    };
    (0..count)
        .map(|n| {
            let fix = NewFix {
                signature: signature.clone(),
                example: error.message.clone(),
                context: FixContext::default(),
                proposal: proposal(&format!("fix {n}")),
                embedder: "lexical-256".into(),
                embedding: vec![n as f32, 1.0],
            };
            (fix, stats)
        })
        .collect()
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `(fixes, sum of uses, sum of successes)` on the server, after folding what is pending
/// (workers fold when no other worker is folding: counts settle shortly after the last upload).
async fn server_counts(url: &str) -> (i64, i64, i64) {
    let client = connect(url).await;
    let mut store = FleetStore::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        (store.fold(&Retention::default()).await).unwrap_or_else(|e| panic!("{e}"));
        let pending: i64 = client
            .query_one("SELECT count(*) FROM selfheal_uses", &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .get(0);
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} uses never folded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let row = client
        .query_one(
            "SELECT count(*), coalesce(sum(uses), 0)::int8, coalesce(sum(successes), 0)::int8
             FROM selfheal_fixes",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (row.get(0), row.get(1), row.get(2))
}

async fn pull_all(store: &mut FleetStore, since: ChangeCursor) -> (Vec<FleetFix>, PullEnd) {
    let (pages, mut arriving) = tokio::sync::mpsc::channel(4);
    let collect = async {
        let mut all = Vec::new();
        while let Some(page) = arriving.recv().await {
            all.extend(page);
        }
        all
    };
    let (end, all) = tokio::join!(store.pull(since, 100, pages), collect);
    (all, end.unwrap_or_else(|e| panic!("{e}")))
}

async fn a_fix_learned_by_one_worker_process_is_served_by_another() {
    let url = database("processes").await;
    let dir = temp_dir("processes");
    let spawn = |role: &str| {
        Command::new(env!("CARGO_BIN_EXE_selfheal-fleet-worker"))
            .args([url.as_str(), &dir.join(role).to_string_lossy(), role])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let mut server = spawn("serve");
    let mut serving = std::io::BufReader::new(server.stdout.take().unwrap_or_else(|| panic!()));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut serving, &mut line).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line.trim(), "ready");

    let learner = spawn("learn")
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(learner.status.success());
    let learned: u128 = String::from_utf8_lossy(&learner.stdout)
        .trim()
        .strip_prefix("learned ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{learner:?}"));

    let mut rest = String::new();
    std::io::Read::read_to_string(&mut serving, &mut rest).unwrap_or_else(|e| panic!("{e}"));
    assert!(server.wait().unwrap_or_else(|e| panic!("{e}")).success());
    let mut lines = rest.lines();
    let served: u128 = lines
        .next()
        .and_then(|l| l.strip_prefix("served "))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{rest}"));
    let fix: FixProposal =
        serde_json::from_str(lines.next().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fix.edits.len(), 1, "{rest}");
    assert!(
        rest.contains("useState"),
        "the learned fix is served: {rest}"
    );
    eprintln!(
        "propagation: learned by one process, served by the other {} ms later",
        served.saturating_sub(learned) / 1000
    );
    std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
}

async fn eight_workers_recording_uses_at_once_lose_no_count() {
    let url = database("counts").await;
    let dir = temp_dir("counts");
    let error = parse("src/a.ts(1,1): error TS2304: Cannot find name 'x'.\n");
    let fix = proposal("shared");
    let mut workers = Vec::new();
    for n in 0..8 {
        workers.push(worker(&url, &dir.join(n.to_string())).await);
    }
    let runs = workers.iter().cloned().map(|cache| {
        let (error, fix) = (error.clone(), fix.clone());
        tokio::spawn(async move {
            let context = FixContext::default();
            for use_ in 0..1000 {
                let recorded = if use_ % 4 == 3 {
                    cache.record_failure(&error, &fix).await
                } else {
                    cache.record_success(&error, &context, &fix).await.map(drop)
                };
                recorded.unwrap_or_else(|e| panic!("{e}"));
            }
        })
    });
    for run in futures_util::future::join_all(runs).await {
        run.unwrap_or_else(|e| panic!("{e}"));
    }
    // Each uploads what it still holds; folds taken by a worker that was busy are redone.
    let admin = connect(&url).await;
    wait_for("every use folded", Duration::from_secs(60), || async {
        for cache in &workers {
            cache.sync().await.unwrap_or_else(|e| panic!("{e}"));
        }
        let pending: i64 = admin
            .query_one("SELECT count(*) FROM selfheal_uses", &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .get(0);
        pending == 0
    })
    .await;
    assert_eq!(server_counts(&url).await, (1, 8000, 6000));
    for cache in &workers {
        cache.sync().await.unwrap_or_else(|e| panic!("{e}"));
        let stats = cache.stats().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (stats.fixes, stats.uses, stats.successes, stats.failures),
            (1, 8000, 6000, 2000)
        );
    }
    drop(workers);
    std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
}

async fn a_change_that_commits_late_is_not_skipped() {
    let url = database("late_commit").await;
    let mut reader = FleetStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut recorder = FleetStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // A slow writer takes the lower id and commits last.
    let mut slow = connect(&url).await;
    let slow_writer = slow.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let slow_id: i64 = slow_writer
        .query_one(
            "INSERT INTO selfheal_fixes (partition, digest, signature_hash, signature, example,
                 context, proposal, embedder, embedding, created_at, last_used)
             VALUES (1, 1, 1, '{}', 'slow', '{}', '{}', 'lexical-256', '\\x01', 0, 0)
             RETURNING id",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);

    let (fast, _) = fixes(1).remove(0);
    let fast = FleetFix::new(&fast, FixStats::default()).unwrap_or_else(|e| panic!("{e}"));
    let ids = recorder
        .upload(7, &[fast], &[], &Retention::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fast_id = ids[0].1;
    assert!(slow_id < fast_id, "the late commit holds the lower id");

    let (first, end) = pull_all(&mut reader, ChangeCursor::default()).await;
    let pulled: Vec<i64> = first.iter().map(|f| f.id).collect();
    assert_eq!(pulled, [fast_id], "the uncommitted fix is not visible yet");

    slow_writer.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let (second, _) = pull_all(&mut reader, end.cursor).await;
    let pulled: Vec<i64> = second.iter().map(|f| f.id).collect();
    assert!(
        pulled.contains(&slow_id),
        "a cursor past the highest id seen ({fast_id}) would have skipped {slow_id}; pulled {pulled:?}"
    );
}

async fn an_upload_repeated_after_a_lost_reply_counts_nothing_twice() {
    let url = database("repeat").await;
    let mut store = FleetStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (new, stats) = fixes(1).remove(0);
    let fix = FleetFix::new(&new, stats).unwrap_or_else(|e| panic!("{e}"));
    let uses: Vec<FleetUse> = (1..=3)
        .map(|seq| FleetUse {
            seq,
            partition: fix.partition,
            digest: fix.digest,
            stats,
        })
        .collect();
    let retention = Retention::default();
    let first = (store
        .upload(42, std::slice::from_ref(&fix), &uses, &retention)
        .await)
        .unwrap_or_else(|e| panic!("{e}"));
    // The reply was lost: the worker sends the same batch again, with one more use.
    let more: Vec<FleetUse> = (1..=4).map(|seq| FleetUse { seq, ..uses[0] }).collect();
    let second =
        (store.upload(42, &[fix], &more, &retention).await).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, second, "the same fix keeps its fleet id");
    store
        .fold(&retention)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server_counts(&url).await, (1, 4, 4));
}

async fn concurrent_workers_migrate_once() {
    let url = database("migrate").await;
    let connects = (0..6).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { FleetStore::connect(&url).await.map(|_| ()) })
    });
    for connected in futures_util::future::join_all(connects).await {
        connected
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let client = connect(&url).await;
    let versions: Vec<i32> = client
        .query("SELECT version FROM selfheal_schema", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [2]);
}

async fn a_database_of_schema_1_is_migrated_with_its_fixes() {
    let url = database("schema_1").await;
    // A database as version 1 left it: one opaque record per fix.
    let error = parse("src/App.tsx(3,10): error TS2304: Cannot find name 'useState'.\n");
    let fix = proposal("import { useState }");
    let record = serde_json::json!({
        "signature": ErrorSignature::of(&error),
        "example": error.message,
        "context": FixContext::default(),
        "proposal": fix,
        "stats": {"uses": 5, "successes": 4, "failures": 1,
                  "created_at": 1_700_000_000, "last_used": 4_000_000_000_i64},
    });
    let client = connect(&url).await;
    client
        .batch_execute(
            "CREATE TABLE selfheal_schema (version INTEGER NOT NULL);
             INSERT INTO selfheal_schema VALUES (1);
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
                 UNIQUE (signature_hash, digest));
             CREATE INDEX selfheal_fixes_changed ON selfheal_fixes (changed);",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .execute(
            "INSERT INTO selfheal_fixes (id, signature_hash, digest, record, embedder, embedding)
             VALUES (41, 1, 2, $1::text::jsonb, 'an-older-embedder', '\\x0000803f')",
            &[&record.to_string()],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mut store = FleetStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (migrated, _) = pull_all(&mut store, ChangeCursor::default()).await;
    assert_eq!(migrated.len(), 1);
    assert_eq!(migrated[0].id, 41, "a fix keeps its id");
    assert_eq!(
        (migrated[0].stats.uses, migrated[0].stats.successes),
        (5, 4)
    );
    assert_eq!(migrated[0].embedding, 1.0_f32.to_le_bytes());
    let version: i32 = client
        .query_one("SELECT max(version) FROM selfheal_schema", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(version, 2);

    // A worker joining now is served the migrated fix.
    let dir = temp_dir("schema_1");
    let cache = worker(&url, &dir).await;
    cache.sync().await.unwrap_or_else(|e| panic!("{e}"));
    let again = parse("src/Form.tsx(9,7): error TS2304: Cannot find name 'useEffect'.\n");
    let hit = (cache.lookup(&again, &FixContext::default()).await)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the migrated fix is served"));
    assert_eq!(hit.fix.proposal, fix);
    // New fixes take ids above the migrated ones.
    let ids = store
        .upload(1, &[], &[], &Retention::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(ids.is_empty());
    let next: i64 = client
        .query_one(
            "SELECT nextval(pg_get_serial_sequence('selfheal_fixes', 'id'))",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert!(next > 41);
    drop(cache);
    std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
}

async fn fleet_counts_deprecate_and_prune_for_every_worker() {
    let url = database("retention").await;
    let dir = temp_dir("retention");
    let (a, b) = (
        worker(&url, &dir.join("a")).await,
        worker(&url, &dir.join("b")).await,
    );
    let error = parse("src/a.ts(1,1): error TS2304: Cannot find name 'x'.\n");
    let context = FixContext::default();
    let (good, bad) = (proposal("good"), proposal("bad"));
    a.record_success(&error, &context, &good)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    a.record_success(&error, &context, &bad)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Uploaded now (the background sync may not have run yet), so that B has both fixes.
    a.sync().await.unwrap_or_else(|e| panic!("{e}"));
    // B sees the bad fix fail, again and again: the fleet deprecates it.
    b.sync().await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..10 {
        b.record_failure(&error, &bad)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    b.sync().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        server_counts(&url).await,
        (2, 12, 2),
        "B's failures are counted"
    );
    a.sync().await.unwrap_or_else(|e| panic!("{e}"));
    let deprecated = |cache: FixCache| async move {
        cache
            .list(10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|f| (f.proposal == bad, f.deprecated))
            .collect::<HashSet<_>>()
    };
    assert_eq!(
        deprecated(a.clone()).await,
        HashSet::from([(false, false), (true, true)]),
        "A learns from B's failures that the bad fix is deprecated"
    );

    // Pruning on one worker removes the failing fix from the fleet and from every mirror.
    assert_eq!(a.prune().await.unwrap_or_else(|e| panic!("{e}")), 1);
    b.sync().await.unwrap_or_else(|e| panic!("{e}"));
    let left = b.list(10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].proposal, good);
    assert_eq!(server_counts(&url).await.0, 1);
    drop((a, b));
    std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
}

/// A TCP relay to the server that can be cut and restored: an outage as the worker sees it.
struct Relay {
    address: SocketAddr,
    target: SocketAddr,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let mut relay = Relay {
            address,
            target,
            running: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let target = self.target;
        self.running = Some(tokio::spawn(async move {
            // Dropped with this task: cutting the relay closes every connection.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    fn cut(&mut self) {
        if let Some(running) = self.running.take() {
            running.abort();
        }
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.address)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.serve(listener);
    }

    fn url(&self, direct: &str) -> String {
        let database = direct.rsplit_once('/').map_or("", |(_, db)| db);
        format!("postgres://selfheal@{}/{database}", self.address)
    }
}

async fn a_worker_cut_off_keeps_learning_and_uploads_when_the_server_returns() {
    let url = database("offline").await;
    let config: tokio_postgres::Config = url.parse().unwrap_or_else(|e| panic!("{e}"));
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let mut relay = Relay::start(SocketAddr::from(([127, 0, 0, 1], port))).await;
    let dir = temp_dir("offline");
    let mirror_path = dir.join("a").join(STORE_FILE);
    let a_store = FleetMirror::open(&mirror_path, &relay.url(&url), Durability::Process, quick())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a = FixCache::builder()
        .store(std::sync::Arc::new(a_store.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b = worker(&url, &dir.join("b")).await;
    a.sync().await.unwrap_or_else(|e| panic!("{e}"));

    relay.cut();
    let error = parse("src/a.ts(1,1): error TS2304: Cannot find name 'x'.\n");
    let context = FixContext::default();
    let (offline_only, shared) = (proposal("learned offline"), proposal("learned by both"));
    a.record_success(&error, &context, &offline_only)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    a.record_success(&error, &context, &shared)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(a.sync().await.is_err(), "the server is unreachable");
    assert!(!a_store.status().online);
    // Lookups are answered from the mirror all the same.
    let served = a
        .lookup(&error, &context)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(served.is_some());
    assert_eq!(a_store.queued().await.unwrap_or_else(|e| panic!("{e}")), 2);
    // Meanwhile B learns the same fix as A: the server gives it an id first.
    b.record_success(&error, &context, &shared)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.sync().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server_counts(&url).await, (1, 1, 1));

    relay.restore().await;
    wait_for("A's queue uploaded", Duration::from_secs(20), || async {
        a_store.queued().await.unwrap_or_else(|e| panic!("{e}")) == 0
    })
    .await;
    a.sync().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(a_store.status().online);
    // A's offline fixes joined the fleet's: the shared one under B's id, counted twice.
    assert_eq!(server_counts(&url).await, (2, 3, 3));
    b.sync().await.unwrap_or_else(|e| panic!("{e}"));
    let at_b = b.list(10).await.unwrap_or_else(|e| panic!("{e}"));
    let uses: HashSet<(bool, u32)> = at_b
        .iter()
        .map(|f| (f.proposal == shared, f.stats.uses))
        .collect();
    assert_eq!(uses, HashSet::from([(false, 1), (true, 2)]));
    relay.cut();
    drop((a, b, a_store));
    std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
}

/// A PostgreSQL cluster of the test's own, to kill and restart.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    /// Initializes and starts a cluster.
    fn start(test: &str) -> Cluster {
        let cluster = Cluster::init(test);
        cluster.up();
        cluster
    }

    /// Initializes a cluster without starting it.
    fn init(test: &str) -> Cluster {
        let bin = postgres_programs().expect("PostgreSQL's programs");
        let dir = temp_dir(test);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let cluster = Cluster { bin, dir, port };
        if rustix::process::geteuid().is_root() {
            // The server refuses to run as root.
            cluster.run(
                Command::new("chown")
                    .args(["-R", "postgres"])
                    .arg(&cluster.dir),
            );
        }
        cluster.pg("initdb", |c| {
            c.arg("-D").arg(cluster.dir.join("data")).args([
                "-A",
                "trust",
                "-U",
                "selfheal",
                "--no-sync",
            ]);
        });
        cluster
    }

    /// Accepts only TLS connections, with a server certificate for 127.0.0.1 signed by a CA of
    /// its own; returns the CA's certificate file.
    fn require_tls(&self) -> PathBuf {
        let tls = self.dir.join("tls");
        std::fs::create_dir_all(&tls).unwrap_or_else(|e| panic!("{e}"));
        let openssl = |args: &[&str]| {
            self.run(Command::new("openssl").current_dir(&tls).args(args));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=selfheal test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            tls.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        let data = self.dir.join("data");
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap_or_else(|e| panic!("{e}"));
        std::io::Write::write_all(
            &mut conf,
            format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                tls.join("server.crt").display(),
                tls.join("server.key").display()
            )
            .as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        if rustix::process::geteuid().is_root() {
            self.run(
                Command::new("chown")
                    .args(["-R", "postgres"])
                    .arg(&self.dir),
            );
        }
        self.run(Command::new("chmod").arg("600").arg(tls.join("server.key")));
        tls.join("ca.crt")
    }

    fn url(&self) -> String {
        format!("postgres://selfheal@127.0.0.1:{}/postgres", self.port)
    }

    fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        self.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.dir.join("data"))
                .args(["-o", &options, "-w", "start", "-l"])
                .arg(self.dir.join("log"));
        });
    }

    /// Stops the server the way a crash does: no shutdown checkpoint, clients cut.
    fn kill(&self) {
        self.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"]);
        });
    }

    fn pg(&self, tool: &str, args: impl FnOnce(&mut Command)) {
        let mut command = if rustix::process::geteuid().is_root() {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join(tool));
            command
        } else {
            Command::new(self.bin.join(tool))
        };
        args(&mut command);
        self.run(&mut command);
    }

    fn run(&self, command: &mut Command) {
        let output = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        assert!(output.status.success(), "{command:?}: {output:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn a_server_killed_mid_sync_loses_and_duplicates_nothing() {
    const FIXES: usize = 20_000;
    let cluster = Cluster::start("killed");
    let url = cluster.url();
    let dir = temp_dir("killed-workers");
    let small_batches = FleetOptions {
        upload_batch: 250,
        pull_page: 250,
        ..quick()
    };
    let open = |name: &str| {
        FleetMirror::open(
            dir.join(name).join(STORE_FILE),
            &url,
            Durability::Process,
            small_batches.clone(),
        )
    };
    let a = open("a").await.unwrap_or_else(|e| panic!("{e}"));
    let retention = Retention::default();
    a.import(fixes(FIXES), &retention)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Killed while A uploads: some batches are in, the rest waits.
    wait_for("A's first batches", Duration::from_secs(30), || async {
        a.queued().await.unwrap_or_else(|e| panic!("{e}")) < FIXES as u64
    })
    .await;
    cluster.kill();
    let queued = a.queued().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(queued > 0, "the kill came after the upload finished");
    cluster.up();
    wait_for(
        "A's upload resumed and done",
        Duration::from_secs(60),
        || async { a.queued().await.unwrap_or_else(|e| panic!("{e}")) == 0 },
    )
    .await;
    a.sync_now().await.unwrap_or_else(|e| panic!("{e}"));
    let n = FIXES as i64;
    assert_eq!(server_counts(&url).await, (n, n, n));

    // Killed while B pulls: the pages applied stay, the pull is repeated.
    let b = open("b").await.unwrap_or_else(|e| panic!("{e}"));
    let count = |store: FleetMirror| async move {
        store
            .list(None, usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    wait_for("B's first pages", Duration::from_secs(30), || async {
        !count(b.clone()).await.is_empty()
    })
    .await;
    cluster.kill();
    let applied = count(b.clone()).await.len();
    assert!(applied < FIXES, "the kill came after the pull finished");
    cluster.up();
    wait_for("B's pull repeated", Duration::from_secs(60), || async {
        b.sync_now().await.is_ok()
    })
    .await;
    let pulled = count(b.clone()).await;
    assert_eq!(pulled.len(), FIXES);
    assert!(pulled.iter().all(|f| f.stats.uses == 1));
    let edits: HashSet<String> = pulled
        .iter()
        .map(|f| serde_json::to_string(&f.proposal).unwrap_or_default())
        .collect();
    assert_eq!(edits.len(), FIXES);
    assert_eq!(server_counts(&url).await, (n, n, n));
    eprintln!(
        "killed with {queued} of {FIXES} use entries not uploaded, then with {applied} of {FIXES} fixes pulled"
    );
    drop((a, b));
    std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
}

async fn a_server_that_accepts_only_tls_is_reached_with_sslmode_require() {
    let cluster = Cluster::init("tls");
    let ca = cluster.require_tls();
    cluster.up();
    let url = format!("{}?sslmode=require", cluster.url());
    let dir = temp_dir("tls-workers");
    let worker = |role: &str, ca: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_selfheal-fleet-worker"));
        command.args([url.as_str(), &dir.join(role).to_string_lossy(), role]);
        match ca {
            Some(ca) => command.env("PGSSLROOTCERT", ca),
            None => command.env_remove("PGSSLROOTCERT"),
        };
        command.output().unwrap_or_else(|e| panic!("{e}"))
    };
    // The server's certificate is verified: against an unknown CA the upload fails.
    let untrusted = worker("learn", None);
    assert!(!untrusted.status.success());
    let why = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        why.contains("certificate") || why.contains("Certificate"),
        "{why}"
    );

    let learned = worker("learn", Some(&ca));
    assert!(learned.status.success(), "{learned:?}");
    let served = worker("serve", Some(&ca));
    assert!(served.status.success(), "{served:?}");
    assert!(String::from_utf8_lossy(&served.stdout).contains("useState"));
    let _ = std::fs::remove_dir_all(dir);
}

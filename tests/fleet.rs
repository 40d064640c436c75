//! The fleet store against a real PostgreSQL server: a fix recorded by one worker reaches
//! another, and a change that commits late is never skipped by a pull.
//!
//! The server comes from `SELFHEAL_TEST_PG_URL` (`.ci/run` starts a throwaway cluster on
//! 127.0.0.1); each test works in a database of its own. Without it (outside CI) every test
//! says so loudly and passes.

use selfheal::cache::fleet::{ChangeCursor, FleetStore, NewFleetFix};
use tokio_postgres::NoTls;

/// A fresh database on the test server, as a URL; `None` (after saying why) without a server.
async fn database(test: &str) -> Option<String> {
    let Ok(admin) = std::env::var("SELFHEAL_TEST_PG_URL") else {
        // Only a developer's machine may lack the server: in CI its absence is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the fleet tests: SELFHEAL_TEST_PG_URL is not set"
        );
        eprintln!("\n*** SKIPPED {test}: SELFHEAL_TEST_PG_URL is not set ***\n");
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&admin, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{admin}: {e}"));
    tokio::spawn(connection);
    let name = format!("selfheal_{test}_{}", std::process::id());
    // Databases are copied from a template that must not be in use: one at a time.
    static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = CREATING.lock().await;
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client
            .batch_execute(&statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e:?}"));
    }
    let (base, _) = admin.rsplit_once('/').unwrap_or((&admin, ""));
    Some(format!("{base}/{name}"))
}

fn fix(signature_hash: i64, note: &str) -> NewFleetFix {
    NewFleetFix {
        signature_hash,
        digest: 7,
        record: serde_json::json!({ "example": note }),
        embedder: "lexical-v1".into(),
        embedding: vec![1, 2, 3],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_recorded_by_one_worker_is_pulled_by_another() {
    let Some(url) = database("propagation").await else {
        return;
    };
    let a = FleetStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut b = FleetStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let (empty, cursor) = b
        .pull(ChangeCursor::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(empty.is_empty());

    let id = a
        .record(&fix(11, "first"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (pulled, cursor) = b.pull(cursor).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pulled.len(), 1);
    assert_eq!((pulled[0].id, pulled[0].signature_hash), (id, 11));
    assert_eq!(pulled[0].record["example"], "first");

    // The same signature and edits again: the same fix, refreshed, pulled again.
    let again = a
        .record(&fix(11, "refreshed"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, id);
    a.deprecate(id).await.unwrap_or_else(|e| panic!("{e}"));
    let (pulled, _) = b.pull(cursor).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        pulled
            .iter()
            .any(|f| f.id == id && f.deprecated && f.record["example"] == "refreshed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_commits_late_is_not_skipped() {
    let Some(url) = database("late_commit").await else {
        return;
    };
    let mut worker = FleetStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let recorder = FleetStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // A slow writer takes the lower id and commits last.
    let (mut slow, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(connection);
    let slow_writer = slow.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let slow_id: i64 = slow_writer
        .query_one(
            "INSERT INTO selfheal_fixes (signature_hash, digest, record, embedder, embedding)
             VALUES (1, 1, '{}', 'lexical-v1', '\\x01') RETURNING id",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);

    let fast_id = recorder
        .record(&fix(2, "fast"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(slow_id < fast_id, "the late commit holds the lower id");

    let (first, cursor) = worker
        .pull(ChangeCursor::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<i64> = first.iter().map(|f| f.id).collect();
    assert_eq!(ids, [fast_id], "the uncommitted fix is not visible yet");

    slow_writer.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let (second, _) = worker.pull(cursor).await.unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<i64> = second.iter().map(|f| f.id).collect();
    assert!(
        ids.contains(&slow_id),
        "a cursor past the highest id seen ({fast_id}) would have skipped {slow_id}; pulled {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_workers_migrate_once() {
    let Some(url) = database("migrate").await else {
        return;
    };
    let connects = (0..6).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { FleetStore::connect(&url).await.map(|_| ()) })
    });
    for connected in futures_util::future::join_all(connects).await {
        connected
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(connection);
    let versions: i64 = client
        .query_one("SELECT count(*) FROM selfheal_schema", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(versions, 1);
}

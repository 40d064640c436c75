//! The fleet cache against a real PostgreSQL server (`SELFHEAL_BENCH_PG_URL`, else
//! `SELFHEAL_TEST_PG_URL`; the bench makes and drops a database of its own there).
//!
//! - bulk pull: a new worker's first sync of 100k fixes (binary COPY into its SQLite mirror),
//!   then the time until its cache answers a lookup from them;
//! - incremental sync with no changes: upload nothing, fold nothing, pull nothing;
//! - propagation: a fix recorded by worker A, in worker B's mirror (LISTEN/NOTIFY wake-up).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use selfheal::cache::fleet::{FleetFix, FleetStore, FleetUse};
use selfheal::cache::{
    Durability, Embedder, ErrorSignature, FixCache, FixContext, FixStats, FixStore, FleetMirror,
    FleetOptions, LexicalEmbedder, NewFix, Retention, STORE_FILE,
};
use selfheal::fix::FixProposal;
use selfheal::{Category, Diagnostic, Subcategory};

const FIXES: usize = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn diagnostic(i: usize) -> Diagnostic {
    Diagnostic::new(
        "tsc",
        format!("Cannot find name 'name{i}' in module m{}.", i % 97),
    )
    .with_class(Category::Type, Subcategory::Other)
    .with_code(format!("TS{}", 2000 + i % 320))
    .at("src/app.ts", Some(12), Some(3))
}

fn proposal(i: usize) -> FixProposal {
    FixProposal::from_value(&serde_json::json!({"fixes": [{
        "file": "src/app.ts", "action": "patch", "search": "broken",
        "replace": format!("fixed {i}")
    }]}))
    .expect("a valid proposal")
}

/// The vector the cache's default embedder gives the error's signature.
async fn embedding(error: &Diagnostic) -> Vec<f32> {
    let text = ErrorSignature::of(error).embedding_text();
    LexicalEmbedder::default()
        .embed(&[text])
        .await
        .expect("an embedding")
        .remove(0)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "selfheal-bench-fleet-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A fresh database holding `FIXES` fixes.
async fn seeded(admin: &str) -> String {
    let (client, connection) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .expect("the bench server");
    tokio::spawn(connection);
    for statement in [
        "DROP DATABASE IF EXISTS selfheal_bench_fleet WITH (FORCE)",
        "CREATE DATABASE selfheal_bench_fleet",
    ] {
        client
            .batch_execute(statement)
            .await
            .expect("a bench database");
    }
    let url = format!(
        "{}/selfheal_bench_fleet",
        admin.rsplit_once('/').map_or(admin, |(base, _)| base)
    );
    let mut store = FleetStore::connect(&url).await.expect("connect");
    let stats = FixStats {
        uses: 1,
        successes: 1,
        failures: 0,
        created_at: 1_700_000_000,
        last_used: 1_700_000_000,
    };
    for start in (0..FIXES).step_by(5_000) {
        let mut batch = Vec::with_capacity(5_000);
        for i in start..start + 5_000 {
            let error = diagnostic(i);
            let learned = NewFix {
                signature: ErrorSignature::of(&error),
                example: error.message.clone(),
                context: FixContext::default(),
                proposal: proposal(i),
                embedder: LexicalEmbedder::default().id(),
                embedding: embedding(&error).await,
            };
            let fix = FleetFix::new(&learned, stats).expect("a fix");
            batch.push(fix);
        }
        // Counts reach the fleet as uses, one each.
        let uses: Vec<FleetUse> = (batch.iter().zip(start..))
            .map(|(fix, i)| FleetUse {
                seq: i as i64 + 1,
                partition: fix.partition,
                digest: fix.digest,
                stats,
            })
            .collect();
        store
            .upload(1, &batch, &uses, &Retention::default())
            .await
            .expect("seeding");
    }
    url
}

async fn mirror(url: &str, dir: &std::path::Path) -> FleetMirror {
    FleetMirror::open(
        dir.join(STORE_FILE),
        url,
        Durability::Process,
        FleetOptions::default(),
    )
    .await
    .expect("a mirror")
}

fn fleet(c: &mut Criterion) {
    let Some(admin) = ["SELFHEAL_BENCH_PG_URL", "SELFHEAL_TEST_PG_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
    else {
        eprintln!("fleet bench: set SELFHEAL_BENCH_PG_URL to a PostgreSQL server to run it");
        return;
    };
    let rt = runtime();
    let url = rt.block_on(seeded(&admin));

    let mut group = c.benchmark_group("fleet");
    group.sample_size(10);
    group.bench_function("bulk pull of 100k fixes by a new worker", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let dir = scratch("bulk");
                total += rt.block_on(async {
                    let start = Instant::now();
                    let worker = mirror(&url, &dir).await;
                    worker.sync_now().await.expect("pull");
                    let took = start.elapsed();
                    let pulled = worker.list(None, usize::MAX).await.expect("list").len();
                    assert_eq!(pulled, FIXES);
                    took
                });
                let _ = std::fs::remove_dir_all(&dir);
            }
            total
        })
    });

    let dir = scratch("steady");
    let (a, b_dir) = (rt.block_on(mirror(&url, &dir.join("a"))), dir.join("b"));
    let b = rt.block_on(mirror(&url, &b_dir));
    rt.block_on(async {
        a.sync_now().await.expect("sync");
        b.sync_now().await.expect("sync");
        let start = Instant::now();
        let cache = FixCache::builder()
            .store(Arc::new(b.clone()))
            .await
            .expect("a cache");
        let hit = cache
            .lookup(&diagnostic(7), &FixContext::default())
            .await
            .expect("lookup");
        eprintln!(
            "fleet: a cache over the pulled mirror answered its first lookup (hit: {}) {:.0} ms after opening",
            hit.is_some(),
            start.elapsed().as_secs_f64() * 1e3
        );
    });
    group.sample_size(100);
    group.bench_function("incremental sync with no changes", |bench| {
        bench.iter(|| rt.block_on(a.sync_now()).expect("sync"))
    });

    let mut next = FIXES;
    let mut seen = rt.block_on(latest(&b, 0));
    group.sample_size(30);
    group.bench_function(
        "propagation from worker A's record to worker B's mirror",
        |bench| {
            bench.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    next += 1;
                    let error = diagnostic(next);
                    let fix = NewFix {
                        signature: ErrorSignature::of(&error),
                        example: error.message.clone(),
                        context: FixContext::default(),
                        proposal: proposal(next),
                        embedder: LexicalEmbedder::default().id(),
                        embedding: rt.block_on(embedding(&error)),
                    };
                    let digest = FleetFix::new(&fix, FixStats::default())
                        .expect("a fix")
                        .digest as u64;
                    total += rt.block_on(async {
                        let start = Instant::now();
                        a.record_success(fix, 1_700_000_000, &Retention::default())
                            .await
                            .expect("record");
                        loop {
                            let changes = b.changes(seen, "", 64).await.expect("changes");
                            seen = changes.revision;
                            if changes.fixes.iter().any(|f| f.digest == digest) {
                                break start.elapsed();
                            }
                            tokio::time::sleep(Duration::from_micros(200)).await;
                        }
                    });
                }
                total
            })
        },
    );
    group.finish();
    drop((a, b));
    let _ = std::fs::remove_dir_all(dir);
}

/// The mirror's latest revision.
async fn latest(mirror: &FleetMirror, mut since: i64) -> i64 {
    loop {
        let changes = mirror.changes(since, "", 8_192).await.expect("changes");
        since = changes.revision;
        if !changes.more {
            return since;
        }
    }
}

criterion_group!(benches, fleet);
criterion_main!(benches);

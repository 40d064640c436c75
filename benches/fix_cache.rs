//! The fix cache at 10k, 100k (and, with `SELFHEAL_BENCH_CACHE_SIZES=10000,100000,1000000`, 1M)
//! cached fixes spread over 320 error codes with a Zipf distribution, as real build errors are;
//! lookups are drawn the same way.
//!
//! Every fix has its own signature text (worst case for the index: nothing is shared), so the
//! largest partitions (the most frequent codes) are searched through HNSW graphs. Half of the
//! lookups repeat a cached message (exact-hash path), half reword one (vector path).
//!
//! Criterion measures lookup and insert times; the bench also prints what criterion cannot:
//! lookup p50/p99 over 10k lookups, recall@1 of the index against exact search on the same data,
//! import throughput, memory per entry, and the time from opening a store to its first answered
//! lookup and to its graphs being built. Stores are kept under the target folder between runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use selfheal::cache::{
    CacheConfig, ErrorSignature, ExportedFix, FixCache, FixContext, FixStats, IndexConfig,
    LexicalEmbedder,
};
use selfheal::fix::FixProposal;
use selfheal::{Category, Diagnostic, Subcategory};

const CODES: usize = 320;
const TOOLS: [&str; 8] = [
    "tsc", "rustc", "eslint", "mypy", "gcc", "python", "node", "webpack",
];
const WORDS: usize = 5_000;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// Zipf (s = 1) over the codes.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf(cdf)
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        self.0.partition_point(|c| *c < u).min(self.0.len() - 1)
    }
}

/// A pronounceable pseudo-word: unquoted words survive normalization, so they make each
/// message its own signature.
fn word(i: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "ta", "vo", "xe", "bi", "do", "fu", "ge", "hi", "jo", "pe",
        "zu",
    ];
    let mut i = i + 16;
    let mut word = String::new();
    while i > 0 {
        word.push_str(SYLLABLES[i % 16]);
        i /= 16;
    }
    word
}

fn diagnostic(code: usize, words: [usize; 3]) -> Diagnostic {
    let tool = TOOLS[code % TOOLS.len()];
    let message = format!(
        "{} {} '{}' {} {} in {} {} {}",
        word(code * 3),
        word(code * 3 + 1),
        word(words[0]),
        word(code * 3 + 2),
        word(words[0]),
        word(words[1]),
        word(words[2]),
        word(code * 7 % WORDS),
    );
    Diagnostic::new(tool, message)
        .with_class(Category::Type, Subcategory::Other)
        .with_code(format!("E{code:04}"))
        .at("src/app.ts", Some(12), Some(3))
}

/// The `i`-th cached fix's error: its code drawn by Zipf, its words by `i`.
fn fix_error(i: usize, zipf: &Zipf) -> Diagnostic {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let code = zipf.sample(&mut rng);
    diagnostic(code, [rng.below(WORDS), rng.below(WORDS), rng.below(WORDS)])
}

/// A lookup: a cached error (even draws) or one with a word changed (odd draws).
fn query(rng: &mut Rng, size: usize, zipf: &Zipf) -> Diagnostic {
    let i = rng.below(size);
    let mut error = fix_error(i, zipf);
    if rng.next() % 2 == 1 {
        let words: Vec<&str> = error.message.split(' ').collect();
        let changed = 5 + rng.below(2);
        let mut reworded: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        reworded[changed] = word(rng.below(WORDS));
        error.message = reworded.join(" ");
    }
    error
}

fn proposal(i: usize) -> FixProposal {
    FixProposal::from_value(&serde_json::json!({
        "fixes": [{"file": "src/app.ts", "action": "patch", "search": "broken", "replace": format!("fixed {i}")}]
    }))
    .expect("a valid proposal")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn store_dir(size: usize) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join(format!("selfheal-bench/fix-cache-{size}"))
}

/// The store of `size` fixes, made once (by import: batches of 1000 per transaction).
fn ensure_store(rt: &tokio::runtime::Runtime, size: usize, zipf: &Zipf) -> PathBuf {
    let dir = store_dir(size);
    let done = dir.join("complete");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut lines = Vec::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    for i in 0..size {
        let error = fix_error(i, zipf);
        let fix = ExportedFix {
            signature: ErrorSignature::of(&error),
            example: error.message.clone(),
            context: FixContext::default(),
            proposal: proposal(i),
            stats: FixStats {
                uses: 1 + (i % 5) as u32,
                successes: 1 + (i % 5) as u32,
                failures: 0,
                created_at: now,
                last_used: now - (i % 60) as i64 * 86_400 / 2,
            },
            deprecated: false,
        };
        serde_json::to_writer(&mut lines, &fix).expect("json");
        lines.push(b'\n');
    }
    let started = Instant::now();
    rt.block_on(async {
        let cache = FixCache::open(&dir).await.expect("cache");
        let report = cache.import(&mut lines.as_slice()).await.expect("import");
        assert_eq!(report.read, size);
    });
    let elapsed = started.elapsed();
    println!(
        "fix_cache/{size}: import {:.1} s, {:.0} fixes/s (embedding included)",
        elapsed.as_secs_f64(),
        size as f64 / elapsed.as_secs_f64()
    );
    std::fs::write(done, b"").expect("marker");
    dir
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = (statm.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn bench_size(c: &mut Criterion, rt: &tokio::runtime::Runtime, size: usize) {
    let zipf = Zipf::new(CODES);
    let dir = ensure_store(rt, size, &zipf);
    let context = FixContext::default();

    // Start-up: open, answer one lookup (exact search while graphs build), then graphs ready.
    let before = rss_bytes();
    let started = Instant::now();
    let cache = rt.block_on(FixCache::open(&dir)).expect("open");
    let mut rng = Rng(42);
    rt.block_on(cache.lookup(&query(&mut rng, size, &zipf), &context))
        .expect("lookup");
    let first_answer = started.elapsed();
    println!(
        "fix_cache/{size}: first lookup answered {:.2} s after open",
        first_answer.as_secs_f64()
    );
    let _ = std::io::stdout().flush();
    rt.block_on(cache.ready());
    let graphs_ready = started.elapsed();
    let memory = rss_bytes().saturating_sub(before);
    let stats = rt.block_on(cache.stats()).expect("stats");
    println!(
        "fix_cache/{size}: graphs ready {:.1} s after open; {} signatures in {} partitions, \
         {} in graphs; {:.0} bytes of memory per entry",
        graphs_ready.as_secs_f64(),
        stats.signatures,
        stats.partitions,
        stats.signatures_in_graphs,
        memory as f64 / size as f64
    );

    // Percentiles and recall@1 against exact search on the same store.
    let exact = rt
        .block_on(
            FixCache::builder()
                .config(CacheConfig {
                    index: IndexConfig {
                        exact_below: usize::MAX,
                        ..IndexConfig::default()
                    },
                    ..CacheConfig::default()
                })
                .open(&dir),
        )
        .expect("exact cache");
    let mut rng = Rng(7);
    let mut times = Vec::with_capacity(10_000);
    let (mut agree, mut answered) = (0, 0);
    for _ in 0..10_000 {
        let error = query(&mut rng, size, &zipf);
        let started = Instant::now();
        let hit = rt.block_on(cache.lookup(&error, &context)).expect("lookup");
        times.push(started.elapsed());
        if let Some(truth) = rt.block_on(exact.lookup(&error, &context)).expect("lookup") {
            answered += 1;
            agree += usize::from(hit.is_some_and(|hit| hit.fix.id == truth.fix.id));
        }
    }
    drop(exact);
    times.sort();
    println!(
        "fix_cache/{size}: lookup p50 {:?}, p99 {:?}, max {:?}; recall@1 {:.4} ({agree}/{answered})",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1],
        agree as f64 / answered.max(1) as f64
    );
    let _ = std::io::stdout().flush();

    let mut group = c.benchmark_group(format!("fix_cache/{size}"));
    group.sample_size(20);
    let mut rng = Rng(99);
    group.bench_function("lookup", |b| {
        b.iter_batched(
            || query(&mut rng, size, &zipf),
            |error| rt.block_on(cache.lookup(&error, &context)).expect("lookup"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Durable single inserts (one transaction each) into a fresh cache, and the lexical embedder.
fn bench_inserts(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let zipf = Zipf::new(CODES);
    let embedder = LexicalEmbedder::default();
    let texts: Vec<String> = (0..1_000)
        .map(|i| ErrorSignature::of(&fix_error(i, &zipf)).embedding_text())
        .collect();
    let mut group = c.benchmark_group("fix_cache");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("lexical_embed", |b| {
        b.iter(|| texts.iter().map(|t| embedder.vector(t)).collect::<Vec<_>>())
    });
    group.finish();
    let dir = store_dir(0).with_file_name("fix-cache-inserts");
    let _ = std::fs::remove_dir_all(&dir);
    let cache = rt.block_on(FixCache::open(&dir)).expect("open");
    let context = FixContext::default();
    let mut next = 0;
    c.bench_function("fix_cache/record_success", |b| {
        b.iter_batched(
            || {
                next += 1;
                (fix_error(next, &zipf), proposal(next))
            },
            |(error, fix)| {
                rt.block_on(cache.record_success(&error, &context, &fix))
                    .expect("record")
            },
            BatchSize::SmallInput,
        )
    });
    drop(cache);
    let _ = std::fs::remove_dir_all(&dir);
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let sizes =
        std::env::var("SELFHEAL_BENCH_CACHE_SIZES").unwrap_or_else(|_| "10000,100000".into());
    bench_inserts(c, &rt);
    for size in sizes.split(',').filter_map(|s| s.trim().parse().ok()) {
        bench_size(c, &rt, size);
    }
}

criterion_group!(fix_cache, benches);
criterion_main!(fix_cache);

//! The fix cache on real tool output: matching across instances of one error, never across
//! error codes, learning from outcomes, retention, export and import, and several processes
//! sharing one store (including writers killed with SIGKILL).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use regex::Regex;
use selfheal::cache::{
    CacheConfig, ErrorSignature, FixCache, FixContext, IndexConfig, Match, STORE_FILE, SqliteStore,
};
use selfheal::fix::FixProposal;
use selfheal::parse::ParserSet;
use selfheal::time::VirtualClock;
use selfheal::{Category, Diagnostic};
use serde_json::json;

use crate::support;

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(async the_same_error_elsewhere_finds_its_fix_and_another_code_never_does),
        trial!(async a_similar_message_matches_by_vector_and_says_why),
        trial!(async failures_are_remembered_deprecate_and_pruning_forgets),
        trial!(async prune_removes_fixes_that_fail_too_often),
        trial!(async export_and_import_carry_fixes_and_stats_and_refuse_bad_lines),
        trial!(async two_caches_on_one_folder_see_each_others_fixes),
        trial!(async(threads = 2) large_partitions_are_searched_through_graphs_built_in_the_background),
        trial!(async concurrent_processes_lose_no_count),
        trial!(async a_writer_killed_with_sigkill_loses_at_most_its_in_flight_fix),
        trial!(async a_cache_that_cannot_be_opened_says_why_and_keeps_the_cause),
    ]
    .into_iter()
    .chain(http_embedder::tests())
    .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    support::scratch(&format!("cache-{name}"))
}

fn proposal(tag: &str) -> FixProposal {
    FixProposal::from_value(&json!({
        "analysis": format!("fix {tag}"),
        "fixes": [{"file": "src/fix.txt", "action": "patch", "search": "broken", "replace": tag}]
    }))
    .unwrap()
}

fn parse(log: &str) -> Diagnostic {
    ParserSet::new().parse(log).remove(0)
}

/// Every diagnostic of the parser corpus.
fn corpus() -> Vec<Diagnostic> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/parsers");
    let mut diagnostics = Vec::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flat_map(|tool| {
            std::fs::read_dir(tool.unwrap().path())
                .into_iter()
                .flatten()
        })
        .map(|case| case.unwrap().path())
        .filter(|case| case.join("log.txt").exists())
        .collect();
    cases.sort();
    for case in cases {
        let log = std::fs::read_to_string(case.join("log.txt")).unwrap();
        diagnostics.extend(ParserSet::new().parse(&log));
    }
    assert!(diagnostics.len() > 200, "{} diagnostics", diagnostics.len());
    diagnostics
}

/// The same error somewhere else: other file, other line, other identifiers and numbers.
fn elsewhere(diagnostic: &Diagnostic) -> Diagnostic {
    static QUOTED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(['"`‘])([A-Za-z_][\w.-]{0,40})(['"`’])"#).unwrap());
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d+\b").unwrap());
    let (quoted, number) = (&*QUOTED, &*NUMBER);
    let mut moved = diagnostic.clone();
    // A dependency error's package is part of its identity (a hard filter): it stays.
    if diagnostic.category != Category::Dependency {
        moved.message = quoted
            .replace_all(&diagnostic.message, "${1}${2}Other${3}")
            .into_owned();
    }
    moved.message = number
        .replace_all(&moved.message, |c: &regex::Captures<'_>| {
            format!("{}", c[0].parse::<u64>().unwrap_or(0) + 7)
        })
        .into_owned();
    moved.file = diagnostic.file.as_ref().map(|file| {
        let name = file.rsplit('/').next().unwrap_or(file);
        format!("packages/other/src/{name}")
    });
    moved.line = diagnostic.line.map(|line| line + 41);
    moved
}

async fn the_same_error_elsewhere_finds_its_fix_and_another_code_never_does() {
    let dir = temp_dir("quality");
    let cache = FixCache::open(&dir).await.unwrap();
    let diagnostics = corpus();
    let mut fix_of: HashMap<u64, FixProposal> = HashMap::new();
    for diagnostic in &diagnostics {
        let signature = ErrorSignature::of(diagnostic);
        if fix_of.contains_key(&signature.hash) {
            continue;
        }
        let fix = proposal(&format!("sig-{:x}", signature.hash));
        cache
            .record_success(diagnostic, &FixContext::default(), &fix)
            .await
            .unwrap();
        fix_of.insert(signature.hash, fix);
    }

    let mut found = 0;
    for diagnostic in &diagnostics {
        let moved = elsewhere(diagnostic);
        let hit = cache
            .lookup(&moved, &FixContext::default())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no fix for {moved:?}"));
        assert_eq!(
            hit.fix.signature.filter,
            ErrorSignature::of(diagnostic).filter
        );
        assert_eq!(
            Some(&hit.fix.proposal),
            fix_of.get(&ErrorSignature::of(diagnostic).hash),
            "{} → {}",
            diagnostic.message,
            moved.message
        );
        found += 1;
    }
    assert_eq!(found, diagnostics.len());

    // The same messages under codes no fix was recorded for: never a hit.
    let codes: Vec<String> = diagnostics.iter().filter_map(|d| d.code.clone()).collect();
    for (i, diagnostic) in diagnostics.iter().enumerate() {
        let mut recoded = diagnostic.clone();
        recoded.code = Some(format!("{}-other", codes[i % codes.len()]));
        let hit = cache
            .lookup(&recoded, &FixContext::default())
            .await
            .unwrap();
        assert!(hit.is_none(), "{recoded:?} matched {hit:?}");
    }
    // Under another code of the corpus: only that code's fixes.
    for (i, diagnostic) in diagnostics.iter().enumerate() {
        let mut recoded = diagnostic.clone();
        recoded.code = Some(codes[(i * 7 + 3) % codes.len()].clone());
        if let Some(hit) = cache
            .lookup(&recoded, &FixContext::default())
            .await
            .unwrap()
        {
            assert_eq!(hit.fix.signature.filter.code, recoded.code);
        }
    }
    let stats = cache.stats().await.unwrap();
    assert_eq!(stats.fixes, fix_of.len());
    assert!(stats.hits as usize >= diagnostics.len() && stats.misses as usize >= diagnostics.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn a_similar_message_matches_by_vector_and_says_why() {
    let dir = temp_dir("similar");
    let cache = FixCache::open(&dir).await.unwrap();
    let short = parse("error[E0308]: mismatched types\n --> src/main.rs:4:18\n");
    let long = parse(
        "error[E0308]: mismatched types: expected `u32`, found `String`\n --> src/lib.rs:9:5\n",
    );
    assert_ne!(
        ErrorSignature::of(&short).hash,
        ErrorSignature::of(&long).hash
    );
    cache
        .record_success(
            &short,
            &FixContext::default().language("rust"),
            &proposal("cast"),
        )
        .await
        .unwrap();
    let hit = cache
        .lookup(&long, &FixContext::default().language("rust"))
        .await
        .unwrap()
        .expect("a similar hit");
    assert_eq!(hit.matched, Match::Similar);
    assert!(
        hit.score.similarity >= 0.75 && hit.score.similarity < 1.0,
        "{:?}",
        hit.score
    );
    assert_eq!(hit.score.success_rate, 1.0);
    assert_eq!(hit.score.context, 1.0);
    let exact = cache
        .lookup(&short, &FixContext::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exact.matched, Match::Exact);
    assert_eq!(exact.score.similarity, 1.0);
    // Another language's project agrees less, so the same fix scores lower.
    let python = cache
        .lookup(&short, &FixContext::default().language("python"))
        .await
        .unwrap()
        .unwrap();
    assert!(python.score.total < exact.score.total);
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn failures_are_remembered_deprecate_and_pruning_forgets() {
    let dir = temp_dir("learning");
    let clock = Arc::new(VirtualClock::new());
    let cache = FixCache::builder()
        .clock(clock.clone())
        .open(&dir)
        .await
        .unwrap();
    let context = FixContext::default();
    let error = parse("src/a.ts(1,1): error TS2304: Cannot find name 'foo'.\n");
    let sibling = parse("src/b.ts(2,2): error TS2304: Cannot find name 'bar' here.\n");
    let good = proposal("import");
    let id = cache.record_success(&error, &context, &good).await.unwrap();
    assert_eq!(
        cache
            .record_success(&sibling, &context, &good)
            .await
            .unwrap(),
        id,
        "the same edits in the same partition are one fix"
    );

    // It failed once for `sibling`: never served for it again, still served for `error`.
    cache.record_failure(&sibling, &good).await.unwrap();
    assert!(cache.lookup(&sibling, &context).await.unwrap().is_none());
    assert_eq!(
        cache.failed_attempts(&sibling).await.unwrap(),
        vec![good.clone()]
    );
    let hit = cache.lookup(&error, &context).await.unwrap().unwrap();
    assert_eq!((hit.fix.stats.uses, hit.fix.stats.successes), (3, 2));

    // Below the minimum success rate (0.6) it is not served; at 1/5 it is deprecated.
    let bad = proposal("wrong");
    let third = parse("src/c.ts(3,3): error TS2304: Cannot find name 'baz'.\n");
    let bad_id = cache.record_success(&third, &context, &bad).await.unwrap();
    for _ in 0..4 {
        cache.record_failure(&error, &bad).await.unwrap();
    }
    let listed = cache.list(10).await.unwrap();
    let bad_fix = listed.iter().find(|f| f.id == bad_id).unwrap();
    assert_eq!((bad_fix.stats.uses, bad_fix.stats.failures), (5, 4));
    assert!(bad_fix.deprecated);
    assert_eq!(cache.stats().await.unwrap().deprecated, 1);

    // Recency decays; after 91 days unused, everything is pruned.
    let fresh = cache.lookup(&error, &context).await.unwrap().unwrap();
    clock.advance(Duration::from_secs(30 * 86_400));
    let month = cache.lookup(&error, &context).await.unwrap().unwrap();
    assert!(
        (month.score.recency - (-1f64).exp()).abs() < 0.01,
        "{:?}",
        month.score
    );
    assert!(month.score.total < fresh.score.total);
    assert_eq!(cache.prune().await.unwrap(), 0);
    clock.advance(Duration::from_secs(61 * 86_400));
    assert_eq!(cache.prune().await.unwrap(), 2);
    assert!(cache.lookup(&error, &context).await.unwrap().is_none());
    assert_eq!(cache.stats().await.unwrap().fixes, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn prune_removes_fixes_that_fail_too_often() {
    let dir = temp_dir("prune-rate");
    let cache = FixCache::open(&dir).await.unwrap();
    let context = FixContext::default();
    let error = parse("src/a.py:3: error: Name \"x\" is not defined  [name-defined]\n");
    let fix = proposal("define");
    cache.record_success(&error, &context, &fix).await.unwrap();
    let other = parse("src/b.py:4: error: Name \"y\" is not defined here  [name-defined]\n");
    cache
        .record_success(&other, &context, &proposal("kept"))
        .await
        .unwrap();
    for _ in 0..2 {
        cache.record_success(&error, &context, &fix).await.unwrap();
    }
    // 3 successes in 11 uses: 0.27 < 0.3 after ≥ 10 uses.
    let third = parse("src/c.py:5: error: Name \"z\" is not defined at all  [name-defined]\n");
    for _ in 0..8 {
        cache.record_failure(&third, &fix).await.unwrap();
    }
    assert_eq!(cache.prune().await.unwrap(), 1);
    let left = cache.list(10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].proposal, proposal("kept"));
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn export_and_import_carry_fixes_and_stats_and_refuse_bad_lines() {
    let (from, to) = (temp_dir("export"), temp_dir("import"));
    let source = FixCache::open(&from).await.unwrap();
    let context = FixContext::default().framework("next");
    let errors = [
        "src/a.ts(1,1): error TS2304: Cannot find name 'foo'.\n",
        "src/b.ts(1,1): error TS2322: Type 'string' is not assignable to type 'number'.\n",
        "src/c.ts(1,1): error TS2307: Cannot find module 'react-dom/client' or its corresponding type declarations.\n",
    ];
    for (i, log) in errors.iter().enumerate() {
        let fix = proposal(&format!("fix{i}"));
        for _ in 0..=i {
            source
                .record_success(&parse(log), &context, &fix)
                .await
                .unwrap();
        }
    }
    let mut exported = Vec::new();
    assert_eq!(source.export(&mut exported).await.unwrap(), 3);
    let text = String::from_utf8(exported.clone()).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(
        !text.contains("embedding"),
        "vectors are recomputed, not exported"
    );

    let target = FixCache::open(&to).await.unwrap();
    let report = target.import(&mut exported.as_slice()).await.unwrap();
    assert_eq!((report.read, report.added), (3, 3));
    for (i, log) in errors.iter().enumerate() {
        let hit = target.lookup(&parse(log), &context).await.unwrap().unwrap();
        assert_eq!(hit.fix.proposal, proposal(&format!("fix{i}")));
        assert_eq!(hit.fix.stats.uses as usize, i + 1);
    }
    // Importing again merges: counts add up, nothing new.
    let again = target.import(&mut exported.as_slice()).await.unwrap();
    assert_eq!((again.read, again.added), (3, 0));
    assert_eq!(target.stats().await.unwrap().uses, 2 * (1 + 2 + 3));

    // A bad line fails the import with its number, and its batch is not stored.
    let bad = format!("{}\n{{\"signature\": 1}}\n", text.lines().next().unwrap()).into_bytes();
    let fresh = FixCache::open(temp_dir("import-bad")).await.unwrap();
    let error = fresh.import(&mut bad.as_slice()).await.unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
    assert_eq!(fresh.stats().await.unwrap().fixes, 0);
    for dir in [from, to, temp_dir("import-bad")] {
        std::fs::remove_dir_all(dir).ok();
    }
}

async fn two_caches_on_one_folder_see_each_others_fixes() {
    let dir = temp_dir("shared");
    let config = CacheConfig {
        sync_interval: Duration::ZERO,
        ..CacheConfig::default()
    };
    let a = FixCache::builder()
        .config(config.clone())
        .open(&dir)
        .await
        .unwrap();
    let b = FixCache::builder().config(config).open(&dir).await.unwrap();
    let error = parse("src/a.ts(1,1): error TS2304: Cannot find name 'foo'.\n");
    assert!(
        b.lookup(&error, &FixContext::default())
            .await
            .unwrap()
            .is_none()
    );
    a.record_success(&error, &FixContext::default(), &proposal("shared"))
        .await
        .unwrap();
    let hit = b
        .lookup(&error, &FixContext::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hit.fix.proposal, proposal("shared"));
    // Negative memory and pruning travel too.
    b.record_failure(&error, &proposal("shared")).await.unwrap();
    assert!(
        a.lookup(&error, &FixContext::default())
            .await
            .unwrap()
            .is_none()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn large_partitions_are_searched_through_graphs_built_in_the_background() {
    let dir = temp_dir("graphs");
    let config = CacheConfig {
        index: IndexConfig {
            exact_below: 60,
            ..IndexConfig::default()
        },
        ..CacheConfig::default()
    };
    let cache = FixCache::builder()
        .config(config.clone())
        .open(&dir)
        .await
        .unwrap();
    let context = FixContext::default();
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    ];
    let error = |i: usize| {
        parse(&format!(
            "src/a.ts(1,1): error TS2339: Property 'x' does not exist on {} {} {}.\n",
            words[i % 8],
            words[(i / 8) % 8],
            words[(i / 64) % 8]
        ))
    };
    for i in 0..150 {
        cache
            .record_success(&error(i), &context, &proposal(&format!("p{i}")))
            .await
            .unwrap();
    }
    cache.ready().await;
    let stats = cache.stats().await.unwrap();
    // Signatures recorded while a graph was being built are searched beside it until they
    // pass a tenth of it.
    assert_eq!(stats.signatures, 150);
    assert!(stats.signatures_in_graphs >= 136, "{stats:?}");
    for i in [0, 77, 149] {
        let hit = cache.lookup(&error(i), &context).await.unwrap().unwrap();
        assert_eq!(hit.fix.proposal, proposal(&format!("p{i}")));
    }
    // A second process opening the store builds its own graphs from the records.
    let reopened = FixCache::builder().config(config).open(&dir).await.unwrap();
    reopened.ready().await;
    assert_eq!(reopened.stats().await.unwrap().signatures_in_graphs, 150);
    let hit = reopened
        .lookup(&error(42), &context)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hit.fix.proposal, proposal("p42"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn writer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_selfheal-cache-writer"))
}

async fn concurrent_processes_lose_no_count() {
    let dir = temp_dir("processes");
    let children: Vec<_> = (0..4)
        .map(|_| {
            writer()
                .arg(&dir)
                .args(["same", "50"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let cache = FixCache::open(&dir).await.unwrap();
    let stats = cache.stats().await.unwrap();
    assert_eq!((stats.fixes, stats.uses, stats.successes), (1, 200, 200));
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn a_writer_killed_with_sigkill_loses_at_most_its_in_flight_fix() {
    use std::io::{BufRead, BufReader};

    let dir = temp_dir("sigkill");
    let mut committed = 0u64;
    for round in 0..5u64 {
        let mut child = writer()
            .arg(&dir)
            .args(["distinct", &(committed).to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill it at a different point each round.
        let wait_for = 20 + round * 37;
        let mut last = None;
        for line in lines.by_ref() {
            let n: u64 = line.unwrap().parse().unwrap();
            last = Some(n);
            if n >= committed + wait_for {
                break;
            }
        }
        kill_hard(child.id());
        child.wait().unwrap();
        // What it printed before it died is still in the pipe.
        for line in lines {
            last = Some(line.unwrap().parse().unwrap());
        }
        let reported = last.expect("the writer committed something") + 1;

        let store = SqliteStore::open(dir.join(STORE_FILE), Default::default()).unwrap();
        store.check_integrity().await.unwrap();
        let cache = FixCache::open(&dir).await.unwrap();
        let fixes = cache.stats().await.unwrap().fixes as u64;
        assert!(
            fixes == reported || fixes == reported + 1,
            "round {round}: {fixes} stored, {reported} reported committed"
        );
        committed = fixes;
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn a_cache_that_cannot_be_opened_says_why_and_keeps_the_cause() {
    let dir = temp_dir("blocked");
    let file = dir.join("not-a-folder");
    std::fs::write(&file, "").unwrap();
    let error = FixCache::open(&file.join("cache")).await.unwrap_err();
    assert!(
        matches!(&error, selfheal::Error::Cache { message, .. } if message.contains("not-a-folder")),
        "{error}"
    );
    assert_eq!(error.kind(), selfheal::ErrorKind::Cache);
    let cause = std::error::Error::source(&error)
        .and_then(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    assert_eq!(cause, Some(std::io::ErrorKind::NotADirectory), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn kill_hard(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("SIGKILL");
}

use selfheal_test_harness::{Test, trial};

mod http_embedder {
    use super::*;
    use crate::support::{Reply, Server};
    use selfheal::cache::{Embedder, LexicalEmbedder, OpenAiEmbedder};
    use selfheal::llm::ProviderErrorKind;

    pub(super) fn tests() -> Vec<Test> {
        vec![
            trial!(async speaks_the_embeddings_wire_format_and_normalizes),
            trial!(async faults_are_typed_errors),
            trial!(async a_cache_can_use_it),
        ]
    }

    /// A reply in OpenAI's format: vectors three times too long, listed in reverse order.
    fn embeddings(vectors: &[Vec<f32>]) -> Reply {
        let data: Vec<_> = (vectors.iter().enumerate().rev())
            .map(|(index, vector)| {
                let scaled: Vec<f32> = vector.iter().map(|x| x * 3.0).collect();
                json!({"object": "embedding", "index": index, "embedding": scaled})
            })
            .collect();
        Reply::json(
            200,
            json!({"object": "list", "data": data, "model": "embed-test",
                   "usage": {"prompt_tokens": 8, "total_tokens": 8}}),
        )
    }

    fn embedder(server: &Server) -> OpenAiEmbedder {
        OpenAiEmbedder::compatible(
            format!("{}/v1", server.url()),
            Some("sk-test".into()),
            "embed-test",
            256,
        )
        .unwrap()
        .threshold(0.75)
    }

    async fn speaks_the_embeddings_wire_format_and_normalizes() {
        let server = Server::start().await;
        let lexical = LexicalEmbedder::default();
        let texts = vec![
            "[TS2304] Cannot find name '<q>'.".to_string(),
            "other".to_string(),
        ];
        let expected: Vec<Vec<f32>> = texts.iter().map(|t| lexical.vector(t)).collect();
        server.push(embeddings(&expected));
        let vectors = embedder(&server).embed(&texts).await.unwrap();
        for (got, want) in vectors.iter().zip(&expected) {
            assert!(got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5));
        }
        let request = &server.received()[0];
        assert_eq!(request.path, "/v1/embeddings");
        assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
        assert_eq!(request.body["model"], "embed-test");
        assert_eq!(request.body["input"], json!(texts));
    }

    async fn faults_are_typed_errors() {
        let server = Server::start().await;
        let embedder = embedder(&server);
        let text = vec!["x".to_string()];
        server.push(Reply::json_with(
            429,
            json!({"error": {"message": "slow down", "type": "rate_limit_exceeded"}}),
            &[("retry-after", "7")],
        ));
        let error = embedder.embed(&text).await.unwrap_err();
        let provider = error.as_provider_error().unwrap();
        assert_eq!(provider.kind, ProviderErrorKind::RateLimited);
        assert_eq!(provider.retry_after, Some(Duration::from_secs(7)));
        assert!(error.is_retryable());

        server.push(Reply::json(500, json!({"error": "boom"})));
        let error = embedder.embed(&text).await.unwrap_err();
        assert_eq!(
            error.as_provider_error().unwrap().kind,
            ProviderErrorKind::Server
        );

        server.push(embeddings(&[vec![1.0; 3]]));
        let error = embedder.embed(&text).await.unwrap_err();
        assert_eq!(
            error.as_provider_error().unwrap().kind,
            ProviderErrorKind::MalformedResponse
        );
        assert!(error.to_string().contains("3 dimensions"), "{error}");

        let body = json!({"data": [{"index": 0, "embedding": vec![0.5; 256]}]}).to_string();
        let sent = body.len() / 2;
        server.push(Reply::CutBody { body, sent });
        let error = embedder.embed(&text).await.unwrap_err();
        assert!(error.as_provider_error().is_some(), "{error}");
    }

    async fn a_cache_can_use_it() {
        let server = Server::start().await;
        let dir = temp_dir("http-embedder");
        let cache = FixCache::builder()
            .embedder(Arc::new(embedder(&server)))
            .open(&dir)
            .await
            .unwrap();
        let short = parse("error[E0308]: mismatched types\n --> src/main.rs:4:18\n");
        let long = parse(
            "error[E0308]: mismatched types: expected `u32`, found `String`\n --> src/lib.rs:9:5\n",
        );
        let lexical = LexicalEmbedder::default();
        for diagnostic in [&short, &long] {
            let text = ErrorSignature::of(diagnostic).embedding_text();
            server.push(embeddings(&[lexical.vector(&text)]));
        }
        let context = FixContext::default();
        cache
            .record_success(&short, &context, &proposal("cast"))
            .await
            .unwrap();
        let hit = cache.lookup(&long, &context).await.unwrap().unwrap();
        assert_eq!(hit.matched, Match::Similar);
        assert_eq!(
            cache.stats().await.unwrap().embedder,
            "openai:embed-test:256"
        );
        assert_eq!(server.received().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

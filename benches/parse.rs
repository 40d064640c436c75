//! Throughput of `ParserSet::parse` on a large realistic log, against the seed's naive parser.
//!
//! The log (> 50 MB) interleaves every fixture log under `tests/fixtures/parsers` with the noise
//! real builds print between errors: npm progress lines rewritten with `\r`, cargo `Compiling`
//! lines, passing tests, bundler asset listings, BuildKit steps. About one byte in eight belongs
//! to a tool's report.
//!
//! The floor is the seed design (seed 000 §3.4.2): one regex list per category, each run over the
//! whole output, and a location searched in the 200 characters after every match.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regex::Regex;
use selfheal::parse::ParserSet;

const TARGET_BYTES: usize = 50 * 1024 * 1024 + 1;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

fn fixture_logs() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/parsers");
    let mut logs = Vec::new();
    for tool in std::fs::read_dir(&root).expect("fixtures") {
        let tool = tool.expect("entry").path();
        for case in std::fs::read_dir(&tool).into_iter().flatten() {
            let log = case.expect("entry").path().join("log.txt");
            if let Ok(bytes) = std::fs::read(&log) {
                logs.push(bytes);
            }
        }
    }
    logs.sort();
    logs
}

fn noise_line(rng: &mut Rng, out: &mut Vec<u8>) {
    let n = rng.below(10_000);
    let line = match rng.below(8) {
        0 => format!(
            "\u{2e28}##########\u{2e29} \u{2807} reify:lodash: timing reifyNode:node_modules/pkg-{n} Completed in {}ms\r",
            n % 97
        ),
        1 => format!(
            "   Compiling crate-{n} v0.{}.{} (registry+https://github.com/rust-lang/crates.io-index)",
            n % 9,
            n % 31
        ),
        2 => format!("test tests::case_{n} ... ok"),
        3 => format!(
            "tests/test_module_{}.py::test_feature_{n} PASSED                          [{:>3}%]",
            n % 50,
            n % 100
        ),
        4 => format!(
            "asset chunk-{n}.js {}.{} KiB [emitted] [minimized] (name: chunk-{n})",
            n % 300,
            n % 10
        ),
        5 => format!("#{} sha256:{:016x}{:016x}", n % 40, rng.next(), rng.next()),
        6 => format!("  \u{2713} renders component {n} ({}ms)", n % 40),
        _ => format!(
            "[{:02}:{:02}:{:02}] Starting 'build:{n}'...",
            n % 24,
            n % 60,
            n % 60
        ),
    };
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}

/// The benchmark log: fixture logs in random order, each preceded by noise.
fn assemble_log() -> Vec<u8> {
    let logs = fixture_logs();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(TARGET_BYTES + (1 << 20));
    while out.len() < TARGET_BYTES {
        let noise_lines = 40 + rng.below(160);
        for _ in 0..noise_lines {
            noise_line(&mut rng, &mut out);
        }
        out.extend_from_slice(&logs[rng.below(logs.len())]);
        if out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
    }
    out
}

/// The seed's parser: a regex list per category, every pattern over the whole text, a file
/// location looked for in the next 200 characters after each match.
struct SeedParser {
    patterns: Vec<(&'static str, Regex)>,
    location: Regex,
}

impl SeedParser {
    fn new() -> Self {
        let table: &[(&str, &[&str])] = &[
            (
                "dependency",
                &[
                    r#"Cannot find module ['"]([^'"]+)['"]"#,
                    r#"Module not found: Error: Can't resolve ['"]([^'"]+)['"]"#,
                    r"npm ERR! peer dep missing: ([^,]+)",
                    r"ERESOLVE unable to resolve dependency tree",
                    r"node-gyp rebuild failed",
                    r"Could not resolve dependency",
                    r"ENOENT: no such file or directory.*node_modules",
                ],
            ),
            (
                "syntax",
                &[
                    r"SyntaxError: (.+) at line (\d+)",
                    r"Unexpected token (.+)",
                    r"Parsing error: (.+)",
                    r"error: Expected (.+) but found (.+)",
                ],
            ),
            (
                "type",
                &[
                    r#"Type ['"]([^'"]+)['"] is not assignable to type ['"]([^'"]+)['"]"#,
                    r#"Property ['"]([^'"]+)['"] does not exist on type ['"]([^'"]+)['"]"#,
                    r"Cannot read propert(y|ies) of (undefined|null)",
                    r"TS\d+: (.+)",
                    r#"Argument of type ['"]([^'"]+)['"] is not assignable"#,
                ],
            ),
            (
                "runtime",
                &[
                    r#"Error: Cannot find module ['"]([^'"]+)['"]"#,
                    r"ReferenceError: (.+) is not defined",
                    r"Error: ENOENT: no such file or directory",
                    r"EACCES: permission denied",
                    r"Missing required environment variable: (\w+)",
                ],
            ),
            (
                "resource",
                &[
                    r"FATAL ERROR: (.+) JavaScript heap out of memory",
                    r"ENOMEM",
                    r"ENOSPC: no space left on device",
                    r"Build killed - out of memory",
                    r"(?i)error: timeout",
                ],
            ),
            (
                "configuration",
                &[
                    r"Invalid configuration object",
                    r"Configuration error:",
                    r"Error in (.+\.config\.(js|ts|json))",
                    r"(?i)tsconfig\.json.*error",
                ],
            ),
            (
                "network",
                &[
                    r"ETIMEDOUT",
                    r"ECONNREFUSED",
                    r"EAI_AGAIN",
                    r"npm ERR! network",
                    r"getaddrinfo ENOTFOUND",
                    r"401 Unauthorized",
                    r"403 Forbidden",
                ],
            ),
        ];
        let patterns = table
            .iter()
            .flat_map(|(category, list)| {
                list.iter().map(move |p| {
                    (
                        *category,
                        Regex::new(&format!("(?m){p}")).expect("seed regex"),
                    )
                })
            })
            .collect();
        let location =
            Regex::new(r"(\S+\.(ts|tsx|js|jsx)):(\d+)(?::(\d+))?").expect("location regex");
        SeedParser { patterns, location }
    }

    fn parse(&self, text: &str) -> usize {
        let mut found: Vec<(&str, String, Option<String>)> = Vec::new();
        for (category, pattern) in &self.patterns {
            for m in pattern.find_iter(text) {
                let mut end = (m.end() + 200).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                let location = self
                    .location
                    .find(&text[m.end()..end])
                    .map(|l| l.as_str().to_string());
                found.push((category, m.as_str().to_string(), location));
            }
        }
        found.sort();
        found.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        found.len()
    }
}

fn bench_parse(c: &mut Criterion) {
    let log = assemble_log();
    let text = String::from_utf8_lossy(&log).into_owned();
    let parsers = ParserSet::new();
    let seed = SeedParser::new();
    println!(
        "log: {:.1} MB, {} diagnostics (selfheal), {} matches (seed)",
        log.len() as f64 / 1e6,
        parsers.parse(&log).len(),
        seed.parse(&text)
    );

    let mut group = c.benchmark_group("parse_50mb");
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("selfheal_parser_set", |b| b.iter(|| parsers.parse(&log)));
    group.bench_function("seed_regex_per_category", |b| b.iter(|| seed.parse(&text)));
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);

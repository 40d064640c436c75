//! The parsers on hostile input: huge lines, millions of empty lines, NUL bytes, invalid UTF-8
//! and pathological repetitions. Nothing may panic, and peak memory during a parse stays within
//! a fixed budget beyond the input itself (the line cap and the diagnostic limit bound it).
//!
//! The memory test runs in a process of its own, so no other test allocates in it while memory
//! is measured.

use selfheal::parse::ParserSet;
use selfheal_test_harness::{Test, trial};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(hostile_inputs_parse_in_bounded_memory).alone(),
        trial!(binary_garbage_yields_what_can_be_parsed),
        trial!(unterminated_blocks_end_with_the_log),
    ]
}

/// Peak resident memory of this process so far, in bytes (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Parses `log` and returns how far the peak memory grew while doing it.
fn parse_measuring(parsers: &ParserSet, log: &[u8]) -> (usize, u64) {
    let before = peak_rss().unwrap_or(0);
    let found = parsers.parse(log).len();
    let after = peak_rss().unwrap_or(0);
    (found, after.saturating_sub(before))
}

const BUDGET: u64 = 64 * 1024 * 1024;

fn hostile_inputs_parse_in_bounded_memory() {
    let parsers = ParserSet::new();

    // A 100 MB single line that looks like an error over and over.
    let mut line = Vec::with_capacity(100 << 20);
    while line.len() < 100 << 20 {
        line.extend_from_slice(b"src/a.ts(1,1): error TS2322: x ");
    }
    let (found, growth) = parse_measuring(&parsers, &line);
    assert!(
        found <= 1,
        "one line gives at most one diagnostic, got {found}"
    );
    assert!(growth < BUDGET, "100 MB line: peak grew {growth} bytes");
    drop(line);

    // Ten million empty lines, then one real error: it is still found.
    let mut empty = vec![b'\n'; 10_000_000];
    empty.extend_from_slice(b"src/b.ts(2,5): error TS2304: Cannot find name 'x'.\n");
    let (found, growth) = parse_measuring(&parsers, &empty);
    assert_eq!(found, 1);
    assert!(growth < BUDGET, "10M empty lines: peak grew {growth} bytes");
    drop(empty);

    // Millions of error lines: the diagnostic limit bounds what is kept.
    let many: Vec<u8> = (1..=300_000)
        .flat_map(|i| {
            format!("src/c.ts({i},1): error TS2322: Type 'a' is not assignable to type 'b'.\n")
                .into_bytes()
        })
        .collect();
    let (found, growth) = parse_measuring(&parsers, &many);
    assert_eq!(found, parsers.options().max_diagnostics);
    assert!(growth < BUDGET, "many errors: peak grew {growth} bytes");
    drop(many);

    // Tracebacks that never end, a traceback header with ten million frames' worth of noise.
    let mut endless = b"Traceback (most recent call last):\n".to_vec();
    endless.extend(b"  File \"/app/x.py\", line 1, in f\n    f()\n".repeat(200_000));
    endless.extend_from_slice(b"RecursionError: maximum recursion depth exceeded\n");
    let (found, growth) = parse_measuring(&parsers, &endless);
    assert_eq!(found, 1);
    assert!(
        growth < BUDGET,
        "endless traceback: peak grew {growth} bytes"
    );
}

fn binary_garbage_yields_what_can_be_parsed() {
    let parsers = ParserSet::new();
    let mut log: Vec<u8> = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..200_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        log.push((state >> 24) as u8);
    }
    log.extend_from_slice(b"\n\x00\xff\xfe src/d.ts(4,2): error TS1005: ';' expected.\n");
    log.extend_from_slice(
        b"\x1b[31merror[E0308]\x1b[0m: mismatched types\n --> src/m\xffain.rs:3:5\n",
    );
    let found = parsers.parse(&log);
    assert!(
        found
            .iter()
            .any(|d| d.code.as_deref() == Some("E0308") && d.line == Some(3))
    );
    assert!(found.iter().any(|d| d.code.as_deref() == Some("TS1005")));
    assert!(found.iter().all(|d| !d.message.contains('\x1b')));
}

fn unterminated_blocks_end_with_the_log() {
    let parsers = ParserSet::new();
    for log in [
        &b"error[E0308]: mismatched types\n -->"[..],
        b"Traceback (most recent call last):\n  File \"/a.py\", line 3, in <module>",
        b"=== FAILURES ===\n___ test_x ___\nE   assert 1 == 2",
        b"npm error code E404",
        b"#7 ERROR: boom\n------",
        b"\xe2\x9c\x98 [ERROR] Expected \";\"\n\n    src/a.ts:1:2:",
        b"error during build:\n[vite:esbuild] Transform failed with 1 error:",
        b"/app/x.js:3\n  throw e;\n  ^\n",
        b"ERROR in ./src/x.js 1:0-1",
        b"Failed to compile.\n\n./src/app/page.tsx:1:1",
    ] {
        let _ = parsers.parse(log);
    }
}

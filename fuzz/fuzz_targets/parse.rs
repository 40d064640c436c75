//! Any bytes as a build log: parsing never panics, and every diagnostic stays inside the input.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use selfheal::parse::ParserSet;

static PARSERS: LazyLock<ParserSet> = LazyLock::new(ParserSet::new);

fuzz_target!(|log: &[u8]| {
    let lines = log.split(|&b| b == b'\n').count() as u32;
    for d in PARSERS.parse(log) {
        assert!(d.log_lines.start >= 1 && d.log_lines.start <= d.log_lines.end);
        assert!(d.log_lines.end <= lines.max(1));
        assert!((0.0..=1.0).contains(&d.confidence));
        assert_eq!(d.fingerprint.len(), 16);
    }
});

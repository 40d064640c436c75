//! A process that writes to a fix cache, for the tests of several processes sharing one.
//!
//! `selfheal-cache-writer DIR distinct START`: records new fixes START, START+1, … forever,
//! printing each number once its write is committed.
//! `selfheal-cache-writer DIR same N`: records the same fix N times.

use std::io::Write;

use selfheal::cache::{FixCache, FixContext};
use selfheal::fix::FixProposal;
use selfheal::parse::ParserSet;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, mode, count] = args.as_slice() else {
        return Err("usage: selfheal-cache-writer DIR distinct START | DIR same N".into());
    };
    let count: u64 = count.parse()?;
    let cache = FixCache::open(dir).await?;
    let context = FixContext::default();
    let fix = |n: u64| {
        FixProposal::from_value(&serde_json::json!({
            "fixes": [{"file": "src/fix.txt", "action": "create", "content": format!("fix {n}")}]
        }))
    };
    match mode.as_str() {
        "same" => {
            let error =
                &ParserSet::new().parse("src/a.ts(1,1): error TS2304: Cannot find name 'x'.\n")[0];
            let fix = fix(0)?;
            for _ in 0..count {
                cache.record_success(error, &context, &fix).await?;
            }
        }
        "distinct" => {
            let mut out = std::io::stdout().lock();
            for n in count.. {
                // Each fix its own error kind: a distinct signature and partition key.
                let log = format!(
                    "src/a.ts(1,1): error TS{}: Problem number {n}.\n",
                    10_000 + n
                );
                let error = &ParserSet::new().parse(&log)[0];
                cache.record_success(error, &context, &fix(n)?).await?;
                writeln!(out, "{n}")?;
                out.flush()?;
            }
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}

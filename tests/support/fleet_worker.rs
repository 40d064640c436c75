//! A build worker sharing its fix cache with a fleet, for the tests of several processes.
//!
//! `selfheal-fleet-worker URL DIR learn`: learns a fix for a TS2304 error, uploads it and
//! prints `learned MICROS` (the time the fix was recorded, in microseconds since the epoch).
//! `selfheal-fleet-worker URL DIR serve`: prints `ready`, then looks the same kind of error up
//! until the fleet serves a fix, and prints `served MICROS` and the fix.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use selfheal::cache::{FixCache, FixContext, FleetOptions};
use selfheal::fix::FixProposal;
use selfheal::parse::ParserSet;

fn micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, dir, role] = args.as_slice() else {
        return Err("usage: selfheal-fleet-worker URL DIR learn|serve".into());
    };
    let cache = FixCache::builder()
        .fleet(url.as_str(), FleetOptions::default())
        .open(dir)
        .await?;
    let context = FixContext::default();
    let mut out = std::io::stdout().lock();
    match role.as_str() {
        "learn" => {
            let error = &ParserSet::new()
                .parse("src/App.tsx(3,10): error TS2304: Cannot find name 'useState'.\n")[0];
            let fix = FixProposal::from_value(&serde_json::json!({"fixes": [{
                "file": "src/App.tsx", "action": "patch",
                "search": "import React from 'react';",
                "replace": "import React, { useState } from 'react';"
            }]}))?;
            cache.record_success(error, &context, &fix).await?;
            let learned = micros();
            cache.sync().await?;
            writeln!(out, "learned {learned}")?;
        }
        "serve" => {
            let error = &ParserSet::new()
                .parse("src/Form.tsx(9,7): error TS2304: Cannot find name 'useEffect'.\n")[0];
            writeln!(out, "ready")?;
            out.flush()?;
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(hit) = cache.lookup(error, &context).await? {
                    writeln!(out, "served {}", micros())?;
                    writeln!(out, "{}", serde_json::to_string(&hit.fix.proposal)?)?;
                    break;
                }
                if Instant::now() > deadline {
                    return Err("no fix was served within 30 s".into());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        other => return Err(format!("unknown role {other}").into()),
    }
    out.flush()?;
    Ok(())
}

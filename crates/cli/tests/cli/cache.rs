//! `selfheal cache` as a user runs it: import fixes, look a log up, export, prune.

use crate::common::{scratch, selfheal};
use selfheal_test_harness::{Test, trial};
use serde_json::{Value, json};

pub(crate) fn tests() -> Vec<Test> {
    let fleet = crate::common::fleet_server();
    vec![
        trial!(imported_fixes_are_found_for_a_log_with_their_score_parts),
        trial!(export_round_trips_and_prune_forgets_old_fixes),
        trial!(cache_sync_shares_fixes_between_machines_through_the_fleet).needs(&fleet),
        trial!(a_bad_import_line_is_named_and_the_default_folder_comes_from_the_environment),
    ]
}

fn cache_dir(name: &str) -> std::path::PathBuf {
    scratch(&format!("cli-cache-{name}"))
}

fn stdout_json(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

/// One exported fix for TS2304, used 4 times, 3 of them with success.
fn exported_fix() -> String {
    json!({
        "signature": {
            "text": "Cannot find name '<q>'.",
            "filter": {"tool": "tsc", "category": "type", "subcategory": "undefined_name",
                       "code": "TS2304", "package": null},
            "file_kind": "tsx",
            "hash": 0
        },
        "example": "Cannot find name 'useState'.",
        "context": {"language": "typescript", "framework": "next"},
        "proposal": {"analysis": "import the hook", "fixes": [{"file": "src/App.tsx",
            "action": "patch", "search": "import React from 'react';",
            "replace": "import React, { useState } from 'react';"}]},
        "stats": {"uses": 4, "successes": 3, "failures": 1,
                  "created_at": 1_700_000_000, "last_used": 1_700_000_000}
    })
    .to_string()
}

fn imported_fixes_are_found_for_a_log_with_their_score_parts() {
    let dir = cache_dir("lookup");
    let dir_arg = dir.to_str().expect("utf-8 path");
    let line = exported_fix();
    let imported = selfheal(
        &["cache", "--dir", dir_arg, "import", "--json"],
        line.as_bytes(),
    );
    assert_eq!(
        stdout_json(&imported),
        json!({"read": 1, "added": 1, "refused": 0})
    );

    let log = "src/Form.tsx(8,12): error TS2304: Cannot find name 'useEffect'.\n\
               src/Form.tsx(9,1): error TS2322: Type 'string' is not assignable to type 'number'.\n";
    let lookup = stdout_json(&selfheal(
        &["cache", "--dir", dir_arg, "lookup", "--json", "-"],
        log.as_bytes(),
    ));
    let lookups = lookup["lookups"].as_array().expect("lookups");
    assert_eq!(lookups.len(), 2);
    let hit = &lookups[0]["hit"];
    assert_eq!(hit["matched"], "exact");
    assert_eq!(hit["fix"]["stats"]["uses"], 4);
    assert_eq!(hit["score"]["success_rate"], 0.75);
    for part in ["total", "similarity", "recency", "use_count", "context"] {
        assert!(hit["score"][part].is_number(), "{part}");
    }
    assert!(lookups[1]["hit"].is_null(), "TS2322 has no fix");

    let text = selfheal(&["cache", "--dir", dir_arg, "lookup", "-"], log.as_bytes());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("fix #1 (exact)") && text.contains("no cached fix"),
        "{text}"
    );

    let stats = stdout_json(&selfheal(
        &["cache", "--dir", dir_arg, "stats", "--json"],
        b"",
    ));
    assert_eq!(
        (stats["fixes"].as_u64(), stats["uses"].as_u64()),
        (Some(1), Some(4))
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn export_round_trips_and_prune_forgets_old_fixes() {
    let dir = cache_dir("export");
    let dir_arg = dir.to_str().expect("utf-8 path");
    selfheal(
        &["cache", "--dir", dir_arg, "import"],
        exported_fix().as_bytes(),
    );
    let file = dir.join("export.jsonl");
    let exported = selfheal(
        &[
            "cache",
            "--dir",
            dir_arg,
            "export",
            file.to_str().expect("utf-8"),
        ],
        b"",
    );
    assert!(exported.status.success());
    assert!(String::from_utf8_lossy(&exported.stderr).contains("exported 1 fixes"));
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&file).expect("export file").trim())
            .expect("one JSON line");
    assert_eq!(line["proposal"]["edits"][0]["path"], "src/App.tsx");
    assert_eq!(line["stats"]["uses"], 4);

    let listed = selfheal(&["cache", "--dir", dir_arg, "list"], b"");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("#1 tsc TS2304 used 4×"));
    // Last used in 2023: more than 90 days ago.
    let pruned = stdout_json(&selfheal(
        &["cache", "--dir", dir_arg, "prune", "--json"],
        b"",
    ));
    assert_eq!(pruned, json!({"removed": 1}));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn cache_sync_shares_fixes_between_machines_through_the_fleet() {
    let fleet = crate::common::fleet_database("sync");
    let (a, b) = (cache_dir("fleet-a"), cache_dir("fleet-b"));
    let arg = |dir: &std::path::Path| dir.to_str().expect("utf-8 path").to_string();
    let (a_arg, b_arg) = (arg(&a), arg(&b));
    let imported = selfheal(
        &[
            "cache",
            "--dir",
            &a_arg,
            "--cache-url",
            &fleet,
            "import",
            "--json",
        ],
        exported_fix().as_bytes(),
    );
    assert_eq!(
        stdout_json(&imported),
        json!({"read": 1, "added": 1, "refused": 0})
    );

    let synced = stdout_json(&selfheal(
        &[
            "cache",
            "sync",
            "--dir",
            &b_arg,
            "--cache-url",
            &fleet,
            "--json",
        ],
        b"",
    ));
    // Pulled by the sync, or already by the mirror as it opened.
    assert_eq!(
        (synced["fixes"].as_u64(), synced["queued"].as_u64()),
        (Some(1), Some(0))
    );
    let listed = selfheal(&["cache", "--dir", &b_arg, "list"], b"");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("TS2304 used 4×"));

    // The server is gone: the command says so and exits 1; what was learned stays queued.
    let unreachable = selfheal(
        &[
            "cache",
            "sync",
            "--dir",
            &a_arg,
            "--cache-url",
            "postgres://selfheal@127.0.0.1:1/x",
        ],
        b"",
    );
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach the fleet cache"),
        "{unreachable:?}"
    );
    let no_url = selfheal(&["cache", "sync", "--dir", &a_arg], b"");
    assert_eq!(no_url.status.code(), Some(2));
    for dir in [a, b] {
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}

fn a_bad_import_line_is_named_and_the_default_folder_comes_from_the_environment() {
    let dir = cache_dir("env");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_selfheal"))
        .args(["cache", "import", "--json", "-"])
        .env("SELFHEAL_CACHE_DIR", &dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            writeln!(stdin, "{}\nnot json", exported_fix())?;
            drop(stdin);
            child.wait_with_output()
        })
        .expect("selfheal runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 2"));
    assert!(
        dir.join("fixes.sqlite3").exists(),
        "the cache was created in $SELFHEAL_CACHE_DIR"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

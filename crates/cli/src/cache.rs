//! `selfheal cache`: look into, prune, export and import a fix cache.

use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use selfheal::cache::{CacheHit, CachedFix, FixCache, FixContext, Match};
use selfheal::parse::ParserSet;
use serde_json::json;

use crate::{Outcome, finish_output, read_input};

#[derive(Debug, clap::Args)]
pub(crate) struct CacheArgs {
    /// The cache folder (default: $SELFHEAL_CACHE_DIR, else the platform's cache folder).
    #[arg(long, value_name = "DIR", global = true)]
    dir: Option<PathBuf>,
    /// JSON output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Counts: fixes, signatures, partitions, uses, failed attempts.
    Stats,
    /// The newest cached fixes.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Parse a build log and show the best cached fix for each diagnostic, with its score parts.
    Lookup {
        /// The log; `-` or nothing reads standard input.
        log: Option<PathBuf>,
    },
    /// Forget fixes unused for 90 days or failing too often.
    Prune,
    /// Write every fix as JSON lines to FILE (or standard output).
    Export {
        /// Where to write; `-` or nothing is standard output.
        file: Option<PathBuf>,
    },
    /// Read fixes written by `export` from FILE (or standard input); vectors are recomputed.
    Import {
        /// What to read; `-` or nothing is standard input.
        file: Option<PathBuf>,
    },
}

pub(crate) fn run(args: CacheArgs) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: CacheArgs) -> Outcome {
    let dir = match args.dir {
        Some(dir) => dir,
        None => FixCache::default_dir().map_err(|e| e.to_string())?,
    };
    let cache = FixCache::open(&dir)
        .await
        .map_err(|e| format!("cannot open the cache in {}: {e}", dir.display()))?;
    let mut out = io::stdout();
    let written = match args.action {
        Action::Stats => {
            let stats = cache.stats().await.map_err(|e| e.to_string())?;
            if args.json {
                writeln!(out, "{}", json!(stats))
            } else {
                writeln!(
                    out,
                    "{}\nfixes: {} ({} deprecated)\nsignatures: {} in {} partitions\nuses: {} ({} successes, {} failures)\nfailed attempts remembered: {}\nembedder: {}",
                    dir.display(),
                    stats.fixes,
                    stats.deprecated,
                    stats.signatures,
                    stats.partitions,
                    stats.uses,
                    stats.successes,
                    stats.failures,
                    stats.failed_attempts,
                    stats.embedder
                )
            }
        }
        Action::List { limit } => {
            let fixes = cache.list(limit).await.map_err(|e| e.to_string())?;
            fixes.iter().try_for_each(|fix| {
                if args.json {
                    writeln!(out, "{}", json!(fix))
                } else {
                    write_fix(&mut out, fix)
                }
            })
        }
        Action::Lookup { log } => {
            let log = read_input(log.as_ref())?;
            let diagnostics = ParserSet::new().parse(&log);
            let mut found = Vec::with_capacity(diagnostics.len());
            for diagnostic in diagnostics {
                let hit = cache
                    .lookup(&diagnostic, &FixContext::default())
                    .await
                    .map_err(|e| e.to_string())?;
                found.push((diagnostic, hit));
            }
            if args.json {
                let lookups: Vec<_> = (found.iter())
                    .map(|(diagnostic, hit)| json!({"diagnostic": diagnostic, "hit": hit}))
                    .collect();
                writeln!(out, "{}", json!({ "lookups": lookups }))
            } else {
                found.iter().try_for_each(|(diagnostic, hit)| {
                    write_lookup(&mut out, diagnostic, hit.as_ref())
                })
            }
        }
        Action::Prune => {
            let removed = cache.prune().await.map_err(|e| e.to_string())?;
            if args.json {
                writeln!(out, "{}", json!({ "removed": removed }))
            } else {
                writeln!(out, "removed {removed} fixes")
            }
        }
        Action::Export { file } => {
            let count = match file.filter(|f| f.as_os_str() != "-") {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                    let mut writer = io::BufWriter::new(file);
                    let count = cache.export(&mut writer).await.map_err(|e| e.to_string())?;
                    writer
                        .flush()
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    count
                }
                None => cache.export(&mut out).await.map_err(|e| e.to_string())?,
            };
            eprintln!("exported {count} fixes");
            Ok(())
        }
        Action::Import { file } => {
            let input = read_input(file.as_ref())?;
            let report = cache
                .import(&mut BufReader::new(input.as_slice()))
                .await
                .map_err(|e| e.to_string())?;
            if args.json {
                writeln!(out, "{}", json!(report))
            } else {
                writeln!(
                    out,
                    "imported {} fixes ({} new, {} merged)",
                    report.read,
                    report.added,
                    report.read - report.added
                )
            }
        }
    };
    finish_output(written.and_then(|()| out.flush()))?;
    Ok(ExitCode::SUCCESS)
}

fn write_fix(out: &mut impl Write, fix: &CachedFix) -> io::Result<()> {
    let filter = &fix.signature.filter;
    writeln!(
        out,
        "#{} {} {}{} used {}× ({} ok, {} failed), last {}{}\n    {}",
        fix.id,
        filter.tool,
        filter.code.as_deref().unwrap_or(filter.category.as_str()),
        filter
            .package
            .as_deref()
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default(),
        fix.stats.uses,
        fix.stats.successes,
        fix.stats.failures,
        ago(fix.stats.last_used),
        if fix.deprecated { ", deprecated" } else { "" },
        fix.signature.text
    )
}

fn write_lookup(
    out: &mut impl Write,
    diagnostic: &selfheal::Diagnostic,
    hit: Option<&CacheHit>,
) -> io::Result<()> {
    let place = match (&diagnostic.file, diagnostic.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        _ => "-".into(),
    };
    let code = diagnostic.code.as_deref().unwrap_or("");
    writeln!(out, "{place} {code} {}", diagnostic.message)?;
    match hit {
        None => writeln!(out, "  no cached fix"),
        Some(hit) => {
            let s = &hit.score;
            let edits: Vec<String> = (hit.fix.proposal.edits.iter())
                .map(|edit| edit.path().as_str().to_string())
                .collect();
            writeln!(
                out,
                "  fix #{} ({}) score {:.2}: similarity {:.2}, success {:.2}, recency {:.2}, uses {:.2}, context {:.2}\n  edits: {}",
                hit.fix.id,
                match hit.matched {
                    Match::Exact => "exact",
                    Match::Similar => "similar",
                },
                s.total,
                s.similarity,
                s.success_rate,
                s.recency,
                s.use_count,
                s.context,
                edits.join(", ")
            )
        }
    }
}

fn ago(at: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let seconds = (now - at).max(0);
    match seconds {
        s if s < 3_600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3_600),
        s => format!("{}d ago", s / 86_400),
    }
}

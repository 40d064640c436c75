//! `selfheal cache`: look into, prune, export, import and sync a fix cache.

use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use selfheal::cache::{
    CacheHit, CachedFix, FixCache, FixContext, FleetMirror, FleetOptions, Match,
};
use selfheal::parse::ParserSet;
use serde_json::json;

use crate::{Outcome, finish_output, read_input};

#[derive(Debug, clap::Args)]
pub(crate) struct CacheArgs {
    /// The cache folder (default: $SELFHEAL_CACHE_DIR, else the platform's cache folder).
    #[arg(long, value_name = "DIR", global = true)]
    dir: Option<PathBuf>,
    /// Share the cache with a fleet of workers through this PostgreSQL database
    /// (`postgres://user@host/db`): the folder's store becomes this machine's mirror of it.
    #[arg(long, value_name = "URL", env = "SELFHEAL_CACHE_URL", global = true)]
    cache_url: Option<String>,
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
    /// Upload what this machine learned to the fleet (`--cache-url`) and pull what the fleet
    /// learned. Exits 1 when the server cannot be reached (nothing is lost: the next sync
    /// uploads it).
    Sync,
}

/// How long a command waits for the fleet's server before going on without it.
const FLEET_WAIT: Duration = Duration::from_secs(15);

/// Opens the cache in `dir`, as a mirror of the fleet at `url` when there is one (the way the
/// packages open theirs).
pub(crate) async fn open(
    dir: &Path,
    url: Option<&str>,
) -> selfheal::Result<(FixCache, Option<FleetMirror>)> {
    let mut builder = FixCache::builder();
    if let Some(url) = url {
        builder = builder.fleet(url, FleetOptions::default());
    }
    let cache = builder.open(dir).await?;
    let mirror = cache.mirror().cloned();
    Ok((cache, mirror))
}

/// Syncs with the fleet, or says why it could not (what was learned stays queued locally).
pub(crate) async fn sync_or_warn(cache: &FixCache, mirror: Option<&FleetMirror>) {
    let Some(mirror) = mirror else {
        return;
    };
    match tokio::time::timeout(FLEET_WAIT, cache.sync()).await {
        Ok(Ok(())) => {}
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no answer within {} s", FLEET_WAIT.as_secs()),
            };
            let queued = mirror.queued().await.unwrap_or_default();
            eprintln!(
                "selfheal: the fleet cache is unreachable ({why}); {queued} use entries stay queued for the next sync"
            );
        }
    }
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
    let (cache, mirror) = (open(&dir, args.cache_url.as_deref()).await)
        .map_err(|e| format!("cannot open the cache in {}: {e}", dir.display()))?;
    let mut out = io::stdout();
    if let Action::Sync = args.action {
        let Some(mirror) = mirror else {
            return Err("cache sync needs --cache-url or SELFHEAL_CACHE_URL".into());
        };
        return sync(&cache, &mirror, args.json, &mut out).await;
    }
    // Reads see what the fleet knows; writes reach it before the command ends.
    sync_or_warn(&cache, mirror.as_ref()).await;
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
        Action::Sync => Ok(()),
    };
    sync_or_warn(&cache, mirror.as_ref()).await;
    finish_output(written.and_then(|()| out.flush()))?;
    Ok(ExitCode::SUCCESS)
}

async fn sync(cache: &FixCache, mirror: &FleetMirror, json: bool, out: &mut impl Write) -> Outcome {
    let synced = match tokio::time::timeout(FLEET_WAIT, mirror.sync_now()).await {
        Ok(synced) => synced.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", FLEET_WAIT.as_secs())),
    };
    let queued = mirror.queued().await.map_err(|e| e.to_string())?;
    let report = match synced {
        Ok(report) => report,
        Err(why) => {
            eprintln!(
                "selfheal: cannot reach the fleet cache: {why}; {queued} use entries stay queued"
            );
            return Ok(ExitCode::from(1));
        }
    };
    let stats = cache.stats().await.map_err(|e| e.to_string())?;
    let written = if json {
        writeln!(
            out,
            "{}",
            json!({"sync": report, "queued": queued, "worker": mirror.worker(), "fixes": stats.fixes})
        )
    } else {
        writeln!(
            out,
            "uploaded {} new fixes and {} use entries; pulled {} fixes, {} removed; {} fixes in the mirror",
            report.fixes_uploaded, report.uses_uploaded, report.pulled, report.removed, stats.fixes
        )
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

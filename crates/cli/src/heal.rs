//! `selfheal heal`: build a project and fix it until it builds.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use selfheal::Error;
use selfheal::cache::FixCache;
use selfheal::cassette::{Recorder, Replay};
use selfheal::heal::{HealConfig, HealReport, Healer, Outcome, RunBudget};
use selfheal::llm::{self, LayerOptions, Provider};
use selfheal::workspace::{Protected, Workspace};

use crate::check::{ContainerArgs, builder, plan};
use crate::finish_output;
use crate::progress::Progress;

#[derive(Debug, clap::Args)]
pub(crate) struct HealArgs {
    /// The project directory.
    dir: PathBuf,
    /// A shell command of the build, in order; repeat for more steps.
    #[arg(long = "step", value_name = "CMD", required = true)]
    steps: Vec<String>,
    #[command(flatten)]
    container: ContainerArgs,
    /// Where fixes come from besides the cache (default: the first of ANTHROPIC_API_KEY,
    /// OPENAI_API_KEY or OPENAI_BASE_URL, GEMINI_API_KEY or GOOGLE_API_KEY that is set; else
    /// none), behind a circuit breaker and retries.
    #[arg(long, value_enum)]
    provider: Option<ProviderName>,
    /// The model (default: the provider's, or *_MODEL).
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// Attempts in all, the first build included.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_attempts: u32,
    /// Seconds the whole run may take.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout: u64,
    /// Model tokens the run may use (prompt and answer).
    #[arg(long, value_name = "N")]
    max_tokens: Option<u64>,
    /// Model cost in USD the run may reach.
    #[arg(long, value_name = "USD")]
    max_usd: Option<f64>,
    /// Seconds each build step may run.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    step_timeout: u64,
    /// The fix cache folder (default: $SELFHEAL_CACHE_DIR, else the platform cache folder).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Share the fix cache with a fleet of workers through this PostgreSQL database
    /// (`postgres://user@host/db`); lookups stay local, and the run's fixes are uploaded before
    /// it ends (or queued, when the server is down).
    #[arg(
        long,
        value_name = "URL",
        env = "SELFHEAL_CACHE_URL",
        conflicts_with = "no_cache"
    )]
    cache_url: Option<String>,
    /// Neither look fixes up in the cache nor teach it.
    #[arg(long)]
    no_cache: bool,
    /// Never install packages nor run a package manager to fix the build (by default only
    /// packages the source imports are installed, with install scripts off, and pip only
    /// into the project's virtualenv).
    #[arg(long)]
    no_install: bool,
    /// Let fixes change a protected class of files: `tests` (tests and their configuration),
    /// `ci` (CI configuration), `build-scripts` (code that runs at install or build time:
    /// package.json scripts, build.rs, setup.py, .npmrc, …); repeat for more.
    #[arg(long, value_name = "CLASS", value_parser = parse_protected)]
    allow: Vec<Protected>,
    /// A shell command that must pass too once the steps pass (a test suite); no fix may
    /// change the files it names, nor tests. Repeat for more.
    #[arg(long = "verify", value_name = "CMD")]
    verify: Vec<String>,
    /// Serve the run's metrics in Prometheus' text format at http://ADDR/metrics while it runs.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Write the run's spans (the run, each attempt, build step, parse, fixer, cache lookup,
    /// model call, apply and rollback, with their timings) to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    trace_json: Option<PathBuf>,
    /// Print the report as JSON on standard output (progress still goes to standard error).
    #[arg(long)]
    json: bool,
    /// Record the run's build outputs and model replies to this cassette file (the fix cache
    /// is not used, so that the cassette holds every fix's source).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["replay", "cache"])]
    record: Option<PathBuf>,
    /// Replay a recorded cassette instead of running tools and calling the model.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cache", "docker", "provider", "model"])]
    replay: Option<PathBuf>,
}

fn parse_protected(name: &str) -> Result<Protected, String> {
    name.parse().map_err(|e: Error| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ProviderName {
    Anthropic,
    Openai,
    Gemini,
    None,
}

pub(crate) fn run(args: HealArgs) -> crate::Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    if let Some(path) = &args.trace_json {
        crate::observe::trace_json(path)?;
    }
    if let Some(address) = args.metrics_addr {
        let _runtime = runtime.enter();
        crate::observe::serve_metrics(address)?;
    }
    let report = runtime.block_on(heal(&args)).map_err(|e| e.to_string())?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if args.json {
        serde_json::to_writer(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        summary(&mut out, &report)
    };
    finish_output(written.and_then(|()| out.flush()))?;
    Ok(match report.outcome {
        Outcome::Healed | Outcome::AlreadyGreen => ExitCode::SUCCESS,
        Outcome::HealedWithChangedPlan => ExitCode::from(3),
        Outcome::Cancelled => ExitCode::from(130),
        _ => ExitCode::from(1),
    })
}

async fn heal(args: &HealArgs) -> Result<HealReport, Error> {
    let workspace = Workspace::open(&args.dir)?;
    let (builder, provider) = match (&args.replay, &args.record) {
        (Some(cassette), _) => {
            let replay = Replay::open(cassette)?;
            (replay.builder(), replay.provider())
        }
        (None, Some(cassette)) => {
            let recorder = Recorder::create(cassette)?;
            let provider = provider(args)?.map(|provider| recorder.provider(provider));
            (recorder.builder(builder(&args.container).await?), provider)
        }
        (None, None) => (builder(&args.container).await?, provider(args)?),
    };
    let mut config = HealConfig {
        budget: RunBudget {
            attempts: args.max_attempts.max(1),
            time: Duration::from_secs(args.timeout.max(1)),
            tokens: args.max_tokens,
            usd: args.max_usd,
        },
        ..HealConfig::default()
    };
    config.apply.policy.allow.extend(args.allow.iter().copied());
    config.verify = plan(&args.verify, args.step_timeout).steps;
    config.install.enabled = !args.no_install;
    let mut healer = Healer::new(builder).config(config);
    if let Some(provider) = provider {
        healer = healer.provider(provider);
    }
    let mut fleet = None;
    if !(args.no_cache || args.record.is_some() || args.replay.is_some()) {
        let dir = match &args.cache {
            Some(dir) => dir.clone(),
            None => FixCache::default_dir()?,
        };
        let (cache, mirror) = crate::cache::open(&dir, args.cache_url.as_deref()).await?;
        fleet = mirror.map(|mirror| (cache.clone(), mirror));
        healer = healer.cache(cache);
    }
    let plan = plan(&args.steps, args.step_timeout);
    // Ctrl-C undoes the attempt in progress and reports what was done.
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let progress = Progress::new(args.max_attempts.max(1));
    let report = (healer.heal_until(
        &workspace,
        &plan,
        &|event| progress.show(event),
        interrupted,
    ))
    .await;
    progress.finish();
    if let Some((cache, mirror)) = &fleet {
        crate::cache::sync_or_warn(cache, Some(mirror)).await;
    }
    report
}

/// The provider asked for, or the first one the environment configures, stacked the way the
/// packages stack theirs (circuit breaker and retries).
fn provider(args: &HealArgs) -> Result<Option<Arc<dyn Provider>>, Error> {
    let name = match args.provider {
        Some(ProviderName::None) => return Ok(None),
        Some(ProviderName::Anthropic) => Some("anthropic"),
        Some(ProviderName::Openai) => Some("openai"),
        Some(ProviderName::Gemini) => Some("gemini"),
        None => None,
    };
    llm::provider_from_vars(
        name,
        args.model.as_deref(),
        &LayerOptions::default(),
        |var| std::env::var(var).ok(),
    )
}

fn summary(out: &mut impl Write, report: &HealReport) -> io::Result<()> {
    let outcome = match report.outcome {
        Outcome::Healed => "healed",
        Outcome::HealedWithChangedPlan => {
            "not healed as written: it passes only with a changed plan"
        }
        Outcome::AlreadyGreen => "already green",
        Outcome::Escalated => "not healed: escalated",
        Outcome::Failed => "not healed: out of time",
        Outcome::Cancelled => "cancelled",
    };
    writeln!(
        out,
        "{outcome} after {} attempts in {:.1} s",
        report.attempts.len(),
        report.duration.as_secs_f64()
    )?;
    for attempt in report.attempts.iter().filter(|a| !a.diff.is_empty()) {
        let source = match (&attempt.by, attempt.source) {
            (Some(by), Some(source)) => format!("{source} {by}"),
            (_, Some(source)) => format!("fix from the {source}"),
            (_, None) => "no fix".into(),
        };
        writeln!(out, "\nattempt {} ({source}):", attempt.number)?;
        write!(out, "{}", attempt.diff)?;
    }
    if let Some(escalation) = &report.escalation {
        writeln!(out, "\nerrors left:")?;
        for diagnostic in &escalation.diagnostics {
            let place = diagnostic.file.as_deref().unwrap_or("?");
            writeln!(out, "  {place}: {}", diagnostic.message)?;
        }
        writeln!(out, "next: {}", escalation.next_action)?;
    }
    if !report.changed_plan.is_empty() {
        writeln!(out, "\nthe plan passes only with these changes:")?;
        for change in &report.changed_plan {
            writeln!(out, "  {change}")?;
        }
    }
    Ok(())
}

//! `selfheal check`: run a build plan (locally or in a container) and report each step.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use selfheal::build::{
    BuildPlan, BuildStep, Builder, ContainerOptions, Discard, DockerBuilder, LineSink,
    LocalBuilder, OutputStream, PlanOutcome, StepOutput, run_plan,
};
use selfheal::parse::{ParseOptions, ParserSet};
use selfheal::{Diagnostic, Error};

use crate::{Outcome, finish_output, render};

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The project directory.
    dir: PathBuf,
    /// A shell command to run, in order; repeat for more steps. Stops at the first failure.
    #[arg(long = "step", value_name = "CMD", required = true)]
    steps: Vec<String>,
    #[command(flatten)]
    container: ContainerArgs,
    /// Seconds each step may run.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Show the steps' output on standard error while they run.
    #[arg(long, short)]
    verbose: bool,
}

pub(crate) fn run(args: CheckArgs) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let plan = plan(&args.steps, args.timeout);
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run_checked(&args, &plan) => Some(outcome),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    let Some(outcome) = outcome else {
        // The step was dropped: its process group is killed; a container is removed by a
        // task that needs a moment.
        if args.container.docker.is_some() {
            runtime.block_on(tokio::time::sleep(Duration::from_secs(3)));
        }
        eprintln!("selfheal: interrupted");
        return Ok(ExitCode::from(130));
    };
    let outcome = outcome.map_err(|e| e.to_string())?;
    let parsers = ParserSet::new().with_options(ParseOptions {
        root: Some(match args.container.docker {
            Some(_) => "/workspace".into(),
            None => std::fs::canonicalize(&args.dir)
                .unwrap_or_else(|_| args.dir.clone())
                .display()
                .to_string(),
        }),
        ..ParseOptions::default()
    });
    let reports: Vec<StepReport> = outcome
        .steps
        .iter()
        .map(|step| StepReport::new(step, &parsers))
        .collect();
    let ok = outcome.success(&plan);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if args.json {
        serde_json::to_writer(
            &mut out,
            &JsonReport {
                steps: &reports,
                ok,
            },
        )
        .map_err(io::Error::from)
        .and_then(|()| writeln!(out))
    } else {
        let color = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        render_text(&mut out, &outcome, &reports, &plan, color)
    };
    finish_output(written.and_then(|()| out.flush()))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The plan of shell command `steps`, each named after its program (`npm`, `npm#2`, …) and
/// allowed `timeout` seconds.
pub(crate) fn plan(steps: &[String], timeout: u64) -> BuildPlan {
    let timeout = Duration::from_secs(timeout.max(1));
    BuildPlan::new(
        steps
            .iter()
            .map(|line| BuildStep::command_line(line.clone()).timeout(timeout)),
    )
}

async fn run_checked(args: &CheckArgs, plan: &BuildPlan) -> Result<PlanOutcome, Error> {
    let echo = |stream: OutputStream, line: &str| {
        let _ = writeln!(io::stderr().lock(), "{stream}| {line}");
    };
    let sink: &dyn LineSink = if args.verbose { &echo } else { &Discard };
    let builder = builder(&args.container).await?;
    run_plan(builder.as_ref(), &args.dir, plan, sink).await
}

/// Where steps run: `--docker IMAGE` and its limits.
#[derive(Debug, clap::Args)]
pub(crate) struct ContainerArgs {
    /// Run the steps in a container of this image (the directory is mounted at /workspace).
    #[arg(long, value_name = "IMAGE")]
    pub(crate) docker: Option<String>,
    /// Container memory limit, in MiB (default 4096).
    #[arg(long, value_name = "MIB", requires = "docker")]
    memory: Option<u64>,
    /// Container CPU limit (fractions allowed; default 2).
    #[arg(long, value_name = "N", requires = "docker")]
    cpus: Option<f64>,
    /// Give the container a network (none by default), which cannot reach this machine's
    /// own addresses nor link-local ones (cloud metadata).
    #[arg(long, requires = "docker")]
    network: bool,
    /// With --network: let the container reach this machine's own and link-local addresses.
    #[arg(long, requires = "network")]
    allow_host_addresses: bool,
}

/// A Docker builder for `--docker IMAGE`, else a local one.
pub(crate) async fn builder(container: &ContainerArgs) -> Result<Arc<dyn Builder>, Error> {
    Ok(match &container.docker {
        Some(image) => Arc::new(
            DockerBuilder::connect(image)
                .await?
                .options(ContainerOptions {
                    network: container.network,
                    allow_host_addresses: container.allow_host_addresses,
                    memory_mib: container.memory,
                    cpus: container.cpus,
                    ..ContainerOptions::default()
                }),
        ),
        None => Arc::new(LocalBuilder::new()),
    })
}

/// One step as `--json` prints it.
#[derive(serde::Serialize)]
struct StepReport<'a> {
    name: &'a str,
    command: &'a str,
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    oom_killed: bool,
    duration_ms: u128,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> StepReport<'a> {
    fn new(step: &'a StepOutput, parsers: &ParserSet) -> Self {
        StepReport {
            name: &step.name,
            command: &step.command,
            exit_code: step.exit_code,
            signal: step.signal,
            timed_out: step.timed_out,
            oom_killed: step.oom_killed,
            duration_ms: step.duration.as_millis(),
            diagnostics: if step.success() {
                Vec::new()
            } else {
                parsers.parse(step.log.text.as_bytes())
            },
        }
    }
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    steps: &'a [StepReport<'a>],
    ok: bool,
}

/// Lines of a failing step's log shown when no diagnostic explains the failure.
const TAIL_LINES: usize = 20;

fn render_text(
    out: &mut impl Write,
    outcome: &PlanOutcome,
    reports: &[StepReport<'_>],
    plan: &BuildPlan,
    color: bool,
) -> io::Result<()> {
    for (step, report) in outcome.steps.iter().zip(reports) {
        let mark = if step.success() { "ok    " } else { "FAILED" };
        writeln!(
            out,
            "{mark} {} ({}): {} in {:.1} s",
            step.name,
            step.command,
            step.status(),
            step.duration.as_secs_f64()
        )?;
        if step.success() {
            continue;
        }
        if report.diagnostics.is_empty() {
            let lines: Vec<&str> = step.log.text.lines().collect();
            for line in &lines[lines.len().saturating_sub(TAIL_LINES)..] {
                writeln!(out, "  | {line}")?;
            }
        } else {
            render::listing(out, &report.diagnostics, color)?;
        }
        if let Some(file) = &step.log.spill_file {
            writeln!(out, "  full log: {}", file.display())?;
        }
    }
    let skipped = plan.steps.len() - outcome.steps.len();
    if skipped > 0 {
        writeln!(out, "{skipped} step(s) not run after the failure")?;
    }
    Ok(())
}

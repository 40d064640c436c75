//! `selfheal doctor`: what this machine offers selfheal.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use selfheal::doctor::{self, CheckStatus, DoctorOptions, DoctorReport};

use crate::{Outcome, finish_output};

#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// Do not call the providers; only report their configuration.
    #[arg(long)]
    offline: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Seconds each check may take.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,
}

pub(crate) fn run(args: DoctorArgs) -> Outcome {
    let options = DoctorOptions {
        offline: args.offline,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let report = runtime.block_on(doctor::run(&options, |name| std::env::var(name).ok()));
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        render(&mut out, &report)
    };
    finish_output(written.and_then(|()| out.flush()))?;
    Ok(if report.healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn mark(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Ok => "ok  ",
        CheckStatus::Failed => "FAIL",
        CheckStatus::Skipped => "set ",
        CheckStatus::NotConfigured => " -  ",
    }
}

fn render(out: &mut impl Write, report: &DoctorReport) -> io::Result<()> {
    writeln!(out, "Providers")?;
    for p in &report.providers {
        write!(out, "  {} {:<10}", mark(p.status), p.name)?;
        if p.status == CheckStatus::NotConfigured {
            writeln!(out, "{}", p.detail)?;
            continue;
        }
        let key = p.key.as_deref().unwrap_or("no key");
        let model = p.model.as_deref().unwrap_or("?");
        write!(out, "key {key}, model {model}")?;
        if let Some(endpoint) = &p.endpoint {
            write!(out, ", {endpoint}")?;
        }
        write!(out, "\n              {}", p.detail)?;
        if let Some(ms) = p.latency_ms {
            write!(out, " in {ms} ms")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Docker")?;
    let docker = &report.docker;
    match &docker.version {
        Some(version) => writeln!(out, "  {} engine {version}", mark(docker.status))?,
        None => writeln!(out, "  {} {}", mark(docker.status), docker.detail)?,
    }
    writeln!(out, "Toolchains")?;
    for tool in &report.tools {
        let what = tool.version.as_deref().unwrap_or(&tool.detail);
        writeln!(out, "  {} {:<10}{what}", mark(tool.status), tool.name)?;
    }
    let problems = report.problems();
    if problems.is_empty() {
        writeln!(out, "Everything configured works.")
    } else {
        writeln!(out, "{} problem(s):", problems.len())?;
        for problem in problems {
            writeln!(out, "  - {problem}")?;
        }
        Ok(())
    }
}

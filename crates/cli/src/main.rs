//! `selfheal`: the command-line face of the selfheal library.

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cache;
mod check;
mod doctor;
mod heal;
mod json_repair;
mod observe;
mod parse;
mod progress;
mod render;

#[derive(Debug, Parser)]
#[command(name = "selfheal", version, about = "Make generated code build.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a project and fix it until it builds.
    ///
    /// Runs the steps in DIR; while one fails, looks a fix up in the fix cache or asks the
    /// model, applies it (undoing it when it makes things worse) and builds again. Exits 0 when
    /// the build is green, 1 when it could not be healed, 2 on a usage or setup error.
    Heal(Box<heal::HealArgs>),
    /// Parse a build log into structured diagnostics.
    ///
    /// Reads FILE (or standard input for `-` or no FILE) and prints what went wrong: as JSON
    /// (`{"diagnostics": [...]}`) or as a readable listing. Exits 0 whatever the log holds.
    Parse(parse::ParseArgs),
    /// Recover the JSON value in an LLM reply.
    ///
    /// Reads FILE (or standard input) and prints the value a careful reader would extract:
    /// fences, prose, comments, bad quoting, missing commas and truncation are dealt with.
    /// Exits 1 with the reason on standard error when there is none. With `--jsonl`, answers one
    /// request line `{"input": str, "schema": "fix"|"generic"}` with one line
    /// `{"value", "ok", "stage"}` until the end of the input.
    JsonRepair(json_repair::JsonRepairArgs),
    /// Check what this machine offers: model providers (and whether they answer), Docker and
    /// toolchains.
    ///
    /// Providers are configured by ANTHROPIC_API_KEY, OPENAI_API_KEY / OPENAI_BASE_URL and
    /// GEMINI_API_KEY (and *_BASE_URL, *_MODEL). Exits 0 when every configured part works.
    Doctor(doctor::DoctorArgs),
    /// Run build steps in a project, locally or in a container, and report each step with the
    /// diagnostics of the failing one.
    ///
    /// Each step is a shell command, run in DIR in its own process group (killed whole on
    /// timeout), or with `--docker IMAGE` in a throwaway container without network. Exits 0
    /// when every step passes, 1 when one fails, 2 when the steps cannot be run.
    Check(check::CheckArgs),
    /// Look into the fix cache: stats, list, lookup a log's errors, prune, export, import.
    ///
    /// The cache remembers fixes that turned builds green; export and import move it between
    /// machines as JSON lines.
    Cache(cache::CacheArgs),
}

/// How a command ends when it did its job: a status for the shell.
type Outcome = Result<ExitCode, String>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Heal(args) => heal::run(*args),
        Command::Parse(args) => parse::run(args),
        Command::JsonRepair(args) => json_repair::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Check(args) => check::run(args),
        Command::Cache(args) => cache::run(args),
    };
    outcome.unwrap_or_else(|message| {
        eprintln!("selfheal: {message}");
        ExitCode::from(2)
    })
}

fn read_input(file: Option<&PathBuf>) -> Result<Vec<u8>, String> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        _ => {
            let mut log = Vec::new();
            io::stdin()
                .read_to_end(&mut log)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(log)
        }
    }
}

/// Flushes `written` output; a closed pipe (`selfheal parse log | head`) is not an error.
fn finish_output(written: io::Result<()>) -> Result<(), String> {
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write output: {e}")),
    }
}

//! `selfheal`: the command-line face of the selfheal library.

use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use selfheal::parse::{ParseOptions, ParserSet, PatternSpec};

mod render;

#[derive(Debug, Parser)]
#[command(name = "selfheal", version, about = "Make generated code build.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse a build log into structured diagnostics.
    ///
    /// Reads FILE (or standard input for `-` or no FILE) and prints what went wrong: as JSON
    /// (`{"diagnostics": [...]}`) or as a readable listing. Exits 0 whatever the log holds.
    Parse(ParseArgs),
}

#[derive(Debug, clap::Args)]
struct ParseArgs {
    /// The log to parse; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Project root: paths inside it are printed relative to it.
    #[arg(long, value_name = "DIR")]
    root: Option<String>,
    /// Extra line formats: a JSON array of pattern specs
    /// (`[{"name", "regex", "category", ...}]`), tried before the built-in parsers.
    #[arg(long, value_name = "FILE")]
    patterns: Option<PathBuf>,
    /// Colors in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => parse(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("selfheal: {message}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: ParseArgs) -> Result<(), String> {
    let log = read_input(args.file.as_ref())?;
    let mut parsers = ParserSet::new().with_options(ParseOptions {
        root: args.root,
        ..ParseOptions::default()
    });
    if let Some(path) = &args.patterns {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let specs: Vec<PatternSpec> = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a JSON array of pattern specs: {e}",
                path.display()
            )
        })?;
        for spec in specs {
            parsers.add_pattern(spec).map_err(|e| e.to_string())?;
        }
    }
    let diagnostics = parsers.parse(&log);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = match args.format {
        Format::Json => serde_json::to_writer(
            &mut out,
            &JsonOutput {
                diagnostics: &diagnostics,
            },
        )
        .map_err(io::Error::from)
        .and_then(|()| writeln!(out)),
        Format::Text => {
            let color = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            render::listing(&mut out, &diagnostics, color)
        }
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`selfheal parse log | head`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write output: {e}")),
    }
}

/// The JSON document `selfheal parse --format json` prints.
#[derive(serde::Serialize)]
struct JsonOutput<'a> {
    diagnostics: &'a [selfheal::Diagnostic],
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

//! `selfheal parse`: a build log in, diagnostics out.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use selfheal::parse::{ParseOptions, ParserSet, PatternSpec};

use crate::{Outcome, finish_output, read_input, render};

#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
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

pub(crate) fn run(args: ParseArgs) -> Outcome {
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
    finish_output(written.and_then(|()| out.flush()))?;
    Ok(ExitCode::SUCCESS)
}

/// The JSON document `selfheal parse --format json` prints.
#[derive(serde::Serialize)]
struct JsonOutput<'a> {
    diagnostics: &'a [selfheal::Diagnostic],
}

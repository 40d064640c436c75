//! Parse a build log and print what a healer would act on.
//!
//! ```text
//! cargo run -p selfheal-examples --example parse_log -- tests/fixtures/parsers/cargo/mismatch-build/log.txt
//! npm run build 2>&1 | cargo run -p selfheal-examples --example parse_log
//! ```

use std::io::Read;

use selfheal::parse::{ParseOptions, ParserSet};
use selfheal::{FixitEdit, Severity};

fn main() -> std::io::Result<()> {
    let log = match std::env::args().nth(1) {
        Some(path) => std::fs::read(path)?,
        None => {
            let mut log = Vec::new();
            std::io::stdin().read_to_end(&mut log)?;
            log
        }
    };
    let parsers = ParserSet::new().with_options(ParseOptions {
        root: std::env::current_dir()
            .ok()
            .map(|dir| dir.display().to_string()),
        ..ParseOptions::default()
    });
    let diagnostics = parsers.parse(&log);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    println!(
        "{errors} error(s), {} warning(s)",
        diagnostics.len() - errors
    );
    for d in &diagnostics {
        let place = match (&d.file, d.line) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.clone(),
            _ => "-".to_string(),
        };
        let level = if d.severity == Severity::Warning {
            "warn "
        } else {
            "ERROR"
        };
        println!(
            "{level} {place:<28} {:<13} {}/{} {}",
            d.code.as_deref().unwrap_or(""),
            d.category,
            d.subcategory,
            d.message
        );
        for fixit in &d.fixits {
            let edit = match &fixit.edit {
                FixitEdit::Span {
                    line,
                    column,
                    replacement,
                    ..
                } => {
                    format!("at {line}:{column} put {replacement:?}")
                }
                FixitEdit::Lines {
                    line,
                    end_line,
                    replacement,
                    ..
                } => {
                    format!("lines {line}-{end_line} become {replacement:?}")
                }
                FixitEdit::Word {
                    line,
                    original,
                    replacement,
                } => {
                    format!("line {line}: {original:?} becomes {replacement:?}")
                }
            };
            println!("      fix: {} ({edit})", fixit.message);
        }
    }
    Ok(())
}

//! The human-readable listing of diagnostics.

use std::io::{self, Write};

use selfheal::{Diagnostic, FixitEdit, Severity};

struct Style {
    enabled: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Writes one block per diagnostic and a summary line.
pub(crate) fn listing(
    out: &mut impl Write,
    diagnostics: &[Diagnostic],
    color: bool,
) -> io::Result<()> {
    let style = Style { enabled: color };
    for d in diagnostics {
        let (label, paint) = match d.severity {
            Severity::Critical => ("critical", "1;35"),
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
        };
        let code = d
            .code
            .as_deref()
            .map(|c| format!("[{c}]"))
            .unwrap_or_default();
        writeln!(
            out,
            "{}: {}",
            style.paint(paint, &format!("{label}{code}")),
            style.paint("1", &d.message)
        )?;
        let location = d.location().unwrap_or_else(|| "(no location)".to_string());
        writeln!(
            out,
            "  {} {}  {}",
            style.paint("34", "-->"),
            location,
            style.paint(
                "2",
                &format!("{} · {}/{}", d.tool, d.category, d.subcategory)
            )
        )?;
        for note in d.notes.iter().take(3) {
            writeln!(out, "  {} {note}", style.paint("34", "="))?;
        }
        for fixit in &d.fixits {
            writeln!(
                out,
                "  {} {} {}",
                style.paint("1;32", "fix:"),
                fixit.message,
                style.paint("2", &describe_edit(&fixit.edit))
            )?;
        }
        if let Some(suggestion) = d.suggestions.first() {
            writeln!(out, "  {} {suggestion}", style.paint("1;36", "help:"))?;
        }
        writeln!(out)?;
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    writeln!(
        out,
        "{} error{}, {} warning{}",
        errors,
        if errors == 1 { "" } else { "s" },
        warnings,
        if warnings == 1 { "" } else { "s" }
    )
}

fn describe_edit(edit: &FixitEdit) -> String {
    match edit {
        FixitEdit::Span {
            line,
            column,
            end_column,
            replacement,
            ..
        } => format!("({line}:{column}-{end_column} → {replacement:?})"),
        FixitEdit::Lines {
            line,
            end_line,
            replacement,
            ..
        } => format!("(lines {line}-{end_line} → {replacement:?})"),
        FixitEdit::Word {
            line,
            original,
            replacement,
        } => format!("(line {line}: {original:?} → {replacement:?})"),
    }
}

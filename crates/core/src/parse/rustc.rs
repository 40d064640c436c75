//! rustc, cargo and clippy: human output, `--message-format short`, JSON lines, and panics of
//! running programs and tests.
//!
//! ```text
//! error[E0308]: mismatched types
//!   --> src/main.rs:14:5
//! src/main.rs:14:5: error[E0308]: mismatched types: expected `u32`, found `u64`
//! {"reason":"compiler-message","message":{"level":"error","code":{"code":"E0308"},…}}
//! thread 'tests::adds' (14064) panicked at src/lib.rs:26:9:
//! ```
//!
//! Summary lines (`error: aborting due to …`, `error: could not compile …`, `warning: … generated
//! N warnings`) are consequences, not diagnostics.

use serde_json::Value;

use super::classify::{self, lazy_regex};
use super::snippet::Block;
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Fixit, FixitEdit, Severity, StackFrame, Subcategory};

builtin_parser! {
    /// Parses rustc, cargo and clippy output.
    Rustc, "rustc", RustcSession,
    ["error", "warning", "panicked at", "{\"reason\":\"compiler-message\"", "\"$message_type\":\"diagnostic\""]
}

#[derive(Debug, Default)]
struct RustcSession {
    state: State,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    /// After a human-format header: reading its body.
    Diagnostic(Box<Open>),
    /// After `error: …` without a location: reading `Caused by:` chains.
    Cargo(Box<CargoError>),
    /// After `panicked at`: reading the message and an optional backtrace.
    Panic(Box<Panic>),
}

#[derive(Debug)]
struct Open {
    diagnostic: Diagnostic,
    block: Block,
}

#[derive(Debug)]
struct CargoError {
    diagnostic: Diagnostic,
    after_blank: bool,
    in_causes: bool,
}

#[derive(Debug)]
struct Panic {
    diagnostic: Diagnostic,
    message_read: bool,
    in_backtrace: bool,
    pending_function: Option<String>,
}

impl ParserSession for RustcSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        if let State::Diagnostic(open) = &mut self.state {
            if open.block.feed(text) {
                open.diagnostic.log_lines.end = line.number();
                return true;
            }
            if open.block.location.is_none() && open.block.frame.is_empty() {
                // No code frame: a cargo-level error, possibly followed by its causes.
                if let State::Diagnostic(open) = std::mem::take(&mut self.state) {
                    let Open {
                        mut diagnostic,
                        block,
                    } = *open;
                    diagnostic.notes.extend(block.notes);
                    self.state = State::Cargo(Box::new(CargoError {
                        diagnostic,
                        after_blank: false,
                        in_causes: false,
                    }));
                }
            } else {
                self.close(out);
            }
        }
        match &mut self.state {
            State::Cargo(error) => match cargo_continuation(error, text) {
                Some(taken) => {
                    if taken {
                        error.diagnostic.log_lines.end = line.number();
                    }
                    return taken;
                }
                None => self.close(out),
            },
            State::Panic(panic) => {
                if panic_continuation(panic, text) {
                    panic.diagnostic.log_lines.end = line.number();
                    return true;
                }
                self.close(out);
            }
            State::Idle | State::Diagnostic(_) => {}
        }
        self.start(line, out)
    }

    fn busy(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

impl RustcSession {
    fn start(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if text.starts_with('{') {
            if let Some(d) = json_diagnostic(text) {
                out.emit(d.from_lines(n, n));
                return true;
            }
            return false;
        }
        if let Some(d) = short_form(text) {
            out.emit(d.from_lines(n, n));
            return true;
        }
        if let Some(d) = panic_header(text) {
            self.state = State::Panic(Box::new(Panic {
                diagnostic: d.from_lines(n, n),
                message_read: false,
                in_backtrace: false,
                pending_function: None,
            }));
            return true;
        }
        let Some(caps) = lazy_regex!(r"^(error|warning)(?:\[(?P<code>[^\]\s]+)\])?: (?P<msg>.+)$")
            .captures(text)
        else {
            return false;
        };
        let message = caps["msg"].trim_end();
        if is_summary(message) {
            return true;
        }
        let mut d = Diagnostic::new("rustc", message).from_lines(n, n);
        if &caps[1] == "warning" {
            d.severity = Severity::Warning;
        }
        if let Some(code) = caps.name("code") {
            d.code = Some(code.as_str().to_string());
        }
        if message.starts_with("process didn't exit successfully") {
            // `cargo run`/`cargo test` reporting a crashed program: a consequence unless nothing
            // else explains the failure (a segfault, an OOM kill).
            d.tool = "cargo".into();
            let (category, subcategory) = classify::by_message(message)
                .unwrap_or((Category::Runtime, Subcategory::Exception));
            out.emit_fallback(d.with_class(category, subcategory).with_confidence(0.5));
            return true;
        }
        self.state = State::Diagnostic(Box::new(Open {
            diagnostic: d,
            block: Block::default(),
        }));
        true
    }

    fn close(&mut self, out: &mut Sink) {
        match std::mem::take(&mut self.state) {
            State::Idle => {}
            State::Diagnostic(open) => {
                let Open {
                    mut diagnostic,
                    block,
                } = *open;
                if block.location.is_none() {
                    diagnostic.notes.extend(block.notes);
                    finish_cargo(&mut diagnostic);
                } else {
                    apply_block(&mut diagnostic, block);
                    classify_rustc(&mut diagnostic);
                }
                out.emit(diagnostic);
            }
            State::Cargo(error) => {
                let mut d = error.diagnostic;
                finish_cargo(&mut d);
                out.emit(d);
            }
            State::Panic(panic) => out.emit(panic.diagnostic),
        }
    }
}

fn apply_block(d: &mut Diagnostic, mut block: Block) {
    prefer_titled_span(&d.message, &mut block);
    let lint = block.lint.take();
    block.apply(d);
    if d.code.is_none() {
        d.code = lint;
    }
    d.confidence = 0.97;
}

/// With several primary spans the `-->` line names the first in the file, but the one whose
/// label repeats the title is the span the diagnostic is about (rustc's JSON lists it first):
/// `mismatched closing delimiter` points at the `}`, not at the unclosed `[`.
fn prefer_titled_span(message: &str, block: &mut Block) {
    let Some(location) = block.location.as_mut() else {
        return;
    };
    if block.carets.len() < 2 {
        return;
    }
    let title = message.split(": ").next().unwrap_or(message);
    let titled = block
        .carets
        .iter()
        .find(|(_, _, label)| !label.is_empty() && title.starts_with(label.as_str()));
    if let Some(&(line, column, _)) = titled
        && (line, column) != (location.line, location.column)
    {
        location.line = line;
        location.column = column;
        block.span_len = None;
    }
}

/// Summary and consequence lines that repeat what the diagnostics already said.
fn is_summary(message: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "aborting due to",
        "could not compile",
        "build failed",
        "test failed, to rerun",
        "doctest failed",
        "Recipe `",
        "no tests to run",
    ];
    PREFIXES.iter().any(|p| message.starts_with(p))
        || lazy_regex!(r"^(`[^`]+` \([^)]*\) )?generated \d+ warnings?|^\d+ (warnings?|errors?) emitted|^\d+ targets? failed")
            .is_match(message)
}

/// `src/main.rs:21:26: error[E0425]: cannot find value …` (`--message-format short`).
fn short_form(text: &str) -> Option<Diagnostic> {
    let caps = lazy_regex!(
        r"^(?P<file>[^\s:][^:]*\.rs):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)(?:\[(?P<code>[^\]]+)\])?: (?P<msg>.+)$"
    )
    .captures(text)?;
    let mut d = Diagnostic::new("rustc", caps["msg"].trim_end()).at(
        &caps["file"],
        number(caps.name("line")),
        number(caps.name("col")),
    );
    if &caps["sev"] == "warning" {
        d.severity = Severity::Warning;
    }
    d.code = caps.name("code").map(|c| c.as_str().to_string());
    classify_rustc(&mut d);
    Some(d.with_confidence(0.95))
}

/// `thread 'x' (123) panicked at src/lib.rs:8:5:` and the pre-1.73 form
/// `thread 'main' panicked at 'msg', src/main.rs:2:5`.
fn panic_header(text: &str) -> Option<Diagnostic> {
    let new_form = lazy_regex!(
        r"^thread '(?P<thread>[^']*)'(?: \(\d+\))? panicked at (?P<file>.+?):(?P<line>\d+):(?P<col>\d+):$"
    );
    let old_form = lazy_regex!(
        r"^thread '(?P<thread>[^']*)'(?: \(\d+\))? panicked at '(?P<msg>.*)', (?P<file>.+?):(?P<line>\d+):(?P<col>\d+)$"
    );
    let caps = new_form
        .captures(text)
        .or_else(|| old_form.captures(text))?;
    let message = caps.name("msg").map_or("", |m| m.as_str());
    let thread = &caps["thread"];
    let subcategory = if thread != "main" || message.starts_with("assertion") {
        Subcategory::TestFailure
    } else {
        Subcategory::Panic
    };
    let mut d = Diagnostic::new("rustc", message)
        .at(
            &caps["file"],
            number(caps.name("line")),
            number(caps.name("col")),
        )
        .with_class(Category::Runtime, subcategory)
        .with_confidence(0.95);
    if thread != "main" {
        d.notes.push(format!("thread: {thread}"));
    }
    Some(d)
}

/// Reads the panic message (new form: the next line), its continuation and a backtrace.
fn panic_continuation(panic: &mut Panic, text: &str) -> bool {
    let d = &mut panic.diagnostic;
    if !panic.message_read && d.message.is_empty() {
        if text.trim().is_empty() {
            return false;
        }
        d.message = text.trim_end().to_string();
        panic.message_read = true;
        if d.message.starts_with("assertion") {
            d.subcategory = Subcategory::TestFailure;
        }
        if let Some(class) = classify::by_message(text) {
            (d.category, d.subcategory) = class;
        }
        return true;
    }
    panic.message_read = true;
    if text.trim() == "stack backtrace:" {
        panic.in_backtrace = true;
        return true;
    }
    if panic.in_backtrace {
        if let Some(caps) = lazy_regex!(r"^\s+\d+: (.+)$").captures(text) {
            panic.pending_function = Some(caps[1].trim().to_string());
            return true;
        }
        if let Some(caps) = lazy_regex!(r"^\s+at (.+?):(\d+):(\d+)$").captures(text) {
            let file = caps[1].to_string();
            if !file.starts_with("/rustc/") && !file.contains("/.cargo/registry/") {
                d.stack.push(StackFrame {
                    file: Some(file),
                    line: number(caps.get(2)),
                    column: number(caps.get(3)),
                    function: panic.pending_function.take(),
                });
            }
            return true;
        }
        return text.trim_start().starts_with("note:");
    }
    if text.starts_with("note: run with `RUST_BACKTRACE") {
        return true;
    }
    // `assertion failed` details: `  left: 4` / ` right: 5`.
    if lazy_regex!(r"^\s*(left|right)\s*:").is_match(text) {
        d.notes.push(text.trim().to_string());
        return true;
    }
    false
}

/// Reads what follows a location-less cargo error: lines right under it, then `Caused by:`
/// chains. `None` ends the error.
fn cargo_continuation(error: &mut CargoError, text: &str) -> Option<bool> {
    if text.trim().is_empty() {
        error.after_blank = true;
        return Some(false);
    }
    let indented = text.starts_with([' ', '\t']);
    let directly_under = !error.after_blank
        && !text.contains("error")
        && !text.contains("warning")
        && !text.contains("-->")
        && !lazy_regex!(r"^(note|help)\b").is_match(text);
    if text == "Caused by:" {
        error.in_causes = true;
        return Some(true);
    }
    if (indented && (error.in_causes || !error.after_blank)) || directly_under {
        let note = text.trim();
        if !note.starts_with('|') && !lazy_regex!(r"^\d+ \|").is_match(note) {
            error.diagnostic.notes.push(note.to_string());
        }
        return Some(true);
    }
    None
}

fn finish_cargo(d: &mut Diagnostic) {
    let all_text = std::iter::once(d.message.as_str())
        .chain(d.notes.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    if let Some(caps) =
        lazy_regex!(r"TOML parse error at line (\d+), column (\d+)").captures(&all_text)
        && let Some(path) = lazy_regex!(r"manifest at `([^`]+)`").captures(&all_text)
    {
        d.file = Some(path[1].to_string());
        d.line = number(caps.get(1));
        d.column = number(caps.get(2));
    }
    let mentions_cargo =
        lazy_regex!(r"(?i)cargo|manifest|crate|package|registry|workspace|dependenc")
            .is_match(&all_text);
    d.tool = if mentions_cargo { "cargo" } else { "unknown" }.into();
    let (category, subcategory) = if d.file.as_deref().is_some_and(|f| f.ends_with(".toml")) {
        (Category::Syntax, Subcategory::ParseError)
    } else if let Some(class) = cargo_class(&all_text) {
        class
    } else if let Some(class) = classify::by_message(&all_text) {
        class
    } else if mentions_cargo {
        (Category::Configuration, Subcategory::Manifest)
    } else {
        (Category::Unknown, Subcategory::Other)
    };
    d.category = category;
    d.subcategory = subcategory;
    if d.severity == Severity::Warning && d.category != Category::Unknown {
        d.category = Category::Configuration;
    }
    d.confidence = if mentions_cargo { 0.85 } else { 0.6 };
}

fn cargo_class(text: &str) -> Option<(Category, Subcategory)> {
    if lazy_regex!(r"no matching package named|failed to load source for dependency|could not find `[^`]+` in (registry|the registry)").is_match(text) {
        return Some((Category::Dependency, Subcategory::MissingPackage));
    }
    if lazy_regex!(
        r"failed to select a version|versions that meet the requirements|conflicting requirements"
    )
    .is_match(text)
    {
        return Some((Category::Dependency, Subcategory::VersionConflict));
    }
    if lazy_regex!(r"linker `[^`]+` not found|could not find native static library").is_match(text)
    {
        return Some((Category::Dependency, Subcategory::NativeModule));
    }
    if lazy_regex!(r"failed to run custom build command").is_match(text) {
        return Some((Category::Dependency, Subcategory::NativeModule));
    }
    None
}

/// Category, subcategory and tool of a diagnostic with a rustc location.
fn classify_rustc(d: &mut Diagnostic) {
    use Category as C;
    use Subcategory as S;
    let code = d.code.clone().unwrap_or_default();
    if code.starts_with("clippy::") {
        d.tool = "clippy".into();
    }
    if d.file.as_deref().is_some_and(|f| f.ends_with(".toml")) {
        d.tool = "cargo".into();
        (d.category, d.subcategory) = (C::Syntax, S::ParseError);
        return;
    }
    let message = d.message.as_str();
    let mentions_crate = || {
        lazy_regex!(
            r"unlinked crate|undeclared crate|missing crate|cargo add|extern crate|can't find crate"
        )
        .is_match(message)
            || d.notes
                .iter()
                .any(|n| n.contains("cargo add") || n.contains("crate named"))
    };
    let class = if let Some(number) = code.strip_prefix('E').and_then(|n| n.parse::<u32>().ok()) {
        match number {
            432 | 433 if mentions_crate() => (C::Dependency, S::MissingPackage),
            463 | 583 => (C::Dependency, S::MissingPackage),
            425 | 412 | 422 | 423 | 424 | 432 | 433 | 531 | 404 | 405 | 407 | 411 => {
                (C::Type, S::UndefinedName)
            }
            308 | 369 | 600 | 604 | 605 | 606 | 614 | 618 => (C::Type, S::TypeMismatch),
            277 => (C::Type, S::GenericConstraint),
            609 | 599 | 560 | 26 | 63 | 559 | 615 | 616 => (C::Type, S::MissingProperty),
            61 | 57 | 60 | 107 | 50 => (C::Type, S::WrongArity),
            106 | 373 | 381 | 382 | 384 | 495 | 499 | 502 | 503 | 505 | 506 | 507 | 515 | 596
            | 597 | 621 | 623 | 716 | 759 => (C::Type, S::BorrowCheck),
            _ => (C::Type, S::Other),
        }
    } else if !code.is_empty() {
        // A lint: style when it warns, a real error when the project denies it.
        let sub = if code.contains("deprecated") {
            S::Deprecation
        } else {
            S::Lint
        };
        if d.severity == Severity::Warning {
            (C::Unknown, sub)
        } else {
            (C::Type, sub)
        }
    } else if d.severity == Severity::Warning {
        (C::Unknown, S::Other)
    } else if let Some(sub) = syntax_subcategory(message) {
        (C::Syntax, sub)
    } else {
        classify::by_message(message).unwrap_or((C::Type, S::Other))
    };
    (d.category, d.subcategory) = class;
}

fn syntax_subcategory(message: &str) -> Option<Subcategory> {
    if lazy_regex!(r"^(this file contains an unclosed delimiter|unclosed delimiter|unterminated |unexpected end of)").is_match(message) {
        return Some(Subcategory::UnexpectedEof);
    }
    if lazy_regex!(r"^(expected |unexpected |mismatched closing delimiter|unknown start of token|missing `|found invalid character|invalid |keyword `[^`]+` is written in)").is_match(message) {
        return Some(Subcategory::UnexpectedToken);
    }
    None
}

/// A diagnostic from cargo's `--message-format json` or rustc's `--error-format json`.
fn json_diagnostic(text: &str) -> Option<Diagnostic> {
    let value: Value = serde_json::from_str(text).ok()?;
    let message = if value.get("reason").and_then(Value::as_str) == Some("compiler-message") {
        value.get("message")?
    } else if value.get("$message_type").and_then(Value::as_str) == Some("diagnostic") {
        &value
    } else {
        return None;
    };
    let level = message.get("level")?.as_str()?;
    let severity = match level {
        "error" | "error: internal compiler error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => return None,
    };
    let text = message.get("message")?.as_str()?;
    if is_summary(text) {
        return None;
    }
    let mut d = Diagnostic::new("rustc", text).with_severity(severity);
    d.code = message
        .pointer("/code/code")
        .and_then(Value::as_str)
        .map(str::to_string);
    let spans = message.get("spans").and_then(Value::as_array);
    if let Some(span) = spans.and_then(|s| {
        s.iter()
            .find(|sp| sp.get("is_primary").and_then(Value::as_bool) == Some(true))
    }) {
        let field = |name: &str| {
            span.get(name)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
        };
        d.file = span
            .get("file_name")
            .and_then(Value::as_str)
            .map(str::to_string);
        d.line = field("line_start");
        d.column = field("column_start");
        d.end_line = field("line_end");
        d.end_column = field("column_end");
    }
    if let Some(children) = message.get("children").and_then(Value::as_array) {
        for child in children {
            let child_message = child.get("message").and_then(Value::as_str).unwrap_or("");
            let child_level = child.get("level").and_then(Value::as_str).unwrap_or("note");
            d.notes.push(format!("{child_level}: {child_message}"));
            if d.code.is_none()
                && let Some(caps) =
                    lazy_regex!(r"#\[(?:warn|deny|forbid)\(([\w:]+)\)\]").captures(child_message)
            {
                d.code = Some(caps[1].to_string());
            }
            for span in child
                .get("spans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(fixit) = json_fixit(child_message, span) {
                    d.fixits.push(fixit);
                }
            }
        }
    }
    d.snippet = message
        .get("rendered")
        .and_then(Value::as_str)
        .map(|r| r.trim_end().to_string());
    if d.file.is_none() {
        finish_cargo(&mut d);
        return Some(d);
    }
    classify_rustc(&mut d);
    Some(d.with_confidence(0.99))
}

fn json_fixit(message: &str, span: &Value) -> Option<Fixit> {
    let replacement = span.get("suggested_replacement")?.as_str()?;
    let field = |name: &str| {
        span.get(name)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    Some(Fixit {
        message: message.to_string(),
        file: span
            .get("file_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        edit: FixitEdit::Span {
            line: field("line_start")?,
            column: field("column_start")?,
            end_line: field("line_end")?,
            end_column: field("column_end")?,
            replacement: replacement.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, FixitEdit, Severity, Subcategory};

    #[test]
    fn human_output_with_lint_code_and_summaries_skipped() {
        let log = "warning: unused import: `std::fmt::Write`\n --> src/main.rs:2:5\n  |\n2 | use std::fmt::Write;\n  |     ^^^^^^^^^^^^^^^\n  |\n  = note: `#[warn(unused_imports)]` (part of `#[warn(unused)]`) on by default\n\nerror[E0308]: mismatched types\n  --> src/main.rs:14:5\n   |\n14 |     sum as u64\n   |     ^^^^^^^^^^ expected `u32`, found `u64`\n\nwarning: `inventory` (bin \"inventory\") generated 1 warning\nerror: could not compile `inventory` (bin \"inventory\") due to 1 previous error; 1 warning emitted\n";
        let found = parse(log);
        assert_eq!(found.len(), 2, "{found:#?}");
        let error = &found[0];
        assert_eq!(error.code.as_deref(), Some("E0308"));
        assert_eq!(
            (error.line, error.column, error.end_column),
            (Some(14), Some(5), Some(15))
        );
        assert_eq!(error.subcategory, Subcategory::TypeMismatch);
        let warning = &found[1];
        assert_eq!(warning.severity, Severity::Warning);
        assert_eq!(warning.code.as_deref(), Some("unused_imports"));
        assert_eq!(warning.category, Category::Unknown);
    }

    #[test]
    fn short_format() {
        let found = parse(
            "src/lib.rs:6:12: error[E0106]: missing lifetime specifier: expected named lifetime parameter\n",
        );
        assert_eq!(found[0].subcategory, Subcategory::BorrowCheck);
        assert_eq!(found[0].line, Some(6));
    }

    #[test]
    fn manifest_errors_are_cargo_syntax_errors() {
        let d = &parse(
            "error: unclosed table, expected `]`\n --> Cargo.toml:6:14\n  |\n6 | [dependencies\n  |              ^\n",
        )[0];
        assert_eq!((d.tool.as_str(), d.category), ("cargo", Category::Syntax));
        assert_eq!(d.file.as_deref(), Some("Cargo.toml"));
    }

    #[test]
    fn cargo_errors_with_causes() {
        let log = "error: failed to select a version for the requirement `serde = \"^99\"`\ncandidate versions found which didn't match: 1.0.200\nlocation searched: crates.io index\n";
        let d = &parse(log)[0];
        assert_eq!(d.tool, "cargo");
        assert_eq!(d.subcategory, Subcategory::VersionConflict);
        assert_eq!(d.file, None);
    }

    #[test]
    fn panics_new_and_old_form() {
        let log = "thread 'tests::adds_wrong' (14064) panicked at src/lib.rs:26:9:\nassertion `left == right` failed\n  left: 4\n right: 5\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\nthread 'main' panicked at 'boom', src/main.rs:2:5\n";
        let found = parse(log);
        assert_eq!(found.len(), 2);
        let test = found.iter().find(|d| d.line == Some(26)).unwrap();
        assert_eq!(test.message, "assertion `left == right` failed");
        assert_eq!(test.subcategory, Subcategory::TestFailure);
        assert_eq!(
            test.notes,
            ["thread: tests::adds_wrong", "left: 4", "right: 5"]
        );
        let main = found.iter().find(|d| d.line == Some(2)).unwrap();
        assert_eq!(
            (main.message.as_str(), main.subcategory),
            ("boom", Subcategory::Panic)
        );
    }

    #[test]
    fn backtrace_frames_outside_std() {
        let log = "thread 'main' panicked at src/main.rs:3:5:\nboom\nstack backtrace:\n   0: std::panicking::begin_panic\n             at /rustc/abc/library/std/src/panicking.rs:652:5\n   1: app::run\n             at ./src/main.rs:3:5\n   2: app::main\n             at ./src/main.rs:7:5\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n";
        let d = &parse(log)[0];
        assert_eq!(d.stack.len(), 2);
        assert_eq!(d.stack[0].function.as_deref(), Some("app::run"));
        assert_eq!(d.stack[0].file.as_deref(), Some("src/main.rs"));
    }

    #[test]
    fn json_lines_give_exact_fixits() {
        let log = r#"{"reason":"compiler-message","package_id":"x","manifest_path":"/p/Cargo.toml","target":{},"message":{"rendered":"warning: unused variable: `x`\n","$message_type":"diagnostic","children":[{"children":[],"code":null,"level":"note","message":"`#[warn(unused_variables)]` on by default","rendered":null,"spans":[]},{"children":[],"code":null,"level":"help","message":"if this is intentional, prefix it with an underscore","rendered":null,"spans":[{"byte_end":20,"byte_start":19,"column_end":10,"column_start":9,"expansion":null,"file_name":"src/main.rs","is_primary":true,"label":null,"line_end":2,"line_start":2,"suggested_replacement":"_x","suggestion_applicability":"MachineApplicable","text":[]}]}],"code":{"code":"unused_variables","explanation":null},"level":"warning","message":"unused variable: `x`","spans":[{"byte_end":20,"byte_start":19,"column_end":10,"column_start":9,"expansion":null,"file_name":"src/main.rs","is_primary":true,"label":null,"line_end":2,"line_start":2,"suggested_replacement":null,"suggestion_applicability":null,"text":[]}]}}
{"reason":"compiler-artifact","package_id":"x"}
"#;
        let found = parse(log);
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!(d.code.as_deref(), Some("unused_variables"));
        assert_eq!(
            (d.line, d.column, d.end_column),
            (Some(2), Some(9), Some(10))
        );
        assert_eq!(
            d.fixits[0].edit,
            FixitEdit::Span {
                line: 2,
                column: 9,
                end_line: 2,
                end_column: 10,
                replacement: "_x".into()
            }
        );
    }

    #[test]
    fn external_crate_imports_are_dependencies() {
        let log = "error[E0432]: unresolved import `rand`\n --> src/main.rs:1:5\n  |\n1 | use rand::Rng;\n  |     ^^^^ use of unresolved module or unlinked crate `rand`\n  |\n  = help: if you wanted to use a crate named `rand`, use `cargo add rand` to add it to your `Cargo.toml`\n\nerror[E0433]: failed to resolve: use of undeclared type `HashMap`\n --> src/main.rs:3:13\n";
        let found = parse(log);
        assert_eq!(found[0].category, Category::Dependency);
        assert_eq!(found[1].subcategory, Subcategory::UndefinedName);
    }
}

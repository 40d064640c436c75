//! TypeScript compiler (`tsc`), in `--pretty false` and pretty form.
//!
//! ```text
//! src/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.
//! src/app.ts:12:3 - error TS2322: Type 'string' is not assignable to type 'number'.
//! error TS5023: Unknown compiler option 'strictt'.
//! ```
//!
//! Pretty output is followed by a code frame (`12   port: "8080",` over `~~~~`) and related
//! locations; plain output by indented message-chain lines. Both become the snippet and notes of
//! the diagnostic they follow.

use regex::Captures;

use super::classify::lazy_regex;
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Fixit, FixitEdit, Severity, Subcategory};

builtin_parser! {
    /// Parses `tsc` output.
    Tsc, "tsc", TscSession,
    ["error TS", "warning TS"]
}

#[derive(Debug, Default)]
struct TscSession {
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    diagnostic: Diagnostic,
    pretty: bool,
    frame: Vec<String>,
    related: bool,
    blank_run: u32,
}

/// Reads a tsc header line into a diagnostic (without class), or `None`.
pub(crate) fn header(text: &str) -> Option<(Diagnostic, bool)> {
    let plain = lazy_regex!(
        r"^\s*(?:\[\w*Error: )?(?P<file>[^\s(][^(]*?)\((?P<line>\d+),(?P<col>\d+)\): (?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.*)$"
    );
    let pretty = lazy_regex!(
        r"^\s*(?P<file>\S.*?):(?P<line>\d+):(?P<col>\d+) - (?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.*)$"
    );
    let global = lazy_regex!(r"^\s*(?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.*)$");
    let (caps, pretty) = if let Some(c) = plain.captures(text) {
        (c, false)
    } else if let Some(c) = pretty.captures(text) {
        (c, true)
    } else {
        (global.captures(text)?, false)
    };
    Some((from_captures(&caps), pretty))
}

fn from_captures(caps: &Captures<'_>) -> Diagnostic {
    let code = &caps["code"];
    let message = caps["msg"].trim_end();
    let mut d = Diagnostic::new("tsc", message).with_code(code);
    if let Some(file) = caps.name("file") {
        d = d.at(
            file.as_str().trim(),
            number(caps.name("line")),
            number(caps.name("col")),
        );
    }
    if &caps["sev"] == "warning" {
        d.severity = Severity::Warning;
    }
    let (category, subcategory) = classify(code, message);
    d = d.with_class(category, subcategory).with_confidence(0.98);
    d.fixits
        .extend(did_you_mean(&d).or_else(|| missing_punctuation(&d)));
    if let Some(command) = lazy_regex!(r"Try `([^`]+)`").captures(message) {
        d.suggestions.push(format!("Run `{}`", &command[1]));
    }
    d
}

impl ParserSession for TscSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        if let Some((diagnostic, pretty)) = header(text) {
            self.close(out);
            self.open = Some(Open {
                diagnostic: diagnostic.from_lines(line.number(), line.number()),
                pretty,
                frame: Vec::new(),
                related: false,
                blank_run: 0,
            });
            return true;
        }
        let Some(open) = self.open.as_mut() else {
            return false;
        };
        if text.trim().is_empty() {
            open.blank_run += 1;
            if !open.pretty || open.blank_run > 1 {
                self.close(out);
                return false;
            }
            return true;
        }
        let indented = text.starts_with([' ', '\t']);
        let frame_line = open.pretty && is_frame_line(text);
        if !(indented || frame_line) {
            self.close(out);
            return false;
        }
        open.blank_run = 0;
        open.diagnostic.log_lines.end = line.number();
        let trimmed = text.trim();
        if lazy_regex!(r"^\S+:\d+:\d+$").is_match(trimmed) {
            // A related location: its frame lines are not the primary snippet.
            open.related = true;
        } else if frame_line {
            if !open.related && open.frame.len() < 40 {
                open.frame.push(text.trim_end().to_string());
            }
        } else {
            open.diagnostic.notes.push(trimmed.to_string());
        }
        true
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

impl TscSession {
    fn close(&mut self, out: &mut Sink) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        if let Some(end) = underline_end(&open.frame, &open.diagnostic) {
            open.diagnostic.end_line = open.diagnostic.line;
            open.diagnostic.end_column = Some(end);
        }
        if !open.frame.is_empty() {
            open.diagnostic.snippet = Some(open.frame.join("\n"));
        }
        if open.diagnostic.fixits.is_empty() {
            let suggested = chain_suggestion(&open.diagnostic);
            open.diagnostic.fixits.extend(suggested);
        }
        out.emit(open.diagnostic);
    }
}

/// The "did you mean" inside a message chain: `Type '{ class: string; }' is not assignable to
/// type '…'.` then `Property 'class' does not exist on type '…'. Did you mean 'className'?` —
/// an HTML attribute written in JSX (`class`, `for`, `onclick`). The property is replaced on
/// the reported line (tsc points at the element or the attribute), first occurrence.
pub(crate) fn chain_suggestion(d: &Diagnostic) -> Option<Fixit> {
    let found = (d.notes.iter()).find_map(|note| {
        lazy_regex!(r"^Property '([A-Za-z_$][\w$-]*)' does not exist on type '.*'\. Did you mean '([A-Za-z_$][\w$]*)'\?$")
            .captures(note.trim())
    })?;
    Some(Fixit {
        message: format!("Did you mean '{}'?", &found[2]),
        file: d.file.clone(),
        edit: FixitEdit::Word {
            line: d.line?,
            original: found[1].to_string(),
            replacement: found[2].to_string(),
        },
    })
}

/// A pretty code-frame line: `12   port: "8080",` or the `~~~~` underline beneath it.
fn is_frame_line(text: &str) -> bool {
    let trimmed = text.trim_start();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0 && trimmed.as_bytes().get(digits) == Some(&b' '))
        || (trimmed.starts_with('~') && trimmed.trim_end().bytes().all(|b| b == b'~' || b == b' '))
}

/// The column just past the `~~~` underline of the primary frame.
fn underline_end(frame: &[String], d: &Diagnostic) -> Option<u32> {
    let column = d.column?;
    let line_label = d.line?.to_string();
    let source = frame
        .iter()
        .position(|l| l.trim_start().starts_with(&line_label))?;
    let underline = frame.get(source + 1)?;
    let tildes = underline.bytes().filter(|&b| b == b'~').count();
    (tildes > 0).then(|| column.saturating_add(u32::try_from(tildes).unwrap_or(u32::MAX)))
}

/// `TS1005: ')' expected.` → the punctuation inserted where tsc stopped (before the token it
/// found instead): the usual repair of a dropped bracket, semicolon, comma or colon. Only for
/// one punctuation character; tried and undone like any fix when it does not help.
fn missing_punctuation(d: &Diagnostic) -> Option<Fixit> {
    if d.code.as_deref() != Some("TS1005") {
        return None;
    }
    let wanted = lazy_regex!(r"^'([)\]};,:])' expected\.?$")
        .captures(&d.message)?
        .get(1)?
        .as_str();
    let (line, column) = (d.line?, d.column?);
    Some(Fixit {
        message: format!("insert `{wanted}`"),
        file: d.file.clone(),
        edit: FixitEdit::Span {
            line,
            column,
            end_line: line,
            end_column: column,
            replacement: wanted.to_string(),
        },
    })
}

/// `Did you mean 'length'?` → replace the misspelt identifier at the reported column. Not for
/// an imported name (TS2724): renaming it at the import would leave its uses behind; the
/// export-names fixer imports the suggestion under the name the code uses.
fn did_you_mean(d: &Diagnostic) -> Option<Fixit> {
    if d.code.as_deref() == Some("TS2724") {
        return None;
    }
    let suggestion = lazy_regex!(r"Did you mean (?:to write )?'([^']+)'\?")
        .captures(&d.message)?
        .get(1)?
        .as_str();
    let line = d.line?;
    let message = format!("Did you mean '{suggestion}'?");
    // A string literal (TS2820): the column points at the property it is assigned to, so the
    // literal is found by its text on the line.
    if suggestion.starts_with('"') {
        let literal = lazy_regex!(r#"Type '("[^"]*")'"#)
            .captures(&d.message)?
            .get(1)?;
        return Some(Fixit {
            message,
            file: d.file.clone(),
            edit: FixitEdit::Word {
                line,
                original: literal.as_str().to_string(),
                replacement: suggestion.to_string(),
            },
        });
    }
    let original = lazy_regex!(r"'([A-Za-z_$][\w$]*)'")
        .captures_iter(&d.message)
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str())
        .find(|name| *name != suggestion)?;
    let column = d.column?;
    // In tsconfig.json the column points at the opening quote, not at the name.
    if !d.file.as_deref().is_some_and(|f| {
        f.ends_with(".ts") || f.ends_with(".tsx") || f.ends_with(".mts") || f.ends_with(".cts")
    }) {
        return Some(Fixit {
            message,
            file: d.file.clone(),
            edit: FixitEdit::Word {
                line,
                original: original.to_string(),
                replacement: suggestion.to_string(),
            },
        });
    }
    Some(Fixit {
        message,
        file: d.file.clone(),
        edit: FixitEdit::Span {
            line,
            column,
            end_line: line,
            end_column: column.saturating_add(u32::try_from(original.len()).unwrap_or(0)),
            replacement: suggestion.to_string(),
        },
    })
}

/// Category of a tsc code; the message refines a few broad codes.
pub(crate) fn classify(code: &str, message: &str) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    let n: u32 = code.trim_start_matches("TS").parse().unwrap_or(0);
    match n {
        2307 | 2792 | 2688 | 7016 | 2580 | 2591 | 2582 | 2593 | 2867 | 2868 => {
            (C::Dependency, S::MissingPackage)
        }
        2583 | 2584 | 2585 | 2550 | 2802 => (C::Configuration, S::Tsconfig),
        1192 => (C::Type, S::MissingExport),
        1202 | 1203 | 1208 | 1219 | 1259 | 1286 | 1287 | 1323 | 1324 | 1343 | 1375 | 1378
        | 1470 | 1479 | 1484 | 1485 => (C::Configuration, S::Tsconfig),
        1002 | 1126 | 1160 | 1161 => (C::Syntax, S::UnexpectedEof),
        1003 | 1005 | 1109 | 1127 | 1128 | 1135 | 1136 | 1138 | 1144 => {
            (C::Syntax, S::UnexpectedToken)
        }
        1000..=1499 => (C::Syntax, S::ParseError),
        2304 | 2552 | 2662 | 2663 | 2686 => (C::Type, S::UndefinedName),
        2305 | 2459 | 2460 | 2613 | 2614 | 2724 => (C::Type, S::MissingExport),
        2339 | 2551 | 2576 | 2739 | 2740 | 2741 => (C::Type, S::MissingProperty),
        2531 | 2532 | 2533 | 2722 | 18047 | 18048 | 18049 => (C::Type, S::NullUndefined),
        2344 => (C::Type, S::GenericConstraint),
        2554 | 2555 | 2556 | 2557 | 2575 => (C::Type, S::WrongArity),
        2322 | 2345 | 2352 | 2353 | 2362 | 2363 | 2365 | 2367 | 2561 | 2769 => {
            (C::Type, S::TypeMismatch)
        }
        6133 | 6138 | 6192 | 6196 | 6198 | 6199 | 6205 | 7027 | 7028 => (C::Unknown, S::Lint),
        6385 | 6387 => (C::Unknown, S::Deprecation),
        5000..=6999 | 18003 => (C::Configuration, S::Tsconfig),
        _ => {
            let sub = if message.contains("is not assignable") {
                S::TypeMismatch
            } else if message.contains("does not exist on type") {
                S::MissingProperty
            } else if message.contains("possibly 'null'")
                || message.contains("possibly 'undefined'")
            {
                S::NullUndefined
            } else {
                S::Other
            };
            (C::Type, sub)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, FixitEdit, Subcategory};

    #[test]
    fn a_missing_punctuation_mark_is_inserted_where_tsc_stopped() {
        let log = "src/a.ts(2,36): error TS1005: ')' expected.\nsrc/a.ts(5,3): error TS1005: '=>' expected.\nsrc/b.ts(9,1): error TS1005: ';' expected.\n";
        let found = parse(log);
        let edits: Vec<Option<&FixitEdit>> = found
            .iter()
            .map(|d| d.fixits.first().map(|f| &f.edit))
            .collect();
        assert!(
            matches!(edits[0], Some(FixitEdit::Span { line: 2, column: 36, end_column: 36, replacement, .. }) if replacement == ")")
        );
        assert_eq!(edits[1], None, "not one punctuation mark");
        assert!(
            matches!(edits[2], Some(FixitEdit::Span { line: 9, column: 1, replacement, .. }) if replacement == ";")
        );
    }

    #[test]
    fn a_suggestion_in_the_message_chain_is_a_fixit() {
        let log = "src/components/StatCard.tsx(12,10): error TS2322: Type '{ children: Element[]; class: string; }' is not assignable to type 'DetailedHTMLProps<HTMLAttributes<HTMLDivElement>, HTMLDivElement>'.\n  Property 'class' does not exist on type 'DetailedHTMLProps<HTMLAttributes<HTMLDivElement>, HTMLDivElement>'. Did you mean 'className'?\n";
        let d = &parse(log)[0];
        assert_eq!(
            d.fixits[0].edit,
            FixitEdit::Word {
                line: 12,
                original: "class".into(),
                replacement: "className".into()
            }
        );
        let plain =
            "src/a.tsx(3,5): error TS2322: Type 'number' is not assignable to type 'string'.\n";
        assert!(parse(plain)[0].fixits.is_empty());
    }

    #[test]
    fn next_prints_a_broken_tsconfig_inside_an_error_object() {
        let log = "> Build error occurred\n[Error: tsconfig.json(8,5): error TS1005: ',' expected.\n] {\n  type: 'FatalError'\n}\n";
        let found = parse(log);
        assert_eq!(
            (found[0].file.as_deref(), found[0].line, found[0].column),
            (Some("tsconfig.json"), Some(8), Some(5))
        );
    }

    #[test]
    fn plain_output_with_message_chain() {
        let log = "src/a.ts(3,7): error TS2322: Type '{ a: number; }' is not assignable to type 'B'.\n  Object literal may only specify known properties, and 'a' does not exist in type 'B'.\nsrc/b.ts(1,1): error TS1005: ';' expected.\n";
        let found = parse(log);
        assert_eq!(found.len(), 2);
        let syntax = &found[0];
        assert_eq!(syntax.category, Category::Syntax);
        assert_eq!(syntax.subcategory, Subcategory::UnexpectedToken);
        let mismatch = &found[1];
        assert_eq!(mismatch.code.as_deref(), Some("TS2322"));
        assert_eq!(mismatch.notes.len(), 1);
        assert_eq!(mismatch.log_lines.end, 2);
    }

    #[test]
    fn pretty_output_with_frame_and_related_location() {
        let log = "\x1b[96msrc/app.ts\x1b[0m:\x1b[93m12\x1b[0m:\x1b[93m3\x1b[0m - \x1b[91merror\x1b[0m\x1b[90m TS2322: \x1b[0mType 'string' is not assignable to type 'number'.\n\n\x1b[7m12\x1b[0m   port: \"8080\",\n\x1b[7m  \x1b[0m \x1b[91m  ~~~~\x1b[0m\n\n  src/app.ts:11:14\n    11 const cfg: { port: number } = {\n                    ~~~~\n    The expected type comes from property 'port'\n\n\nFound 1 error in src/app.ts:12\n";
        let found = parse(log);
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!(
            (d.line, d.column, d.end_column),
            (Some(12), Some(3), Some(7))
        );
        assert_eq!(
            d.snippet.as_deref(),
            Some("12   port: \"8080\",\n     ~~~~")
        );
        assert_eq!(d.notes, ["The expected type comes from property 'port'"]);
    }

    #[test]
    fn did_you_mean_becomes_a_fixit() {
        let log = "src/a.ts(4,13): error TS2551: Property 'lenght' does not exist on type 'string'. Did you mean 'length'?\n";
        let d = &parse(log)[0];
        assert_eq!(d.subcategory, Subcategory::MissingProperty);
        assert_eq!(
            d.fixits[0].edit,
            FixitEdit::Span {
                line: 4,
                column: 13,
                end_line: 4,
                end_column: 19,
                replacement: "length".into()
            }
        );
    }

    #[test]
    fn a_string_literal_did_you_mean_replaces_the_literal_not_the_property() {
        let log = "src/invoice.ts(21,20): error TS2820: Type '\"Paid\"' is not assignable to type 'InvoiceState'. Did you mean '\"paid\"'?\n";
        let found = parse(log);
        assert_eq!(
            found[0].fixits[0].edit,
            FixitEdit::Word {
                line: 21,
                original: "\"Paid\"".into(),
                replacement: "\"paid\"".into(),
            }
        );
    }

    #[test]
    fn did_you_mean_in_tsconfig_replaces_the_name() {
        let log = "tsconfig.json(5,5): error TS5025: Unknown compiler option 'strictNullCheckz'. Did you mean 'strictNullChecks'?\n";
        let d = &parse(log)[0];
        assert_eq!(d.category, Category::Configuration);
        assert_eq!(
            d.fixits[0].edit,
            FixitEdit::Word {
                line: 5,
                original: "strictNullCheckz".into(),
                replacement: "strictNullChecks".into()
            }
        );
    }

    #[test]
    fn config_errors_without_location() {
        let d = &parse("error TS5023: Unknown compiler option 'strictt'.\n")[0];
        assert_eq!(d.category, Category::Configuration);
        assert_eq!(d.file, None);
    }

    #[test]
    fn node_types_hint_becomes_a_suggestion() {
        let d = &parse(
            "src/s.ts(1,12): error TS2591: Cannot find name 'require'. Do you need to install type definitions for node? Try `npm i --save-dev @types/node` and then add 'node' to the types field in your tsconfig.\n",
        )[0];
        assert_eq!(d.category, Category::Dependency);
        assert_eq!(d.suggestions[0], "Run `npm i --save-dev @types/node`");
    }
}

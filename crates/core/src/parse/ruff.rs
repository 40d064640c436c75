//! ruff (and flake8-style) findings: `concise` lines and the default `full` format.
//!
//! ```text
//! api/routes.py:1:8: F401 [*] `os` imported but unused
//! F401 [*] `os` imported but unused
//!  --> api/routes.py:1:8
//! ```
//!
//! The full format is the annotate-snippets layout of rustc, so its fixes (`help:` with a diff)
//! become fixits the same way.

use super::classify::lazy_regex;
use super::snippet::Block;
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Fixit, Subcategory};

builtin_parser! {
    /// Parses ruff output.
    Ruff, "ruff", RuffSession,
    [".py:", ".pyi:", ".ipynb:", "-->"]
}

#[derive(Debug, Default)]
struct RuffSession {
    open: Option<(Diagnostic, Block)>,
}

const CODE: &str = r"(?P<code>[A-Z]{1,4}[0-9]{1,4}|invalid-syntax|SyntaxError)";

impl ParserSession for RuffSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        if let Some((d, block)) = self.open.as_mut() {
            if block.feed(text) {
                d.log_lines.end = line.number();
                return true;
            }
            self.close(out);
        }
        let n = line.number();
        // `file.py:12:` — checked cheaply before the regex (pytest prints `file.py::test`).
        let located = [".py:", ".pyi:", ".ipynb:"].iter().any(|ext| {
            text.match_indices(ext).any(|(i, m)| {
                text.as_bytes()
                    .get(i + m.len())
                    .is_some_and(u8::is_ascii_digit)
            })
        });
        let concise = lazy_regex!(&format!(
            r"^(?P<file>[^\s:][^:]*?\.(?:py|pyi|ipynb)):(?P<line>\d+):(?P<col>\d+): {CODE}:?(?: \[\*\])? (?P<msg>.+)$"
        ));
        if located && let Some(caps) = concise.captures(text) {
            let d = diagnostic(&caps["code"], &caps["msg"])
                .at(
                    &caps["file"],
                    number(caps.name("line")),
                    number(caps.name("col")),
                )
                .from_lines(n, n);
            out.emit(d);
            return true;
        }
        let Some(location) =
            lazy_regex!(r"^\s*--> (?P<file>.+?\.(?:py|pyi|ipynb|toml)):\d+:\d+$").captures(text)
        else {
            return false;
        };
        let header = lazy_regex!(&format!(r"^{CODE}:?(?: \[\*\])? (?P<msg>.+)$"));
        let Some(caps) = line.previous(1).and_then(|h| header.captures(h)) else {
            return false;
        };
        let d = diagnostic(&caps["code"], &caps["msg"]).from_lines(n.saturating_sub(1), n);
        let mut block = Block::default();
        block.feed(&location[0]);
        self.open = Some((d, block));
        true
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

impl RuffSession {
    fn close(&mut self, out: &mut Sink) {
        let Some((mut d, block)) = self.open.take() else {
            return;
        };
        block.apply(&mut d);
        d.fixits.extend(missing_token(&d));
        out.emit(d);
    }
}

/// `Expected `:`, found newline` at the end of a line: the token goes where the caret is.
fn missing_token(d: &Diagnostic) -> Option<Fixit> {
    if d.code.as_deref() != Some("invalid-syntax") {
        return None;
    }
    let token = lazy_regex!(r"^Expected `([^`]+)`, found newline$").captures(&d.message)?;
    Some(Fixit::insertion(
        d.file.clone(),
        d.line?,
        d.column?,
        &token[1],
    ))
}

fn diagnostic(code: &str, message: &str) -> Diagnostic {
    let code = if code == "SyntaxError" {
        "invalid-syntax"
    } else {
        code
    };
    let (category, subcategory) = classify(code);
    Diagnostic::new("ruff", message.trim())
        .with_code(code)
        .with_class(category, subcategory)
        .with_confidence(0.97)
}

/// Most rules are style; a few report real errors.
fn classify(code: &str) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    match code {
        "invalid-syntax" | "E999" => (C::Syntax, S::ParseError),
        "E902" => (C::Configuration, S::FileNotFound),
        "F821" | "F822" | "F823" => (C::Type, S::UndefinedName),
        "F632" | "F633" | "F634" | "F501" | "F502" | "F503" | "F504" | "F505" | "F506" | "F507"
        | "F508" | "F509" | "F521" | "F522" | "F523" | "F524" | "F525" => (C::Type, S::Other),
        "F701" | "F702" | "F704" | "F706" | "F707" => (C::Syntax, S::ParseError),
        _ if code.starts_with("PLE") => (C::Type, S::Other),
        _ if code.starts_with("UP") || code == "PGH001" => (C::Unknown, S::Deprecation),
        _ => (C::Unknown, S::Lint),
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, FixitEdit};

    #[test]
    fn a_missing_token_at_the_end_of_a_line_is_inserted_where_the_caret_is() {
        let log = "invalid-syntax: Expected `:`, found newline\n  --> slug.py:8:53\n   |\n 8 | def slugify(title: str, max_length: int = 60) -> str\n   |                                                     ^\n   |\n\nFound 1 error.\n";
        let found = parse(log);
        assert_eq!(
            found[0].fixits[0].edit,
            FixitEdit::Span {
                line: 8,
                column: 53,
                end_line: 8,
                end_column: 53,
                replacement: ":".into(),
            }
        );
    }

    #[test]
    fn concise_lines() {
        let found = parse(
            "api/util.py:2:8: F632 [*] Use `==` to compare constant literals\napi/x.py:3:1: SyntaxError: Expected an indented block\nFound 2 errors.\n",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].category, Category::Syntax);
        assert_eq!(found[0].code.as_deref(), Some("invalid-syntax"));
        assert_eq!(found[1].category, Category::Type);
    }

    #[test]
    fn full_format_with_fix() {
        let log = "F401 [*] `os` imported but unused\n --> api/routes.py:1:8\n  |\n1 | import os, sys\n  |        ^^\n2 | from typing import Any, Dict\n  |\nhelp: Remove unused import\n  |\n  - import os, sys\n1 | from typing import Any, Dict\n  |\n\nE722 Do not use bare `except`\n  --> api/routes.py:11:5\n   |\n11 |     except:\n   |     ^^^^^^\n\nFound 2 errors.\n";
        let found = parse(log);
        assert_eq!(found.len(), 2, "{found:#?}");
        let unused = &found[0];
        assert_eq!(
            (unused.line, unused.column, unused.end_column),
            (Some(1), Some(8), Some(10))
        );
        assert_eq!(
            unused.fixits[0].edit,
            FixitEdit::Lines {
                line: 1,
                end_line: 1,
                original: Some("import os, sys".into()),
                replacement: String::new()
            }
        );
        assert_eq!(found[1].code.as_deref(), Some("E722"));
    }
}

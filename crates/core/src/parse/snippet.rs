//! The body of a diagnostic in the `annotate-snippets` layout that rustc, cargo and ruff share:
//!
//! ```text
//! error[E0425]: cannot find value `itemz` in this scope      <- header (read by the caller)
//!   --> src/main.rs:21:26                                     <- primary location
//!    |
//! 21 |     println!("{} {}", t, itemz.len());                  <- code frame
//!    |                          ^^^^^ not found                <- primary span and label
//!    = note: ...                                              <- attached note
//! help: a local variable with a similar name exists           <- child, with its own frame
//!    |
//! 21 -     println!("{} {}", t, itemz.len());                 <- suggestion as a diff
//! 21 +     println!("{} {}", t, items.len());
//! ```
//!
//! A blank line ends the block. Suggestions become [`Fixit`]s: diff hunks (`-`/`+`/`~`), new
//! lines marked with `+++` underneath, and inline `help: …: \`x\`` labels on the primary span.

use super::classify::lazy_regex;
use crate::{Diagnostic, Fixit, FixitEdit};

/// A location: file, line, column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// The body of one diagnostic, read line by line after its header.
#[derive(Debug, Default)]
pub(crate) struct Block {
    pub(crate) location: Option<Location>,
    /// The primary code frame, as printed.
    pub(crate) frame: Vec<String>,
    /// Length of the `^^^` run under the primary line.
    pub(crate) span_len: Option<u32>,
    /// Every primary (`^`) annotation of the frame: line, column, label.
    pub(crate) carets: Vec<(u32, u32, String)>,
    /// `= note:`/`= help:` lines and child headers.
    pub(crate) notes: Vec<String>,
    /// The lint named by `#[warn(x)]`, `#[deny(x)]` or `-D x` notes.
    pub(crate) lint: Option<String>,
    pub(crate) fixits: Vec<Fixit>,
    label_help: Option<(String, String)>,
    child: Option<Child>,
    last_numbered: Option<(u32, String)>,
}

#[derive(Debug, Default)]
struct Child {
    message: String,
    location: Option<Location>,
    /// Diff lines: (line number if printed, marker, text).
    diff: Vec<(Option<u32>, char, String)>,
    /// Lines shown with `+++` markers underneath: their new text.
    new_lines: Vec<(u32, String)>,
}

impl Block {
    /// Feeds the next line; returns false when the line does not belong to the block (which then
    /// ends).
    pub(crate) fn feed(&mut self, text: &str) -> bool {
        if text.trim().is_empty() {
            return false;
        }
        let trimmed = text.trim_start();
        let after_gutter = trimmed
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
        if trimmed.starts_with(['-', ':', ','])
            && let Some(caps) =
                lazy_regex!(r"^\s*(-->|:::|,-\[)\s*(.+?):(\d+):(\d+)\]?\s*$").captures(text)
        {
            let location = Location {
                file: caps[2].to_string(),
                line: caps[3].parse().unwrap_or(0),
                column: caps[4].parse().unwrap_or(0),
            };
            if &caps[1] != ":::" {
                match self.child.as_mut() {
                    Some(child) if child.location.is_none() => child.location = Some(location),
                    Some(_) => {}
                    None if self.location.is_none() => self.location = Some(location),
                    None => {}
                }
            }
            return true;
        }
        if trimmed.starts_with("= ")
            && let Some(caps) = lazy_regex!(r"^\s*= (note|help|warning): (.*)$").captures(text)
        {
            let note = format!("{}: {}", &caps[1], caps[2].trim_end());
            self.note_lint(&note);
            self.notes.push(note);
            return true;
        }
        if text.starts_with(['h', 'n', 's'])
            && let Some(caps) =
                lazy_regex!(r"^(help|note|suggestion)(?:\[[^\]]*\])?: (.*)$").captures(text)
        {
            self.close_child();
            let message = caps[2].trim_end().to_string();
            self.notes.push(format!("{}: {}", &caps[1], message));
            self.child = Some(Child {
                message,
                ..Child::default()
            });
            return true;
        }
        if after_gutter.starts_with(['|', ':'])
            && let Some(caps) = lazy_regex!(r"^\s*(\d+)?\s*([|:])(.*)$").captures(text)
        {
            let number = caps.get(1).and_then(|m| m.as_str().parse::<u32>().ok());
            let body = caps.get(3).map_or("", |m| m.as_str());
            self.gutter_line(text, number, body);
            return true;
        }
        if after_gutter.starts_with(['-', '+', '~'])
            && let Some(caps) = lazy_regex!(r"^\s*(\d+)?\s*([-+~]) ?(.*)$").captures(text)
        {
            let number = caps.get(1).and_then(|m| m.as_str().parse::<u32>().ok());
            let marker = caps[2].chars().next().unwrap_or('+');
            match self.child.as_mut() {
                Some(child) => child.diff.push((number, marker, caps[3].to_string())),
                None => self.frame.push(text.to_string()),
            }
            return true;
        }
        if text.trim() == "..." {
            if self.child.is_none() {
                self.frame.push(text.to_string());
            }
            return true;
        }
        if text.starts_with([' ', '\t']) {
            // A wrapped note (`= note: expected … / found …`) continues on indented lines.
            if let Some(last) = self.notes.last_mut() {
                last.push(' ');
                last.push_str(text.trim());
            }
            return true;
        }
        false
    }

    fn note_lint(&mut self, note: &str) {
        if self.lint.is_some() {
            return;
        }
        let lint = lazy_regex!(r"#\[(?:warn|deny|forbid)\(([\w:]+)\)\]")
            .captures(note)
            .or_else(|| lazy_regex!(r"`-[DW] ([\w:-]+)` implied by").captures(note))
            .or_else(|| lazy_regex!(r"rust-clippy/[^#\s]*#([\w]+)").captures(note));
        if let Some(caps) = lint {
            let name = caps[1].replace('-', "_");
            self.lint = Some(if note.contains("rust-clippy/") {
                format!("clippy::{name}")
            } else {
                name
            });
        }
    }

    fn gutter_line(&mut self, text: &str, number: Option<u32>, body: &str) {
        let Some(child) = self.child.as_mut() else {
            self.frame.push(text.to_string());
            self.primary_annotation(number, body);
            return;
        };
        match (number, &self.last_numbered) {
            (Some(n), _) => self.last_numbered = Some((n, strip_one_space(body).to_string())),
            (None, Some((n, shown))) => {
                let markers = body.trim();
                if !markers.is_empty() && markers.chars().all(|c| matches!(c, '+' | '~' | ' ')) {
                    child.new_lines.push((*n, shown.clone()));
                }
                self.last_numbered = None;
            }
            (None, None) => {}
        }
    }

    /// Reads the `^^^` run (and an inline `help:` label) under the primary line.
    fn primary_annotation(&mut self, number: Option<u32>, body: &str) {
        if let Some(n) = number {
            self.last_numbered = Some((n, body.to_string()));
            return;
        }
        let Some((shown, _)) = &self.last_numbered else {
            return;
        };
        if let Some(start) = body.find('^') {
            let run = body[start..].bytes().take_while(|&b| b == b'^').count();
            let label = body[start + run..].trim().to_string();
            if self.carets.len() < 16 {
                self.carets
                    .push((*shown, u32::try_from(start).unwrap_or(0), label));
            }
        }
        let on_primary = self.location.as_ref().is_some_and(|l| l.line == *shown);
        if !on_primary || self.span_len.is_some() {
            return;
        }
        let Some(start) = body.find('^') else {
            return;
        };
        let run = body[start..].bytes().take_while(|&b| b == b'^').count();
        self.span_len = u32::try_from(run).ok();
        let label = body[start + run..].trim();
        if let Some(caps) = lazy_regex!(r"^help: (.*?):? `([^`]*)`$").captures(label) {
            self.label_help = Some((caps[1].to_string(), caps[2].to_string()));
        }
    }

    fn close_child(&mut self) {
        self.last_numbered = None;
        let Some(child) = self.child.take() else {
            return;
        };
        let fallback_line = child
            .location
            .as_ref()
            .or(self.location.as_ref())
            .map(|l| l.line);
        let file = child.location.map(|l| l.file);
        if let Some(edit) = diff_edit(&child.diff, fallback_line) {
            self.fixits.push(Fixit {
                message: child.message.clone(),
                file: file.clone(),
                edit,
            });
        }
        for (line, end_line, replacement) in group_lines(child.new_lines) {
            self.fixits.push(Fixit {
                message: child.message.clone(),
                file: file.clone(),
                edit: FixitEdit::Lines {
                    line,
                    end_line,
                    original: None,
                    replacement,
                },
            });
        }
    }

    /// Ends the block: turns the last child and an inline label into fixits.
    pub(crate) fn close(&mut self) {
        self.close_child();
        if let (Some((message, replacement)), Some(location), Some(len)) =
            (self.label_help.take(), &self.location, self.span_len)
        {
            self.fixits.insert(
                0,
                Fixit {
                    message,
                    file: None,
                    edit: FixitEdit::Span {
                        line: location.line,
                        column: location.column,
                        end_line: location.line,
                        end_column: location.column.saturating_add(len),
                        replacement,
                    },
                },
            );
        }
    }
}

impl Block {
    /// Ends the block and moves what it read into `d`: location and span, snippet, notes and
    /// fixits (which apply to the diagnostic's file unless they name another).
    pub(crate) fn apply(mut self, d: &mut Diagnostic) {
        self.close();
        if let Some(location) = self.location {
            d.file = Some(location.file);
            d.line = Some(location.line);
            d.column = Some(location.column);
            if let Some(len) = self.span_len {
                d.end_line = d.line;
                d.end_column = Some(location.column.saturating_add(len));
            }
        }
        if !self.frame.is_empty() {
            d.snippet = Some(self.frame.join("\n"));
        }
        d.notes.extend(self.notes);
        d.fixits = self.fixits;
        for fixit in &mut d.fixits {
            if fixit.file.is_none() {
                fixit.file.clone_from(&d.file);
            }
        }
    }
}

/// Frame bodies start with one separating space after the gutter.
fn strip_one_space(body: &str) -> &str {
    body.strip_prefix(' ').unwrap_or(body)
}

/// A diff hunk (`N - old`, `N + new`, `N ~ changed`) as a whole-line edit.
fn diff_edit(
    diff: &[(Option<u32>, char, String)],
    fallback_line: Option<u32>,
) -> Option<FixitEdit> {
    if diff.is_empty() {
        return None;
    }
    let changed: Vec<&(Option<u32>, char, String)> = diff.iter().filter(|d| d.1 == '~').collect();
    if let (Some(first), Some(last)) = (changed.first(), changed.last()) {
        let (line, end_line) = (first.0?, last.0?);
        let replacement = changed
            .iter()
            .map(|d| d.2.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        return Some(FixitEdit::Lines {
            line,
            end_line,
            original: None,
            replacement,
        });
    }
    let removed: Vec<&str> = diff
        .iter()
        .filter(|d| d.1 == '-')
        .map(|d| d.2.as_str())
        .collect();
    let added: Vec<&str> = diff
        .iter()
        .filter(|d| d.1 == '+')
        .map(|d| d.2.as_str())
        .collect();
    let first_removed = diff.iter().find(|d| d.1 == '-').and_then(|d| d.0);
    let first_added = diff.iter().find(|d| d.1 == '+').and_then(|d| d.0);
    if removed.is_empty() {
        // Pure insertion before line `first_added`.
        let line = first_added.or(fallback_line)?;
        return Some(FixitEdit::Span {
            line,
            column: 1,
            end_line: line,
            end_column: 1,
            replacement: format!("{}\n", added.join("\n")),
        });
    }
    let line = first_removed.or(fallback_line)?;
    let count = u32::try_from(removed.len()).ok()?;
    Some(FixitEdit::Lines {
        line,
        end_line: line.saturating_add(count - 1),
        original: Some(removed.join("\n")),
        replacement: added.join("\n"),
    })
}

/// Groups consecutive `(line, text)` pairs into `(first, last, joined text)`.
fn group_lines(lines: Vec<(u32, String)>) -> Vec<(u32, u32, String)> {
    let mut out: Vec<(u32, u32, String)> = Vec::new();
    for (line, text) in lines {
        match out.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(line) => {
                last.1 = line;
                last.2.push('\n');
                last.2.push_str(&text);
            }
            _ => out.push((line, line, text)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Block {
        let mut block = Block::default();
        for line in body.lines() {
            if !block.feed(line) {
                break;
            }
        }
        block.close();
        block
    }

    #[test]
    fn diff_suggestion_replaces_the_line() {
        let block = read(concat!(
            "  --> src/main.rs:21:26\n",
            "   |\n",
            "21 |     println!(\"{} {}\", t, itemz.len());\n",
            "   |                          ^^^^^\n",
            "   |\n",
            "help: a local variable with a similar name exists\n",
            "   |\n",
            "21 -     println!(\"{} {}\", t, itemz.len());\n",
            "21 +     println!(\"{} {}\", t, items.len());\n",
            "   |\n",
        ));
        assert_eq!(
            block.location.as_ref().map(|l| (l.line, l.column)),
            Some((21, 26))
        );
        assert_eq!(block.span_len, Some(5));
        assert_eq!(block.fixits.len(), 1);
        assert_eq!(
            block.fixits[0].edit,
            FixitEdit::Lines {
                line: 21,
                end_line: 21,
                original: Some("    println!(\"{} {}\", t, itemz.len());".into()),
                replacement: "    println!(\"{} {}\", t, items.len());".into(),
            }
        );
    }

    #[test]
    fn marked_new_lines_and_changed_lines() {
        let block = read(concat!(
            " --> src/lib.rs:1:37\n",
            "  |\n",
            "1 | pub fn longest(a: &str, b: &str) -> &str {\n",
            "  |                   ----     ----     ^ expected named lifetime parameter\n",
            "help: consider introducing a named lifetime parameter\n",
            "  |\n",
            "1 | pub fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {\n",
            "  |               ++++     ++          ++          ++\n",
            "help: or this\n",
            "5 ~ pub struct Parser<'a> {\n",
            "6 ~     input: &'a str,\n",
        ));
        assert_eq!(block.fixits.len(), 2);
        assert_eq!(
            block.fixits[0].edit,
            FixitEdit::Lines {
                line: 1,
                end_line: 1,
                original: None,
                replacement: "pub fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {".into()
            }
        );
        assert_eq!(
            block.fixits[1].edit,
            FixitEdit::Lines {
                line: 5,
                end_line: 6,
                original: None,
                replacement: "pub struct Parser<'a> {\n    input: &'a str,".into()
            }
        );
    }

    #[test]
    fn inline_help_label_and_lint_note() {
        let block = read(concat!(
            "  --> src/main.rs:10:9\n",
            "   |\n",
            "10 |     let mut count = 0;\n",
            "   |         ^^^^^^^^^ help: if this is intentional, prefix it with an underscore: `_count`\n",
            "   |\n",
            "   = note: `#[warn(unused_variables)]` (part of `#[warn(unused)]`) on by default\n",
        ));
        assert_eq!(block.lint.as_deref(), Some("unused_variables"));
        assert_eq!(
            block.fixits[0].edit,
            FixitEdit::Span {
                line: 10,
                column: 9,
                end_line: 10,
                end_column: 18,
                replacement: "_count".into()
            }
        );
    }

    #[test]
    fn ruff_removal_uses_the_primary_line() {
        let block = read(concat!(
            " --> api/routes.py:19:5\n",
            "   |\n",
            "19 |     x = 1\n",
            "   |     ^\n",
            "help: Remove assignment to unused variable `x`\n",
            "   |\n",
            "18 |     import json\n",
            "   -     x = 1\n",
            "19 |     return json.loads(body)\n",
            "   |\n",
            "note: This is an unsafe fix and may change runtime behavior\n",
        ));
        assert_eq!(
            block.fixits[0].edit,
            FixitEdit::Lines {
                line: 19,
                end_line: 19,
                original: Some("    x = 1".into()),
                replacement: String::new()
            }
        );
    }

    #[test]
    fn pure_insertion_and_clippy_lint_url() {
        let block = read(concat!(
            " --> src/main.rs:3:13\n",
            "  = help: for further information visit https://rust-lang.github.io/rust-clippy/master/index.html#needless_return\n",
            "help: consider importing this struct\n",
            "  |\n",
            "1 + use std::collections::HashMap;\n",
            "  |\n",
        ));
        assert_eq!(block.lint.as_deref(), Some("clippy::needless_return"));
        assert_eq!(
            block.fixits[0].edit,
            FixitEdit::Span {
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
                replacement: "use std::collections::HashMap;\n".into()
            }
        );
    }
}

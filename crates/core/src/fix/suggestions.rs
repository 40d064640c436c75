//! [`ToolSuggestions`]: the edits the tools themselves suggest (rustc's `help:` suggestions,
//! gcc/clang fix-its, tsc's and Python's "did you mean", ruff's fixes), read by the parsers as
//! [`Fixit`]s.

use std::collections::BTreeMap;
use std::ops::Range;

use super::fixer::{FixInput, Fixer, Safety};
use super::{Edit, FixProposal, RelativePath};
use crate::workspace::Workspace;
use crate::{Diagnostic, Fixit, FixitEdit, Result, Severity};

/// Applies the fix-its the tools printed for errors. A diagnostic whose fix-its overlap each
/// other offers alternatives and is left alone; the same edit suggested for several errors is
/// made once; a fix-it whose text no longer matches the file is skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct ToolSuggestions;

#[async_trait::async_trait]
impl Fixer for ToolSuggestions {
    fn name(&self) -> &str {
        "tool-suggestions"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        Ok(ToolSuggestions::proposal(
            input.workspace,
            input.diagnostics,
        ))
    }
}

impl ToolSuggestions {
    /// The fix-its of `diagnostics`' errors as one proposal, when they hold any that fits.
    pub fn proposal(workspace: &Workspace, diagnostics: &[Diagnostic]) -> Option<FixProposal> {
        // Per file: its text and the byte ranges to replace.
        let mut files: BTreeMap<RelativePath, (String, Vec<Replacement>)> = BTreeMap::new();
        let mut messages = Vec::new();
        for diagnostic in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
            let mut edits = Vec::new();
            for fixit in &diagnostic.fixits {
                let Some(file) = fixit.file.as_deref().or(diagnostic.file.as_deref()) else {
                    continue;
                };
                let Some(path) = workspace.relative(file) else {
                    continue;
                };
                if !files.contains_key(&path) {
                    let Ok(Some(text)) = workspace.read(&path) else {
                        continue;
                    };
                    files.insert(path.clone(), (text, Vec::new()));
                }
                let Some((text, _)) = files.get(&path) else {
                    continue;
                };
                if let Some(edit) = locate(text, fixit)
                    && !edits.contains(&(path.clone(), edit.clone()))
                {
                    edits.push((path, edit));
                }
            }
            if overlapping(edits.iter().map(|(path, edit)| (path, edit))) {
                continue;
            }
            let mut added = false;
            for (path, edit) in edits {
                let Some((_, planned)) = files.get_mut(&path) else {
                    continue;
                };
                if planned.contains(&edit) {
                    continue;
                }
                planned.push(edit);
                if overlapping(planned.iter().map(|edit| (&path, edit))) {
                    planned.pop();
                } else {
                    added = true;
                }
            }
            if added {
                messages.push(match &diagnostic.fixits[0].message {
                    m if m.is_empty() => diagnostic.message.clone(),
                    m => m.clone(),
                });
            }
        }
        let mut proposal = FixProposal {
            analysis: messages.join("; "),
            ..FixProposal::default()
        };
        for (path, (mut text, mut edits)) in files {
            if edits.is_empty() {
                continue;
            }
            edits.sort_by(|a, b| b.0.start.cmp(&a.0.start).then(b.0.end.cmp(&a.0.end)));
            for (range, replacement) in edits {
                text.replace_range(range, &replacement);
            }
            proposal.edits.push(Edit::Replace {
                path,
                content: text,
            });
        }
        (!proposal.edits.is_empty()).then_some(proposal)
    }
}

/// A byte range of a file's text and what replaces it.
type Replacement = (Range<usize>, String);

/// Whether any two edits of the same file touch the same text (two insertions at one point
/// count: their order would be a guess).
fn overlapping<'a>(
    edits: impl Iterator<Item = (&'a RelativePath, &'a (Range<usize>, String))>,
) -> bool {
    let mut edits: Vec<_> = edits.collect();
    edits.sort_by(|a, b| (a.0, a.1.0.start, a.1.0.end).cmp(&(b.0, b.1.0.start, b.1.0.end)));
    edits.windows(2).any(|pair| {
        let ((path_a, (a, _)), (path_b, (b, _))) = (pair[0], pair[1]);
        path_a == path_b
            && (b.start < a.end || (a.start == b.start && (a.is_empty() || b.is_empty())))
    })
}

/// The byte range a fix-it replaces in `text`, and its replacement; `None` when it does not
/// fit the text (lines out of range, the quoted original not there).
fn locate(text: &str, fixit: &Fixit) -> Option<(Range<usize>, String)> {
    let lines = line_starts(text);
    let line_start = |line: u32| lines.get(line.checked_sub(1)? as usize).copied();
    let line_end = |line: u32| {
        let start = line_start(line)?;
        Some(text[start..].find('\n').map_or(text.len(), |at| start + at))
    };
    match &fixit.edit {
        FixitEdit::Span {
            line,
            column,
            end_line,
            end_column,
            replacement,
        } => {
            let start = offset(text, line_start(*line)?, *column)?;
            let end = offset(text, line_start(*end_line)?, *end_column)?;
            (start <= end).then(|| (start..end, replacement.clone()))
        }
        FixitEdit::Lines {
            line,
            end_line,
            original,
            replacement,
        } => {
            let (start, end) = (line_start(*line)?, line_end(*end_line)?);
            if let Some(original) = original
                && text[start..end].trim_end() != original.trim_end()
            {
                return None;
            }
            if replacement.is_empty() {
                // Deleting the lines takes their line break too.
                let end = (end + 1).min(text.len());
                return Some((start..end, String::new()));
            }
            Some((start..end, replacement.clone()))
        }
        FixitEdit::Word {
            line,
            original,
            replacement,
        } => {
            let (start, end) = (line_start(*line)?, line_end(*line)?);
            let at = start + text[start..end].find(original.as_str())?;
            Some((at..at + original.len(), replacement.clone()))
        }
    }
}

/// The byte offset where each line of `text` starts.
pub(super) fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|at| at + 1));
    starts
}

/// The byte offset of 1-based character `column` of the line starting at `line_start` (one
/// past the line's last character is allowed).
fn offset(text: &str, line_start: usize, column: u32) -> Option<usize> {
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let skip = column.checked_sub(1)? as usize;
    if skip == line.chars().count() {
        return Some(line_start + line.len());
    }
    line.char_indices().nth(skip).map(|(at, _)| line_start + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixit(edit: FixitEdit) -> Fixit {
        Fixit {
            message: "consider it".into(),
            file: None,
            edit,
        }
    }

    fn error(file: &str, fixits: Vec<Fixit>) -> Diagnostic {
        let mut diagnostic = Diagnostic::new("rustc", "an error").at(file, Some(1), Some(1));
        diagnostic.fixits = fixits;
        diagnostic
    }

    fn workspace(name: &str, text: &str) -> (Workspace, std::path::PathBuf) {
        let dir = crate::scratch::folder(&format!("fixits-{name}"));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/main.rs"), text).unwrap();
        (Workspace::open(&dir).unwrap(), dir)
    }

    fn content(proposal: &FixProposal) -> &str {
        match &proposal.edits[..] {
            [Edit::Replace { content, .. }] => content,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn span_line_and_word_fixits_are_applied_and_repeats_made_once() {
        let (workspace, dir) = workspace(
            "kinds",
            "fn main() {\n    let x = 1;\n    x = 2;\n    prnt(x);\n}\n",
        );
        let insert = fixit(FixitEdit::Span {
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            replacement: "use std::fmt;\n".into(),
        });
        let diagnostics = vec![
            error("src/main.rs", vec![insert.clone()]),
            error(&dir.join("src/main.rs").display().to_string(), vec![insert]),
            error(
                "src/main.rs",
                vec![fixit(FixitEdit::Lines {
                    line: 2,
                    end_line: 2,
                    original: Some("    let x = 1;".into()),
                    replacement: "    let mut x = 1;".into(),
                })],
            ),
            error(
                "src/main.rs",
                vec![fixit(FixitEdit::Word {
                    line: 4,
                    original: "prnt".into(),
                    replacement: "print".into(),
                })],
            ),
        ];
        let proposal = ToolSuggestions::proposal(&workspace, &diagnostics).unwrap();
        assert_eq!(
            content(&proposal),
            "use std::fmt;\nfn main() {\n    let mut x = 1;\n    x = 2;\n    print(x);\n}\n"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn alternatives_stale_fixits_and_files_outside_are_left_alone() {
        let (workspace, dir) = workspace("skip", "fn main() {\n    let x = 1;\n}\n");
        let at_top = |text: &str| {
            fixit(FixitEdit::Span {
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
                replacement: text.into(),
            })
        };
        let diagnostics = vec![
            error(
                "src/main.rs",
                vec![at_top("use a::X;\n"), at_top("use b::X;\n")],
            ),
            error(
                "src/main.rs",
                vec![fixit(FixitEdit::Lines {
                    line: 2,
                    end_line: 2,
                    original: Some("    let y = 1;".into()),
                    replacement: "    let mut y = 1;".into(),
                })],
            ),
            error("/etc/passwd", vec![at_top("x")]),
            error("../outside.rs", vec![at_top("x")]),
        ];
        assert_eq!(ToolSuggestions::proposal(&workspace, &diagnostics), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

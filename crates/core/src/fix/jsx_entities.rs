//! [`JsxEntities`]: a character JSX text must not hold bare (`'`, `"`, `>`, `}`), written as
//! its entity (the one ESLint's `react/no-unescaped-entities` names first) — what the rule
//! offers only as a suggestion, which `eslint --fix` does not apply, and the commonest reason a
//! generated Next.js page fails `next build`.

use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use crate::{Diagnostic, Result, Severity};

/// Replaces the character each finding points at by its entity (`Don't` → `Don&apos;t`): the
/// page renders the same text.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsxEntities;

const RULE: &str = "react/no-unescaped-entities";

#[async_trait::async_trait]
impl Fixer for JsxEntities {
    fn name(&self) -> &str {
        "jsx-entities"
    }

    fn safety(&self) -> Safety {
        Safety::Safe
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let mut findings: Vec<(&Diagnostic, char, &'static str)> = (input.diagnostics.iter())
            .filter(|d| d.severity <= Severity::Error && d.code.as_deref() == Some(RULE))
            .filter_map(|d| {
                let (character, entity) = escape(&d.message)?;
                Some((d, character, entity))
            })
            .collect();
        // From the end of each file, so that earlier positions stay where they were.
        findings.sort_by(|a, b| {
            (&b.0.file, b.0.line, b.0.column).cmp(&(&a.0.file, a.0.line, a.0.column))
        });
        findings.dedup_by(|a, b| {
            (&a.0.file, a.0.line, a.0.column) == (&b.0.file, b.0.line, b.0.column)
        });
        let mut files = EditedFiles::new(workspace);
        for (diagnostic, character, entity) in findings {
            let Some(path) = (diagnostic.file.as_deref()).and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let (Some(line), Some(column)) = (diagnostic.line, diagnostic.column) else {
                continue;
            };
            let Some(text) = files.text(&path)? else {
                continue;
            };
            let Some(at) = position(&text, line, column, character) else {
                continue;
            };
            let changed = format!(
                "{}{entity}{}",
                &text[..at],
                &text[at + character.len_utf8()..]
            );
            files.change(
                &path,
                changed,
                format!("{path}:{line}:{column}: `{character}` written as `{entity}`"),
            );
        }
        Ok(files.into_proposal())
    }
}

/// The character a "`'` can be escaped with `&apos;`, `&lsquo;`, …" finding names, and the
/// entity that renders exactly it — chosen here, not taken from the message: a log that offered
/// `&lt;` for `'` would change the page's text.
fn escape(message: &str) -> Option<(char, &'static str)> {
    static ESCAPE: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^`(['\x22>}])` can be escaped with `&(?:[a-z]+|#[0-9]+);`").ok()
    });
    let found = ESCAPE.as_ref()?.captures(message)?;
    let character = found.get(1)?.as_str().chars().next()?;
    let entity = match character {
        '\'' => "&apos;",
        '"' => "&quot;",
        '>' => "&gt;",
        _ => "&#125;",
    };
    Some((character, entity))
}

/// The byte offset of the character at 1-based `line` and `column`, when it is `expected`.
/// ESLint counts columns in UTF-16 units (JavaScript's); a tool that counts characters is met
/// too.
fn position(text: &str, line: u32, column: u32, expected: char) -> Option<usize> {
    let start = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)? as usize)
        .map(str::len)
        .sum::<usize>();
    let content = text.get(start..)?;
    let content = &content[..content.find('\n').unwrap_or(content.len())];
    let wanted = column.checked_sub(1)? as usize;
    let mut units = 0;
    let by_units = content.char_indices().find_map(|(at, c)| {
        let here = units;
        units += c.len_utf16();
        (here == wanted).then_some((at, c))
    });
    let by_chars = content.char_indices().nth(wanted);
    [by_units, by_chars]
        .into_iter()
        .flatten()
        .find(|(_, c)| *c == expected)
        .map(|(at, _)| start + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_wordings_are_read() {
        assert_eq!(
            escape("`'` can be escaped with `&apos;`, `&lsquo;`, `&#39;`, `&rsquo;`."),
            Some(('\'', "&apos;"))
        );
        assert_eq!(
            escape("`\"` can be escaped with `&quot;`, `&ldquo;`, `&#34;`, `&rdquo;`."),
            Some(('"', "&quot;"))
        );
        assert_eq!(
            escape("`}` can be escaped with `&#125;`."),
            Some(('}', "&#125;"))
        );
        assert_eq!(escape("`'` can be escaped with `<script>`."), None);
        assert_eq!(
            escape("`'` can be escaped with `&lt;`."),
            Some(('\'', "&apos;")),
            "the entity is the character's own, whatever a log offers"
        );
    }

    #[test]
    fn the_character_is_found_by_utf16_or_character_column_and_checked() {
        let text = "a\n<p>🎉 Don't</p>\n";
        // 🎉 is two UTF-16 units: ESLint reports the apostrophe at 10, a character count at 9.
        let at = position(text, 2, 10, '\'').unwrap();
        assert_eq!(&text[at..at + 1], "'");
        assert_eq!(position(text, 2, 9, '\''), Some(at));
        assert_eq!(
            position(text, 2, 5, '\''),
            None,
            "a `🎉` is not what was reported"
        );
        assert_eq!(position(text, 9, 1, '\''), None);
        assert_eq!(position(text, 2, 0, '\''), None);
    }
}

//! [`UnusedBindings`]: a binding that warnings-as-errors rejects as unused (tsc's
//! `noUnusedLocals`/`noUnusedParameters`, ruff's and flake8's F401/F841, ESLint's
//! `no-unused-vars`) is removed when removing it cannot change what the code does, and
//! underscored where the tools accept that as "unused on purpose".

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::imports::Language;
use super::{FixProposal, RelativePath};
use crate::{Diagnostic, Result, Severity};

/// Removes or underscores unused bindings.
///
/// - an unused import: the name leaves its import statement, and the statement goes when it
///   imported nothing else;
/// - an unused parameter or destructured array element (TypeScript, JavaScript): `_name`;
/// - an unused local assigned a side-effect-free value (`const y = 2;`): the declaration goes;
///   one assigned a call keeps it;
/// - an unused Python local (F841): `_name`, which keeps the call that produced it.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnusedBindings;

/// One unused binding: where, and its name (`None` for tsc's "all imports are unused").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Unused {
    line: u32,
    column: u32,
    name: Option<String>,
}

#[async_trait::async_trait]
impl Fixer for UnusedBindings {
    fn name(&self) -> &str {
        "unused-bindings"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let mut by_file: BTreeMap<RelativePath, Vec<Unused>> = BTreeMap::new();
        for diagnostic in input
            .diagnostics
            .iter()
            .filter(|d| d.severity <= Severity::Error)
        {
            let (Some(file), Some(line)) = (diagnostic.file.as_deref(), diagnostic.line) else {
                continue;
            };
            let Some(path) = workspace.relative(file) else {
                continue;
            };
            if let Some(name) = unused_name(diagnostic) {
                (by_file.entry(path).or_default()).push(Unused {
                    line,
                    column: diagnostic.column.unwrap_or(0),
                    name,
                });
            }
        }
        let mut files = EditedFiles::new(workspace);
        for (path, mut unused) in by_file {
            let Some(language) = Language::of(path.as_str()) else {
                continue;
            };
            let Some(text) = files.text(&path)? else {
                continue;
            };
            // Bottom up, right to left: earlier positions stay where the tool saw them.
            unused.sort();
            unused.dedup();
            let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
            let changed = (unused.iter().rev())
                .filter(|binding| remove_or_underscore(&mut lines, language, binding))
                .count();
            let why = format!("{changed} unused bindings in {path}");
            files.change(&path, lines.concat(), why);
        }
        Ok(files.into_proposal())
    }
}

/// The unused name an error is about: `Some(None)` when it is a whole import declaration.
fn unused_name(diagnostic: &Diagnostic) -> Option<Option<String>> {
    static UNUSED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^'([\w$]+)' is declared but (?:its value is )?never (?:read|used)",
            r"|^'([\w$]+)' is (?:defined|assigned a value) but never used",
            r"|^[Ll]ocal variable [`']([\w]+)[`'] is assigned to but never used",
            r"|^[`']([\w.]+)[`'] imported but unused",
            r"|^(All imports in import declaration are unused)",
        ))
        .ok()
    });
    let found = UNUSED.as_ref()?.captures(&diagnostic.message)?;
    if found.get(5).is_some() {
        return Some(None);
    }
    let name = (1..5).find_map(|group| found.get(group))?.as_str();
    Some(Some(name.to_string()))
}

/// Changes the lines for one unused binding; false when it is left alone.
fn remove_or_underscore(lines: &mut Vec<String>, language: Language, unused: &Unused) -> bool {
    let Some(index) = (unused.line as usize).checked_sub(1) else {
        return false;
    };
    let Some(line) = lines.get(index).cloned() else {
        return false;
    };
    let Some(name) = &unused.name else {
        return remove_statement(lines, index);
    };
    if let Some(start) = import_start(lines, index, language) {
        // ruff names `from typing import Any` as `typing.Any`.
        let name = match lines[start].starts_with("from ") {
            true => name.rsplit('.').next().unwrap_or(name),
            false => name,
        };
        return remove_from_import(lines, start, index, language, name);
    }
    match language {
        Language::Python => underscore(lines, index, unused.column, name),
        Language::Script if inside_open(&line, unused.column, name) => {
            underscore(lines, index, unused.column, name)
        }
        Language::Script => remove_pure_declaration(lines, index, name),
    }
}

/// The index of the line where the import statement holding line `index` starts.
fn import_start(lines: &[String], index: usize, language: Language) -> Option<usize> {
    let starts = |line: &str| match language {
        Language::Script => line.starts_with("import "),
        Language::Python => line.starts_with("import ") || line.starts_with("from "),
    };
    if starts(&lines[index]) {
        return Some(index);
    }
    // Inside a multi-line `import {` / `from m import (`: the start is above, still open.
    let (opener, closer) = match language {
        Language::Script => ('{', '}'),
        Language::Python => ('(', ')'),
    };
    let start = (0..index).rev().take(200).find(|&i| starts(&lines[i]))?;
    let open = lines[start].contains(opener)
        && !lines[start..index].iter().any(|line| line.contains(closer));
    open.then_some(start)
}

/// Removes the statement that starts at line `start` (through its `from '…'` / closing
/// parenthesis line).
fn remove_statement(lines: &mut Vec<String>, start: usize) -> bool {
    let first = &lines[start];
    if !first.starts_with("import ") && !first.starts_with("from ") {
        return false;
    }
    let end = match first.contains(['{', '(']) && !first.contains(['}', ')']) {
        true => match (start..lines.len()).find(|&i| lines[i].contains(['}', ')'])) {
            Some(end) => end,
            None => return false,
        },
        false => start,
    };
    lines.drain(start..=end);
    true
}

/// Removes `name` from the import statement at lines `start..`, or the statement when it
/// imported nothing else.
fn remove_from_import(
    lines: &mut Vec<String>,
    start: usize,
    at: usize,
    language: Language,
    name: &str,
) -> bool {
    let binds = |item: &str| {
        let words: Vec<&str> = item.split_whitespace().collect();
        words.last() == Some(&name) || words.first() == Some(&name)
    };
    if at != start {
        // A line of a multi-line list: `  name,`.
        let item = lines[at].trim().trim_end_matches(',');
        if !item.contains(',') && binds(item) {
            lines.remove(at);
            return true;
        }
        return false;
    }
    let line = lines[start].clone();
    let newline = &line[line.trim_end().len()..];
    let trimmed = line.trim_end();
    let rebuilt = match language {
        Language::Python => python_import_without(trimmed, name, &binds),
        Language::Script => script_import_without(trimmed, name, &binds),
    };
    match rebuilt {
        Some(Some(kept)) => lines[start] = format!("{kept}{newline}"),
        Some(None) => return remove_statement(lines, start),
        None => return false,
    }
    true
}

/// A one-line Python import without `name`: `Some(None)` when nothing is left.
fn python_import_without(
    line: &str,
    name: &str,
    binds: &dyn Fn(&str) -> bool,
) -> Option<Option<String>> {
    if line.contains(['(', '\\', '#', ';']) {
        return None;
    }
    let (head, list) = match line.strip_prefix("import ") {
        Some(list) => ("import ".to_string(), list),
        None => {
            let (module, list) = line.split_once(" import ")?;
            (format!("{module} import "), list)
        }
    };
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    let kept: Vec<&str> = items
        .iter()
        .copied()
        .filter(|item| !(binds(item) || item.split(" as ").next() == Some(name)))
        .collect();
    if kept.len() == items.len() {
        return None;
    }
    Some((!kept.is_empty()).then(|| format!("{head}{}", kept.join(", "))))
}

/// A one-line ES import without `name`: `Some(None)` when nothing is left.
fn script_import_without(
    line: &str,
    name: &str,
    binds: &dyn Fn(&str) -> bool,
) -> Option<Option<String>> {
    let (head, from) = line.split_once(" from ")?;
    let clause = head.strip_prefix("import ")?.trim();
    let clause = clause.strip_prefix("type ").unwrap_or(clause);
    let (default, braces) = match clause.find('{') {
        Some(open) => {
            let close = clause.rfind('}')?;
            let default = clause[..open].trim().trim_end_matches(',').trim();
            (default, Some(&clause[open + 1..close]))
        }
        None => (clause, None),
    };
    let default = (!default.is_empty()).then_some(default);
    let is_default = default.is_some_and(|d| d == name || d.ends_with(&format!(" as {name}")));
    let names: Vec<&str> = (braces.unwrap_or_default().split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let kept: Vec<&str> = names.iter().copied().filter(|n| !binds(n)).collect();
    if !is_default && kept.len() == names.len() {
        return None;
    }
    let default = default.filter(|_| !is_default);
    let prefix = &head[..head.find(clause).unwrap_or(0)];
    Some(match (default, kept.is_empty()) {
        (None, true) => None,
        (Some(default), true) => Some(format!("{prefix}{default} from {from}")),
        (None, false) => Some(format!("{prefix}{{ {} }} from {from}", kept.join(", "))),
        (Some(default), false) => Some(format!(
            "{prefix}{default}, {{ {} }} from {from}",
            kept.join(", ")
        )),
    })
}

/// Whether `name` at `column` is inside a parenthesis or bracket opened earlier on the line
/// (a parameter, an array pattern element).
fn inside_open(line: &str, column: u32, name: &str) -> bool {
    let Some(at) = find_at(line, column, name) else {
        return false;
    };
    let before = &line[..at];
    let depth = |open: char, close: char| {
        before.matches(open).count() as isize - before.matches(close).count() as isize
    };
    (depth('(', ')') > 0 || depth('[', ']') > 0) && !before.contains('{')
}

/// `name` at `column` (1-based characters) of line `index` becomes `_name`.
fn underscore(lines: &mut [String], index: usize, column: u32, name: &str) -> bool {
    let line = &lines[index];
    let Some(at) = find_at(line, column, name) else {
        return false;
    };
    lines[index] = format!("{}_{}", &line[..at], &line[at..]);
    true
}

/// The byte offset of `name` at `column`, or of its first whole-word occurrence on the line.
fn find_at(line: &str, column: u32, name: &str) -> Option<usize> {
    let word_at = |at: usize| {
        line[at..].starts_with(name)
            && !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
            && !line[at + name.len()..]
                .starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
    };
    let by_column = (column.checked_sub(1))
        .and_then(|skip| line.char_indices().nth(skip as usize))
        .map(|(at, _)| at)
        .filter(|&at| word_at(at));
    by_column.or_else(|| {
        line.match_indices(name)
            .map(|(at, _)| at)
            .find(|&at| word_at(at))
    })
}

/// Removes `const name = value;` when the value cannot do anything (a literal, a name, an
/// object or array of such): a call, `new` or `await` keeps it.
fn remove_pure_declaration(lines: &mut Vec<String>, index: usize, name: &str) -> bool {
    static DECLARATION: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^\s*(?:const|let|var)\s+([\w$]+)\s*(?::[^=]+)?=\s*(.+?);?\s*$").ok()
    });
    let Some(found) = DECLARATION.as_ref().and_then(|d| d.captures(&lines[index])) else {
        return false;
    };
    let value = &found[2];
    let pure = found[1] == *name
        && !value.contains(['(', '`'])
        && !value.contains("new ")
        && !value.contains("await ")
        && !value.contains("++")
        && !value.contains("--");
    if pure {
        lines.remove(index);
    }
    pure
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(text: &str, language: Language, unused: &[(u32, u32, Option<&str>)]) -> String {
        let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
        let mut unused: Vec<Unused> = (unused.iter())
            .map(|(line, column, name)| Unused {
                line: *line,
                column: *column,
                name: name.map(str::to_string),
            })
            .collect();
        unused.sort();
        for binding in unused.iter().rev() {
            remove_or_underscore(&mut lines, language, binding);
        }
        lines.concat()
    }

    #[test]
    fn typescript_unused_imports_parameters_and_pure_locals() {
        let text = "import { readFileSync, writeFileSync } from \"fs\";\nimport * as path from \"path\";\nimport React, { useState } from 'react';\nexport function f(a: number, b: number): number {\n  const y = 2;\n  const z = load();\n  const [p, q] = [1, 2];\n  return a + p + useState;\n}\n";
        let unused = [
            (1, 24, Some("writeFileSync")),
            (2, 1, Some("path")),
            (3, 8, Some("React")),
            (4, 30, Some("b")),
            (5, 9, Some("y")),
            (6, 9, Some("z")),
            (7, 14, Some("q")),
        ];
        assert_eq!(
            fixed(text, Language::Script, &unused),
            "import { readFileSync } from \"fs\";\nimport { useState } from 'react';\nexport function f(a: number, _b: number): number {\n  const z = load();\n  const [p, _q] = [1, 2];\n  return a + p + useState;\n}\n"
        );
        let multi = "import {\n  a,\n  b,\n} from './x';\nimport c from './c';\n";
        assert_eq!(
            fixed(multi, Language::Script, &[(3, 3, Some("b")), (5, 1, None)]),
            "import {\n  a,\n} from './x';\n"
        );
    }

    #[test]
    fn python_unused_imports_and_locals() {
        let text = "import os, sys\nfrom typing import Any, Optional\nimport numpy as np\n\ndef f():\n    total = compute()\n    return sys.argv\n";
        let unused = [
            (1, 8, Some("os")),
            (2, 20, Some("typing.Any")),
            (3, 8, Some("numpy")),
            (6, 5, Some("total")),
        ];
        assert_eq!(
            fixed(text, Language::Python, &unused),
            "import sys\nfrom typing import Optional\n\ndef f():\n    _total = compute()\n    return sys.argv\n"
        );
    }

    #[test]
    fn the_binding_comes_from_each_tools_message() {
        let name = |message: &str| unused_name(&Diagnostic::new("t", message));
        assert_eq!(
            name("'b' is declared but its value is never read."),
            Some(Some("b".into()))
        );
        assert_eq!(
            name("'Props' is declared but never used."),
            Some(Some("Props".into()))
        );
        assert_eq!(
            name("All imports in import declaration are unused."),
            Some(None)
        );
        assert_eq!(
            name("Local variable `total` is assigned to but never used"),
            Some(Some("total".into()))
        );
        assert_eq!(name("`os` imported but unused"), Some(Some("os".into())));
        assert_eq!(
            name("'x' is assigned a value but never used."),
            Some(Some("x".into()))
        );
        assert_eq!(name("Cannot find name 'x'."), None);
    }
}

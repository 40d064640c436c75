//! [`TypeImports`]: under `verbatimModuleSyntax` (create-vite's default since Vite 5.4) a type
//! must be imported as one: tsc's `'ReactNode' is a type and must be imported using a type-only
//! import when 'verbatimModuleSyntax' is enabled` (TS1484) — the specifier becomes
//! `type ReactNode`, which the compiler erases.

use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::suggestions::line_starts;
use crate::{Diagnostic, Result, Severity};

/// Marks the named imports tsc says are types as `type` imports.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypeImports;

#[async_trait::async_trait]
impl Fixer for TypeImports {
    fn name(&self) -> &str {
        "type-imports"
    }

    fn safety(&self) -> Safety {
        Safety::Safe
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for diagnostic in (input.diagnostics.iter()).filter(|d| d.severity <= Severity::Error) {
            let (Some(name), Some(line)) = (type_only(diagnostic), diagnostic.line) else {
                continue;
            };
            let Some(path) = (diagnostic.file.as_deref()).and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let Some(text) = files.text(&path)? else {
                continue;
            };
            if let Some(changed) = typed(&text, line, name) {
                files.change(
                    &path,
                    changed,
                    format!("{path}: `{name}` imported as a type"),
                );
            }
        }
        Ok(files.into_proposal())
    }
}

/// The name TS1484 says is a type.
fn type_only(diagnostic: &Diagnostic) -> Option<&str> {
    static TYPE_ONLY: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^'([A-Za-z_$][\w$]*)' is a type and must be imported using a type-only import")
            .ok()
    });
    Some(
        TYPE_ONLY
            .as_ref()?
            .captures(&diagnostic.message)?
            .get(1)?
            .as_str(),
    )
}

/// `text` with the named import of `name` on `line` (1-based) written `type name`; `None` when
/// that line holds no such specifier, or it is a type import already.
fn typed(text: &str, line: u32, name: &str) -> Option<String> {
    let start = *line_starts(text).get(line.checked_sub(1)? as usize)?;
    let content = &text[start..];
    let content = &content[..content.find('\n').unwrap_or(content.len())];
    let specifier = Regex::new(&format!(
        r"(?:^|[{{,])\s*({}\b(?:\s+as\s+[A-Za-z_$][\w$]*)?\s*(?:[,}}]|$))",
        regex::escape(name)
    ))
    .ok()?;
    if content.trim_start().starts_with("import type") {
        return None;
    }
    let found = specifier.captures(content)?;
    let at = start + found.get(1)?.start();
    Some(format!("{}type {}", &text[..at], &text[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifier_on_the_line_is_marked() {
        let text = "import { useState, ReactNode } from 'react';\nimport { X } from './x';\n";
        assert_eq!(
            typed(text, 1, "ReactNode").unwrap(),
            "import { useState, type ReactNode } from 'react';\nimport { X } from './x';\n"
        );
        assert_eq!(
            typed("import { FC as F, useMemo } from 'react';\n", 1, "FC").unwrap(),
            "import { type FC as F, useMemo } from 'react';\n"
        );
        assert_eq!(typed(text, 2, "ReactNode"), None, "another line");
        assert_eq!(
            typed(
                "import {\n  useState,\n  ReactNode,\n} from 'react';\n",
                3,
                "ReactNode"
            )
            .unwrap(),
            "import {\n  useState,\n  type ReactNode,\n} from 'react';\n"
        );
        assert_eq!(
            typed("import type { ReactNode } from 'react';\n", 1, "ReactNode"),
            None
        );
        assert_eq!(
            typed("import { ReactNodeish } from 'react';\n", 1, "ReactNode"),
            None
        );
        let message = "'ReactNode' is a type and must be imported using a type-only import when 'verbatimModuleSyntax' is enabled.";
        assert_eq!(
            type_only(&Diagnostic::new("tsc", message)),
            Some("ReactNode")
        );
    }
}

//! [`ClientDirective`]: a React Server Component that uses what only works in a Client Component
//! (`useState`, `useEffect`, event handlers…) is marked with the `"use client"` directive, as
//! Next.js says to ("To fix, mark the file (or its parent) with the `"use client"` directive");
//! a directive written below other statements, which Next refuses ("must be placed before other
//! expressions"), is moved to the top.

use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use crate::{Result, Severity, Subcategory};

/// Adds `"use client"` at the top of the module a component-boundary error names, when the
/// error says the fix is that directive and the module is a script that does not have it.
/// The directive takes the module's own quotes and semicolons.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientDirective;

#[async_trait::async_trait]
impl Fixer for ClientDirective {
    fn name(&self) -> &str {
        "client-directive"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        static WANTS_CLIENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
            Regex::new(
                r#"mark the file \(or its parent\) with the [`'"]*"use client"|only works in a Client Component|needs `[^`]+`\. This React Hook only works|"use client" directive must be placed before other expressions"#,
            )
            .ok()
        });
        let Some(wants_client) = WANTS_CLIENT.as_ref() else {
            return Ok(None);
        };
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for diagnostic in input.diagnostics.iter().filter(|d| {
            d.severity <= Severity::Error
                && d.subcategory == Subcategory::ComponentBoundary
                && wants_client.is_match(&d.message)
        }) {
            let Some(path) = diagnostic
                .file
                .as_deref()
                .and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let script = [".tsx", ".jsx", ".ts", ".js", ".mjs"]
                .iter()
                .any(|extension| path.as_str().ends_with(extension));
            if !script {
                continue;
            }
            let Some(text) = files.text(&path)? else {
                continue;
            };
            if let Some(marked) = with_directive(&text) {
                files.change(&path, marked, format!("{path} is a Client Component"));
            }
        }
        Ok(files.into_proposal())
    }
}

/// `text` with `"use client"` first, in the module's style, and no other line that is only the
/// directive; `None` when it comes first already.
fn with_directive(text: &str) -> Option<String> {
    let is_directive = |line: &str| {
        let unquoted = line.trim().trim_end_matches(';').trim_end();
        matches!(unquoted, "\"use client\"" | "'use client'")
    };
    let first_statement = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("//") && !line.starts_with("/*"))
        .unwrap_or_default();
    if is_directive(first_statement) {
        return None;
    }
    let quote = match (first_statement.find('\''), first_statement.find('"')) {
        (Some(single), Some(double)) if single < double => '\'',
        (Some(_), None) => '\'',
        _ => '"',
    };
    let semicolon = match first_statement.is_empty() || first_statement.ends_with(';') {
        true => ";",
        false => "",
    };
    let rest: String = (text.split_inclusive('\n'))
        .filter(|line| !is_directive(line))
        .collect();
    Some(format!("{quote}use client{quote}{semicolon}\n\n{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directive_comes_first_in_the_modules_style() {
        assert_eq!(
            with_directive("import { useState } from 'react';\n").as_deref(),
            Some("'use client';\n\nimport { useState } from 'react';\n")
        );
        assert_eq!(
            with_directive("import { useState } from \"react\"\n").as_deref(),
            Some("\"use client\"\n\nimport { useState } from \"react\"\n")
        );
        assert_eq!(
            with_directive("// the board\nimport x from 'x';\n").as_deref(),
            Some("'use client';\n\n// the board\nimport x from 'x';\n")
        );
        assert_eq!(
            with_directive("\"use client\";\nimport x from 'x';\n"),
            None
        );
        assert_eq!(with_directive("// c\n'use client'\n"), None);
        assert_eq!(
            with_directive("import x from \"x\";\n\n\"use client\";\nconst a = \"use client\";\n")
                .as_deref(),
            Some("\"use client\";\n\nimport x from \"x\";\n\nconst a = \"use client\";\n"),
            "a directive below the imports is moved up"
        );
    }
}

//! [`ClientDirective`]: a React Server Component that uses what only works in a Client Component
//! (`useState`, `useEffect`, event handlers…) is marked with the `"use client"` directive, as
//! Next.js says to ("To fix, mark the file (or its parent) with the `"use client"` directive",
//! or, while prerendering, "Event handlers cannot be passed to Client Component props");
//! a directive written below other statements, which Next refuses ("must be placed before other
//! expressions"), is moved to the top; and a module marked `"use client"` that exports what
//! only a Server Component may (`metadata`, `generateMetadata`) loses the directive when
//! nothing in it needs the client.

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
                r#"mark the file \(or its parent\) with the [`'"]*"use client"|only works in a Client Component|needs `[^`]+`\. This React Hook only works|"use client" directive must be placed before other expressions|Event handlers cannot be passed to Client Component props|Functions cannot be passed directly to Client Components"#,
            )
            .ok()
        });
        static SERVER_EXPORT: LazyLock<Option<Regex>> = LazyLock::new(|| {
            Regex::new(r#"You are attempting to export "[\w$]+" from a component marked with "use client""#)
                .ok()
        });
        let (Some(wants_client), Some(server_export)) =
            (WANTS_CLIENT.as_ref(), SERVER_EXPORT.as_ref())
        else {
            return Ok(None);
        };
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for diagnostic in input.diagnostics.iter().filter(|d| {
            d.severity <= Severity::Error && d.subcategory == Subcategory::ComponentBoundary
        }) {
            let to_server = server_export.is_match(&diagnostic.message);
            if !to_server && !wants_client.is_match(&diagnostic.message) {
                continue;
            }
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
            if to_server {
                if let Some(unmarked) = without_directive(&text) {
                    files.change(
                        &path,
                        unmarked,
                        format!("nothing in {path} needs the client"),
                    );
                }
            } else if let Some(marked) = with_directive(&text) {
                files.change(&path, marked, format!("{path} is a Client Component"));
            }
        }
        Ok(files.into_proposal())
    }
}

/// Whether the module is a Client Component: `"use client"` comes first.
pub(super) fn is_client_module(text: &str) -> bool {
    is_directive(first_statement(text))
}

/// The module's first line of code (comments and blank lines skipped), trimmed.
fn first_statement(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("//") && !line.starts_with("/*"))
        .unwrap_or_default()
}

/// Whether a line is only the `"use client"` directive.
fn is_directive(line: &str) -> bool {
    let unquoted = line.trim().trim_end_matches(';').trim_end();
    matches!(unquoted, "\"use client\"" | "'use client'")
}

/// `text` without its `"use client"` lines, when nothing in it needs the client: no hook, no
/// event handler, no context, no browser global.
fn without_directive(text: &str) -> Option<String> {
    static CLIENT_ONLY: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"\buse[A-Z][\w$]*\s*[(<]|\bon[A-Z]\w*=\{|\bcreateContext\b|\b(?:window|document|localStorage|sessionStorage|navigator)\.")
            .ok()
    });
    if CLIENT_ONLY.as_ref()?.is_match(text) {
        return None;
    }
    let kept: String = (text.split_inclusive('\n'))
        .filter(|line| !is_directive(line))
        .collect();
    (kept.len() != text.len()).then(|| kept.trim_start_matches('\n').to_string())
}

/// `text` with `"use client"` first, in the module's style, and no other line that is only the
/// directive; `None` when it comes first already.
fn with_directive(text: &str) -> Option<String> {
    let first_statement = first_statement(text);
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
    fn a_module_that_needs_no_client_loses_the_directive() {
        let page = "\"use client\";\n\nimport type { Metadata } from \"next\";\n\
                    export const metadata: Metadata = { title: \"T\" };\n\
                    export default function Page() {\n  return <a href=\"/x\">x</a>;\n}\n";
        assert_eq!(
            without_directive(page).as_deref(),
            Some(
                "import type { Metadata } from \"next\";\n\
                 export const metadata: Metadata = { title: \"T\" };\n\
                 export default function Page() {\n  return <a href=\"/x\">x</a>;\n}\n"
            )
        );
        for needs_client in [
            "const [a, b] = useState(0);",
            "const t = useTheme<Theme>();",
            "<button onClick={() => go()}>",
            "const C = createContext(null);",
            "const w = window.innerWidth;",
        ] {
            let module = format!("'use client';\nexport const metadata = {{}};\n{needs_client}\n");
            assert_eq!(without_directive(&module), None, "{needs_client}");
        }
        assert_eq!(without_directive("export const metadata = {};\n"), None);
    }

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

//! [`NextSuspense`]: a page whose rendering reads the URL's search parameters
//! (`useSearchParams()`) cannot be prerendered whole; `next build` stops with
//! `useSearchParams() should be wrapped in a suspense boundary at page "/search"`. The fix Next
//! documents is a `<Suspense>` boundary above the component: the page's component keeps its
//! body under a new name, and the default export renders it inside `<Suspense>`.

use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::imports::{Binding, Import, Language, add_import};
use crate::{Result, Severity};

/// Wraps the page a missing-Suspense prerender error names in a `<Suspense>` boundary.
#[derive(Debug, Clone, Copy, Default)]
pub struct NextSuspense;

#[async_trait::async_trait]
impl Fixer for NextSuspense {
    fn name(&self) -> &str {
        "next-suspense"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        static UNWRAPPED: LazyLock<Option<Regex>> = LazyLock::new(|| {
            Regex::new(r"^use\w+\(\) should be wrapped in a suspense boundary at page").ok()
        });
        let Some(unwrapped) = UNWRAPPED.as_ref() else {
            return Ok(None);
        };
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for diagnostic in (input.diagnostics.iter())
            .filter(|d| d.severity <= Severity::Error && unwrapped.is_match(&d.message))
        {
            let Some(path) = (diagnostic.file.as_deref()).and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let page = ["page.tsx", "page.jsx", "page.ts", "page.js"]
                .iter()
                .any(|name| path.as_str().rsplit('/').next() == Some(*name));
            if !page {
                continue;
            }
            let Some(text) = files.text(&path)? else {
                continue;
            };
            if let Some(wrapped) = in_suspense(&text) {
                files.change(&path, wrapped, format!("{path} renders inside <Suspense>"));
            }
        }
        Ok(files.into_proposal())
    }
}

/// `text` with its default-exported component renamed `…Content` and a default export that
/// renders it inside `<Suspense>`; `None` when the component takes props, is not a function
/// declaration, or the module has `Suspense` or the new name already.
fn in_suspense(text: &str) -> Option<String> {
    static DEFAULT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?m)^export\s+default\s+(async\s+)?function\s+([A-Za-z_$][\w$]*)\s*\(\s*\)")
            .ok()
    });
    let found = DEFAULT.as_ref()?.captures(text)?;
    let whole = found.get(0)?;
    let name = found.get(2)?.as_str();
    let content = format!("{name}Content");
    if text.contains("Suspense") || text.contains(&content) {
        return None;
    }
    let asynchronous = found.get(1).map_or("", |m| m.as_str());
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(&text[..whole.start()]);
    out.push_str(&format!("{asynchronous}function {content}()"));
    out.push_str(&text[whole.end()..]);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "\nexport default function {name}() {{\n  return (\n    <Suspense>\n      <{content} />\n    </Suspense>\n  );\n}}\n"
    ));
    let suspense = Import {
        module: "react".into(),
        name: "Suspense".into(),
        binding: Binding::Named,
    };
    add_import(&out, Language::Script, &suspense)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_renders_its_component_inside_suspense() {
        let page = "\"use client\";\n\nimport { useSearchParams } from \"next/navigation\";\n\n\
                    export default function SearchPage() {\n  const q = useSearchParams().get(\"q\");\n  return <h1>{q}</h1>;\n}\n";
        assert_eq!(
            in_suspense(page).unwrap(),
            "\"use client\";\n\nimport { useSearchParams } from \"next/navigation\";\nimport { Suspense } from \"react\";\n\n\
             function SearchPageContent() {\n  const q = useSearchParams().get(\"q\");\n  return <h1>{q}</h1>;\n}\n\n\
             export default function SearchPage() {\n  return (\n    <Suspense>\n      <SearchPageContent />\n    </Suspense>\n  );\n}\n"
        );
    }

    #[test]
    fn suspense_joins_an_import_from_react() {
        let page = "import { useState } from 'react';\nexport default async function P() {\n  return <Filters />;\n}\n";
        let wrapped = in_suspense(page).unwrap();
        assert!(
            wrapped.starts_with(
                "import { useState, Suspense } from 'react';\nasync function PContent() {"
            ),
            "{wrapped}"
        );
        assert!(wrapped.ends_with("      <PContent />\n    </Suspense>\n  );\n}\n"));
    }

    #[test]
    fn pages_the_rewrite_does_not_know_are_left_alone() {
        for page in [
            "export default function P({ searchParams }: Props) {\n  return null;\n}\n",
            "const P = () => null;\nexport default P;\n",
            "import { Suspense } from 'react';\nexport default function P() {\n  return null;\n}\n",
        ] {
            assert_eq!(in_suspense(page), None, "{page}");
        }
    }
}

//! [`NextNavigation`]: `useRouter` from `next/router` (the Pages Router's) in an App Router
//! component — "NextRouter was not mounted", or "You have a Server Component that imports
//! next/router" — imported from `next/navigation` instead, where the change is mechanical.

use std::sync::LazyLock;

use regex::Regex;

use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::{FixProposal, RelativePath};
use crate::{Result, Severity};

/// Moves `useRouter` imports from `next/router` to `next/navigation` in the project's modules
/// outside `pages/`, when the App Router's router can do all the module does with it: the
/// module imports nothing else from `next/router`, and calls only `push`, `replace`, `back`,
/// `forward`, `refresh` and `prefetch` on the routers it gets. A module that reads
/// `query`, `pathname` or `events`, or passes the router on, is left to someone who knows
/// which of `useSearchParams` and `usePathname` it needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct NextNavigation;

/// What both routers do alike.
const SAME_IN_BOTH: &[&str] = &["push", "replace", "back", "forward", "refresh", "prefetch"];

#[async_trait::async_trait]
impl Fixer for NextNavigation {
    fn name(&self) -> &str {
        "next-navigation"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let wrong_router = input.diagnostics.iter().any(|d| {
            d.severity <= Severity::Error
                && (d.message.contains("NextRouter was not mounted")
                    || d.message.contains("imports next/router"))
        });
        if !wrong_router {
            return Ok(None);
        }
        let workspace = input.workspace;
        let modules = |path: &RelativePath| {
            let path = path.as_str();
            let pages = path.starts_with("pages/") || path.starts_with("src/pages/");
            !pages
                && [".tsx", ".jsx", ".ts", ".js"]
                    .iter()
                    .any(|e| path.ends_with(e))
        };
        let mut files = EditedFiles::new(workspace);
        for (path, text) in workspace.texts(&modules, 1 << 20)? {
            if !text.contains("next/router") {
                continue;
            }
            if let Some(moved) = moved_to_navigation(&text) {
                files.text(&path)?;
                files.change(
                    &path,
                    moved,
                    format!("{path}: useRouter from next/navigation"),
                );
            }
        }
        Ok(files.into_proposal())
    }
}

/// `text` with its `useRouter` import from `next/navigation`, when the change is mechanical.
fn moved_to_navigation(text: &str) -> Option<String> {
    static IMPORT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r#"import\s*\{\s*useRouter\s*\}\s*from\s*(['"])next/router['"]"#).ok()
    });
    static ROUTER: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*useRouter\(\s*\)").ok()
    });
    let import = IMPORT.as_ref()?.captures(text)?;
    // Anything else from next/router (`withRouter`, `Router`, types) has no mechanical twin.
    if text.matches("next/router").count() != 1 {
        return None;
    }
    let routers: Vec<&str> = (ROUTER.as_ref()?.captures_iter(text))
        .filter_map(|found| Some(found.get(1)?.as_str()))
        .collect();
    if routers.is_empty() || text.matches("useRouter(").count() != routers.len() {
        return None;
    }
    let whole = import.get(0)?;
    let body = &text[whole.end()..];
    for router in &routers {
        let uses = Regex::new(&format!(
            r"\b{}\b(\s*\.\s*([A-Za-z_$][\w$]*))?",
            regex::escape(router)
        ))
        .ok()?;
        for found in uses.captures_iter(body) {
            match found.get(2).map(|m| m.as_str()) {
                Some(member) if SAME_IN_BOTH.contains(&member) => {}
                // The declaration itself.
                None if body[found.get(0)?.end()..]
                    .trim_start()
                    .starts_with("= useRouter(") => {}
                _ => return None,
            }
        }
    }
    let quote = &import[1];
    Some(format!(
        "{}import {{ useRouter }} from {quote}next/navigation{quote}{}",
        &text[..whole.start()],
        &text[whole.end()..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_both_routers_do_moves() {
        let moving = "\"use client\";\nimport { useRouter } from \"next/router\";\n\nexport function Back() {\n  const router = useRouter();\n  return <button onClick={() => router.push(\"/\")}>{router.back ? \"x\" : \"y\"}</button>;\n}\n";
        assert_eq!(
            moved_to_navigation(moving).as_deref(),
            Some(moving.replace("next/router", "next/navigation").as_str())
        );
        for staying in [
            "import { useRouter } from 'next/router';\nconst r = useRouter();\nconst id = r.query.id;\n",
            "import { useRouter } from 'next/router';\nconst r = useRouter();\nuse(r);\n",
            "import { useRouter } from 'next/router';\nimport Router from 'next/router';\nconst r = useRouter();\nr.push('/');\n",
            "import { useRouter } from 'next/router';\nexport const hook = () => useRouter().push('/');\n",
        ] {
            assert_eq!(moved_to_navigation(staying), None, "{staying}");
        }
    }
}

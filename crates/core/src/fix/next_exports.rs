//! [`NextExports`]: a Next.js page, layout or route module whose exports the framework rejects
//! (`Page "app/dashboard/page.tsx" does not match the required types of a Next.js Page.
//! "DashboardPage" is not a valid Page export field.`) — the component exported by name where
//! the framework needs the default export, or a route handler named in the wrong case (`get`
//! for `GET`).

use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use crate::parse::is_module_exports;
use crate::{Diagnostic, Result};

/// Makes the named component of a page-like module its default export, or renames a route
/// handler to its HTTP method.
#[derive(Debug, Clone, Copy, Default)]
pub struct NextExports;

/// The HTTP methods a route module may export handlers for.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

#[async_trait::async_trait]
impl Fixer for NextExports {
    fn name(&self) -> &str {
        "next-exports"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for (diagnostic, kind, name) in input.diagnostics.iter().filter_map(rejected_export) {
            let Some(path) = (diagnostic.file.as_deref()).and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let Some(text) = files.text(&path)? else {
                continue;
            };
            let changed = match kind.as_str() {
                "Route" => route_method(&text, &name),
                _ => default_export(&text, &name),
            };
            if let Some((changed, why)) = changed {
                files.change(&path, changed, format!("{path}: {why}"));
            }
        }
        Ok(files.into_proposal())
    }
}

/// The module kind (`Page`, `Layout`, `Route`, …) and the export Next.js rejected.
fn rejected_export(diagnostic: &Diagnostic) -> Option<(&Diagnostic, String, String)> {
    static FIELD: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r#"^"([A-Za-z_$][\w$]*)" is not a valid (\w+) export field\.?$"#).ok()
    });
    if !is_module_exports(&diagnostic.message) {
        return None;
    }
    diagnostic.notes.iter().find_map(|note| {
        let found = FIELD.as_ref()?.captures(note.trim())?;
        Some((diagnostic, found[2].to_string(), found[1].to_string()))
    })
}

/// `export function Name(` made `export default function Name(` — or `export default Name;`
/// added after `export const Name = …` — in a module with no default export yet.
fn default_export(text: &str, name: &str) -> Option<(String, String)> {
    static DEFAULT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?m)^\s*export\s+default\b|export\s*\{[^}]*\bas\s+default\b").ok()
    });
    if DEFAULT.as_ref()?.is_match(text) {
        return None;
    }
    let function = Regex::new(&format!(
        r"(?m)^export\s+((?:async\s+)?function\s+{}\s*[(<])",
        regex::escape(name)
    ))
    .ok()?;
    let constant = Regex::new(&format!(r"(?m)^export\s+const\s+{}\b", regex::escape(name))).ok()?;
    let why = format!("`{name}` made the default export");
    if let [found] = &function.captures_iter(text).collect::<Vec<_>>()[..] {
        let whole = found.get(0)?;
        let changed = format!(
            "{}export default {}{}",
            &text[..whole.start()],
            &found[1],
            &text[whole.end()..]
        );
        return Some((changed, why));
    }
    if constant.find_iter(text).count() == 1 {
        let separator = if text.ends_with('\n') { "" } else { "\n" };
        return Some((format!("{text}{separator}\nexport default {name};\n"), why));
    }
    None
}

/// A route handler exported as `get` (any case) renamed to the method `GET`.
fn route_method(text: &str, name: &str) -> Option<(String, String)> {
    let method = METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(name) && **m != name)?;
    let declaration = Regex::new(&format!(
        r"(?m)^(export\s+(?:async\s+function|function|const|let)\s+){}\b",
        regex::escape(name)
    ))
    .ok()?;
    let found: Vec<_> = declaration.captures_iter(text).collect();
    let [found] = &found[..] else {
        return None;
    };
    let whole = found.get(0)?;
    let changed = format!(
        "{}{}{method}{}",
        &text[..whole.start()],
        &found[1],
        &text[whole.end()..]
    );
    Some((changed, format!("the `{name}` handler renamed `{method}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_component_becomes_the_default_export() {
        let page = "import x from 'y';\n\nexport const metadata = {};\n\nexport function DashboardPage() {\n  return null;\n}\n";
        let (changed, _) = default_export(page, "DashboardPage").unwrap();
        assert!(
            changed.contains("\nexport default function DashboardPage() {\n"),
            "{changed}"
        );
        let arrow = "export const Home = async () => null;";
        let (changed, _) = default_export(arrow, "Home").unwrap();
        assert_eq!(
            changed,
            "export const Home = async () => null;\n\nexport default Home;\n"
        );
        let generic = "export async function Layout<T>(props: T) { return null; }\n";
        assert!(
            default_export(generic, "Layout")
                .unwrap()
                .0
                .starts_with("export default async function Layout<T>")
        );
        assert_eq!(
            default_export(
                "export default function A() {}\nexport function B() {}\n",
                "B"
            ),
            None
        );
        assert_eq!(
            default_export("export { A as default };\nexport function B() {}\n", "B"),
            None
        );
        assert_eq!(default_export("export function Other() {}\n", "B"), None);
    }

    #[test]
    fn a_handler_in_the_wrong_case_is_renamed_to_its_method() {
        let route =
            "export async function get(request: Request) {\n  return Response.json([]);\n}\n";
        let (changed, _) = route_method(route, "get").unwrap();
        assert!(changed.starts_with("export async function GET(request"));
        assert_eq!(
            route_method("export const Post = handler;\n", "Post")
                .unwrap()
                .0,
            "export const POST = handler;\n"
        );
        assert_eq!(
            route_method("export function fetchAll() {}\n", "fetchAll"),
            None
        );
        assert_eq!(route_method("export function GET() {}\n", "GET"), None);
    }

    #[test]
    fn the_rejected_export_is_read_from_the_diagnostic() {
        let mut d = Diagnostic::new(
            "next",
            "Page \"app/dashboard/page.tsx\" does not match the required types of a Next.js Page.",
        );
        d.notes = vec!["\"DashboardPage\" is not a valid Page export field.".into()];
        let (_, kind, name) = rejected_export(&d).unwrap();
        assert_eq!((kind.as_str(), name.as_str()), ("Page", "DashboardPage"));
    }
}

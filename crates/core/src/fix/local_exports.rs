//! [`LocalExports`]: a project module that declares a name another module imports, but does
//! not export it — tsc's `Module '"../lib/format"' declares 'formatDuration' locally, but it is
//! not exported` (TS2459), or a bundler's "is not exported" about a module that declares the
//! name — gets `export` on that declaration.

use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::edited::EditedFiles;
use super::export_names::turbopack_missing_export;
use super::fixer::{FixInput, Fixer, Safety};
use super::import_kinds::{exports_named, module_path};
use crate::{Diagnostic, Result, Severity};

/// Exports the top-level declaration an import names, in the module that declares it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalExports;

#[async_trait::async_trait]
impl Fixer for LocalExports {
    fn name(&self) -> &str {
        "local-exports"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for diagnostic in (input.diagnostics.iter()).filter(|d| d.severity <= Severity::Error) {
            let Some((name, module)) = not_exported(diagnostic) else {
                continue;
            };
            let Some(importer) = (diagnostic.file.as_deref()).and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let Some(path) = module_path(workspace, importer.as_str(), &module) else {
                continue;
            };
            let Some(text) = files.text(&path)? else {
                continue;
            };
            if let Some(exported) = exporting(&text, &name) {
                files.change(&path, exported, format!("{path} exports `{name}`"));
            }
        }
        Ok(files.into_proposal())
    }
}

/// The name an import wants and the module it wants it from, when an error says the module
/// does not export it.
fn not_exported(diagnostic: &Diagnostic) -> Option<(String, String)> {
    static MESSAGES: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(concat!(
            r#"^Module '"(?P<m1>[^"]+)"' declares '(?P<n1>[A-Za-z_$][\w$]*)' locally, but it is not exported"#,
            r#"|^(?:Attempted import error: )?["'](?P<n2>[A-Za-z_$][\w$]*)["'] is not exported (?:by|from) ["'](?P<m2>[^"']+)["']"#,
        ))
        .ok()
    });
    if let Some(missing) = turbopack_missing_export(diagnostic) {
        return (missing.name != "default").then_some((missing.name, missing.module));
    }
    let found = MESSAGES.as_ref()?.captures(&diagnostic.message)?;
    let name = found.name("n1").or(found.name("n2"))?.as_str();
    let module = found.name("m1").or(found.name("m2"))?.as_str();
    Some((name.to_string(), module.to_string()))
}

/// `text` with `export` before its one top-level declaration of `name`; `None` when it exports
/// the name already or does not declare it exactly once at the top level.
fn exporting(text: &str, name: &str) -> Option<String> {
    let n = regex::escape(name);
    let declared = Regex::new(&format!(
        r"(?m)^(?:(?:async\s+)?function\*?|class|const|let|var|interface|type|enum|abstract\s+class)\s+{n}\b"
    ))
    .ok()?;
    if exports_named(text, name)? {
        return None;
    }
    let mut found = declared.find_iter(text);
    let declaration = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let at = declaration.start();
    Some(format!("{}export {}", &text[..at], &text[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_is_exported_once() {
        let module = "function formatDuration(minutes: number) {\n  return `${minutes}m`;\n}\n\nexport function formatDate() {}\n";
        assert_eq!(
            exporting(module, "formatDuration").unwrap(),
            format!("export {module}")
        );
        assert_eq!(
            exporting("const a = 1;\nasync function load() {}\n", "load").unwrap(),
            "const a = 1;\nexport async function load() {}\n"
        );
        assert_eq!(
            exporting("export function f() {}\n", "f"),
            None,
            "exported already"
        );
        assert_eq!(exporting("function f() {}\nexport { f };\n", "f"), None);
        assert_eq!(
            exporting("  function f() {}\n", "f"),
            None,
            "not at the top level"
        );
        assert_eq!(
            exporting("type P = 1;\ninterface P {}\n", "P"),
            None,
            "declared twice"
        );
        assert_eq!(exporting("function ff() {}\n", "f"), None);
    }

    #[test]
    fn the_name_and_module_come_from_each_tools_message() {
        let cases = [
            (
                "Module '\"../lib/format\"' declares 'formatDuration' locally, but it is not exported.",
                Some(("formatDuration", "../lib/format")),
            ),
            (
                "\"formatDuration\" is not exported by \"src/lib/format.ts\", imported by \"src/components/WorkoutList.tsx\".",
                Some(("formatDuration", "src/lib/format.ts")),
            ),
            (
                "Attempted import error: 'cn' is not exported from '@/lib/utils' (imported as 'cn').",
                Some(("cn", "@/lib/utils")),
            ),
            ("Cannot find name 'x'.", None),
        ];
        for (message, expected) in cases {
            let found = not_exported(&Diagnostic::new("tsc", message));
            assert_eq!(
                found.as_ref().map(|(n, m)| (n.as_str(), m.as_str())),
                expected,
                "{message}"
            );
        }
    }
}

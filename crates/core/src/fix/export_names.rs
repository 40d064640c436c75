//! [`ExportNames`]: an imported name the module does not export, imported as the export it
//! meant — tsc's own suggestion (TS2724 "Did you mean 'Github'?"), or, for an installed
//! package (TS2305, rollup, webpack, esbuild), the closest name the package exports when no
//! other is as close (see [`PackageExports::closest`]).

use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::package_exports::{PackageExports, package_of_module, split_specifier};
use crate::{Diagnostic, Result, Severity};

/// Imports the export a misspelt name meant under the name the code uses
/// (`import { Github as GitHub } from 'lucide-react'`), so that every use of it stays as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportNames;

/// An import of a name its module does not export, as a tool reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MissingExport {
    pub(super) name: String,
    /// As the tool prints it: the specifier, or the module's path.
    pub(super) module: String,
    /// The export the tool itself suggests.
    pub(super) suggestion: Option<String>,
}

impl MissingExport {
    /// The installed package the module is (or is inside), when it is one.
    pub(super) fn package(&self) -> Option<String> {
        package_of_module(&self.module).or_else(|| {
            split_specifier(&self.module).map(|(package, subpath)| match subpath.as_str() {
                "" => package,
                sub => format!("{package}/{sub}"),
            })
        })
    }
}

#[async_trait::async_trait]
impl Fixer for ExportNames {
    fn name(&self) -> &str {
        "export-names"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for diagnostic in (input.diagnostics.iter()).filter(|d| d.severity <= Severity::Error) {
            let Some(missing) = missing_export(diagnostic) else {
                continue;
            };
            let Some(path) = (diagnostic.file.as_deref()).and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let exports;
            let meant = match &missing.suggestion {
                Some(suggestion) => suggestion.as_str(),
                None => {
                    let Some(package) = missing.package() else {
                        continue;
                    };
                    let Some(read) = PackageExports::read(workspace.root(), &package) else {
                        continue;
                    };
                    exports = read;
                    let Some(closest) = exports.closest(&missing.name) else {
                        continue;
                    };
                    closest
                }
            };
            let Some(text) = files.text(&path)? else {
                continue;
            };
            if let Some(changed) = alias(&text, &missing, meant, diagnostic.line) {
                let why = format!(
                    "{path}: '{}' has no export `{}`; `{meant}` imported as `{}`",
                    missing.module, missing.name, missing.name
                );
                files.change(&path, changed, why);
            }
        }
        Ok(files.into_proposal())
    }
}

/// The missing export a diagnostic reports: tsc (TS2724 with its suggestion, TS2305), rollup
/// (`"Run" is not exported by "node_modules/…"`), webpack (`Attempted import error: 'Run' is
/// not exported from 'lucide-react'`) or esbuild (`No matching export in "…" for import "Run"`).
pub(super) fn missing_export(diagnostic: &Diagnostic) -> Option<MissingExport> {
    const NAME: &str = r"([A-Za-z_$][\w$]*)";
    static SUGGESTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(&format!(
            r#"'"([^"]+)"' has no exported member named '{NAME}'\. Did you mean '{NAME}'\?"#
        ))
        .ok()
    });
    static TSC: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(&format!(
            r#"Module '"([^"]+)"' has no exported member '{NAME}'\.?$"#
        ))
        .ok()
    });
    static ROLLUP: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(&format!(r#"(?:^|: )"{NAME}" is not exported by "([^"]+)""#)).ok()
    });
    static WEBPACK: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(&format!(
            r#"Attempted import error: '{NAME}' is not exported from '([^']+)'"#
        ))
        .ok()
    });
    static ESBUILD: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(&format!(
            r#"No matching export in "([^"]+)" for import "{NAME}""#
        ))
        .ok()
    });
    if let Some(mut found) = turbopack_missing_export(diagnostic) {
        // A default export wanted or offered is the import-kinds fixer's: the import's form is
        // what is wrong, not the name.
        found.suggestion = found.suggestion.filter(|s| s != "default");
        return (found.name != "default").then_some(found);
    }
    let message = diagnostic.message.as_str();
    let missing = |name: &str, module: &str, suggestion: Option<&str>| {
        Some(MissingExport {
            name: name.to_string(),
            module: module.to_string(),
            suggestion: suggestion.map(str::to_string),
        })
    };
    if let Some(found) = SUGGESTED.as_ref()?.captures(message) {
        return missing(&found[2], &found[1], Some(&found[3]));
    }
    if let Some(found) = TSC.as_ref()?.captures(message) {
        return missing(&found[2], &found[1], None);
    }
    if let Some(found) =
        (ROLLUP.as_ref()?.captures(message)).or_else(|| WEBPACK.as_ref()?.captures(message))
    {
        return missing(&found[1], &found[2], None);
    }
    let found = ESBUILD.as_ref()?.captures(message)?;
    missing(&found[2], &found[1], None)
}

/// Turbopack's report: `Export Run doesn't exist in target module`, with the notes `The export
/// Run was not found in module [project]/node_modules/lucide-react/dist/esm/lucide-react.js
/// [app-rsc] (ecmascript).` and, when it has one, `Did you mean to import Play?`. Only a module
/// inside the project (`[project]/…`) is named.
pub(super) fn turbopack_missing_export(diagnostic: &Diagnostic) -> Option<MissingExport> {
    const NAME: &str = r"([A-Za-z_$][\w$]*)";
    static EXPORT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(&format!(r"^Export {NAME} doesn't exist in target module$")).ok()
    });
    static MODULE: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(&format!(
            r"^The export {NAME} was not found in module \[project\]/(\S+)"
        ))
        .ok()
    });
    static SUGGESTION: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(&format!(r"^Did you mean to import {NAME}\?$")).ok());
    let name = EXPORT.as_ref()?.captures(&diagnostic.message)?[1].to_string();
    let module = (diagnostic.notes.iter())
        .filter_map(|note| MODULE.as_ref()?.captures(note))
        .find(|found| found[1] == name)
        .map(|found| found[2].to_string())?;
    let suggestion = (diagnostic.notes.iter())
        .find_map(|note| Some(SUGGESTION.as_ref()?.captures(note)?[1].to_string()));
    Some(MissingExport {
        name,
        module,
        suggestion,
    })
}

/// `text` with the one import (or re-export) of `missing.name` from its module importing
/// `meant` under that name; `None` when no single statement fits.
fn alias(text: &str, missing: &MissingExport, meant: &str, line: Option<u32>) -> Option<String> {
    static STATEMENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"(?:import|export)\s+(?:type\s+)?(?:[A-Za-z_$][\w$]*\s*,\s*)?\{([^{}]*)\}\s*from\s*['"]([^'"\n]+)['"]"#,
        )
        .ok()
    });
    let line_of = |offset: usize| text[..offset].matches('\n').count() as u32 + 1;
    let fitting: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = (STATEMENT.as_ref()?)
        .captures_iter(text)
        .filter_map(|found| {
            let whole = found.get(0)?;
            let names = found.get(1)?;
            let spans = line_of(whole.start())..=line_of(whole.end());
            let fits = names_module(&found[2], &missing.module)
                && line.is_none_or(|line| spans.contains(&line));
            fits.then_some(())?;
            Some((names.range(), entry(names.as_str(), &missing.name)?))
        })
        .collect();
    let [(names, entry)] = &fitting[..] else {
        return None;
    };
    let written = &text[names.start + entry.start..names.start + entry.end];
    let (kind, rest) = match written.strip_prefix("type ") {
        Some(rest) => ("type ", rest.trim_start()),
        None => ("", written),
    };
    let local = rest
        .split_once(" as ")
        .map_or(missing.name.as_str(), |(_, local)| local.trim());
    let replacement = match local == meant {
        true => format!("{kind}{meant}"),
        false => format!("{kind}{meant} as {local}"),
    };
    let at = names.start + entry.start..names.start + entry.end;
    Some(format!(
        "{}{replacement}{}",
        &text[..at.start],
        &text[at.end..]
    ))
}

/// The byte range (trimmed) of the entry importing `name` in an import list's text.
fn entry(list: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let mut start = 0;
    for part in list.split(',') {
        let leading = part.len() - part.trim_start().len();
        let trimmed = part.trim();
        let imported = trimmed
            .strip_prefix("type ")
            .map_or(trimmed, str::trim_start);
        let imported = imported
            .split_once(" as ")
            .map_or(imported, |(i, _)| i)
            .trim();
        if imported == name {
            let from = start + leading;
            return Some(from..from + trimmed.len());
        }
        start += part.len() + 1;
    }
    None
}

/// Whether an import `specifier` is the module a tool names: the same text, the same
/// installed package (bundlers print the package's file), or the same last path segment (a
/// framework build prints absolute paths of the project's modules).
fn names_module(specifier: &str, module: &str) -> bool {
    if specifier == module {
        return true;
    }
    if let Some(package) = package_of_module(module) {
        return split_specifier(specifier).is_some_and(|(p, _)| p == package);
    }
    let last = |path: &str| {
        let segment = path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(path);
        segment.split('.').next().unwrap_or(segment).to_string()
    };
    // A module the tool names by its path (absolute, or project-relative with its extension).
    let by_path = module.starts_with('/')
        || [".tsx", ".ts", ".jsx", ".js", ".mjs", ".cjs"]
            .iter()
            .any(|extension| module.ends_with(extension));
    by_path && last(specifier) == last(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(message: &str) -> Diagnostic {
        Diagnostic::new("tsc", message).at("src/List.tsx", Some(1), Some(16))
    }

    #[test]
    fn turbopack_names_the_module_in_a_note_and_may_suggest() {
        let mut d = Diagnostic::new(
            "next",
            "Export LayoutDashbord doesn't exist in target module",
        )
        .at("components/header.tsx", Some(2), Some(1));
        d.notes = vec![
            "The export LayoutDashbord was not found in module [project]/node_modules/lucide-react/dist/esm/lucide-react.js [app-rsc] (ecmascript).".into(),
            "Did you mean to import LayoutDashboard?".into(),
        ];
        let found = missing_export(&d).expect("read");
        assert_eq!(found.name, "LayoutDashbord");
        assert_eq!(found.package().as_deref(), Some("lucide-react"));
        assert_eq!(found.suggestion.as_deref(), Some("LayoutDashboard"));
        // A module outside the project is not named; `default` is another fixer's.
        d.notes[0] = d.notes[0].replace("[project]/", "[externals]/");
        assert_eq!(missing_export(&d), None);
        let mut default = Diagnostic::new("next", "Export default doesn't exist in target module");
        default.notes =
            vec!["The export default was not found in module [project]/components/ui/button.tsx [app-rsc] (ecmascript).".into()];
        assert_eq!(missing_export(&default), None);
    }

    #[test]
    fn each_tools_wording_is_read() {
        let cases = [
            (
                "'\"lucide-react\"' has no exported member named 'DumbBell'. Did you mean 'Dumbbell'?",
                ("DumbBell", "lucide-react", Some("Dumbbell")),
            ),
            (
                "Module '\"lucide-react\"' has no exported member 'Run'.",
                ("Run", "lucide-react", None),
            ),
            (
                "\"Run\" is not exported by \"node_modules/lucide-react/dist/esm/lucide-react.js\", imported by \"src/List.tsx\".",
                (
                    "Run",
                    "node_modules/lucide-react/dist/esm/lucide-react.js",
                    None,
                ),
            ),
            (
                "Attempted import error: 'Run' is not exported from 'lucide-react' (imported as 'Run').",
                ("Run", "lucide-react", None),
            ),
            (
                "No matching export in \"node_modules/lucide-react/dist/esm/lucide-react.js\" for import \"Run\"",
                (
                    "Run",
                    "node_modules/lucide-react/dist/esm/lucide-react.js",
                    None,
                ),
            ),
        ];
        for (message, (name, module, suggestion)) in cases {
            let found = missing_export(&at(message)).unwrap_or_else(|| panic!("{message}"));
            assert_eq!(
                (
                    found.name.as_str(),
                    found.module.as_str(),
                    found.suggestion.as_deref()
                ),
                (name, module, suggestion)
            );
            assert_eq!(found.package().as_deref(), Some("lucide-react"));
        }
        let kinds = "Module '\"./Navbar\"' has no exported member 'Navbar'. Did you mean to use 'import Navbar from \"./Navbar\"' instead?";
        assert_eq!(
            missing_export(&at(kinds)),
            None,
            "a default import is import-kinds' fix"
        );
    }

    #[test]
    fn the_import_is_aliased_and_its_neighbours_kept() {
        let missing = MissingExport {
            name: "GitHub".into(),
            module: "node_modules/lucide-react/dist/esm/lucide-react.js".into(),
            suggestion: None,
        };
        let text = "import {\n  Bike,\n  GitHub,\n} from 'lucide-react';\nimport { GitHub as G } from './other';\n<GitHub />\n";
        assert_eq!(
            alias(text, &missing, "Github", None).as_deref(),
            Some(
                "import {\n  Bike,\n  Github as GitHub,\n} from 'lucide-react';\nimport { GitHub as G } from './other';\n<GitHub />\n"
            )
        );
        let aliased = "import { type GitHub as Logo } from \"lucide-react\";\n";
        assert_eq!(
            alias(aliased, &missing, "Github", Some(1)).as_deref(),
            Some("import { type Github as Logo } from \"lucide-react\";\n")
        );
        let back = "export { Logo as Github, GitHub as Github } from 'lucide-react';\n";
        assert_eq!(
            alias(back, &missing, "Github", Some(1)).as_deref(),
            Some("export { Logo as Github, Github } from 'lucide-react';\n")
        );
        assert_eq!(
            alias(text, &missing, "Github", Some(9)),
            None,
            "not on that line"
        );
        let twice =
            "import { GitHub } from 'lucide-react';\nimport { GitHub as X } from 'lucide-react';\n";
        assert_eq!(
            alias(twice, &missing, "Github", None),
            None,
            "which one is a guess"
        );
    }
}

//! [`ImportKinds`]: a named import of a module's default export, or a default import of a named
//! one, turned into the import the module has — as tsc says it (TS2614, TS2613: "Did you mean
//! to use 'import X from "./y"' instead?").

use std::sync::LazyLock;

use regex::Regex;

use super::edited::EditedFiles;
use super::export_names::turbopack_missing_export;
use super::fixer::{FixInput, Fixer, Safety};
use super::import_paths::{Aliases, parent};
use super::{FixProposal, RelativePath};
use crate::edit::join;
use crate::{Diagnostic, Result, Severity};

/// Rewrites `import { X } from 'y'` as `import X from 'y'` and back, where tsc names the
/// import the module wants.
///
/// The statement is found by the error's line when there is one, else by the name and the
/// module's last path segment (framework builds print absolute module paths); other names
/// imported beside it stay, and a statement that already has a default import is left alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportKinds;

/// What tsc asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    name: String,
    module: String,
    /// `true`: `import X from`; `false`: `import { X } from`.
    default: bool,
}

#[async_trait::async_trait]
impl Fixer for ImportKinds {
    fn name(&self) -> &str {
        "import-kinds"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for diagnostic in input
            .diagnostics
            .iter()
            .filter(|d| d.severity <= Severity::Error)
        {
            let Some(wanted) = wanted(diagnostic).or_else(|| bundler_wanted(workspace, diagnostic))
            else {
                continue;
            };
            let Some(path) = diagnostic
                .file
                .as_deref()
                .and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let Some(text) = files.text(&path)? else {
                continue;
            };
            if let Some(changed) = rewrite(&text, &wanted, diagnostic.line) {
                let form = match wanted.default {
                    true => format!("import {} from", wanted.name),
                    false => format!("import {{ {} }} from", wanted.name),
                };
                files.change(
                    &path,
                    changed,
                    format!("{path}: {form} '{}'", wanted.module),
                );
            }
        }
        Ok(files.into_proposal())
    }
}

/// The import tsc suggests, from its message.
fn wanted(diagnostic: &Diagnostic) -> Option<Wanted> {
    static DEFAULT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r#"Did you mean to use 'import ([A-Za-z_$][\w$]*) from "([^"]+)"' instead\?"#)
            .ok()
    });
    static NAMED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"Did you mean to use 'import \{ ([A-Za-z_$][\w$]*) \} from "([^"]+)"' instead\?"#,
        )
        .ok()
    });
    let message = &diagnostic.message;
    for (pattern, default) in [(&DEFAULT, true), (&NAMED, false)] {
        if let Some(found) = pattern.as_ref()?.captures(message) {
            return Some(Wanted {
                name: found[1].to_string(),
                module: found[2].to_string(),
                default,
            });
        }
    }
    None
}

/// What a bundler's "not exported" error means, read from the module itself: rollup's
/// `"Navbar" is not exported by "src/components/Navbar.tsx"`, webpack's `Attempted import
/// error: 'Navbar' is not exported from './components/Navbar'` or Turbopack's `Export Navbar
/// doesn't exist in target module` for a project module that has a default export and no export
/// of that name is a default import written as a named one; Turbopack's `Export default doesn't
/// exist …` with `Did you mean to import Button?`, for a module without a default export that
/// exports `Button`, is the other way round.
fn bundler_wanted(workspace: &crate::workspace::Workspace, d: &Diagnostic) -> Option<Wanted> {
    static NOT_EXPORTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"^(?:Attempted import error: )?["']([A-Za-z_$][\w$]*)["'] is not exported (?:by|from) ["']([^"']+)["']"#,
        )
        .ok()
    });
    let (name, module, suggestion) = match turbopack_missing_export(d) {
        Some(missing) => (missing.name, missing.module, missing.suggestion),
        None => {
            let found = NOT_EXPORTED.as_ref()?.captures(&d.message)?;
            (found[1].to_string(), found[2].to_string(), None)
        }
    };
    let importer = d.file.as_deref().and_then(|f| workspace.relative(f))?;
    let text = module_text(workspace, importer.as_str(), &module)?;
    let has_default = text.contains("export default");
    if name == "default" {
        let named = suggestion?;
        return (!has_default && exports_named(&text, &named)?).then_some(Wanted {
            name: named,
            module,
            default: false,
        });
    }
    (has_default && !exports_named(&text, &name)?).then_some(Wanted {
        name,
        module,
        default: true,
    })
}

/// Whether a module's text exports `name` by a declaration or an export list.
pub(super) fn exports_named(text: &str, name: &str) -> Option<bool> {
    let named = Regex::new(&format!(
        r"export\s+(?:(?:async\s+)?function\*?|class|const|let|var|type|interface|enum)\s+{}\b|export\s*\{{[^}}]*\b{}\b",
        regex::escape(name),
        regex::escape(name)
    ))
    .ok()?;
    Some(named.is_match(text))
}

/// The text of the project module `module` names, as a bundler reports it (project-relative)
/// or as the importer wrote it (relative to the importer).
fn module_text(
    workspace: &crate::workspace::Workspace,
    importer: &str,
    module: &str,
) -> Option<String> {
    let path = module_path(workspace, importer, module)?;
    workspace.read(&path).ok().flatten()
}

/// The project file of the module `module` names, as a bundler reports it (project-relative or
/// absolute under the project) or as the importer wrote it (relative to the importer).
pub(super) fn module_path(
    workspace: &crate::workspace::Workspace,
    importer: &str,
    module: &str,
) -> Option<RelativePath> {
    let mut bases = vec![module.to_string()];
    if module.starts_with('.') {
        bases.insert(0, join(parent(importer), module)?);
    } else if module.starts_with('/') {
        bases.insert(0, workspace.relative(module)?.as_str().to_string());
    } else if let Some(aliased) = Aliases::of(workspace).resolve(module) {
        bases.insert(0, aliased);
    }
    let extensions = [
        "",
        ".tsx",
        ".ts",
        ".jsx",
        ".js",
        "/index.tsx",
        "/index.ts",
        "/index.js",
    ];
    for base in bases {
        for extension in extensions {
            let Ok(path) = RelativePath::new(&format!("{base}{extension}")) else {
                continue;
            };
            if workspace.resolve(&path).is_ok_and(|file| file.is_file()) {
                return Some(path);
            }
        }
    }
    None
}

/// `text` with the import rewritten, when its statement is found and can take the change.
fn rewrite(text: &str, wanted: &Wanted, line: Option<u32>) -> Option<String> {
    // `import [Default ,] [{ names }] from 'module'` (`import type` is left alone).
    static IMPORT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"import\s+(?:([A-Za-z_$][\w$]*)\s*(?:,\s*)?)?(?:\{([^{}]*)\})?\s*from\s*(['"])([^'"\n]+)['"]"#,
        )
        .ok()
    });
    let last_segment = |module: &str| {
        let trimmed = module.trim_end_matches('/');
        let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
        last.split('.').next().unwrap_or(last).to_string()
    };
    let wanted_segment = last_segment(&wanted.module);
    let candidates: Vec<regex::Captures<'_>> = IMPORT
        .as_ref()?
        .captures_iter(text)
        .filter(|found| {
            let specifier = &found[4];
            specifier == wanted.module || last_segment(specifier) == wanted_segment
        })
        .filter(|found| {
            let start = found.get(0).map_or(0, |m| m.start());
            let end = found.get(0).map_or(0, |m| m.end());
            let first = text[..start].matches('\n').count() as u32 + 1;
            let last = first + text[start..end].matches('\n').count() as u32;
            line.is_none_or(|line| (first..=last).contains(&line))
        })
        .collect();
    let [found] = &candidates[..] else {
        return None;
    };
    let whole = found.get(0)?;
    let default = found.get(1).map(|m| m.as_str());
    if default == Some("type") {
        return None;
    }
    let named: Vec<&str> = (found.get(2).map_or("", |m| m.as_str()).split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let quote = &found[3];
    let specifier = &found[4];
    let (default, named) = match wanted.default {
        true => {
            if default.is_some() || !named.contains(&wanted.name.as_str()) {
                return None;
            }
            let rest: Vec<&str> = named.into_iter().filter(|n| *n != wanted.name).collect();
            (Some(wanted.name.as_str()), rest)
        }
        false => {
            if default != Some(wanted.name.as_str()) {
                return None;
            }
            let mut all = vec![wanted.name.as_str()];
            all.extend(named);
            (None, all)
        }
    };
    let clause = match (default, named.is_empty()) {
        (Some(default), true) => default.to_string(),
        (Some(default), false) => format!("{default}, {{ {} }}", named.join(", ")),
        (None, _) => format!("{{ {} }}", named.join(", ")),
    };
    let statement = format!("import {clause} from {quote}{specifier}{quote}");
    Some(format!(
        "{}{statement}{}",
        &text[..whole.start()],
        &text[whole.end()..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(message: &str) -> Diagnostic {
        Diagnostic::new("tsc", message)
    }

    #[test]
    fn tsc_names_the_import_the_module_has() {
        let named = diagnostic(
            "Module '\"./components/Navbar\"' has no exported member 'Navbar'. Did you mean to use 'import Navbar from \"./components/Navbar\"' instead?",
        );
        assert_eq!(
            wanted(&named),
            Some(Wanted {
                name: "Navbar".into(),
                module: "./components/Navbar".into(),
                default: true
            })
        );
        let default = diagnostic(
            "Module '\"/tmp/app/lib/format\"' has no default export. Did you mean to use 'import { format } from \"/tmp/app/lib/format\"' instead?",
        );
        assert_eq!(wanted(&default).map(|w| w.default), Some(false));
        assert_eq!(
            wanted(&diagnostic("Module '\"x\"' has no default export.")),
            None
        );
    }

    #[test]
    fn a_bundlers_not_exported_error_is_read_against_the_module() {
        let scratch = crate::scratch::Scratch::new(
            "kinds",
            &[
                (
                    "src/components/Navbar.tsx",
                    "export default function Navbar() { return null; }\n",
                ),
                (
                    "src/components/Footer.tsx",
                    "export function Footer() { return null; }\nexport default Footer;\n",
                ),
            ],
        );
        let workspace = crate::workspace::Workspace::open(scratch.path()).unwrap();
        let at =
            |message: &str| Diagnostic::new("vite", message).at("src/App.tsx", Some(2), Some(10));
        let rollup = at(
            "\"Navbar\" is not exported by \"src/components/Navbar.tsx\", imported by \"src/App.tsx\".",
        );
        assert_eq!(
            bundler_wanted(&workspace, &rollup),
            Some(Wanted {
                name: "Navbar".into(),
                module: "src/components/Navbar.tsx".into(),
                default: true
            })
        );
        let webpack = at(
            "Attempted import error: 'Navbar' is not exported from './components/Navbar' (imported as 'Navbar').",
        );
        assert_eq!(
            bundler_wanted(&workspace, &webpack).map(|w| w.default),
            Some(true)
        );
        let exported = at("\"Footer\" is not exported by \"src/components/Footer.tsx\".");
        assert_eq!(
            bundler_wanted(&workspace, &exported),
            None,
            "it is exported by name"
        );
        let turbopack = |name: &str, module: &str, suggestion: &str| {
            let mut d = Diagnostic::new(
                "next",
                format!("Export {name} doesn't exist in target module"),
            )
            .at("src/App.tsx", Some(2), Some(1));
            d.notes = vec![
                format!(
                    "The export {name} was not found in module [project]/{module} [app-rsc] (ecmascript)."
                ),
                format!("Did you mean to import {suggestion}?"),
            ];
            d
        };
        assert_eq!(
            bundler_wanted(
                &workspace,
                &turbopack("Navbar", "src/components/Navbar.tsx", "default")
            ),
            Some(Wanted {
                name: "Navbar".into(),
                module: "src/components/Navbar.tsx".into(),
                default: true
            })
        );
        scratch.write(
            "src/components/Button.tsx",
            "export function Button() { return null; }\n",
        );
        assert_eq!(
            bundler_wanted(
                &workspace,
                &turbopack("default", "src/components/Button.tsx", "Button")
            ),
            Some(Wanted {
                name: "Button".into(),
                module: "src/components/Button.tsx".into(),
                default: false
            })
        );
        assert_eq!(
            bundler_wanted(
                &workspace,
                &turbopack("default", "src/components/Button.tsx", "Buttons")
            ),
            None,
            "a suggestion the module does not export is not taken"
        );
        assert_eq!(
            bundler_wanted(
                &workspace,
                &turbopack("default", "src/components/Footer.tsx", "Footer")
            ),
            None,
            "the module has a default export"
        );
    }

    #[test]
    fn imports_change_kind_and_keep_their_neighbours() {
        let to_default = |text: &str, line| {
            let wanted = Wanted {
                name: "Navbar".into(),
                module: "/tmp/p/src/components/Navbar".into(),
                default: true,
            };
            rewrite(text, &wanted, line)
        };
        let text = "import { BrowserRouter } from 'react-router-dom';\nimport { Navbar } from './components/Navbar';\n";
        assert_eq!(
            to_default(text, Some(2)).as_deref(),
            Some(
                "import { BrowserRouter } from 'react-router-dom';\nimport Navbar from './components/Navbar';\n"
            )
        );
        assert_eq!(
            to_default(
                "import {Navbar, NavLink} from \"./components/Navbar\";",
                None
            )
            .as_deref(),
            Some("import Navbar, { NavLink } from \"./components/Navbar\";")
        );
        assert_eq!(
            to_default(
                "import {\n  NavLink,\n  Navbar,\n} from './components/Navbar';",
                Some(3)
            )
            .as_deref(),
            Some("import Navbar, { NavLink } from './components/Navbar';")
        );
        assert_eq!(
            to_default("import Other, { Navbar } from './components/Navbar';", None),
            None,
            "a default import is there already"
        );
        assert_eq!(
            to_default("import { Navbar } from './components/Navbar';", Some(7)),
            None,
            "not on the error's line"
        );

        let to_named = Wanted {
            name: "format".into(),
            module: "../lib/format".into(),
            default: false,
        };
        assert_eq!(
            rewrite(
                "import format, { parse } from '../lib/format'",
                &to_named,
                None
            )
            .as_deref(),
            Some("import { format, parse } from '../lib/format'")
        );
    }
}

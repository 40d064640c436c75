//! [`ImportPaths`]: a relative import that leads nowhere (`Cannot find module './http'`) is
//! pointed at the project file that has that name — or, failing that, the closest name.

use std::sync::LazyLock;

use regex::Regex;

use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::{FixProposal, RelativePath};
use crate::{Diagnostic, Result, Severity};

/// Repairs relative imports of JavaScript and TypeScript modules.
///
/// The tools name the missing path and the importing file but not the fix; the project's own
/// files hold it. A candidate must be a module file (or a folder's `index`) of the importer's
/// kind; the one whose name matches best wins, the nearer folder breaking ties, and a tie that
/// remains leaves the import alone rather than guess.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportPaths;

/// Extensions a JavaScript or TypeScript import may leave out.
pub(super) const MODULE_EXTENSIONS: &[&str] = &[
    "ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs", "json", "vue", "svelte",
];

#[async_trait::async_trait]
impl Fixer for ImportPaths {
    fn name(&self) -> &str {
        "import-paths"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let broken: Vec<(RelativePath, String)> = (input.diagnostics.iter())
            .filter(|d| d.severity <= Severity::Error)
            .filter_map(|d| {
                Some((
                    workspace.relative(d.file.as_deref()?)?,
                    missing_relative(d)?,
                ))
            })
            .collect();
        if broken.is_empty() {
            return Ok(None);
        }
        let modules: Vec<RelativePath> = (workspace.files()?.into_iter())
            .filter(|path| extension(path.as_str()).is_some_and(|e| MODULE_EXTENSIONS.contains(&e)))
            .collect();
        let mut files = EditedFiles::new(workspace);
        for (importer, specifier) in broken {
            let Some(text) = files.text(&importer)? else {
                continue;
            };
            let Some(replacement) = repoint(importer.as_str(), &specifier, &modules) else {
                continue;
            };
            let mut changed = text;
            for quote in ['\'', '"', '`'] {
                changed = changed.replace(
                    &format!("{quote}{specifier}{quote}"),
                    &format!("{quote}{replacement}{quote}"),
                );
            }
            let why = format!("'{specifier}' is '{replacement}' in {importer}");
            files.change(&importer, changed, why);
        }
        Ok(files.into_proposal())
    }
}

/// The relative specifier a "cannot find module" error names, if it names one.
fn missing_relative(diagnostic: &Diagnostic) -> Option<String> {
    static MISSING: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"(?:Cannot find module|Can't resolve|Could not resolve|Failed to resolve import|Cannot find package)\s+['"`]((?:\./|\.\./)[^'"`\s]*)['"`]"#,
        )
        .ok()
    });
    let found = MISSING.as_ref()?.captures(&diagnostic.message)?;
    Some(found[1].to_string())
}

/// The specifier that leads from `importer` to the module `specifier` meant, when one module
/// is clearly it.
fn repoint(importer: &str, specifier: &str, modules: &[RelativePath]) -> Option<String> {
    let folder = parent(importer);
    let wanted_path = join(folder, specifier)?;
    let last = wanted_path.rsplit('/').next().unwrap_or(&wanted_path);
    let (wanted, written_extension) = match extension(last) {
        Some(ext) if MODULE_EXTENSIONS.contains(&ext) => {
            (&last[..last.len() - ext.len() - 1], Some(ext))
        }
        _ => (last, None),
    };
    if wanted.is_empty() {
        return None;
    }
    // (name distance, folders between) for each module, the module and whether it is an index.
    let mut ranked: Vec<((usize, usize), &str, bool)> = Vec::new();
    for module in modules {
        let path = module.as_str();
        if path == importer {
            continue;
        }
        let file_stem = stem(path);
        let (name, index) = match file_stem {
            "index" => (parent(path).rsplit('/').next().unwrap_or(""), true),
            stem => (stem, false),
        };
        let distance = strsim::levenshtein(&name.to_lowercase(), &wanted.to_lowercase());
        // One typo per four characters at most; an exact name is always a candidate.
        if distance > wanted.chars().count() / 4 {
            continue;
        }
        ranked.push((
            (distance, folders_between(folder, parent(path))),
            path,
            index,
        ));
    }
    ranked.sort();
    let best = ranked.first()?;
    if ranked.get(1).is_some_and(|second| second.0 == best.0) {
        return None;
    }
    let (_, target, index) = *best;
    let target_without_extension = match index {
        true => parent(target).to_string(),
        false => target[..target.len() - extension(target).map_or(0, |e| e.len() + 1)].to_string(),
    };
    let mut relative = relative_path(folder, &target_without_extension);
    if let (Some(ext), false) = (written_extension, index) {
        relative = format!("{relative}.{ext}");
    }
    (relative != specifier).then_some(relative)
}

pub(super) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

pub(super) fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split_once('.').map_or(name, |(stem, _)| stem)
}

pub(super) fn extension(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map(|(_, ext)| ext)
}

/// `folder` joined with a relative `specifier`, normalised; `None` when it climbs out of the
/// workspace.
fn join(folder: &str, specifier: &str) -> Option<String> {
    let mut parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    for part in specifier.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// How many folders up and down lead from `a` to `b`.
pub(super) fn folders_between(a: &str, b: &str) -> usize {
    let a: Vec<&str> = a.split('/').filter(|p| !p.is_empty()).collect();
    let b: Vec<&str> = b.split('/').filter(|p| !p.is_empty()).collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    a.len() + b.len() - 2 * common
}

/// The import specifier from files in `folder` to `target` (`./x`, `../lib/x`).
pub(super) fn relative_path(folder: &str, target: &str) -> String {
    let from: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    let to: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(x, y)| x == y).count();
    let ups = from.len() - common;
    let down = to[common..].join("/");
    match ups {
        0 => format!("./{down}"),
        _ => format!("{}{down}", "../".repeat(ups)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(paths: &[&str]) -> Vec<RelativePath> {
        paths
            .iter()
            .map(|p| RelativePath::new(p).unwrap())
            .collect()
    }

    #[test]
    fn a_missing_folder_or_a_typo_in_the_name_finds_the_module() {
        let project = modules(&[
            "src/app.js",
            "src/util/http.js",
            "src/lib/distance.ts",
            "src/nearest.ts",
            "src/components/Button/index.tsx",
            "test/app.test.js",
        ]);
        let cases = [
            ("src/app.js", "./http", Some("./util/http")),
            ("src/nearest.ts", "./distance", Some("./lib/distance")),
            ("src/nearest.ts", "./lib/distnce", Some("./lib/distance")),
            ("src/nearest.ts", "./distance.js", Some("./lib/distance.js")),
            ("test/app.test.js", "../src/http", Some("../src/util/http")),
            ("src/app.js", "./Button", Some("./components/Button")),
            ("src/app.js", "./nothing-like-it", None),
            ("src/app.js", "../../../outside", None),
        ];
        for (importer, specifier, expected) in cases {
            assert_eq!(
                repoint(importer, specifier, &project).as_deref(),
                expected,
                "{importer} {specifier}"
            );
        }
    }

    #[test]
    fn two_equally_good_modules_are_left_to_someone_who_knows() {
        let project = modules(&["src/a/http.js", "src/b/http.js", "src/app.js"]);
        assert_eq!(repoint("src/app.js", "./http", &project), None);
    }

    #[test]
    fn the_specifier_comes_from_the_tools_messages() {
        let message = |m: &str| missing_relative(&Diagnostic::new("tsc", m));
        assert_eq!(
            message("Cannot find module './distance' or its corresponding type declarations."),
            Some("./distance".into())
        );
        assert_eq!(
            message("Cannot find module '../x/y'"),
            Some("../x/y".into())
        );
        assert_eq!(message("Could not resolve \"./App\""), Some("./App".into()));
        assert_eq!(message("Cannot find module 'express'"), None);
    }
}

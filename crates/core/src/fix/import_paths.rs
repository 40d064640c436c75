//! [`ImportPaths`]: an import that leads nowhere (`Cannot find module './http'`, `Can't resolve
//! '@/components/TaskItem'`) is pointed at the project file that has that name — or, failing
//! that, the closest name — relative imports and tsconfig `paths` aliases alike. An `@/` or `~/`
//! import in a project that configures no such alias (shadcn-style code in a Vite starter
//! without one) is written as the relative path to the module under `src/` or the root.

use std::sync::LazyLock;

use regex::Regex;

use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::{FixProposal, RelativePath};
use crate::edit::join;
use crate::{Diagnostic, Result, Severity};

/// Repairs relative and aliased imports of JavaScript and TypeScript modules.
///
/// The tools name the missing path and the importing file but not the fix; the project's own
/// files hold it. A candidate must be a module file (or a folder's `index`); the one whose name
/// matches best wins — case, `-` and `_` aside (`TaskItem` is `task-item`) — the nearer folder
/// breaking ties, and a tie that remains leaves the import alone rather than guess. An aliased
/// import (`@/components/x`, through `compilerOptions.paths` of the project's `tsconfig*.json`
/// or `jsconfig.json`) stays aliased.
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
            .filter_map(|d| Some((workspace.relative(d.file.as_deref()?)?, missing(d)?)))
            .collect();
        if broken.is_empty() {
            return Ok(None);
        }
        let aliases = Aliases::of(workspace);
        let modules: Vec<RelativePath> = (workspace.files()?.into_iter())
            .filter(|path| extension(path.as_str()).is_some_and(|e| MODULE_EXTENSIONS.contains(&e)))
            .collect();
        let mut files = EditedFiles::new(workspace);
        for (importer, specifier) in broken {
            let Some(text) = files.text(&importer)? else {
                continue;
            };
            let replacement = match specifier.starts_with('.') {
                true => repoint(importer.as_str(), &specifier, &modules),
                false => (aliases.repoint(importer.as_str(), &specifier, &modules))
                    .or_else(|| aliases.unconfigured(importer.as_str(), &specifier, &modules)),
            };
            let Some(replacement) = replacement else {
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

/// The specifier a "cannot find module" error names: a relative one, or one that may be an
/// alias (a bare package name is not a path to repair).
fn missing(diagnostic: &Diagnostic) -> Option<String> {
    static MISSING: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"(?:Cannot find module|Can't resolve|Could not resolve|Failed to resolve import|Cannot find package)\s+['"`]([^'"`\s]+)['"`]"#,
        )
        .ok()
    });
    let found = MISSING.as_ref()?.captures(&diagnostic.message)?;
    let specifier = &found[1];
    let relative = specifier.starts_with("./") || specifier.starts_with("../");
    (relative || specifier.contains('/')).then(|| specifier.to_string())
}

/// The project's import aliases: `compilerOptions.paths` patterns (`@/*` → `./*`) of its
/// `tsconfig*.json` and `jsconfig.json` files at the root, relative to their `baseUrl`.
#[derive(Debug, Default)]
pub(super) struct Aliases {
    /// (prefix before `*`, project folder it stands for), longest prefix first.
    prefixes: Vec<(String, String)>,
}

impl Aliases {
    pub(super) fn of(workspace: &crate::workspace::Workspace) -> Aliases {
        let mut prefixes = Vec::new();
        let configs = (workspace.files().unwrap_or_default().into_iter()).filter(|path| {
            let name = path.as_str();
            !name.contains('/')
                && ((name.starts_with("tsconfig") && name.ends_with(".json"))
                    || name == "jsconfig.json")
        });
        for config in configs {
            let Ok(Some(text)) = workspace.read(&config) else {
                continue;
            };
            // tsconfig files may hold comments and trailing commas.
            let Ok(recovered) = crate::json::recover(&text, &crate::json::Hint::none()) else {
                continue;
            };
            let value = recovered.into_value();
            let options = &value["compilerOptions"];
            let base = options["baseUrl"].as_str().unwrap_or(".");
            let Some(paths) = options["paths"].as_object() else {
                continue;
            };
            for (pattern, targets) in paths {
                let (Some(prefix), Some(target)) = (
                    pattern.strip_suffix('*'),
                    (targets.as_array().and_then(|t| t.first())).and_then(|t| t.as_str()),
                ) else {
                    continue;
                };
                let Some(folder) = target.strip_suffix('*') else {
                    continue;
                };
                let Some(folder) = join(base, folder) else {
                    continue;
                };
                if !prefix.is_empty() {
                    prefixes.push((prefix.to_string(), folder));
                }
            }
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        prefixes.dedup();
        Aliases { prefixes }
    }

    /// The project path an aliased `specifier` stands for (`@/lib/utils` → `lib/utils`),
    /// without extension, when it is an alias.
    pub(super) fn resolve(&self, specifier: &str) -> Option<String> {
        let (prefix, folder) =
            (self.prefixes.iter()).find(|(p, _)| specifier.starts_with(p.as_str()))?;
        join(folder, &specifier[prefix.len()..])
    }

    /// The aliased specifier of the module `specifier` meant, when it is an alias and one
    /// module is clearly it.
    fn repoint(&self, importer: &str, specifier: &str, modules: &[RelativePath]) -> Option<String> {
        let (prefix, folder) =
            (self.prefixes.iter()).find(|(p, _)| specifier.starts_with(p.as_str()))?;
        let rest = &specifier[prefix.len()..];
        let wanted = join(folder, rest)?;
        let (target, index, extension) = best_module(parent(importer), &wanted, importer, modules)?;
        let mut module = match index {
            true => parent(target).to_string(),
            false => target[..target.len() - self::extension(target).map_or(0, |e| e.len() + 1)]
                .to_string(),
        };
        if let (Some(extension), false) = (extension, index) {
            module = format!("{module}.{extension}");
        }
        let inside = match folder.is_empty() {
            true => module.as_str(),
            false => module
                .strip_prefix(folder.as_str())?
                .trim_start_matches('/'),
        };
        let aliased = format!("{prefix}{inside}");
        (aliased != specifier).then_some(aliased)
    }

    /// The relative specifier of the module an `@/` or `~/` import means when the project
    /// configures no alias for it: the conventional targets, `src/` first, then the root.
    fn unconfigured(
        &self,
        importer: &str,
        specifier: &str,
        modules: &[RelativePath],
    ) -> Option<String> {
        if (self.prefixes.iter()).any(|(prefix, _)| specifier.starts_with(prefix.as_str())) {
            return None;
        }
        let rest = (specifier.strip_prefix("@/")).or_else(|| specifier.strip_prefix("~/"))?;
        ["src", ""].into_iter().find_map(|root| {
            let wanted = join(root, rest)?;
            relative_to_module(importer, &wanted, modules)
        })
    }
}

/// The specifier that leads from `importer` to the module `specifier` meant, when one module
/// is clearly it.
fn repoint(importer: &str, specifier: &str, modules: &[RelativePath]) -> Option<String> {
    let wanted_path = join(parent(importer), specifier)?;
    relative_to_module(importer, &wanted_path, modules).filter(|relative| relative != specifier)
}

/// The relative specifier from `importer` to the module the project path `wanted_path`
/// most likely means.
fn relative_to_module(
    importer: &str,
    wanted_path: &str,
    modules: &[RelativePath],
) -> Option<String> {
    let folder = parent(importer);
    let (target, index, written_extension) = best_module(folder, wanted_path, importer, modules)?;
    let target_without_extension = match index {
        true => parent(target).to_string(),
        false => target[..target.len() - extension(target).map_or(0, |e| e.len() + 1)].to_string(),
    };
    let mut relative = relative_path(folder, &target_without_extension);
    if let (Some(ext), false) = (written_extension, index) {
        relative = format!("{relative}.{ext}");
    }
    Some(relative)
}

/// The module that the project path `wanted_path` (no extension, or one written) most likely
/// means, as seen from files in `folder`: its path, whether it is a folder's `index`, and the
/// extension the import wrote. `None` when no module is close or two are equally close.
fn best_module<'m>(
    folder: &str,
    wanted_path: &str,
    importer: &str,
    modules: &'m [RelativePath],
) -> Option<(&'m str, bool, Option<&'m str>)> {
    let last = wanted_path.rsplit('/').next().unwrap_or(wanted_path);
    let (wanted, written_extension) = match extension(last) {
        Some(ext) if MODULE_EXTENSIONS.contains(&ext) => (
            &last[..last.len() - ext.len() - 1],
            MODULE_EXTENSIONS.iter().find(|e| **e == ext).copied(),
        ),
        _ => (last, None),
    };
    if wanted.is_empty() {
        return None;
    }
    // Case, `-` and `_` aside: `TaskItem`, `task-item` and `task_item` are one name.
    let plain = |name: &str| name.to_lowercase().replace(['-', '_'], "");
    let wanted_plain = plain(wanted);
    // (name distance, folders between the wanted folder and the module's) for each module.
    let mut ranked: Vec<((usize, usize), &str, bool)> = Vec::new();
    for module in modules {
        let path = module.as_str();
        if path == importer {
            continue;
        }
        let (name, index) = match stem(path) {
            "index" => (parent(path).rsplit('/').next().unwrap_or(""), true),
            stem => (stem, false),
        };
        let distance = strsim::levenshtein(&plain(name), &wanted_plain);
        // One typo per four characters at most; an exact name is always a candidate.
        if distance > wanted_plain.chars().count() / 4 {
            continue;
        }
        let near = folders_between(parent(wanted_path), parent(path))
            .min(folders_between(folder, parent(path)));
        ranked.push(((distance, near), path, index));
    }
    ranked.sort();
    let best = ranked.first()?;
    if ranked.get(1).is_some_and(|second| second.0 == best.0) {
        return None;
    }
    Some((best.1, best.2, written_extension))
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
        let message = |m: &str| missing(&Diagnostic::new("tsc", m));
        assert_eq!(
            message("Cannot find module './distance' or its corresponding type declarations."),
            Some("./distance".into())
        );
        assert_eq!(
            message("Cannot find module '../x/y'"),
            Some("../x/y".into())
        );
        assert_eq!(message("Could not resolve \"./App\""), Some("./App".into()));
        assert_eq!(
            message("Module not found: Can't resolve '@/components/TaskItem'"),
            Some("@/components/TaskItem".into())
        );
        assert_eq!(message("Cannot find module 'express'"), None);
    }

    #[test]
    fn aliases_resolve_through_tsconfig_paths_and_stay_aliases() {
        let project = modules(&[
            "app/page.tsx",
            "components/task-board.tsx",
            "components/task-item.tsx",
            "components/ui/button.tsx",
            "src/lib/utils.ts",
        ]);
        let aliases = Aliases {
            prefixes: vec![
                ("~lib/".into(), "src/lib".into()),
                ("@/".into(), String::new()),
            ],
        };
        let cases = [
            (
                "components/task-board.tsx",
                "@/components/TaskItem",
                Some("@/components/task-item"),
            ),
            (
                "app/page.tsx",
                "@/components/ui/Button",
                Some("@/components/ui/button"),
            ),
            (
                "app/page.tsx",
                "@/component/task-board",
                Some("@/components/task-board"),
            ),
            ("app/page.tsx", "~lib/util", Some("~lib/utils")),
            ("app/page.tsx", "@/components/task-item", None),
            ("app/page.tsx", "@/nothing/like-it", None),
            ("app/page.tsx", "lodash/fp", None),
        ];
        for (importer, specifier, expected) in cases {
            assert_eq!(
                aliases.repoint(importer, specifier, &project).as_deref(),
                expected,
                "{importer} {specifier}"
            );
        }
    }

    #[test]
    fn an_alias_no_config_declares_becomes_a_relative_path() {
        let project = modules(&[
            "src/pages/Dashboard.tsx",
            "src/components/StatCard.tsx",
            "src/lib/format.ts",
            "lib/data.ts",
        ]);
        let none = Aliases::default();
        let cases = [
            ("@/components/StatCard", Some("../components/StatCard")),
            ("~/lib/format", Some("../lib/format")),
            ("@/lib/data", Some("../../lib/data")),
            ("@/components/Missing", None),
            ("@scope/package", None),
        ];
        for (specifier, expected) in cases {
            assert_eq!(
                none.unconfigured("src/pages/Dashboard.tsx", specifier, &project)
                    .as_deref(),
                expected,
                "{specifier}"
            );
        }
        let configured = Aliases {
            prefixes: vec![("@/".into(), "app".into())],
        };
        assert_eq!(
            configured.unconfigured("src/pages/Dashboard.tsx", "@/components/StatCard", &project),
            None,
            "a configured alias is the configuration's"
        );
    }

    #[test]
    fn aliases_are_read_from_tsconfig_with_comments() {
        let scratch = crate::scratch::Scratch::new(
            "aliases",
            &[(
                "tsconfig.app.json",
                "{\n  // bolt.new style\n  \"compilerOptions\": {\"baseUrl\": \".\", \"paths\": {\"@/*\": [\"./src/*\"],},},\n}\n",
            )],
        );
        let workspace = crate::workspace::Workspace::open(scratch.path()).unwrap();
        assert_eq!(
            Aliases::of(&workspace).prefixes,
            [("@/".to_string(), "src".to_string())]
        );
    }
}

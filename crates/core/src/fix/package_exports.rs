//! What an installed npm package exports — read from its type declarations, or from its ES
//! module when it ships none — and which export an import the package lacks most likely meant.
//!
//! Everything read is the project's own (untrusted) `node_modules`: files are read only inside
//! the project root (links followed and checked), up to a size and a number of files, and the
//! scan is one linear pass per file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::install::npm_package;

/// Files of one package followed through `export * from` at most.
const MAX_FILES: usize = 64;
/// Larger declaration files are not read (lucide-react's, the largest common one, is ~1 MB).
const MAX_FILE_BYTES: u64 = 16 << 20;
/// Names longer than this are never anyone's typo.
const MAX_NAME: usize = 64;

/// The names an installed package's entry point exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PackageExports {
    pub(super) package: String,
    pub(super) version: Option<String>,
    pub(super) names: BTreeSet<String>,
    /// Whether every re-export was followed: when not, a name missing from `names` may still
    /// exist, and no closest name is chosen.
    pub(super) complete: bool,
}

impl PackageExports {
    /// The exports of the package an import `specifier` names (`lucide-react`,
    /// `@radix-ui/react-dialog`, `date-fns/locale`) as installed in the project at `root`;
    /// `None` when it is not installed there or its entry point cannot be found.
    pub(super) fn read(root: &Path, specifier: &str) -> Option<PackageExports> {
        let (package, subpath) = split_specifier(specifier)?;
        let root = root.canonicalize().ok()?;
        let folder = root.join("node_modules").join(&package);
        let manifest: Value =
            serde_json::from_str(&read_inside(&root, &folder.join("package.json"))?).ok()?;
        let (declarations, scripts) = entry_points(&manifest, &subpath);
        let types_folder = root
            .join("node_modules/@types")
            .join(package.trim_start_matches('@').replace('/', "__"));
        let typed = match subpath.as_str() {
            "" => vec!["index.d.ts".to_string()],
            sub => vec![format!("{sub}.d.ts"), format!("{sub}/index.d.ts")],
        };
        let entry = (declarations.iter().map(|p| folder.join(p)))
            .chain(typed.iter().map(|p| types_folder.join(p)))
            .chain(scripts.iter().map(|p| folder.join(p)))
            .find(|path| read_inside(&root, path).is_some())?;
        let mut reader = Reader {
            root: &root,
            seen: BTreeSet::new(),
            names: BTreeSet::new(),
            complete: true,
        };
        reader.read(&entry);
        Some(PackageExports {
            version: super::install::npm_version(&root, &package),
            package,
            names: reader.names,
            complete: reader.complete,
        })
    }

    /// The one export `name` most likely meant: the same name in another case or without
    /// `_`/`-`, or, for names of five characters or more, the only export one edit away (two
    /// from ten characters). `None` when the package has `name`, when two exports are as
    /// close, or when not every export could be read.
    pub(super) fn closest(&self, name: &str) -> Option<&str> {
        if !self.complete || self.names.contains(name) || name.len() > MAX_NAME {
            return None;
        }
        let folded = fold(name);
        let same: Vec<&str> = (self.names.iter())
            .filter(|n| fold(n) == folded)
            .map(String::as_str)
            .collect();
        if !same.is_empty() {
            return match same[..] {
                [one] => Some(one),
                _ => None,
            };
        }
        let limit = match folded.chars().count() {
            0..5 => return None,
            5..10 => 1,
            _ => 2,
        };
        let mut best: Option<(usize, Vec<&str>)> = None;
        for candidate in &self.names {
            let Some(distance) = distance(&folded, &fold(candidate), limit) else {
                continue;
            };
            match &mut best {
                Some((least, found)) if distance == *least => found.push(candidate),
                Some((least, _)) if distance > *least => {}
                _ => best = Some((distance, vec![candidate])),
            }
        }
        match best?.1[..] {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Up to `count` exports nearest to `name`, for a reader to choose from: names sharing a
    /// word with it first (`ArrowRight` for `RightArrow`, `Running` for `Run`), then by
    /// spelling.
    pub(super) fn nearest(&self, name: &str, count: usize) -> Vec<&str> {
        let folded = fold(name);
        let wanted = words(name);
        let mut ranked: Vec<(bool, usize, &str)> = (self.names.iter())
            .filter(|n| n.len() <= MAX_NAME && n.as_str() != "default")
            .map(|n| {
                let shares = words(n).iter().any(|w| {
                    (wanted.iter()).any(|v| {
                        v.len().min(w.len()) >= 3
                            && (v.starts_with(w.as_str()) || w.starts_with(v.as_str()))
                    })
                });
                let spelling = distance(&folded, &fold(n), MAX_NAME).unwrap_or(MAX_NAME);
                (!shares, spelling, n.as_str())
            })
            .collect();
        ranked.sort_unstable();
        ranked.into_iter().take(count).map(|(.., n)| n).collect()
    }
}

/// The package an import specifier names and the path below it (`@scope/pkg/sub` →
/// (`@scope/pkg`, `sub`)); `None` for relative, absolute, URL or alias specifiers and for
/// names npm would not install (see [`npm_package`]).
pub(super) fn split_specifier(specifier: &str) -> Option<(String, String)> {
    let package = npm_package(specifier)?;
    let subpath = specifier.get(package.len()..)?.trim_start_matches('/');
    if !subpath.is_empty()
        && subpath
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return None;
    }
    Some((package, subpath.to_string()))
}

/// The package a module path inside `node_modules` belongs to, as bundlers print it
/// (`node_modules/lucide-react/dist/esm/lucide-react.js` → `lucide-react`).
pub(super) fn package_of_module(module: &str) -> Option<String> {
    let (_, inside) = module.rsplit_once("node_modules/")?;
    split_specifier(inside).map(|(package, _)| package)
}

/// The entry files a package declares for `subpath`, relative to its folder: declarations
/// (`types`, the `types` condition of `exports`, `.d.ts` beside a script) and scripts.
fn entry_points(manifest: &Value, subpath: &str) -> (Vec<String>, Vec<String>) {
    let key = match subpath {
        "" => ".".to_string(),
        sub => format!("./{sub}"),
    };
    let mut targets = Vec::new();
    match manifest.get("exports") {
        Some(Value::String(target)) if key == "." => targets.push(target.clone()),
        Some(Value::Object(map)) if map.keys().any(|k| k.starts_with('.')) => {
            if let Some(target) = map.get(&key) {
                conditions(target, &mut targets);
            }
        }
        Some(conditions_only @ Value::Object(_)) if key == "." => {
            conditions(conditions_only, &mut targets)
        }
        _ => {}
    }
    if key == "." {
        for field in ["types", "typings", "module", "main"] {
            if let Some(Value::String(target)) = manifest.get(field) {
                targets.push(target.clone());
            }
        }
        targets.push("index.js".to_string());
    } else {
        targets.extend([format!("{subpath}.js"), format!("{subpath}/index.js")]);
    }
    let mut declarations = Vec::new();
    let mut scripts = Vec::new();
    for target in targets {
        let target = target.trim_start_matches("./").to_string();
        if is_declaration(&target) {
            declarations.push(target);
        } else {
            declarations.extend(declaration_beside(&target));
            scripts.push(target);
        }
    }
    (declarations, scripts)
}

/// The targets of an `exports` entry, declarations first: a string, a list, or conditions
/// (`types`, `import`, `default`, …), nested.
fn conditions(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(target) => out.push(target.clone()),
        Value::Array(list) => list.iter().for_each(|v| conditions(v, out)),
        Value::Object(map) => {
            for condition in ["types", "import", "module", "default", "node", "require"] {
                if let Some(v) = map.get(condition) {
                    conditions(v, out);
                }
            }
        }
        _ => {}
    }
}

fn is_declaration(path: &str) -> bool {
    [".d.ts", ".d.mts", ".d.cts"]
        .iter()
        .any(|e| path.ends_with(e))
}

/// `x.js` → `x.d.ts` (`.mjs` → `.d.mts`, `.cjs` → `.d.cts`).
fn declaration_beside(script: &str) -> Option<String> {
    [
        (".js", ".d.ts"),
        (".mjs", ".d.mts"),
        (".cjs", ".d.cts"),
        (".jsx", ".d.ts"),
    ]
    .iter()
    .find_map(|(script_ext, decl_ext)| {
        script
            .strip_suffix(script_ext)
            .map(|stem| format!("{stem}{decl_ext}"))
    })
}

/// The text of `path` when it is a file inside `root` (links followed) of a readable size.
fn read_inside(root: &Path, path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    if !path.starts_with(root) {
        return None;
    }
    let metadata = std::fs::metadata(&path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_FILE_BYTES {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Collects the top-level exports of a file and of what it re-exports.
struct Reader<'r> {
    root: &'r Path,
    seen: BTreeSet<PathBuf>,
    names: BTreeSet<String>,
    pub(super) complete: bool,
}

impl Reader<'_> {
    fn read(&mut self, path: &Path) {
        if self.seen.len() >= MAX_FILES {
            self.complete = false;
            return;
        }
        let Some(text) = read_inside(self.root, path) else {
            self.complete = false;
            return;
        };
        let Ok(canonical) = path.canonicalize() else {
            return;
        };
        if !self.seen.insert(canonical) {
            return;
        }
        static LIST: LazyLock<Option<Regex>> =
            LazyLock::new(|| Regex::new(r"^export\s*(?:type\s+)?\{([^{}]*)\}").ok());
        static DECLARED: LazyLock<Option<Regex>> = LazyLock::new(|| {
            Regex::new(
                r"^export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:const\s+enum|const|let|var|function\s*\*?|class|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)",
            )
            .ok()
        });
        static STAR_AS: LazyLock<Option<Regex>> =
            LazyLock::new(|| Regex::new(r"^export\s+\*\s+as\s+([A-Za-z_$][\w$]*)\s+from").ok());
        static STAR: LazyLock<Option<Regex>> =
            LazyLock::new(|| Regex::new(r#"^export\s+\*\s+from\s+['"]([^'"\n]+)['"]"#).ok());
        let (Some(list), Some(declared), Some(star_as), Some(star)) = (
            LIST.as_ref(),
            DECLARED.as_ref(),
            STAR_AS.as_ref(),
            STAR.as_ref(),
        ) else {
            self.complete = false;
            return;
        };
        for at in top_level_exports(&text) {
            let statement = &text[at..];
            if let Some(found) = list.captures(statement) {
                for entry in found[1].split(',') {
                    if let Some(name) = exported_as(entry) {
                        self.names.insert(name.to_string());
                    }
                }
            } else if let Some(found) = declared
                .captures(statement)
                .or_else(|| star_as.captures(statement))
            {
                self.names.insert(found[1].to_string());
            } else if let Some(found) = star.captures(statement) {
                match relative_module(path, &found[1]) {
                    Some(next) => self.read(&next),
                    None => self.complete = false,
                }
            } else if statement.starts_with("export =") || statement.starts_with("export=") {
                self.complete = false;
            }
        }
    }
}

/// The name an entry of an export list exports: `a` → `a`, `a as b` → `b`, `type a` → `a`.
fn exported_as(entry: &str) -> Option<&str> {
    let entry = entry.trim();
    let entry = entry.strip_prefix("type ").map_or(entry, str::trim_start);
    let name = entry
        .rsplit_once(" as ")
        .map_or(entry, |(_, alias)| alias)
        .trim();
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    valid.then_some(name)
}

/// The file a relative `export * from` of `from` names, as a declaration beside the script it
/// names or the module itself.
fn relative_module(from: &Path, specifier: &str) -> Option<PathBuf> {
    if !specifier.starts_with('.') {
        return None;
    }
    let base = from.parent()?.join(specifier);
    let base_text = base.to_string_lossy().into_owned();
    let mut tries = Vec::new();
    if is_declaration(&base_text) {
        tries.push(base_text.clone());
    }
    tries.extend(declaration_beside(&base_text));
    tries.extend([
        format!("{base_text}.d.ts"),
        format!("{base_text}/index.d.ts"),
        base_text.clone(),
        format!("{base_text}.js"),
        format!("{base_text}.mjs"),
        format!("{base_text}/index.js"),
    ]);
    tries.into_iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Byte offsets of each `export` keyword outside any braces, strings and comments: the
/// module's own exports, not those of a namespace or an ambient module inside it.
fn top_level_exports(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |at| i + at);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |end| i + 2 + end + 2);
            }
            quote @ (b'"' | b'\'' | b'`') => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != quote && (quote == b'`' || bytes[j] != b'\n') {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                i = j + 1;
            }
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'e' if depth == 0
                && bytes[i..].starts_with(b"export")
                && (i == 0 || !is_word(bytes[i - 1]))
                && !bytes.get(i + 6).is_some_and(|&b| is_word(b)) =>
            {
                found.push(i);
                i += 6;
            }
            _ => i += 1,
        }
    }
    found
}

/// A name compared without case and without `_`/`-`.
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The lower-case words of a camel-case or snake-case name: `ArrowUpRight2` → arrow, up,
/// right, 2.
fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for c in name.chars() {
        let starts = match previous {
            None => true,
            Some(p) => {
                !c.is_alphanumeric()
                    || (c.is_uppercase() && !p.is_uppercase())
                    || (c.is_ascii_digit() != p.is_ascii_digit())
                    || !p.is_alphanumeric()
            }
        };
        if c.is_alphanumeric() {
            match words.last_mut() {
                Some(word) if !starts => word.extend(c.to_lowercase()),
                _ => words.push(c.to_lowercase().collect()),
            }
        }
        previous = Some(c);
    }
    words
}

/// The optimal-string-alignment distance (edits and swaps of neighbours) between `a` and `b`,
/// when it is at most `limit`.
fn distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    if a.len() > 4 * MAX_NAME || b.len() > 4 * MAX_NAME {
        return None;
    }
    if a.chars().count().abs_diff(b.chars().count()) > limit {
        return None;
    }
    let found = strsim::osa_distance(a, b);
    (found <= limit).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    fn package(name: &str, files: &[(&str, &str)]) -> Scratch {
        Scratch::new(&format!("exports-{name}"), files)
    }

    #[test]
    fn declarations_lists_and_re_exports_are_read_but_not_namespaces() {
        let dir = package(
            "icons",
            &[
                (
                    "node_modules/icons/package.json",
                    r#"{"name":"icons","version":"0.344.0","exports":{".":{"types":"./dist/index.d.ts","import":"./dist/esm/index.js"}}}"#,
                ),
                (
                    "node_modules/icons/dist/index.d.ts",
                    "/** @example export const Fake = 1 */\nimport { X } from './x';\ndeclare const Github: Icon;\nexport declare function createIcon(): void;\nexport type { IconProps } from './types';\nexport * from './more.js';\nexport * as icons from './more';\ndeclare namespace index { export { Inner as Inner }; }\nexport { Github, Github as GithubIcon, Footprints, Calendar, CalendarDays, ArrowUpRight, Clock1, Clock3 };\n",
                ),
                (
                    "node_modules/icons/dist/more.d.ts",
                    "export declare const Moon: Icon;\nexport interface Theme {}\n",
                ),
            ],
        );
        let exports = PackageExports::read(dir.path(), "icons").unwrap();
        assert_eq!(exports.version.as_deref(), Some("0.344.0"));
        let names: Vec<&str> = exports.names.iter().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "ArrowUpRight",
                "Calendar",
                "CalendarDays",
                "Clock1",
                "Clock3",
                "Footprints",
                "Github",
                "GithubIcon",
                "IconProps",
                "Moon",
                "Theme",
                "createIcon",
                "icons"
            ]
        );
        assert!(exports.complete);

        assert_eq!(exports.closest("GitHub"), Some("Github"));
        assert_eq!(exports.closest("Calender"), Some("Calendar"));
        assert_eq!(exports.closest("ArowUpRight"), Some("ArrowUpRight"));
        assert_eq!(exports.closest("Run"), None, "short names are not guessed");
        assert_eq!(exports.closest("Clock2"), None, "two are as close");
        assert_eq!(exports.closest("Github"), None, "it exists");
        assert_eq!(exports.nearest("UpRightArrow", 1), ["ArrowUpRight"]);
    }

    #[test]
    fn a_re_export_that_cannot_be_followed_leaves_no_closest_name() {
        let dir = package(
            "kit",
            &[
                (
                    "node_modules/kit/package.json",
                    r#"{"name":"kit","types":"index.d.ts"}"#,
                ),
                (
                    "node_modules/kit/index.d.ts",
                    "export * from 'other-kit';\nexport declare const Calendar: 1;\n",
                ),
            ],
        );
        let exports = PackageExports::read(dir.path(), "kit").unwrap();
        assert!(!exports.complete);
        assert_eq!(exports.closest("Calender"), None);
        assert_eq!(exports.nearest("Calender", 3), ["Calendar"]);
    }

    #[test]
    fn a_package_without_types_is_read_from_its_module_or_its_types_package() {
        let dir = package(
            "plain",
            &[
                (
                    "node_modules/plain/package.json",
                    r#"{"name":"plain","module":"esm/index.mjs","main":"cjs/index.js"}"#,
                ),
                (
                    "node_modules/plain/esm/index.mjs",
                    "const a = { export: 1 };\nexport function formatDate() {}\nexport { a as helper };\n",
                ),
                (
                    "node_modules/typed/package.json",
                    r#"{"name":"typed","main":"index.js"}"#,
                ),
                (
                    "node_modules/@types/typed/index.d.ts",
                    "export declare function parse(): void;\n",
                ),
            ],
        );
        let plain = PackageExports::read(dir.path(), "plain").unwrap();
        assert_eq!(
            plain.names.iter().collect::<Vec<_>>(),
            ["formatDate", "helper"]
        );
        let typed = PackageExports::read(dir.path(), "typed").unwrap();
        assert_eq!(typed.names.iter().collect::<Vec<_>>(), ["parse"]);
    }

    #[test]
    fn nothing_is_read_outside_the_project() {
        let outside = package(
            "outside",
            &[("secret/index.d.ts", "export declare const Leaked: 1;\n")],
        );
        let dir = package(
            "evil",
            &[(
                "node_modules/evil/package.json",
                &format!(
                    r#"{{"name":"evil","types":"{}/secret/index.d.ts"}}"#,
                    "../".repeat(12) + &outside.path().to_string_lossy()
                ),
            )],
        );
        assert_eq!(PackageExports::read(dir.path(), "evil"), None);
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            dir.path().join("node_modules/linked"),
        )
        .unwrap();
        assert_eq!(PackageExports::read(dir.path(), "linked"), None);
        for specifier in [
            "../x",
            "/etc",
            "@/components/ui",
            "./local",
            "a/../../b",
            "",
            "@scope",
        ] {
            assert_eq!(split_specifier(specifier), None, "{specifier}");
        }
        assert_eq!(
            split_specifier("@radix-ui/react-dialog/dist"),
            Some(("@radix-ui/react-dialog".into(), "dist".into()))
        );
    }

    #[test]
    fn hostile_text_is_scanned_in_linear_time() {
        let unclosed = "export {".repeat(50_000) + &"{\"'`/*".repeat(50_000);
        let exports = top_level_exports(&unclosed);
        assert_eq!(exports.len(), 1);
        assert_eq!(words("ArrowUpRight2"), ["arrow", "up", "right", "2"]);
        assert_eq!(distance(&"a".repeat(10_000), "b", 2), None);
    }
}

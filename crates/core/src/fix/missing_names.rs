//! [`MissingNames`]: a name the code uses but never defines or imports (`Cannot find name
//! 'formatDate'`, `NameError: name 'json' is not defined`, `ReferenceError: totl is not
//! defined`) gets the import or the spelling it was missing.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::import_paths::{extension, folders_between, parent, relative_path, stem};
use super::imports::{Binding, Import, Language, add_import};
use super::install::named_imports;
use super::package_exports::PackageExports;
use super::{FixProposal, RelativePath};
use crate::workspace::Workspace;
use crate::{Diagnostic, Result, Severity};

/// Imports or respells names the code uses without defining.
///
/// In order, the first that fits:
/// 1. a well-known import: Python's standard library (`json`, `Path`, `defaultdict`, `Optional`
///    …), Node's built-in modules, React and its hooks (the seed's "React used but not
///    imported");
/// 2. the project module that exports the name (TypeScript/JavaScript `export`s and
///    `module.exports`, Python top-level definitions), the nearest one when several do and
///    none when that is a tie;
/// 3. the framework the project is built with (`Link` from `next/link` in a Next.js app, from
///    `react-router-dom` in an app routed by it), or the one npm package the project already
///    imports from whose installed exports have the name (`ArrowRight` from `lucide-react`);
/// 4. the closest name the file itself uses, when one is clearly closest (a typo that the tool
///    offered no "did you mean" for).
///
/// Imports are written in the file's style (merged into an import of the same module, quotes,
/// semicolons, `require` in CommonJS files).
#[derive(Debug, Clone, Copy, Default)]
pub struct MissingNames;

/// Project files larger than this are not searched for exports.
const MAX_MODULE_BYTES: u64 = 1 << 20;

#[async_trait::async_trait]
impl Fixer for MissingNames {
    fn name(&self) -> &str {
        "missing-names"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let missing: BTreeSet<(RelativePath, Language, u32, String)> = (input.diagnostics.iter())
            .filter(|d| d.severity <= Severity::Error)
            .filter_map(|d| {
                let file = workspace.relative(d.file.as_deref()?)?;
                let language = Language::of(file.as_str())?;
                Some((file, language, d.line.unwrap_or(0), missing_name(d)?))
            })
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        let mut project = Project::new(workspace);
        let mut files = EditedFiles::new(workspace);
        let mut done = BTreeSet::new();
        for (file, language, line, name) in missing {
            if !done.insert((file.clone(), name.clone())) {
                continue;
            }
            let Some(text) = files.text(&file)? else {
                continue;
            };
            let import = (known_import(language, file.as_str(), &name))
                .or_else(|| project.export(language, file.as_str(), &name))
                .or_else(|| match language {
                    Language::Script => project.package_export(&name),
                    Language::Python => None,
                });
            let (changed, why) = match import {
                Some(import) => (
                    add_import(&text, language, &import),
                    format!("`{name}` is imported from `{}` in {file}", import.module),
                ),
                None => match closest_name(&text, &name) {
                    Some(closest) => (
                        Some(rename(&text, line, &name, &closest)),
                        format!("`{name}` is `{closest}` in {file}"),
                    ),
                    None => (None, String::new()),
                },
            };
            if let Some(changed) = changed {
                files.change(&file, changed, why);
            }
        }
        Ok(files.into_proposal())
    }
}

/// The undefined name an error is about, if it is about one.
fn missing_name(diagnostic: &Diagnostic) -> Option<String> {
    static NAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(concat!(
            r#"Cannot find name '([\w$]+)'|'([\w$]+)' refers to a UMD global"#,
            r#"|[Nn]ame '(\w+)' is not defined|Undefined name `(\w+)`|Name "(\w+)" is not defined"#,
            r#"|^'?([\w$]+)'? is not defined"#,
        ))
        .ok()
    });
    let found = NAME.as_ref()?.captures(&diagnostic.message)?;
    // A tool that offers a spelling has its own fixer; a guess here would compete with it.
    if diagnostic.message.contains("Did you mean") {
        return None;
    }
    let name = found.iter().skip(1).flatten().next()?.as_str();
    Some(name.to_string())
}

/// The import every project in `language` would write for `name`, if it is a well-known one.
fn known_import(language: Language, importer: &str, name: &str) -> Option<Import> {
    let (module, binding) = match language {
        Language::Python => match PYTHON_NAMES.iter().find(|(n, _)| *n == name) {
            Some((_, module)) => (*module, Binding::Named),
            None if PYTHON_MODULES.contains(&name) => (name, Binding::Module),
            None => return None,
        },
        Language::Script => match name {
            "React" if matches!(extension(importer), Some("tsx" | "jsx")) => {
                ("react", Binding::Default)
            }
            _ if REACT_NAMES.contains(&name) => ("react", Binding::Named),
            _ if NODE_MODULES.contains(&name) => (name, Binding::Module),
            _ => return None,
        },
    };
    Some(Import {
        module: module.to_string(),
        name: name.to_string(),
        binding,
    })
}

/// The project's source files, read once, when a name is first looked for.
struct Project<'a> {
    workspace: &'a Workspace,
    sources: Option<Vec<(RelativePath, String)>>,
    /// The exports of the npm packages the sources import names from, read once.
    packages: Option<Vec<PackageExports>>,
}

/// Packages whose exports are read to find a name, at most.
const MAX_PACKAGES: usize = 16;

/// What the routing frameworks export that generated code uses without importing: the
/// framework (as the project installs it), the name, the module and how it is bound.
const FRAMEWORK_NAMES: &[(&str, &str, &str, Binding)] = &[
    ("next", "Link", "next/link", Binding::Default),
    ("next", "Image", "next/image", Binding::Default),
    ("next", "Script", "next/script", Binding::Default),
    ("next", "useRouter", "next/navigation", Binding::Named),
    ("next", "usePathname", "next/navigation", Binding::Named),
    ("next", "useSearchParams", "next/navigation", Binding::Named),
    ("next", "useParams", "next/navigation", Binding::Named),
    ("next", "notFound", "next/navigation", Binding::Named),
    ("next", "redirect", "next/navigation", Binding::Named),
    ("next", "Metadata", "next", Binding::Named),
    (
        "react-router-dom",
        "Link",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "NavLink",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "Navigate",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "Outlet",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "Route",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "Routes",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "BrowserRouter",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "useNavigate",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "useParams",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "useLocation",
        "react-router-dom",
        Binding::Named,
    ),
    (
        "react-router-dom",
        "useSearchParams",
        "react-router-dom",
        Binding::Named,
    ),
];

impl<'a> Project<'a> {
    fn new(workspace: &'a Workspace) -> Self {
        Project {
            workspace,
            sources: None,
            packages: None,
        }
    }

    fn sources(&mut self) -> &[(RelativePath, String)] {
        let workspace = self.workspace;
        self.sources.get_or_insert_with(|| {
            let source = |path: &RelativePath| Language::of(path.as_str()).is_some();
            (workspace.texts(&source, MAX_MODULE_BYTES)).unwrap_or_default()
        })
    }

    /// The import of `name` from the project's routing framework, or else from the one npm
    /// package the project imports names from whose installed exports include it.
    fn package_export(&mut self, name: &str) -> Option<Import> {
        let root = self.workspace.root();
        let installed = |framework: &str| {
            root.join("node_modules")
                .join(framework)
                .join("package.json")
                .is_file()
        };
        let mut frameworks = (FRAMEWORK_NAMES.iter())
            .filter(|(framework, known, ..)| *known == name && installed(framework));
        if let Some((_, _, module, binding)) = frameworks.next() {
            return (frameworks.next().is_none()).then(|| Import {
                module: module.to_string(),
                name: name.to_string(),
                binding: *binding,
            });
        }
        if self.packages.is_none() {
            let mut imported: Vec<String> = (self.sources().iter())
                .flat_map(|(_, text)| named_imports(text))
                .map(|(package, _)| package)
                .collect();
            imported.sort();
            imported.dedup();
            let packages = (imported.iter().take(MAX_PACKAGES))
                .filter_map(|package| PackageExports::read(root, package))
                .collect();
            self.packages = Some(packages);
        }
        let mut exporting =
            (self.packages.iter().flatten()).filter(|exports| exports.names.contains(name));
        let package = exporting.next()?;
        (exporting.next().is_none()).then(|| Import {
            module: package.package.clone(),
            name: name.to_string(),
            binding: Binding::Named,
        })
    }

    /// The import of the project module that defines `name` at its top level, nearest to
    /// `importer` when several do.
    fn export(&mut self, language: Language, importer: &str, name: &str) -> Option<Import> {
        let sources = self.sources();
        let mut patterns = None;
        let mut found: Vec<(usize, &RelativePath, Binding)> = Vec::new();
        for (path, text) in sources.iter() {
            // Most modules do not mention the name at all: no pattern is built for them.
            if path.as_str() == importer
                || Language::of(path.as_str()) != Some(language)
                || !text.contains(name)
            {
                continue;
            }
            let patterns = match &patterns {
                Some(patterns) => patterns,
                None => patterns.insert(ExportPatterns::new(language, name)?),
            };
            if let Some(binding) = patterns.binding(text) {
                let distance = folders_between(parent(importer), parent(path.as_str()));
                found.push((distance, path, binding));
            }
        }
        found.sort_by_key(|(distance, ..)| *distance);
        let (distance, target, binding) = *found.first()?;
        if found.get(1).is_some_and(|second| second.0 == distance) {
            return None;
        }
        let module = match language {
            Language::Script => {
                let importer_text = (sources.iter())
                    .find(|(path, _)| path.as_str() == importer)
                    .map_or("", |(_, text)| text.as_str());
                script_specifier(importer, target.as_str(), importer_text)
            }
            Language::Python => {
                let paths: Vec<&RelativePath> = sources.iter().map(|(path, _)| path).collect();
                python_module(target.as_str(), &paths)?
            }
        };
        Some(Import {
            module,
            name: name.to_string(),
            binding,
        })
    }
}

/// How a module can define a name, and how an importer then binds it.
struct ExportPatterns {
    named: Regex,
    default: Option<Regex>,
    language: Language,
    name: String,
}

impl ExportPatterns {
    fn new(language: Language, name: &str) -> Option<Self> {
        let n = regex::escape(name);
        let (named, default) = match language {
            Language::Script => (
                format!(
                    r"(?m)^export\s+(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|class|const|let|var|interface|type|enum|namespace)\s+{n}\b|^(?:module\.)?exports\.{n}\s*="
                ),
                Some(format!(
                    r"(?m)^export\s+default\s+(?:async\s+)?(?:function\*?|class)\s+{n}\b|^module\.exports\s*=\s*{n}\s*;?\s*$"
                )),
            ),
            Language::Python => (
                format!(
                    r"(?m)^(?:async\s+)?def\s+{n}\s*\(|^class\s+{n}\b|^{n}\s*(?::[^=\n]*)?=[^=]"
                ),
                None,
            ),
        };
        Some(ExportPatterns {
            named: Regex::new(&named).ok()?,
            default: default.and_then(|d| Regex::new(&d).ok()),
            language,
            name: name.to_string(),
        })
    }

    fn binding(&self, text: &str) -> Option<Binding> {
        if self.named.is_match(text) || self.in_export_list(text) {
            return Some(Binding::Named);
        }
        (self.default.as_ref()?.is_match(text)).then_some(Binding::Default)
    }

    /// `export { a, b as name }` or `module.exports = { a, name }`.
    fn in_export_list(&self, text: &str) -> bool {
        if self.language != Language::Script {
            return false;
        }
        ["export {", "export type {", "module.exports = {"]
            .iter()
            .flat_map(|start| text.match_indices(start))
            .filter(|(at, _)| *at == 0 || text.as_bytes()[at - 1] == b'\n')
            .any(|(at, start)| {
                let list = &text[at + start.len()..];
                let list = &list[..list.find('}').unwrap_or(0)];
                list.split(',').any(|item| {
                    let exported = item.split(':').next().unwrap_or(item);
                    exported.split_whitespace().last() == Some(self.name.as_str())
                })
            })
    }
}

/// The specifier `importer` imports `target` by, in the style of its other relative imports
/// (with `.js` when a TypeScript file writes them so, with the extension when a JavaScript
/// file does).
fn script_specifier(importer: &str, target: &str, importer_text: &str) -> String {
    let target_extension = extension(target).unwrap_or("");
    let without = &target[..target.len() - target_extension.len().min(target.len()) - 1];
    let is_index = stem(target) == "index";
    let module = if is_index { parent(target) } else { without };
    let specifier = relative_path(parent(importer), module);
    let written: Vec<&str> = importer_text
        .split(['\'', '"'])
        .filter(|s| s.starts_with("./") || s.starts_with("../"))
        .collect();
    let with_extension = written
        .iter()
        .any(|s| extension(s).is_some_and(|e| super::import_paths::MODULE_EXTENSIONS.contains(&e)));
    let typescript = matches!(extension(importer), Some("ts" | "tsx" | "mts" | "cts"));
    match (
        with_extension || extension(importer) == Some("mjs"),
        is_index,
    ) {
        (true, false) if typescript && written.iter().any(|s| s.ends_with(".js")) => {
            format!("{specifier}.js")
        }
        (true, false) => format!("{specifier}.{target_extension}"),
        _ => specifier,
    }
}

/// The dotted module of a Python file: its path from the first folder up that is not a
/// package (has no `__init__.py`).
fn python_module(target: &str, files: &[&RelativePath]) -> Option<String> {
    let is_package = |folder: &str| {
        let init = match folder {
            "" => "__init__.py".to_string(),
            folder => format!("{folder}/__init__.py"),
        };
        files.iter().any(|f| f.as_str() == init)
    };
    let mut parts: Vec<&str> = vec![stem(target)];
    let mut folder = parent(target);
    while !folder.is_empty() && is_package(folder) {
        parts.push(folder.rsplit('/').next()?);
        folder = parent(folder);
    }
    parts.reverse();
    if parts.last() == Some(&"__init__") {
        parts.pop();
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

/// The name `text` uses that is clearly the closest to `name`: one typo per four characters at
/// most (one for short names), and no other name as close.
fn closest_name(text: &str, name: &str) -> Option<String> {
    let length = name.chars().count();
    if length < 3 {
        return None;
    }
    let allowed = (length / 4).max(1);
    let mut best: Option<(usize, &str)> = None;
    let mut tied = false;
    let mut seen = BTreeSet::new();
    for (_, word) in bare_words(text) {
        if word == name || KEYWORDS.contains(&word) || !seen.insert(word) {
            continue;
        }
        let distance = strsim::damerau_levenshtein(word, name);
        if distance > allowed {
            continue;
        }
        match best {
            Some((shortest, _)) if distance > shortest => {}
            Some((shortest, _)) if distance == shortest => tied = true,
            _ => {
                best = Some((distance, word));
                tied = false;
            }
        }
    }
    match (best, tied) {
        (Some((_, word)), false) => Some(word.to_string()),
        _ => None,
    }
}

/// `text` with `name` respelled `closest`: on `line`, or everywhere when the file never
/// declares `name` (then every use of it is the same mistake).
fn rename(text: &str, line: u32, name: &str, closest: &str) -> String {
    let declared = Regex::new(&format!(
        r"\b(?:let|const|var|function|class|def|import|as)\s+{0}\b|(?m)^\s*{0}\s*=[^=]",
        regex::escape(name)
    ))
    .map_or(true, |declaration| declaration.is_match(text));
    let starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|at| at + 1))
        .collect();
    let range = match (declared, line.checked_sub(1)) {
        (true, Some(index)) => {
            let start = *starts.get(index as usize).unwrap_or(&text.len());
            let end = starts
                .get(index as usize + 1)
                .copied()
                .unwrap_or(text.len());
            start..end
        }
        (true, None) => return text.to_string(),
        (false, _) => 0..text.len(),
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, word) in bare_words(text) {
        if word == name && range.contains(&at) && !in_string(text, at) {
            out.push_str(&text[copied..at]);
            out.push_str(closest);
            copied = at + word.len();
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The identifiers of `text` that are not properties (not right after a `.`), with their
/// offsets.
fn bare_words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    static WORD: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"[A-Za-z_$][A-Za-z0-9_$]*").ok());
    (WORD.as_ref().into_iter())
        .flat_map(move |word| word.find_iter(text))
        .filter(move |found| {
            let before = text[..found.start()].chars().next_back();
            !matches!(before, Some('.' | '0'..='9'))
        })
        .map(|found| (found.start(), found.as_str()))
}

/// Whether offset `at` is inside a quoted string on its line (quotes counted, escapes not).
fn in_string(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let before = &text[line_start..at];
    if before.trim_start().starts_with('#') || before.contains("//") {
        return true;
    }
    ['\'', '"', '`']
        .iter()
        .any(|quote| before.matches(*quote).count() % 2 == 1)
}

/// Words that are never a misspelled variable's intended name.
const KEYWORDS: &[&str] = &[
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "def",
    "default",
    "del",
    "delete",
    "do",
    "elif",
    "else",
    "enum",
    "except",
    "export",
    "extends",
    "false",
    "False",
    "finally",
    "for",
    "from",
    "function",
    "global",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "is",
    "lambda",
    "let",
    "new",
    "None",
    "nonlocal",
    "not",
    "null",
    "or",
    "pass",
    "raise",
    "return",
    "self",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "True",
    "try",
    "type",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// Standard-library modules imported whole (`import json`).
const PYTHON_MODULES: &[&str] = &[
    "abc",
    "argparse",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "fractions",
    "functools",
    "glob",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "inspect",
    "io",
    "itertools",
    "json",
    "logging",
    "math",
    "operator",
    "os",
    "pathlib",
    "pickle",
    "platform",
    "pprint",
    "queue",
    "random",
    "re",
    "secrets",
    "shlex",
    "shutil",
    "signal",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "sys",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "traceback",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib",
    "uuid",
    "warnings",
    "weakref",
    "zlib",
];

/// Standard-library names imported from their module (`from pathlib import Path`).
const PYTHON_NAMES: &[(&str, &str)] = &[
    ("ABC", "abc"),
    ("abstractmethod", "abc"),
    ("Counter", "collections"),
    ("OrderedDict", "collections"),
    ("defaultdict", "collections"),
    ("deque", "collections"),
    ("namedtuple", "collections"),
    ("contextmanager", "contextlib"),
    ("suppress", "contextlib"),
    ("dataclass", "dataclasses"),
    ("field", "dataclasses"),
    ("asdict", "dataclasses"),
    ("date", "datetime"),
    ("timedelta", "datetime"),
    ("timezone", "datetime"),
    ("Decimal", "decimal"),
    ("Enum", "enum"),
    ("IntEnum", "enum"),
    ("auto", "enum"),
    ("Fraction", "fractions"),
    ("cache", "functools"),
    ("lru_cache", "functools"),
    ("partial", "functools"),
    ("reduce", "functools"),
    ("wraps", "functools"),
    ("StringIO", "io"),
    ("chain", "itertools"),
    ("groupby", "itertools"),
    ("itemgetter", "operator"),
    ("Path", "pathlib"),
    ("PurePath", "pathlib"),
    ("mean", "statistics"),
    ("median", "statistics"),
    ("dedent", "textwrap"),
    ("Any", "typing"),
    ("Callable", "typing"),
    ("ClassVar", "typing"),
    ("Dict", "typing"),
    ("Final", "typing"),
    ("Generic", "typing"),
    ("Iterable", "typing"),
    ("Iterator", "typing"),
    ("List", "typing"),
    ("Literal", "typing"),
    ("Mapping", "typing"),
    ("NamedTuple", "typing"),
    ("Optional", "typing"),
    ("Protocol", "typing"),
    ("Sequence", "typing"),
    ("Set", "typing"),
    ("Tuple", "typing"),
    ("TypedDict", "typing"),
    ("TypeVar", "typing"),
    ("Union", "typing"),
    ("cast", "typing"),
    ("UUID", "uuid"),
    ("uuid4", "uuid"),
];

/// React's named exports that generated components use without importing.
const REACT_NAMES: &[&str] = &[
    "useState",
    "useEffect",
    "useLayoutEffect",
    "useMemo",
    "useCallback",
    "useRef",
    "useContext",
    "useReducer",
    "useId",
    "useTransition",
    "useDeferredValue",
    "createContext",
    "forwardRef",
    "memo",
    "lazy",
    "Fragment",
    "Suspense",
];

/// Node's built-in modules, imported whole.
const NODE_MODULES: &[&str] = &[
    "assert",
    "child_process",
    "crypto",
    "dns",
    "events",
    "fs",
    "http",
    "https",
    "net",
    "os",
    "path",
    "querystring",
    "readline",
    "stream",
    "url",
    "util",
    "zlib",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_comes_from_each_tools_message() {
        let name = |tool: &str, message: &str| missing_name(&Diagnostic::new(tool, message));
        for (tool, message, expected) in [
            ("tsc", "Cannot find name 'formatDate'.", Some("formatDate")),
            (
                "tsc",
                "'React' refers to a UMD global, but the current file is a module.",
                Some("React"),
            ),
            ("python", "name 'json' is not defined", Some("json")),
            ("ruff", "Undefined name `slugify`", Some("slugify")),
            ("mypy", "Name \"Optional\" is not defined", Some("Optional")),
            ("node", "totl is not defined", Some("totl")),
            ("eslint", "'fetchAll' is not defined.", Some("fetchAll")),
            (
                "python",
                "name 'lenght' is not defined. Did you mean: 'length'?",
                None,
            ),
            (
                "tsc",
                "Type 'string' is not assignable to type 'number'.",
                None,
            ),
        ] {
            assert_eq!(name(tool, message).as_deref(), expected, "{message}");
        }
    }

    #[test]
    fn the_closest_name_must_be_clearly_closest() {
        let text = "let total = 0;\nfor (const item of items) {\n  total += item.price;\n}\nconsole.log(totl);\n";
        assert_eq!(closest_name(text, "totl").as_deref(), Some("total"));
        assert_eq!(
            closest_name("a.price;", "prise"),
            None,
            "a property is not in scope"
        );
        assert_eq!(closest_name("price; prize;", "prise"), None, "a tie");
        assert_eq!(
            closest_name("let ab = 1;", "ac"),
            None,
            "too short to guess"
        );
        assert_eq!(
            rename(text, 5, "totl", "total"),
            text.replace("log(totl)", "log(total)")
        );
        let declared_elsewhere = "let totl = 1;\nf(totl);\ng(totl);\n";
        assert_eq!(
            rename(declared_elsewhere, 3, "totl", "total"),
            "let totl = 1;\nf(totl);\ng(total);\n"
        );
        assert_eq!(
            rename("print(mesage, 'mesage')\n", 1, "mesage", "message"),
            "print(message, 'mesage')\n"
        );
    }

    #[test]
    fn python_modules_are_named_from_the_first_folder_that_is_not_a_package() {
        let files: Vec<RelativePath> = ["slug/__init__.py", "slug/text.py", "app/util.py"]
            .iter()
            .map(|p| RelativePath::new(p).unwrap())
            .collect();
        let files: Vec<&RelativePath> = files.iter().collect();
        assert_eq!(
            python_module("slug/text.py", &files).as_deref(),
            Some("slug.text")
        );
        assert_eq!(
            python_module("app/util.py", &files).as_deref(),
            Some("util")
        );
        assert_eq!(
            python_module("slug/__init__.py", &files).as_deref(),
            Some("slug")
        );
    }

    #[test]
    fn names_come_from_the_framework_or_the_one_package_imported_that_exports_them() {
        let package = |name: &str, exports: &str| {
            let manifest = format!("{{\"name\": \"{name}\", \"types\": \"index.d.ts\"}}");
            let types: String = (exports.split(' '))
                .map(|export| format!("export declare const {export}: unknown;\n"))
                .collect();
            (manifest, types)
        };
        let (lucide, lucide_types) = package("lucide-react", "ArrowRight Check");
        let (motion, motion_types) = package("motion-kit", "motion Check");
        let scratch = crate::scratch::Scratch::new(
            "missing-names-packages",
            &[
                ("node_modules/next/package.json", "{\"name\": \"next\"}"),
                ("node_modules/lucide-react/package.json", &lucide),
                ("node_modules/lucide-react/index.d.ts", &lucide_types),
                ("node_modules/motion-kit/package.json", &motion),
                ("node_modules/motion-kit/index.d.ts", &motion_types),
                ("app/a.tsx", "import { Check } from 'lucide-react';\n"),
                ("app/b.tsx", "import { motion } from 'motion-kit';\n"),
            ],
        );
        let workspace = Workspace::open(scratch.path()).unwrap();
        let mut project = Project::new(&workspace);
        let found = |import: Option<Import>| import.map(|i| (i.module, i.binding));
        assert_eq!(
            found(project.package_export("Link")),
            Some(("next/link".to_string(), Binding::Default))
        );
        assert_eq!(
            found(project.package_export("useRouter")),
            Some(("next/navigation".to_string(), Binding::Named))
        );
        assert_eq!(
            found(project.package_export("ArrowRight")),
            Some(("lucide-react".to_string(), Binding::Named))
        );
        assert_eq!(
            found(project.package_export("Check")),
            None,
            "two packages export it"
        );
        assert_eq!(found(project.package_export("NavLink")), None, "no router");
        assert_eq!(found(project.package_export("Nowhere")), None);
    }

    #[test]
    fn specifiers_follow_the_importers_style() {
        assert_eq!(
            script_specifier("src/app.ts", "src/lib/date.ts", ""),
            "./lib/date"
        );
        assert_eq!(
            script_specifier("src/app.ts", "src/lib/date.ts", "import x from './x.js';"),
            "./lib/date.js"
        );
        assert_eq!(
            script_specifier("src/app.mjs", "src/date.mjs", ""),
            "./date.mjs"
        );
        assert_eq!(
            script_specifier("src/app.js", "src/util/index.js", ""),
            "./util"
        );
    }
}

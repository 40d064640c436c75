//! What identifies an error for the fix cache, independent of where and in which project it
//! happened.
//!
//! An [`ErrorSignature`] keeps the error's *kind* and drops its *instance*: paths, line and column
//! numbers, quoted identifiers, numbers, hashes, addresses, versions and temporary directories
//! become placeholders. Its hard-filter keys (tool, category, subcategory, code and, for
//! dependency errors, the package) decide which cached fixes may be considered at all: a fix is
//! never served across a different error code.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

use crate::diagnostic::Fnv64;
use crate::redact::Redactor;
use crate::{Category, Diagnostic, Subcategory};

/// The kind of an error, for finding fixes that worked for the same kind before.
///
/// ```
/// use selfheal::cache::ErrorSignature;
/// use selfheal::parse::ParserSet;
///
/// let a = &ParserSet::new().parse("src/app.ts(12,3): error TS2304: Cannot find name 'useState'.\n")[0];
/// let b = &ParserSet::new().parse("lib/x/form.tsx(3,41): error TS2304: Cannot find name 'z'.\n")[0];
/// let (a, b) = (ErrorSignature::of(a), ErrorSignature::of(b));
/// assert_eq!(a.text, "Cannot find name '<q>'.");
/// assert_eq!(a.hash, b.hash);
/// assert_eq!(a.filter, b.filter);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ErrorSignature {
    /// The message with every instance-specific part replaced by a placeholder.
    pub text: String,
    /// The hard-filter keys.
    pub filter: FilterKey,
    /// The kind of file the error is in (`tsx`, `package.json`), when it names one.
    pub file_kind: Option<String>,
    /// Stable hash of `filter` and `text`, for exact lookup.
    pub hash: u64,
}

/// What must be equal for a cached fix to be considered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FilterKey {
    /// The tool that reported the error (`tsc`, `cargo`).
    pub tool: String,
    /// Its category.
    pub category: Category,
    /// Its subcategory.
    pub subcategory: Subcategory,
    /// The tool's error code (`TS2304`, `E0308`), when it has one.
    pub code: Option<String>,
    /// For dependency errors: the package (`react-dom`, `numpy`, `@scope/pkg`).
    pub package: Option<String>,
}

impl FilterKey {
    /// Stable hash of the keys: fixes are only compared within one partition.
    pub fn partition(&self) -> u64 {
        self.hasher().finish()
    }

    fn hasher(&self) -> Fnv64 {
        let mut hash = Fnv64::new();
        hash.field(&self.tool);
        hash.field(self.category.as_str());
        hash.field(self.subcategory.as_str());
        hash.field(self.code.as_deref().unwrap_or(""));
        hash.field(self.package.as_deref().unwrap_or(""));
        hash
    }
}

impl ErrorSignature {
    /// The signature of a diagnostic.
    pub fn of(diagnostic: &Diagnostic) -> Self {
        // Secrets never reach the signature: it is stored, uploaded and embedded.
        let text = normalize(&Redactor::process_wide().redact(&diagnostic.message));
        let package = (diagnostic.category == Category::Dependency)
            .then(|| package_named_in(&diagnostic.message))
            .flatten();
        let filter = FilterKey {
            tool: diagnostic.tool.clone(),
            category: diagnostic.category,
            subcategory: diagnostic.subcategory,
            code: diagnostic.code.clone(),
            package,
        };
        ErrorSignature::from_parts(text, filter, diagnostic.file.as_deref().and_then(file_kind))
    }

    /// A signature from its parts (an imported one, say), with its hash computed.
    pub fn from_parts(text: String, filter: FilterKey, file_kind: Option<String>) -> Self {
        let mut hash = filter.hasher();
        hash.field(&text);
        ErrorSignature {
            text,
            filter,
            file_kind,
            hash: hash.finish(),
        }
    }

    /// The text an [`Embedder`](super::Embedder) sees: the code in brackets, then the normalized
    /// message (`[TS2304] Cannot find name '<q>'.`).
    pub fn embedding_text(&self) -> String {
        match &self.filter.code {
            Some(code) => format!("[{code}] {}", self.text),
            None => self.text.clone(),
        }
    }
}

/// One pass over the message; the regex engine is linear in its length.
static VOLATILE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // A constant pattern, covered by the tests.
    Regex::new(concat!(
        // A quote that does not follow a letter (so not the one in "doesn't"), up to its end.
        // GNU tools quote `like this'.
        r#"(?P<quoted>\B(?:'[^'\n]{0,300}'|"[^"\n]{0,300}"|`[^`'\n]{0,300}'|`[^`\n]{0,300}`|‘[^’\n]{0,300}’|“[^”\n]{0,300}”))"#,
        r"|(?P<hex>\b0[xX][0-9a-fA-F]+\b)",
        r"|(?P<path>(?:[A-Za-z]:)?(?:[\w.@~+-]*[/\\])+[\w.@~+-]*)",
        r"|(?P<version>\bv?\d+\.\d+(?:\.\d+)*(?:-[0-9A-Za-z.]+)?\b)",
        r"|(?P<hash>\b[0-9a-f]{7,64}\b)",
        r"|(?P<number>\b\d+\b)",
        r"|(?P<space>\s+)",
    ))
    .unwrap()
});

/// The message with its instance-specific parts replaced: `'<q>'`, `<path>`, `<hex>`,
/// `<version>`, `<hash>`, `<n>`; whitespace runs become one space.
pub(crate) fn normalize(message: &str) -> String {
    let replaced = VOLATILE.replace_all(message, |caps: &Captures<'_>| {
        if let Some(quoted) = caps.name("quoted") {
            let text = quoted.as_str();
            let open = text.chars().next().unwrap_or('\'');
            let close = text.chars().next_back().unwrap_or('\'');
            return format!("{open}<q>{close}");
        }
        if caps.name("hex").is_some() {
            return "<hex>".into();
        }
        if let Some(path) = caps.name("path") {
            // A lone `/` or `and/or` is prose, not a path.
            let text = path.as_str();
            let has_dot_or_root = text.contains('.') || text.starts_with(['/', '\\', '~']);
            return if has_dot_or_root || text.matches(['/', '\\']).count() > 1 {
                "<path>".into()
            } else {
                text.into()
            };
        }
        if caps.name("version").is_some() {
            return "<version>".into();
        }
        if let Some(hash) = caps.name("hash") {
            // Words like `deadbeef` or `accede` are words unless they hold a digit.
            return if hash.as_str().bytes().any(|b| b.is_ascii_digit()) {
                "<hash>".into()
            } else {
                hash.as_str().into()
            };
        }
        if caps.name("number").is_some() {
            return "<n>".into();
        }
        " ".into()
    });
    replaced.trim().to_string()
}

/// The package a dependency error names: the first quoted name that is not a relative or
/// absolute path, cut to the package (`lodash/fp` → `lodash`, `@mui/material/Button` →
/// `@mui/material`, `numpy.linalg` → `numpy`).
fn package_named_in(message: &str) -> Option<String> {
    static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::unwrap_used)] // A constant pattern, covered by the tests.
        Regex::new(
            r#"\B(?:'([^'\n]{1,214})'|"([^"\n]{1,214})"|`([^`\n]{1,214})`|‘([^’\n]{1,214})’)"#,
        )
        .unwrap()
    });
    QUOTED.captures_iter(message).find_map(|caps| {
        let name = (1..=4).find_map(|i| caps.get(i))?.as_str().trim();
        if name.is_empty() || name.starts_with(['.', '/', '\\', '~']) || name.contains(' ') {
            return None;
        }
        let package = if let Some(scoped) = name.strip_prefix('@') {
            let mut parts = scoped.splitn(3, '/');
            match (parts.next(), parts.next()) {
                (Some(scope), Some(name)) => format!("@{scope}/{name}"),
                _ => return None,
            }
        } else {
            name.split(['/', '.', ':'])
                .next()
                .unwrap_or(name)
                .to_string()
        };
        Some(package)
    })
}

/// `src/App.tsx` → `tsx`; files known by their whole name keep it (`package.json`, `Dockerfile`).
fn file_kind(path: &str) -> Option<String> {
    let name = path.rsplit(['/', '\\']).next()?;
    const WHOLE: &[&str] = &[
        "package.json",
        "tsconfig.json",
        "Cargo.toml",
        "pyproject.toml",
        "requirements.txt",
        "Dockerfile",
        "Makefile",
        "vite.config.ts",
        "next.config.js",
    ];
    if WHOLE.contains(&name) {
        return Some(name.to_string());
    }
    let (_, extension) = name.rsplit_once('.')?;
    (!extension.is_empty() && extension.len() <= 8).then(|| extension.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_details_become_placeholders() {
        let cases = [
            (
                "Type 'string' is not assignable to type 'number'.",
                "Type '<q>' is not assignable to type '<q>'.",
            ),
            (
                "Cannot find module './components/Button' or its corresponding type declarations.",
                "Cannot find module '<q>' or its corresponding type declarations.",
            ),
            (
                "ENOENT: no such file or directory, open '/tmp/build-8f3a9c/app/package.json'",
                "ENOENT: no such file or directory, open '<q>'",
            ),
            (
                "expected 3 arguments, found 2 at src/main.rs:12:5",
                "expected <n> arguments, found <n> at <path>:<n>:<n>",
            ),
            (
                "segfault at 0x7ffd5e8c and commit 4f9a2b7c1d",
                "segfault at <hex> and commit <hash>",
            ),
            (
                "requires react@18.2.0 but 17.0.2-beta.1 is installed",
                "requires react@<version> but <version> is installed",
            ),
            (
                "doesn't exist in   the and/or module",
                "doesn't exist in the and/or module",
            ),
            ("No module named 'numpy'", "No module named '<q>'"),
            (
                "undefined reference to `compute_checksum'",
                "undefined reference to `<q>'",
            ),
            (
                "failed reading C:\\Users\\ci\\AppData\\Local\\Temp\\x.js",
                "failed reading <path>",
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(normalize(message), expected, "{message}");
        }
    }

    #[test]
    fn packages_of_dependency_errors() {
        let cases = [
            ("Cannot find module 'react-dom/client'", Some("react-dom")),
            (
                "Cannot find module '@mui/material/Button' or its types",
                Some("@mui/material"),
            ),
            ("No module named 'numpy.linalg'", Some("numpy")),
            (
                "Module not found: Can't resolve './utils' in '/app/src'",
                None,
            ),
            ("unresolved import `serde_json`", Some("serde_json")),
            ("Cannot find module '@broken'", None),
        ];
        for (message, expected) in cases {
            assert_eq!(package_named_in(message).as_deref(), expected, "{message}");
        }
    }

    #[test]
    fn file_kinds() {
        assert_eq!(file_kind("src/components/App.TSX").as_deref(), Some("tsx"));
        assert_eq!(
            file_kind("web/package.json").as_deref(),
            Some("package.json")
        );
        assert_eq!(file_kind("Makefile").as_deref(), Some("Makefile"));
        assert_eq!(file_kind("LICENSE"), None);
    }
}

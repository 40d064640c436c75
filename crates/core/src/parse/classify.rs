//! Classification shared by all parsers: message signatures that mean the same thing whatever
//! tool printed them, and the human advice that goes with each class.
//!
//! Tool-specific tables (tsc codes, rustc codes, ruff rules…) live with their parsers; this
//! module holds what is common.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use crate::{Category, Diagnostic, Subcategory};

/// Compiles a regex written in this crate's source. Patterns are literals checked by the unit
/// tests, so a failure is a bug in selfheal, not in its input.
#[allow(clippy::expect_used)]
pub(crate) fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in regex compiles")
}

/// A lazily compiled, crate-internal regex.
macro_rules! lazy_regex {
    ($pattern:expr) => {{
        static RE: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| $crate::parse::classify::regex($pattern));
        &*RE
    }};
}
pub(crate) use lazy_regex;

/// Message signatures in priority order: the first that matches decides.
const SIGNATURES: &[(&str, Category, Subcategory)] = &[
    (
        r"JavaScript heap out of memory|\bMemoryError\b|[Oo]ut of memory|OOMKilled|OOM[- ]killed|Cannot allocate memory|\bENOMEM\b|memory allocation of \d+ bytes failed|exit code:? 137\b|code 137\b|SIGKILL|^Killed$|\bKilled\s+\S",
        Category::Resource,
        Subcategory::OutOfMemory,
    ),
    (
        r"\bENOSPC\b|No space left on device|[Dd]isk quota exceeded",
        Category::Resource,
        Subcategory::DiskSpace,
    ),
    (
        r"\bE[MN]FILE\b|[Tt]oo many open files",
        Category::Resource,
        Subcategory::OpenFiles,
    ),
    (
        r"\bECONNREFUSED\b|[Cc]onnection refused|\bECONNRESET\b|[Cc]onnection reset|socket hang up",
        Category::Network,
        Subcategory::ConnectionRefused,
    ),
    (
        r"\bENOTFOUND\b|\bEAI_AGAIN\b|getaddrinfo|[Cc]ould not resolve host|[Cc]ouldn't resolve host|Temporary failure in name resolution|Name or service not known|nodename nor servname|lookup \S+ on \S+: no such host|: no such host\b",
        Category::Network,
        Subcategory::DnsResolution,
    ),
    (
        r"\bETIMEDOUT\b|\bESOCKETTIMEDOUT\b|[Cc]onnection timed out|[Cc]onnect timeout|[Nn]etwork timeout|Read timed out|timed out while connecting",
        Category::Network,
        Subcategory::ConnectionTimeout,
    ),
    (
        r"\b401 Unauthorized\b|\b403 Forbidden\b|\bE40[13]\b|Unable to authenticate|[Aa]uthentication required|pull access denied|incorrect username or password",
        Category::Network,
        Subcategory::RegistryAuth,
    ),
    (
        r"Timeout of \d+ ?ms exceeded|Exceeded timeout|[Tt]imed out after|[Dd]eadline exceeded|\bTimeoutError\b|has been running for over|[Bb]uild timed out|\btimeout\b.*\bexceeded\b",
        Category::Resource,
        Subcategory::Timeout,
    ),
    (
        r"CPU time limit|SIGXCPU|cpu quota",
        Category::Resource,
        Subcategory::CpuLimit,
    ),
    (
        r"\bEACCES\b|\bEPERM\b|[Pp]ermission denied|Operation not permitted|\bPermissionError\b",
        Category::Configuration,
        Subcategory::PermissionDenied,
    ),
    (
        r"(?i)environment variable|\benv var\b|missing required env",
        Category::Configuration,
        Subcategory::MissingEnvVar,
    ),
    (
        r"[Cc]ommand not found|: not found$|is not recognized as an internal or external command",
        Category::Dependency,
        Subcategory::MissingCommand,
    ),
    (
        r"undefined reference to|undefined symbol|unresolved external symbol|cannot find -l",
        Category::Dependency,
        Subcategory::UndefinedSymbol,
    ),
    (
        r"No matching version found|No matching distribution|Could not find a version that satisfies|failed to select a version|version solving failed|\bETARGET\b",
        Category::Dependency,
        Subcategory::VersionConflict,
    ),
    (
        r"\bERESOLVE\b|peer dep|conflicting peer dependency|unable to resolve dependency tree|[Cc]ould not resolve dependency",
        Category::Dependency,
        Subcategory::PeerDependency,
    ),
    (
        r"node-gyp|gyp ERR!|prebuild-install|binding\.gyp",
        Category::Dependency,
        Subcategory::NativeModule,
    ),
    (
        r#"Cannot find module|Cannot find package|Can't resolve|Module not found|\bModuleNotFoundError\b|No module named|Could not resolve "|Failed to resolve import|ERR_MODULE_NOT_FOUND|MODULE_NOT_FOUND|[Ff]ailed to resolve module"#,
        Category::Dependency,
        Subcategory::MissingPackage,
    ),
    (
        r"\bENOENT\b|No such file or directory|\bFileNotFoundError\b|[Ff]ile not found|can't open",
        Category::Runtime,
        Subcategory::FileNotFound,
    ),
];

static SIGNATURE_SET: LazyLock<RegexSet> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    RegexSet::new(SIGNATURES.iter().map(|(p, _, _)| *p)).expect("built-in signatures compile")
});

/// The class of a message by signatures common to all tools (`ECONNREFUSED`, `No space left on
/// device`, `Cannot find module`…), if any matches.
pub(crate) fn by_message(message: &str) -> Option<(Category, Subcategory)> {
    // `is_match` runs on a lazy DFA; which signature matched is only asked when one does.
    if !SIGNATURE_SET.is_match(message) {
        return None;
    }
    let first = SIGNATURE_SET.matches(message).into_iter().next()?;
    let (_, category, subcategory) = SIGNATURES[first];
    Some((category, subcategory))
}

/// The module or package a "cannot find" message names.
pub(crate) fn missing_module(message: &str) -> Option<&str> {
    lazy_regex!(
        r#"(?:Cannot find module|Cannot find package|Can't resolve|No module named|Could not resolve|Failed to resolve import|resolve import|unresolved import|undeclared crate or module|unlinked crate|can't find crate for|Cannot find type definition file for)\s+['"`‘]([^'"`’\s]+)['"`’]"#
    )
    .captures(message)
    .and_then(|c| c.get(1))
    .map(|m| m.as_str())
}

/// The package a registry request was for: `GET https://registry.npmjs.org/@scope%2fname`.
fn registry_package(message: &str) -> Option<String> {
    let caps =
        lazy_regex!(r"(?:GET|PUT) https?://[^/\s]+/(?P<name>@?[^/\s]+)").captures(message)?;
    Some(caps["name"].replace("%2f", "/").replace("%2F", "/"))
}

/// The name a package manager installs for an import specifier: `@scope/pkg` or the first path
/// segment; `None` for relative and absolute paths.
fn package_name(specifier: &str) -> Option<String> {
    if specifier.starts_with(['.', '/']) || specifier.is_empty() {
        return None;
    }
    let mut parts = specifier.split('/');
    let first = parts.next()?;
    Some(match (first.starts_with('@'), parts.next()) {
        (true, Some(second)) => format!("{first}/{second}"),
        _ => first.to_string(),
    })
}

fn is_js_tool(tool: &str) -> bool {
    matches!(
        tool,
        "tsc" | "node" | "npm" | "esbuild" | "vite" | "webpack" | "next" | "eslint"
    )
}

fn is_python_tool(tool: &str) -> bool {
    matches!(tool, "python" | "pytest" | "mypy" | "ruff")
}

/// Human advice for a diagnostic, by class and tool.
pub(crate) fn suggestions(d: &Diagnostic) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let tool = d.tool.as_str();
    match d.subcategory {
        Subcategory::MissingPackage | Subcategory::ImportError => {
            match missing_module(&d.message) {
                Some(spec) => match package_name(spec) {
                    Some(_) if tool == "rustc" || tool == "cargo" => {
                        out.push(format!("Add the crate: cargo add {spec}"));
                    }
                    Some(_) if is_python_tool(tool) => {
                        let top = spec.split('.').next().unwrap_or(spec);
                        out.push(format!("Install the missing package: pip install {top}"));
                    }
                    Some(pkg) => {
                        out.push(format!("Install the missing package: npm install {pkg}"));
                        if tool == "tsc" {
                            out.push(format!(
                                "If the package has no bundled types, install @types/{}",
                                pkg.trim_start_matches('@').replace('/', "__")
                            ));
                        }
                    }
                    None => out.push(format!(
                        "Check the import path `{spec}`: no such file relative to the importing module"
                    )),
                },
                None => match registry_package(&d.message) {
                    Some(package) => out.push(format!(
                        "The registry has no package `{package}`: check its name and scope"
                    )),
                    None => out.push("Install the missing package or fix the import path".into()),
                },
            }
            out.push("Check that the package name is spelled correctly".into());
        }
        Subcategory::MissingCommand => {
            out.push("Install the command or add the package that provides it to the project's dependencies".into());
            out.push("Check the spelling of the command in the build script".into());
        }
        Subcategory::UndefinedSymbol => {
            out.push("Link the library that defines the symbol (for example -lm for math functions)".into());
            out.push("Check that the function is defined and its source file is compiled".into());
        }
        Subcategory::VersionConflict => {
            out.push("Request a version that exists (npm view <pkg> versions, pip index versions <pkg>)".into());
        }
        Subcategory::PeerDependency => {
            out.push("Install a version of the peer dependency that satisfies every requirement".into());
            out.push("As a last resort use --legacy-peer-deps".into());
        }
        Subcategory::NativeModule => {
            out.push("Install the native build toolchain (python3, make, g++) or use a prebuilt package".into());
        }
        Subcategory::OutOfMemory => {
            if is_js_tool(tool) {
                out.push("Increase Node.js memory limit: NODE_OPTIONS=--max-old-space-size=4096".into());
            } else {
                out.push("Give the build more memory or reduce its parallelism".into());
            }
            out.push("Check for memory leaks in the build process".into());
        }
        Subcategory::DiskSpace => out.push(
            "Free disk space: clear caches (npm cache clean --force, cargo clean, docker system prune)".into(),
        ),
        Subcategory::OpenFiles => out.push(
            "Close files that are no longer needed, or raise the open-file limit (ulimit -n)".into(),
        ),
        Subcategory::Timeout | Subcategory::CpuLimit => out.push(
            "Raise the time limit, or find what hangs (a network call, an endless loop, a missing await)".into(),
        ),
        Subcategory::ConnectionRefused => {
            out.push("Start the service it connects to, or fix the host and port".into());
        }
        Subcategory::DnsResolution => {
            out.push("Check the host name and the DNS or network configuration".into());
        }
        Subcategory::ConnectionTimeout => {
            out.push("Retry with backoff; check proxy and network settings".into());
        }
        Subcategory::RegistryAuth => {
            out.push("Check the registry credentials (.npmrc token, pip index URL, docker login)".into());
        }
        Subcategory::PermissionDenied => out.push(
            "Write to a directory the build user owns, or fix the permissions".into(),
        ),
        Subcategory::MissingEnvVar => {
            out.push("Set the environment variable, or give it a default in the code".into());
        }
        Subcategory::MissingScript => {
            out.push("Add the script to package.json or run one that exists".into());
        }
        Subcategory::Tsconfig => out.push("Fix the option in tsconfig.json".into()),
        Subcategory::Manifest => {
            out.push("Fix the manifest: it must be valid and complete (package.json, Cargo.toml, pyproject.toml)".into());
        }
        Subcategory::Dockerfile => out.push(
            "Check the Dockerfile step: COPY sources must exist in the build context and not be excluded by .dockerignore".into(),
        ),
        Subcategory::BundleSize => out.push(
            "Split the bundle with dynamic import() or raise the size budget".into(),
        ),
        Subcategory::TypeMismatch => {
            out.push("Convert the value, or change the declared type so both agree".into());
        }
        Subcategory::MissingProperty => {
            out.push("Check the property name for typos, or add it to the type".into());
        }
        Subcategory::NullUndefined => out.push(
            "Handle the null/undefined case before use (a guard, optional chaining or a default)".into(),
        ),
        Subcategory::UndefinedName => {
            out.push("Define or import the name; check its spelling".into());
        }
        Subcategory::MissingExport => {
            out.push("Export the name from the module, or import a name it does export".into());
        }
        Subcategory::WrongArity => {
            out.push("Pass the arguments the function's signature expects".into());
        }
        Subcategory::BorrowCheck => out.push(
            "Follow the compiler's help: borrow instead of moving, clone, or name the lifetime".into(),
        ),
        Subcategory::TestFailure => out.push(
            "Compare expected and actual values: fix the code, or the test if its expectation is wrong".into(),
        ),
        Subcategory::Lint | Subcategory::Deprecation => out.push(
            "Apply the linter's autofix (eslint --fix, ruff check --fix, cargo clippy --fix) or follow the rule".into(),
        ),
        _ => {}
    }
    match d.category {
        Category::Type if is_js_tool(tool) => {
            out.push("Check type definitions are up to date".into());
            out.push("Verify @types packages are installed".into());
        }
        Category::Syntax => out.push(
            "Fix the syntax at the reported location; the real mistake is often just before it (a bracket, comma or quote)".into(),
        ),
        Category::Runtime if out.is_empty() => out.push(
            "Start from the innermost project frame of the stack trace and handle the failing case".into(),
        ),
        _ => {}
    }
    if let Some(fixit) = d.fixits.first() {
        out.insert(0, format!("Apply the tool's suggestion: {}", fixit.message));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signature_compiles() {
        assert_eq!(SIGNATURE_SET.len(), SIGNATURES.len());
    }

    #[test]
    fn signatures_classify_across_tools() {
        let cases = [
            (
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                Subcategory::OutOfMemory,
            ),
            (
                "ENOSPC: no space left on device, write",
                Subcategory::DiskSpace,
            ),
            (
                "[Errno 24] Too many open files: './scan.py'",
                Subcategory::OpenFiles,
            ),
            (
                "connect ECONNREFUSED 127.0.0.1:5432",
                Subcategory::ConnectionRefused,
            ),
            (
                "getaddrinfo ENOTFOUND hooks.internal.example",
                Subcategory::DnsResolution,
            ),
            (
                "request to https://registry.npmjs.org/x failed, reason: ETIMEDOUT",
                Subcategory::ConnectionTimeout,
            ),
            (
                "401 Unauthorized - GET https://registry.npmjs.org/@acme%2fui",
                Subcategory::RegistryAuth,
            ),
            (
                "EACCES: permission denied, mkdir '/opt/releases/web'",
                Subcategory::PermissionDenied,
            ),
            ("webpackk: not found", Subcategory::MissingCommand),
            ("Cannot find module 'express'", Subcategory::MissingPackage),
            (
                "did not complete successfully: exit code: 137",
                Subcategory::OutOfMemory,
            ),
            ("Timeout of 2000ms exceeded.", Subcategory::Timeout),
        ];
        for (message, expected) in cases {
            assert_eq!(
                by_message(message).map(|c| c.1),
                Some(expected),
                "{message}"
            );
        }
        assert_eq!(
            by_message("Type 'string' is not assignable to type 'number'."),
            None
        );
    }

    #[test]
    fn module_names_and_packages() {
        assert_eq!(
            missing_module("Cannot find module 'lodash/fp' or its"),
            Some("lodash/fp")
        );
        assert_eq!(
            missing_module("No module named 'yaml.loader'"),
            Some("yaml.loader")
        );
        assert_eq!(package_name("@scope/pkg/sub"), Some("@scope/pkg".into()));
        assert_eq!(package_name("lodash/fp"), Some("lodash".into()));
        assert_eq!(package_name("./utils/date"), None);
    }

    #[test]
    fn suggestions_name_the_package_to_install() {
        let d = Diagnostic::new("node", "Cannot find module 'express'")
            .with_class(Category::Dependency, Subcategory::MissingPackage);
        assert_eq!(
            suggestions(&d)[0],
            "Install the missing package: npm install express"
        );
        let d = Diagnostic::new("python", "No module named 'yaml'")
            .with_class(Category::Dependency, Subcategory::MissingPackage);
        assert_eq!(
            suggestions(&d)[0],
            "Install the missing package: pip install yaml"
        );
        let d = Diagnostic::new(
            "tsc",
            "Cannot find module './utils/date' or its corresponding type declarations.",
        )
        .with_class(Category::Dependency, Subcategory::MissingPackage);
        assert!(suggestions(&d)[0].contains("import path `./utils/date`"));
    }
}

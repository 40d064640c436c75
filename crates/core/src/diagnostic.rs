//! The domain model of one build error: what went wrong, where, and how sure we are.
//!
//! A [`Diagnostic`] is produced by the parsers in [`crate::parse`] from a build log and consumed by
//! everything downstream (fixers, the fix cache, LLM prompts, reports). Its JSON form is stable
//! and snake_case; optional fields are always present (as `null`) so consumers can rely on the
//! shape.

use serde::{Deserialize, Serialize};

/// The broad class of a build error: it decides which fixers and retry policies apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A package, module, crate, header, library or binary is missing or cannot be resolved.
    Dependency,
    /// Source (or a manifest, Dockerfile, shell line) cannot be parsed.
    Syntax,
    /// Static semantic errors: type mismatch, unknown name or member, arity, borrow checking.
    Type,
    /// Exceptions, panics and test failures at run time.
    Runtime,
    /// Memory, disk, open files, time and size limits.
    Resource,
    /// Tool or project configuration and environment.
    Configuration,
    /// Connections, DNS, registries.
    Network,
    /// Anything else, including lint and style findings.
    Unknown,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 8] = [
        Category::Dependency,
        Category::Syntax,
        Category::Type,
        Category::Runtime,
        Category::Resource,
        Category::Configuration,
        Category::Network,
        Category::Unknown,
    ];

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Dependency => "dependency",
            Category::Syntax => "syntax",
            Category::Type => "type",
            Category::Runtime => "runtime",
            Category::Resource => "resource",
            Category::Configuration => "configuration",
            Category::Network => "network",
            Category::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Category {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| crate::Error::invalid_input(format!("unknown category `{s}`")))
    }
}

/// The finer class of a build error, following the seed taxonomy plus the classes real logs need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Subcategory {
    /// A package, module or crate is not installed or does not exist.
    MissingPackage,
    /// No version satisfies the requested range.
    VersionConflict,
    /// Peer dependency requirements cannot be met.
    PeerDependency,
    /// A native addon or system library fails to build or link.
    NativeModule,
    /// A command or binary is not on the PATH.
    MissingCommand,
    /// A symbol is undefined at link time.
    UndefinedSymbol,
    /// The parser gave up on the input.
    ParseError,
    /// A token that does not belong where it is.
    UnexpectedToken,
    /// Input ended in the middle of a construct.
    UnexpectedEof,
    /// A value of one type where another is required.
    TypeMismatch,
    /// A property, field or method does not exist on a type.
    MissingProperty,
    /// A possibly null or undefined value is used.
    NullUndefined,
    /// A type argument does not satisfy its constraint.
    GenericConstraint,
    /// A name is not defined in scope.
    UndefinedName,
    /// A module does not export the imported name.
    MissingExport,
    /// A call passes the wrong number of arguments.
    WrongArity,
    /// Ownership, borrowing or lifetime rules are violated.
    BorrowCheck,
    /// A module exists but importing it fails.
    ImportError,
    /// A required environment variable is not set.
    MissingEnvVar,
    /// A file the program needs does not exist.
    FileNotFound,
    /// The process may not access a file or resource.
    PermissionDenied,
    /// An uncaught exception.
    Exception,
    /// A Rust panic.
    Panic,
    /// A test assertion failed.
    TestFailure,
    /// Memory ran out or the process was OOM-killed.
    OutOfMemory,
    /// The disk is full.
    DiskSpace,
    /// Too many open files.
    OpenFiles,
    /// Something took longer than allowed.
    Timeout,
    /// CPU quota exhausted.
    CpuLimit,
    /// An asset or bundle exceeds its size limit.
    BundleSize,
    /// webpack, vite, esbuild or another bundler is misconfigured.
    BundlerConfig,
    /// A React Server Component boundary: client-only code (hooks, event handlers, browser
    /// APIs) in a server component, or server-only code in a client one (`"use client"`).
    ComponentBoundary,
    /// tsconfig.json or compiler options are wrong.
    Tsconfig,
    /// Babel configuration is wrong.
    BabelConfig,
    /// A Dockerfile step or instruction is wrong.
    Dockerfile,
    /// A manifest (package.json, Cargo.toml, pyproject.toml) is missing or invalid.
    Manifest,
    /// A package script does not exist.
    MissingScript,
    /// A connection or request timed out.
    ConnectionTimeout,
    /// A host name could not be resolved.
    DnsResolution,
    /// A connection was refused or reset.
    ConnectionRefused,
    /// A registry rejected the credentials.
    RegistryAuth,
    /// A lint or style finding.
    Lint,
    /// A deprecated API, package or option is used.
    Deprecation,
    /// Nothing more specific is known.
    Other,
}

impl Subcategory {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Subcategory::MissingPackage => "missing_package",
            Subcategory::VersionConflict => "version_conflict",
            Subcategory::PeerDependency => "peer_dependency",
            Subcategory::NativeModule => "native_module",
            Subcategory::MissingCommand => "missing_command",
            Subcategory::UndefinedSymbol => "undefined_symbol",
            Subcategory::ParseError => "parse_error",
            Subcategory::UnexpectedToken => "unexpected_token",
            Subcategory::UnexpectedEof => "unexpected_eof",
            Subcategory::TypeMismatch => "type_mismatch",
            Subcategory::MissingProperty => "missing_property",
            Subcategory::NullUndefined => "null_undefined",
            Subcategory::GenericConstraint => "generic_constraint",
            Subcategory::UndefinedName => "undefined_name",
            Subcategory::MissingExport => "missing_export",
            Subcategory::WrongArity => "wrong_arity",
            Subcategory::BorrowCheck => "borrow_check",
            Subcategory::ImportError => "import_error",
            Subcategory::MissingEnvVar => "missing_env_var",
            Subcategory::FileNotFound => "file_not_found",
            Subcategory::PermissionDenied => "permission_denied",
            Subcategory::Exception => "exception",
            Subcategory::Panic => "panic",
            Subcategory::TestFailure => "test_failure",
            Subcategory::OutOfMemory => "out_of_memory",
            Subcategory::DiskSpace => "disk_space",
            Subcategory::OpenFiles => "open_files",
            Subcategory::Timeout => "timeout",
            Subcategory::CpuLimit => "cpu_limit",
            Subcategory::BundleSize => "bundle_size",
            Subcategory::BundlerConfig => "bundler_config",
            Subcategory::ComponentBoundary => "component_boundary",
            Subcategory::Tsconfig => "tsconfig",
            Subcategory::BabelConfig => "babel_config",
            Subcategory::Dockerfile => "dockerfile",
            Subcategory::Manifest => "manifest",
            Subcategory::MissingScript => "missing_script",
            Subcategory::ConnectionTimeout => "connection_timeout",
            Subcategory::DnsResolution => "dns_resolution",
            Subcategory::ConnectionRefused => "connection_refused",
            Subcategory::RegistryAuth => "registry_auth",
            Subcategory::Lint => "lint",
            Subcategory::Deprecation => "deprecation",
            Subcategory::Other => "other",
        }
    }
}

impl std::fmt::Display for Subcategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The build cannot go on at all (out of memory, a fatal compiler error).
    Critical,
    /// The step fails.
    Error,
    /// Reported, but the step may still pass.
    Warning,
}

impl Severity {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One frame of a stack trace or traceback, innermost last as the tool printed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    /// The file of the frame, as printed (or relative to the project root).
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
    /// The function, method or scope name.
    pub function: Option<String>,
}

/// A concrete edit the tool itself printed (`help:` suggestions, fix-it hints, "Did you mean").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixit {
    /// What the tool said about the edit (`consider borrowing here`, `Did you mean 'length'?`).
    pub message: String,
    /// The file to edit; `None` means the file of the diagnostic.
    pub file: Option<String>,
    /// The edit.
    pub edit: FixitEdit,
}

impl Fixit {
    /// Inserting `text` at `line`:`column` of the diagnostic's file.
    pub fn insertion(file: Option<String>, line: u32, column: u32, text: &str) -> Self {
        Fixit {
            message: format!("insert `{text}`"),
            file,
            edit: FixitEdit::Span {
                line,
                column,
                end_line: line,
                end_column: column,
                replacement: text.to_string(),
            },
        }
    }
}

/// Where a [`Fixit`] applies and what it puts there. All positions are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FixitEdit {
    /// Replace an exact range (end exclusive); an empty range is an insertion.
    Span {
        /// First line.
        line: u32,
        /// First column.
        column: u32,
        /// Last line.
        end_line: u32,
        /// Column just past the range.
        end_column: u32,
        /// The new text.
        replacement: String,
    },
    /// Replace whole lines `line..=end_line` by the lines of `replacement` (empty: delete them).
    Lines {
        /// First line.
        line: u32,
        /// Last line.
        end_line: u32,
        /// The text of those lines as the tool showed it, when it did: a check before applying.
        original: Option<String>,
        /// The new lines, without a trailing newline.
        replacement: String,
    },
    /// Replace the first occurrence of `original` on `line` (the tool named the text, not its
    /// column).
    Word {
        /// The line.
        line: u32,
        /// The text to replace.
        original: String,
        /// The new text.
        replacement: String,
    },
}

/// Lines of the log a diagnostic was read from (1-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct LineRange {
    /// First line.
    pub start: u32,
    /// Last line.
    pub end: u32,
}

impl LineRange {
    /// A range covering one line.
    pub fn single(line: u32) -> Self {
        LineRange {
            start: line,
            end: line,
        }
    }
}

/// One error or warning found in a build log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The tool that reported it (`tsc`, `rustc`, `pytest`, `npm`, …).
    pub tool: String,
    /// Broad class.
    pub category: Category,
    /// Finer class.
    pub subcategory: Subcategory,
    /// How bad it is.
    pub severity: Severity,
    /// The tool's code: `TS2322`, `E0308`, `no-undef`, `F401`, `E404`, or the exception class.
    pub code: Option<String>,
    /// First line of the message, without location, severity or code prefixes.
    pub message: String,
    /// The file, relative to the project root when it lies inside it.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column (converted for tools that print 0-based columns).
    pub column: Option<u32>,
    /// 1-based last line of the primary span.
    pub end_line: Option<u32>,
    /// 1-based column just past the primary span.
    pub end_column: Option<u32>,
    /// The code frame the tool printed, without colors.
    pub snippet: Option<String>,
    /// Stack frames, outermost first.
    pub stack: Vec<StackFrame>,
    /// Replacements the tool printed.
    pub fixits: Vec<Fixit>,
    /// Further lines of the message and attached `note:`/`help:` text.
    pub notes: Vec<String>,
    /// Human advice for this kind of error.
    pub suggestions: Vec<String>,
    /// How sure the parser is that this is a real, correctly located error (0..1).
    pub confidence: f64,
    /// Where in the log it was read.
    pub log_lines: LineRange,
    /// Stable identity across runs and machines: no line numbers, no absolute paths.
    pub fingerprint: String,
}

impl Diagnostic {
    /// Where it is, as tools print it: `file:line:column`, `file:line` or `file`; `None`
    /// without a file.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        Some(match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            (Some(line), None) => format!("{file}:{line}"),
            (None, _) => file.to_string(),
        })
    }

    /// A diagnostic from some of its fields as plain data (a host's own parser's output): the
    /// fields given over those of `Diagnostic::new(tool, …)`. `message` is required.
    ///
    /// ```
    /// let fields = serde_json::json!({"message": "left-pad is GPL", "category": "dependency"});
    /// let d = selfheal::Diagnostic::from_fields(fields, "licenses")?;
    /// assert_eq!((d.tool.as_str(), d.category), ("licenses", selfheal::Category::Dependency));
    /// # Ok::<(), selfheal::Error>(())
    /// ```
    pub fn from_fields(fields: serde_json::Value, tool: &str) -> crate::Result<Self> {
        let serde_json::Value::Object(fields) = fields else {
            return Err(crate::Error::InvalidInput(
                "a diagnostic is an object".into(),
            ));
        };
        if !fields.contains_key("message") {
            return Err(crate::Error::InvalidInput(
                "a diagnostic needs a `message`".into(),
            ));
        }
        let mut diagnostic = serde_json::to_value(Diagnostic::new(tool, ""))
            .map_err(|e| crate::Error::InvalidInput(e.to_string()))?;
        if let serde_json::Value::Object(base) = &mut diagnostic {
            base.extend(fields);
        }
        serde_json::from_value(diagnostic)
            .map_err(|e| crate::Error::InvalidInput(format!("invalid diagnostic: {e}")))
    }

    /// A new error diagnostic of `tool` with `message`; everything else empty or unknown.
    pub fn new(tool: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            tool: tool.into(),
            category: Category::Unknown,
            subcategory: Subcategory::Other,
            severity: Severity::Error,
            code: None,
            message: message.into(),
            file: None,
            line: None,
            column: None,
            end_line: None,
            end_column: None,
            snippet: None,
            stack: Vec::new(),
            fixits: Vec::new(),
            notes: Vec::new(),
            suggestions: Vec::new(),
            confidence: 0.9,
            log_lines: LineRange::default(),
            fingerprint: String::new(),
        }
    }

    /// Sets the category and subcategory.
    pub fn with_class(mut self, category: Category, subcategory: Subcategory) -> Self {
        self.category = category;
        self.subcategory = subcategory;
        self
    }

    /// Sets the severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sets the code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets file, line and column.
    pub fn at(mut self, file: impl Into<String>, line: Option<u32>, column: Option<u32>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self.column = column;
        self
    }

    /// Sets the log lines it came from.
    pub fn from_lines(mut self, start: u32, end: u32) -> Self {
        self.log_lines = LineRange { start, end };
        self
    }

    /// Sets the confidence.
    pub fn with_confidence(mut self, confidence: f64) -> Self {
        self.confidence = confidence.clamp(0.0, 1.0);
        self
    }

    /// True for errors and critical errors.
    pub fn is_error(&self) -> bool {
        self.severity <= Severity::Error
    }

    /// Computes the stable fingerprint from tool, code, file and a normalised message.
    ///
    /// Absolute paths are reduced to their last two components, and numbers, hex addresses and
    /// whitespace runs in the message are normalised, so the same error on another machine, in
    /// another checkout or after lines moved gets the same fingerprint.
    pub fn compute_fingerprint(&self) -> String {
        let mut hash = Fnv64::new();
        hash.field(&self.tool);
        hash.field(self.code.as_deref().unwrap_or(""));
        hash.field(&portable_path(self.file.as_deref().unwrap_or("")));
        hash.field(&normalize_message(&self.message));
        format!("{:016x}", hash.finish())
    }
}

/// A path with machine-specific parts removed: relative paths stay, absolute ones keep their last
/// two components.
fn portable_path(path: &str) -> String {
    let unified = path.replace('\\', "/");
    let is_absolute = unified.starts_with('/')
        || unified.as_bytes().get(1) == Some(&b':')
        || unified.starts_with("file://");
    if !is_absolute {
        return unified.trim_start_matches("./").to_string();
    }
    let parts: Vec<&str> = unified
        .rsplit('/')
        .filter(|p| !p.is_empty())
        .take(2)
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// The message with volatile parts replaced: absolute paths by their file name, digit runs by
/// `N`, `0x…` addresses by `0x`, whitespace runs by one space.
fn normalize_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.char_indices().peekable();
    let mut last_space = false;
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            if !last_space && !out.is_empty() {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        let starts_word = i == 0 || !message[..i].ends_with(|p: char| p.is_alphanumeric());
        if c == '/' && starts_word {
            let end = message[i..]
                .find(|p: char| p.is_whitespace() || "'\"`,;:()[]{}<>‘’".contains(p))
                .map_or(message.len(), |n| i + n);
            let path = &message[i..end];
            if path.len() > 1 && path[1..].contains('/') {
                out.push_str(path.rsplit('/').next().unwrap_or(path));
                while chars.peek().is_some_and(|&(j, _)| j < end) {
                    chars.next();
                }
                continue;
            }
        }
        if c == '0' && starts_word && message[i + 1..].starts_with(['x', 'X']) {
            out.push_str("0x");
            chars.next();
            while chars.peek().is_some_and(|&(_, h)| h.is_ascii_hexdigit()) {
                chars.next();
            }
            continue;
        }
        if c.is_ascii_digit() {
            out.push('N');
            while chars.peek().is_some_and(|&(_, d)| d.is_ascii_digit()) {
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// FNV-1a, 64 bit: tiny, fast and fixed forever, unlike `std`'s hashers.
pub(crate) struct Fnv64(u64);

impl Fnv64 {
    pub(crate) fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    /// Hashes `value` followed by a separator byte that UTF-8 never contains.
    pub(crate) fn field(&mut self, value: &str) {
        for &byte in value.as_bytes() {
            self.byte(byte);
        }
        self.byte(0xff);
    }

    fn byte(&mut self, byte: u8) {
        self.0 ^= u64::from(byte);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_reads_as_tools_print_it() {
        let d = Diagnostic::new("tsc", "x");
        assert_eq!(d.location(), None);
        assert_eq!(
            d.clone().at("a.ts", None, None).location().as_deref(),
            Some("a.ts")
        );
        assert_eq!(
            d.clone().at("a.ts", Some(3), None).location().as_deref(),
            Some("a.ts:3")
        );
        assert_eq!(
            d.at("a.ts", Some(3), Some(7)).location().as_deref(),
            Some("a.ts:3:7")
        );
    }

    #[test]
    fn json_is_snake_case_with_every_field_present() {
        let d = Diagnostic::new("tsc", "Type 'string' is not assignable to type 'number'.")
            .with_class(Category::Type, Subcategory::TypeMismatch)
            .with_code("TS2322")
            .at("src/app.ts", Some(12), Some(3));
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["category"], "type");
        assert_eq!(v["subcategory"], "type_mismatch");
        assert_eq!(v["severity"], "error");
        assert!(v["snippet"].is_null());
        assert!(v["end_line"].is_null());
        assert_eq!(v["log_lines"]["start"], 0);
        let back: Diagnostic = serde_json::from_value(v).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn fingerprint_ignores_lines_and_machine_paths() {
        let a = Diagnostic::new(
            "python",
            "[Errno 13] Permission denied: '/home/ci/app/out/x.txt'",
        )
        .with_code("PermissionError")
        .at("/home/ci/app/src/publish.py", Some(6), None);
        let b = Diagnostic::new(
            "python",
            "[Errno 13] Permission denied: '/srv/build/app/out/x.txt'",
        )
        .with_code("PermissionError")
        .at("/srv/build/app/src/publish.py", Some(60), None);
        assert_eq!(a.compute_fingerprint(), b.compute_fingerprint());
        let other = b.clone().with_code("OSError");
        assert_ne!(a.compute_fingerprint(), other.compute_fingerprint());
    }

    #[test]
    fn fingerprint_keeps_identifiers() {
        let a = Diagnostic::new("tsc", "Cannot find name 'foo'.").at("src/a.ts", Some(1), Some(1));
        let b = Diagnostic::new("tsc", "Cannot find name 'bar'.").at("src/a.ts", Some(1), Some(1));
        assert_ne!(a.compute_fingerprint(), b.compute_fingerprint());
        assert_eq!(a.compute_fingerprint().len(), 16);
    }

    #[test]
    fn message_normalisation() {
        assert_eq!(
            normalize_message("expected 2 arguments,  got 13 at 0x7ffe12 in /a/b/c.rs"),
            "expected N arguments, got N at 0x in c.rs"
        );
        assert_eq!(normalize_message("a/b stays"), "a/b stays");
    }

    #[test]
    fn portable_paths() {
        assert_eq!(portable_path("./src/a.ts"), "src/a.ts");
        assert_eq!(portable_path("/home/x/proj/src/a.ts"), "src/a.ts");
        assert_eq!(portable_path("C:\\proj\\src\\a.ts"), "src/a.ts");
    }

    #[test]
    fn subcategory_names_match_json() {
        for sub in [
            Subcategory::MissingPackage,
            Subcategory::NullUndefined,
            Subcategory::Other,
        ] {
            assert_eq!(serde_json::to_value(sub).unwrap(), sub.as_str());
        }
    }

    #[test]
    fn category_round_trips_through_str() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
        }
        assert!("nope".parse::<Category>().is_err());
    }
}

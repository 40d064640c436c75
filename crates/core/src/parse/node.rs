//! Node.js crashes: uncaught exceptions (CommonJS and ESM), unhandled rejections, module
//! resolution failures and V8 heap exhaustion.
//!
//! ```text
//! /app/server.js:4                                   <- where it was thrown (optional)
//!   return data.items.map((u) => u.name);
//!                     ^
//!
//! TypeError: Cannot read properties of undefined (reading 'map')
//!     at names (/app/server.js:4:21)                 <- V8 stack
//!     at Object.<anonymous> (/app/server.js:7:13) {
//!   code: 'ERR_X'                                    <- error properties (optional)
//! }
//!
//! Node.js v20.20.2
//! ```
//!
//! The location is the top frame of the stack inside the project (not `node:` internals or
//! `node_modules`), else the thrown-at header; an ESM "imported from `<file>`" names the file.

use super::classify::{self, lazy_regex};
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Severity, StackFrame, Subcategory};

builtin_parser! {
    /// Parses Node.js crash output.
    Node, "node", NodeSession,
    ["Error", "Exception", "Rejection", "FATAL ERROR", ".js:", ".mjs:", ".cjs:", ".ts:", ".tsx:", ".jsx:", "node:"]
}

#[derive(Debug, Default)]
struct NodeSession {
    state: State,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    /// After `file:line`: the source line and caret come before the error.
    Header {
        location: (String, u32),
        first_line: u32,
        seen: u8,
        caret: bool,
    },
    /// Reading an error: message continuation, stack, properties.
    Crash(Box<Crash>),
}

#[derive(Debug)]
struct Crash {
    diagnostic: Diagnostic,
    header: Option<(String, u32)>,
    frames: Vec<StackFrame>,
    /// An error line without a thrown-at header is only believed once a stack frame follows.
    confirmed: bool,
    /// Depth inside the `{ code: 'X', … }` block printed after the stack.
    property_depth: u32,
    after_frames: bool,
    message_lines: u8,
    class: String,
    property_code: Option<String>,
    bracket_code: Option<String>,
}

impl ParserSession for NodeSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        // `node --test` prints a crashed test file's stderr as TAP comments.
        let text = line.text();
        let text = text.strip_prefix("# ").unwrap_or(text);
        let n = line.number();
        match std::mem::take(&mut self.state) {
            State::Idle => self.start(text, n, out),
            State::Header {
                location,
                first_line,
                seen,
                caret,
            } => {
                if caret {
                    if let Some(crash) = error_line(text, Some(location.clone()), first_line) {
                        self.state = State::Crash(Box::new(crash));
                        return true;
                    }
                    if text.trim().is_empty() && seen < 6 {
                        self.state = State::Header {
                            location,
                            first_line,
                            seen: seen + 1,
                            caret,
                        };
                        return true;
                    }
                    return self.start(text, n, out);
                }
                if seen >= 4 {
                    return self.start(text, n, out);
                }
                let caret = lazy_regex!(r"^\s*\^+\s*$").is_match(text);
                self.state = State::Header {
                    location,
                    first_line,
                    seen: seen + 1,
                    caret,
                };
                true
            }
            State::Crash(mut crash) => match crash_continuation(&mut crash, text) {
                Some(claimed) => {
                    if claimed {
                        crash.diagnostic.log_lines.end = n;
                    }
                    self.state = State::Crash(crash);
                    claimed
                }
                None => {
                    if crash.confirmed {
                        out.emit(finish_crash(*crash));
                    }
                    self.start(text, n, out)
                }
            },
        }
    }

    fn busy(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    fn finish(&mut self, out: &mut Sink) {
        if let State::Crash(crash) = std::mem::take(&mut self.state)
            && crash.confirmed
        {
            out.emit(finish_crash(*crash));
        }
    }
}

impl NodeSession {
    fn start(&mut self, text: &str, n: u32, out: &mut Sink) -> bool {
        if let Some(message) = text.strip_prefix("FATAL ERROR: ") {
            let (category, subcategory) = classify::by_message(message)
                .unwrap_or((Category::Resource, Subcategory::OutOfMemory));
            out.emit(
                Diagnostic::new("node", message.trim())
                    .with_class(category, subcategory)
                    .with_severity(Severity::Critical)
                    .from_lines(n, n)
                    .with_confidence(0.95),
            );
            return true;
        }
        if let Some(caps) = lazy_regex!(
            r"^(?P<file>(?:file://)?(?:/|[A-Za-z]:\\|\./)\S*?\.[cm]?[jt]sx?|node:[\w/.-]+):(?P<line>\d+)$"
        )
        .captures(text)
        {
            let line = number(caps.name("line")).unwrap_or(0);
            self.state = State::Header {
                location: (caps["file"].to_string(), line),
                first_line: n,
                seen: 0,
                caret: false,
            };
            return true;
        }
        if let Some(crash) = error_line(text, None, n) {
            self.state = State::Crash(Box::new(crash));
            return true;
        }
        false
    }
}

/// `TypeError: x`, `Error [ERR_X]: x`, `[UnhandledPromiseRejection: x]`.
fn error_line(text: &str, header: Option<(String, u32)>, first_line: u32) -> Option<Crash> {
    let caps = lazy_regex!(
        r"^(?P<indent>\s*)(?:Uncaught )?\[?(?P<class>[A-Z][\w$.]*)(?: \[(?P<tag>[\w$.]+)\])?: (?P<msg>.*?)\]?(?: \{)?$"
    )
    .captures(text)?;
    let class = caps["class"].to_string();
    let looks_like_error = lazy_regex!(r"(Error|Exception|Rejection)$").is_match(&class);
    // Indented errors are printed by test runners (node:test, mocha); they are always followed
    // by a stack.
    if (header.is_none() || !caps["indent"].is_empty()) && !looks_like_error {
        return None;
    }
    let code = caps
        .name("tag")
        .map(|t| t.as_str())
        .filter(|t| lazy_regex!(r"^[A-Z][A-Z0-9_]+$").is_match(t));
    let confirmed = header.is_some();
    let diagnostic = Diagnostic::new("node", caps["msg"].trim()).from_lines(first_line, first_line);
    Some(Crash {
        diagnostic,
        header,
        frames: Vec::new(),
        confirmed,
        property_depth: u32::from(text.ends_with(" {")),
        after_frames: false,
        message_lines: 0,
        class,
        property_code: None,
        bracket_code: code.map(str::to_string),
    })
}

/// Whether `text` continues the error being read: `Some(true)` it does, `Some(false)` it may (a
/// message line of an error not yet confirmed by a stack frame: watched, not claimed), `None`
/// the error has ended.
fn crash_continuation(crash: &mut Crash, text: &str) -> Option<bool> {
    if crash.property_depth > 0 {
        let trimmed = text.trim();
        if trimmed.starts_with('}') {
            crash.property_depth -= 1;
        } else if trimmed.ends_with('{') {
            crash.property_depth += 1;
        } else if crash.property_depth == 1
            && let Some(caps) = lazy_regex!(r"^\s+code: '([^']+)'").captures(text)
        {
            crash.property_code = Some(caps[1].to_string());
        }
        return Some(true);
    }
    if let Some(caps) = lazy_regex!(
        r"^\s+at (?:(?:async |new )?(?P<func>.+?) \((?P<loc>.+)\)|(?P<bare>.+?))(?: \{)?$"
    )
    .captures(text)
    {
        crash.confirmed = true;
        crash.after_frames = true;
        crash.property_depth = u32::from(text.ends_with(" {"));
        let location = caps
            .name("loc")
            .or(caps.name("bare"))
            .map_or("", |m| m.as_str());
        if let Some(loc) =
            lazy_regex!(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)$").captures(location)
            && crash.frames.len() < 64
        {
            crash.frames.push(StackFrame {
                file: Some(loc["file"].to_string()),
                line: number(loc.name("line")),
                column: number(loc.name("col")),
                function: caps.name("func").map(|f| f.as_str().to_string()),
            });
        }
        return Some(true);
    }
    if text.starts_with("Emitted 'error' event on ") {
        // The stack of the emitter follows, then the error's properties.
        return Some(true);
    }
    if text.starts_with("Node.js v") {
        crash.after_frames = true;
        return Some(true);
    }
    if crash.after_frames {
        let trailing = text.trim().is_empty() || text.trim_start().starts_with("... ");
        return trailing.then_some(true);
    }
    if text == "Require stack:" || (text.starts_with("- ") && crash.confirmed) {
        crash.confirmed = true;
        return Some(true);
    }
    crash.message_lines += 1;
    if crash.message_lines > 12 {
        return None;
    }
    // Message continuation before the stack (multi-line assertion messages).
    if !text.trim().is_empty() && crash.diagnostic.notes.len() < 20 {
        crash.diagnostic.notes.push(text.trim().to_string());
    }
    Some(crash.confirmed)
}

fn is_user_file(path: &str) -> bool {
    !(path.starts_with("node:")
        || path.starts_with("internal/")
        || path.contains("/node_modules/")
        || path == "native"
        || path.starts_with('<'))
}

fn finish_crash(crash: Crash) -> Diagnostic {
    let Crash {
        mut diagnostic,
        header,
        frames,
        class,
        property_code,
        bracket_code,
        ..
    } = crash;
    let imported_from = lazy_regex!(r"imported from (\S+?)\.?$")
        .captures(&diagnostic.message)
        .map(|c| c[1].to_string());
    // A file that does not compile: the thrown-at header is the error, the stack is the loader
    // and whoever required the file.
    let compile_error = class == "SyntaxError"
        && !diagnostic.message.contains("JSON")
        && header.as_ref().is_some_and(|(f, _)| is_user_file(f));
    if let Some(file) = imported_from {
        diagnostic.file = Some(file);
    } else if let (true, Some((file, line))) = (compile_error, header.clone()) {
        diagnostic.file = Some(file);
        diagnostic.line = Some(line);
    } else if let Some(frame) = frames
        .iter()
        .find(|f| f.file.as_deref().is_some_and(is_user_file))
    {
        diagnostic.file.clone_from(&frame.file);
        diagnostic.line = frame.line;
        diagnostic.column = frame.column;
    } else if let Some((file, line)) = header.filter(|(f, _)| is_user_file(f)) {
        diagnostic.file = Some(file);
        diagnostic.line = Some(line);
    }
    diagnostic.stack = frames.into_iter().rev().collect();
    let code = property_code
        .or(bracket_code)
        .unwrap_or_else(|| class.clone());
    let (category, subcategory) = classify(&class, &code, &diagnostic.message);
    diagnostic.code = Some(code);
    diagnostic.category = category;
    diagnostic.subcategory = subcategory;
    diagnostic.confidence = if diagnostic.file.is_some() {
        0.95
    } else {
        0.85
    };
    diagnostic
}

fn classify(class: &str, code: &str, message: &str) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    if matches!(code, "MODULE_NOT_FOUND" | "ERR_MODULE_NOT_FOUND")
        || message.starts_with("Cannot find module")
        || message.starts_with("Cannot find package")
    {
        return (C::Dependency, S::MissingPackage);
    }
    if message.contains("does not provide an export named") {
        return (C::Type, S::MissingExport);
    }
    if code.starts_with("ERR_REQUIRE_")
        || matches!(
            code,
            "ERR_UNKNOWN_FILE_EXTENSION" | "ERR_IMPORT_ATTRIBUTE_MISSING"
        )
        || message.contains("Cannot use import statement outside a module")
        || message.contains("require is not defined in ES module scope")
    {
        return (C::Configuration, S::Other);
    }
    if code == "ERR_ASSERTION" || class == "AssertionError" {
        return (C::Runtime, S::TestFailure);
    }
    if code == "EADDRINUSE" {
        return (C::Configuration, S::Other);
    }
    if class == "SyntaxError" && !message.contains("JSON") {
        let sub = if message.contains("end of input") {
            S::UnexpectedEof
        } else {
            S::UnexpectedToken
        };
        return (C::Syntax, sub);
    }
    if let Some(class) = classify::by_message(&format!("{code} {message}")) {
        if class.0 != C::Runtime {
            return class;
        }
        return (C::Runtime, class.1);
    }
    if class == "ReferenceError" {
        return (C::Runtime, S::UndefinedName);
    }
    if message.contains("of undefined") || message.contains("of null") {
        return (C::Runtime, S::NullUndefined);
    }
    (C::Runtime, S::Exception)
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, Subcategory};

    #[test]
    fn top_user_frame_and_property_code() {
        let log = "node:fs:1386\n  const result = binding.mkdir(\n                         ^\n\nError: EACCES: permission denied, mkdir '/opt/releases/web'\n    at Object.mkdirSync (node:fs:1386:26)\n    at emit (/app/emit.js:5:6)\n    at Object.<anonymous> (/app/emit.js:9:1) {\n  errno: -13,\n  code: 'EACCES',\n  syscall: 'mkdir'\n}\n\nNode.js v20.20.2\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert_eq!(
            (d.file.as_deref(), d.line, d.column),
            (Some("/app/emit.js"), Some(5), Some(6))
        );
        assert_eq!(d.code.as_deref(), Some("EACCES"));
        assert_eq!(d.subcategory, Subcategory::PermissionDenied);
        assert_eq!(d.stack.len(), 3);
    }

    #[test]
    fn header_location_when_no_user_frame() {
        let log = "/app/hook.js:6\n    throw err;\n    ^\n\nError: getaddrinfo ENOTFOUND hooks.internal\n    at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:122:26) {\n  code: 'ENOTFOUND'\n}\n";
        let d = &parse(log)[0];
        assert_eq!(
            (d.file.as_deref(), d.line, d.column),
            (Some("/app/hook.js"), Some(6), None)
        );
        assert_eq!(d.category, Category::Network);
    }

    #[test]
    fn esm_errors() {
        let log = "file:///app/src/main.js:1\nimport { add, subtract } from \"./lib.js\";\n              ^^^^^^^^\nSyntaxError: The requested module './lib.js' does not provide an export named 'subtract'\n    at ModuleJob._instantiate (node:internal/modules/esm/module_job:213:21)\n\nnode:internal/modules/esm/resolve:854\n  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);\n        ^\n\nError [ERR_MODULE_NOT_FOUND]: Cannot find package 'express' imported from /app/src/index.js\n    at packageResolve (node:internal/modules/esm/resolve:854:9) {\n  code: 'ERR_MODULE_NOT_FOUND'\n}\n";
        let found = parse(log);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].category, Category::Dependency);
        assert_eq!(found[0].file.as_deref(), Some("/app/src/index.js"));
        assert_eq!(found[0].line, None);
        assert_eq!(found[1].subcategory, Subcategory::MissingExport);
        assert_eq!(found[1].file.as_deref(), Some("/app/src/main.js"));
    }

    #[test]
    fn heap_exhaustion_and_unconfirmed_errors() {
        let log = "<--- JS stacktrace --->\n\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n 1: 0xb78db3 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]\nTypeError: this is just a log line\nall good\n";
        let found = parse(log);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subcategory, Subcategory::OutOfMemory);
    }

    #[test]
    fn multi_line_assertion_message() {
        let log = "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n\n'--a--' !== 'a'\n\n    at Object.<anonymous> (/app/test/run.js:5:8)\n    at Module._compile (node:internal/modules/cjs/loader:1521:14) {\n  code: 'ERR_ASSERTION'\n}\n";
        let d = &parse(log)[0];
        assert_eq!(d.code.as_deref(), Some("ERR_ASSERTION"));
        assert_eq!(d.notes, ["'--a--' !== 'a'"]);
        assert_eq!((d.line, d.column), (Some(5), Some(8)));
    }
}

//! JavaScript test runners whose failure reports are not plain Node crashes: Jest, Vitest and
//! TAP (`node --test` when not on a terminal). Mocha and node:test's terminal reporter print
//! Node errors with stacks, which the Node parser reads.
//!
//! ```text
//!   ● cart › adds numbers                                  Jest
//!     expect(received).toBe(expected)
//!       at Object.toBe (src/sum.test.js:4:21)
//!  FAIL  src/sum.test.ts > adds numbers                    Vitest
//! AssertionError: expected 3 to be 4
//!  ❯ src/sum.test.ts:4:21
//! not ok 1 - adds numbers                                  TAP
//!   ---
//!   stack: |-
//!     TestContext.<anonymous> (/app/test/sum.test.js:5:10)
//! ```
//!
//! Each failing test is one diagnostic at the innermost stack frame inside the project.

use super::classify::lazy_regex;
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, StackFrame, Subcategory};

fn is_user_file(path: &str) -> bool {
    !(path.starts_with("node:")
        || path.starts_with("internal/")
        || path.contains("node_modules/")
        || path.starts_with('<'))
}

/// A stack location `file:line:col`, possibly inside `(…)` after a function name.
fn frame(function: Option<&str>, location: &str) -> Option<StackFrame> {
    let caps = lazy_regex!(r"^(?:file://)?(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)$")
        .captures(location)?;
    Some(StackFrame {
        file: Some(caps["file"].to_string()),
        line: number(caps.name("line")),
        column: number(caps.name("col")),
        function: function.map(str::to_string),
    })
}

/// A failure of one test, assembled by any of the runners.
#[derive(Debug, Default)]
struct Failure {
    test: Option<String>,
    suite_file: Option<String>,
    message: Option<String>,
    class: Option<String>,
    code: Option<String>,
    location: Option<StackFrame>,
    frames: Vec<StackFrame>,
    notes: Vec<String>,
    snippet: Vec<String>,
    first_line: u32,
    last_line: u32,
}

impl Failure {
    fn new(test: Option<String>, first_line: u32) -> Self {
        Failure {
            test,
            first_line,
            last_line: first_line,
            ..Failure::default()
        }
    }

    /// Records a stack frame (`file:line:col` after an optional function name).
    fn push_frame(&mut self, function: Option<&str>, location: &str) {
        if let Some(f) = frame(function, location)
            && self.frames.len() < 64
        {
            self.frames.push(f);
        }
    }

    /// Takes the first message line; `Class: message` names the error class.
    fn message_line(&mut self, text: &str) {
        let text = text.trim();
        if self.message.is_some() {
            if self.notes.len() < 12 {
                self.notes.push(text.to_string());
            }
            return;
        }
        match lazy_regex!(
            r"^(?P<class>[A-Z][\w$.]*)(?: \[(?P<code>[A-Z][A-Z0-9_]+)\])?: (?P<msg>.*)$"
        )
        .captures(text)
        {
            Some(caps) => {
                self.class = Some(caps["class"].to_string());
                self.code = caps.name("code").map(|c| c.as_str().to_string());
                self.message = Some(caps["msg"].to_string());
            }
            None => self.message = Some(text.to_string()),
        }
    }

    fn into_diagnostic(self, tool: &str) -> Option<Diagnostic> {
        let message = self.message.filter(|m| !m.is_empty())?;
        let location = self
            .frames
            .iter()
            .find(|f| f.file.as_deref().is_some_and(is_user_file))
            .cloned()
            .or(self.location);
        let mut d = Diagnostic::new(tool, message)
            .from_lines(self.first_line, self.last_line)
            .with_confidence(0.9);
        match location {
            Some(frame) => {
                d.file = frame.file;
                d.line = frame.line;
                d.column = frame.column;
            }
            None => d.file = self.suite_file,
        }
        d.code = self.code.or(self.class.clone());
        (d.category, d.subcategory) = classify(self.class.as_deref(), &d.message);
        d.stack = self.frames.into_iter().rev().collect();
        if let Some(test) = self.test {
            d.notes.push(format!("test: {test}"));
        }
        d.notes.extend(self.notes);
        if !self.snippet.is_empty() {
            d.snippet = Some(self.snippet.join("\n"));
        }
        Some(d)
    }
}

fn classify(class: Option<&str>, message: &str) -> (Category, Subcategory) {
    if lazy_regex!(r"Cannot find module|Cannot find package|Failed to (?:load url|resolve import)")
        .is_match(message)
    {
        return (Category::Dependency, Subcategory::MissingPackage);
    }
    match class {
        Some("SyntaxError") if !message.contains("JSON") => {
            (Category::Syntax, Subcategory::UnexpectedToken)
        }
        Some("AssertionError") | None => (Category::Runtime, Subcategory::TestFailure),
        Some("ReferenceError") => (Category::Runtime, Subcategory::UndefinedName),
        Some(_) if message.contains("of undefined") || message.contains("of null") => {
            (Category::Runtime, Subcategory::NullUndefined)
        }
        Some(_) => (Category::Runtime, Subcategory::Exception),
    }
}

builtin_parser! {
    /// Parses Jest failure reports.
    Jest, "jest", JestSession,
    ["FAIL", "●"]
}

#[derive(Debug, Default)]
struct JestSession {
    suite: Option<String>,
    open: Option<Failure>,
}

impl ParserSession for JestSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(caps) = lazy_regex!(r"^\s*FAIL\s+(?P<file>\S+)\s*(?:\(\d.*\))?$").captures(text)
        {
            self.close(out);
            self.suite = Some(caps["file"].to_string());
            return true;
        }
        if let Some(caps) = lazy_regex!(r"^\s*● (?P<name>.+)$").captures(text) {
            self.close(out);
            let name = caps["name"].trim();
            if name == "Console" || self.suite.is_none() {
                return false;
            }
            let mut failure = Failure::new(Some(name.to_string()), n);
            failure.suite_file.clone_from(&self.suite);
            self.open = Some(failure);
            return true;
        }
        let Some(failure) = self.open.as_mut() else {
            return false;
        };
        if lazy_regex!(r"^(Test Suites|Tests|Snapshots|Time):|^\s*(PASS|FAIL)\s").is_match(text)
            || (!text.is_empty() && !text.starts_with([' ', '\t']))
        {
            self.close(out);
            return false;
        }
        failure.last_line = n;
        if text.trim().is_empty() {
            return true;
        }
        if let Some(caps) =
            lazy_regex!(r"^\s+at (?:(?P<func>.+?) \((?P<loc>[^()]+)\)|(?P<bare>\S+))$")
                .captures(text)
        {
            let location = caps
                .name("loc")
                .or(caps.name("bare"))
                .map_or("", |m| m.as_str());
            failure.push_frame(caps.name("func").map(|f| f.as_str()), location);
            return true;
        }
        if lazy_regex!(r"^\s*>?\s*\d+ \||^\s+\|").is_match(text) {
            if failure.snippet.len() < 20 {
                failure.snippet.push(text.trim_end().to_string());
            }
            return true;
        }
        failure.message_line(text);
        // Babel reports the position of a syntax error in the message itself.
        if let Some(caps) =
            lazy_regex!(r"^\s*SyntaxError: (?P<file>[^:]+): .*\((?P<line>\d+):(?P<col>\d+)\)$")
                .captures(text)
        {
            failure.location = Some(StackFrame {
                file: Some(caps["file"].to_string()),
                line: number(caps.name("line")),
                column: number(caps.name("col")).map(|c| c.saturating_add(1)),
                function: None,
            });
        }
        true
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

impl JestSession {
    fn close(&mut self, out: &mut Sink) {
        if let Some(d) = self.open.take().and_then(|f| f.into_diagnostic("jest")) {
            out.emit(d);
        }
    }
}

/// The longest one Vitest failure report runs before its `⎯⎯⎯` separator.
const VITEST_REPORT_LINES: u32 = 200;

builtin_parser! {
    /// Parses Vitest failure reports.
    Vitest, "vitest", VitestSession,
    ["FAIL"]
}

#[derive(Debug, Default)]
struct VitestSession {
    open: Option<Failure>,
}

impl ParserSession for VitestSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(caps) =
            lazy_regex!(r"^\s*FAIL\s+(?P<file>\S+) (?:> (?P<name>.+)|\[ .+ \])$").captures(text)
        {
            self.close(out);
            let mut failure = Failure::new(caps.name("name").map(|m| m.as_str().to_string()), n);
            failure.suite_file = Some(caps["file"].to_string());
            self.open = Some(failure);
            return true;
        }
        let Some(failure) = self.open.as_mut() else {
            return false;
        };
        if lazy_regex!(r"^\s*⎯{3,}|^\s*Test Files\s").is_match(text) {
            self.close(out);
            return true;
        }
        if n.saturating_sub(failure.first_line) > VITEST_REPORT_LINES {
            self.close(out);
            return false;
        }
        failure.last_line = n;
        if text.trim().is_empty() {
            return true;
        }
        if let Some(caps) =
            lazy_regex!(r"^\s*❯ (?:(?P<func>\S+) )?(?P<loc>\S+:\d+:\d+)$").captures(text)
        {
            failure.push_frame(caps.name("func").map(|f| f.as_str()), &caps["loc"]);
            return true;
        }
        if lazy_regex!(r"^\s+\d+\s*\||^\s+\|").is_match(text) {
            if failure.snippet.len() < 20 {
                failure.snippet.push(text.trim_end().to_string());
            }
            return true;
        }
        failure.message_line(text);
        true
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

impl VitestSession {
    fn close(&mut self, out: &mut Sink) {
        if let Some(d) = self.open.take().and_then(|f| f.into_diagnostic("vitest")) {
            out.emit(d);
        }
    }
}

builtin_parser! {
    /// Parses TAP failures with YAML diagnostics (`node --test`, tap, tape).
    Tap, "tap", TapSession,
    ["not ok"]
}

#[derive(Debug, Default)]
struct TapSession {
    open: Option<TapFailure>,
}

#[derive(Debug)]
struct TapFailure {
    failure: Failure,
    /// Indentation of the YAML block (its `---`), once it has started.
    yaml_indent: Option<usize>,
    /// The YAML key whose block scalar (`|-`) is being read.
    block_key: Option<String>,
    name: Option<String>,
    failure_type: Option<String>,
}

impl ParserSession for TapSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(caps) = lazy_regex!(
            r"^\s*not ok \d+(?: - (?P<name>.*?))?(?P<directive> # (?i:todo|skip)\b.*)?$"
        )
        .captures(text)
        {
            self.close(out);
            if caps.name("directive").is_some() {
                return true;
            }
            let test = caps.name("name").map(|m| m.as_str().to_string());
            self.open = Some(TapFailure {
                failure: Failure::new(test, n),
                yaml_indent: None,
                block_key: None,
                name: None,
                failure_type: None,
            });
            return true;
        }
        let Some(open) = self.open.as_mut() else {
            return false;
        };
        let trimmed = text.trim();
        let indent = text.len() - text.trim_start().len();
        let Some(yaml_indent) = open.yaml_indent else {
            if trimmed == "---" {
                open.yaml_indent = Some(indent);
                return true;
            }
            self.close(out);
            return false;
        };
        if indent < yaml_indent && !trimmed.is_empty() {
            // The YAML block was never closed.
            self.close(out);
            return false;
        }
        open.failure.last_line = n;
        if trimmed == "..." && indent == yaml_indent {
            self.close(out);
            return true;
        }
        if indent == yaml_indent
            && let Some(caps) =
                lazy_regex!(r"^\s*(?P<key>[A-Za-z_]\w*): ?(?P<value>.*)$").captures(text)
        {
            open.key_value(&caps["key"], caps["value"].trim());
            return true;
        }
        if let Some(key) = open.block_key.clone() {
            open.block_line(&key, trimmed);
        }
        true
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

impl TapFailure {
    fn key_value(&mut self, key: &str, value: &str) {
        let unquoted = value.trim_matches('\'').trim_matches('"');
        self.block_key = None;
        match key {
            "error" if value.starts_with('|') => self.block_key = Some(key.to_string()),
            "error" => self.failure.message_line(unquoted),
            "stack" if value.starts_with('|') => self.block_key = Some(key.to_string()),
            "code" if unquoted != "ERR_TEST_FAILURE" => {
                self.failure.code = Some(unquoted.to_string())
            }
            "name" => self.name = Some(unquoted.to_string()),
            "failureType" => self.failure_type = Some(unquoted.to_string()),
            "location" => self.failure.location = frame(None, unquoted),
            _ => {}
        }
    }

    fn block_line(&mut self, key: &str, text: &str) {
        match key {
            "error" if !text.is_empty() => {
                if self.failure.message.is_none() {
                    self.failure.message = Some(text.to_string());
                } else if self.failure.notes.len() < 12 {
                    self.failure.notes.push(text.to_string());
                }
            }
            "stack" => {
                let caps = lazy_regex!(r"^(?:(?P<func>.+?) \((?P<loc>[^()]+)\)|(?P<bare>\S+))$")
                    .captures(text);
                if let Some(caps) = caps {
                    let location = caps
                        .name("loc")
                        .or(caps.name("bare"))
                        .map_or("", |m| m.as_str());
                    self.failure
                        .push_frame(caps.name("func").map(|f| f.as_str()), location);
                }
            }
            _ => {}
        }
    }
}

impl TapSession {
    fn close(&mut self, out: &mut Sink) {
        let Some(open) = self.open.take() else {
            return;
        };
        // A parent test fails because its subtests did; those are reported themselves.
        if open.failure_type.as_deref() == Some("subtestsFailed") {
            return;
        }
        let mut failure = open.failure;
        if failure.class.is_none() {
            failure.class = open.name;
        }
        if let Some(d) = failure.into_diagnostic("node") {
            out.emit(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, Subcategory};

    #[test]
    fn jest_failures_at_the_innermost_project_frame() {
        let log = "FAIL test/sum.test.js\n  ✕ adds numbers (4 ms)\n\n  ● adds numbers\n\n    expect(received).toBe(expected) // Object.is equality\n\n    Expected: 3\n    Received: -1\n\n    > 5 |   expect(sum(1, 2)).toBe(3);\n        |                     ^\n\n      at Object.toBe (test/sum.test.js:5:21)\n\n  ● parses values\n\n    TypeError: JSON.parse(...).value.trim is not a function\n\n      at trim (src/sum.js:5:30)\n      at Object.parse (test/sum.test.js:8:22)\n\nTest Suites: 1 failed, 1 total\n";
        let found = parse(log);
        assert_eq!(found.len(), 2, "{found:#?}");
        let assertion = found
            .iter()
            .find(|d| d.subcategory == Subcategory::TestFailure)
            .unwrap();
        assert_eq!(
            (assertion.file.as_deref(), assertion.line, assertion.column),
            (Some("test/sum.test.js"), Some(5), Some(21))
        );
        assert_eq!(
            assertion.notes[..2],
            ["test: adds numbers".to_string(), "Expected: 3".to_string()]
        );
        let type_error = found
            .iter()
            .find(|d| d.code.as_deref() == Some("TypeError"))
            .unwrap();
        assert_eq!(
            (type_error.file.as_deref(), type_error.line),
            (Some("src/sum.js"), Some(5))
        );
    }

    #[test]
    fn vitest_failures() {
        let log = " FAIL  vt/sum.test.js > adds numbers\nAssertionError: expected -1 to be 3 // Object.is equality\n\n- Expected\n+ Received\n\n ❯ vt/sum.test.js:4:21\n      4|   expect(sum(1, 2)).toBe(3);\n       |                     ^\n\n⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/2]⎯\n\n FAIL  vt/sum.test.js > parses values\nTypeError: JSON.parse(...).value.trim is not a function\n ❯ parse src/sum.js:5:30\n ❯ vt/sum.test.js:7:15\n\n⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[2/2]⎯\n";
        let found = parse(log);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found
                .iter()
                .any(|d| d.file.as_deref() == Some("src/sum.js") && d.line == Some(5))
        );
        assert!(
            found
                .iter()
                .any(|d| d.message == "expected -1 to be 3 // Object.is equality"
                    && d.column == Some(21))
        );
    }

    #[test]
    fn tap_failures_from_node_test() {
        let log = "TAP version 13\n# Subtest: adds numbers\nnot ok 1 - adds numbers\n  ---\n  duration_ms: 3.6\n  location: '/app/test/sum.test.js:4:1'\n  failureType: 'testCodeFailure'\n  error: |-\n    Expected values to be strictly equal:\n    \n    -1 !== 3\n    \n  code: 'ERR_ASSERTION'\n  name: 'AssertionError'\n  stack: |-\n    TestContext.<anonymous> (/app/test/sum.test.js:5:10)\n    Test.runInAsyncScope (node:async_hooks:206:9)\n  ...\n# Subtest: parses values\nnot ok 2 - parses values\n  ---\n  location: '/app/test/sum.test.js:7:1'\n  error: 'JSON.parse(...).value.trim is not a function'\n  code: 'ERR_TEST_FAILURE'\n  name: 'TypeError'\n  stack: |-\n    parse (/app/src/sum.js:5:30)\n  ...\nnot ok 3 - skipped one # SKIP\n1..3\n";
        let found = parse(log);
        assert_eq!(found.len(), 2, "{found:#?}");
        let assertion = found
            .iter()
            .find(|d| d.code.as_deref() == Some("ERR_ASSERTION"))
            .unwrap();
        assert_eq!((assertion.line, assertion.column), (Some(5), Some(10)));
        assert_eq!(assertion.message, "Expected values to be strictly equal:");
        let type_error = found
            .iter()
            .find(|d| d.code.as_deref() == Some("TypeError"))
            .unwrap();
        assert_eq!(
            (type_error.file.as_deref(), type_error.line),
            (Some("/app/src/sum.js"), Some(5))
        );
        assert_eq!(type_error.category, Category::Runtime);
    }
}

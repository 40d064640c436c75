//! pytest: failures, collection errors and fixture errors, in every `--tb` style.
//!
//! ```text
//! =================================== FAILURES ===================================
//! _______________________________ test_ratio_zero ________________________________
//! >       return a / b
//! E       ZeroDivisionError: division by zero
//!
//! src/calc/ops.py:6: ZeroDivisionError
//! =========================== short test summary info ============================
//! FAILED tests/test_ops.py::test_ratio_zero - ZeroDivisionError: division by zero
//! ```
//!
//! Each failure is reported once, at pytest's crash location (the last location line of its
//! block). Summary lines only add failures whose details were not printed (`--tb=no`).

use super::classify::lazy_regex;
use super::python::classify_exception;
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Subcategory};

builtin_parser! {
    /// Parses pytest output.
    Pytest, "pytest", PytestSession,
    ["FAILURES", "ERRORS", "FAILED", "ERROR", "test session starts"]
}

#[derive(Debug, Default)]
struct PytestSession {
    region: Region,
    block: Option<Block>,
    /// Names of tests (and collected files) whose failure was reported in detail.
    detailed: Vec<String>,
    /// The exception class and message of each failure reported in detail: `--tb=line`
    /// prints no test names, and a summary entry is the same failure cut short.
    detailed_errors: Vec<(Option<String>, String)>,
    /// Summary entries: (node id, exception class, message, log line).
    summary: Vec<(String, Option<String>, String, u32)>,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum Region {
    #[default]
    Outside,
    Failures,
    Summary,
}

#[derive(Debug, Default)]
struct Block {
    name: Option<String>,
    first_line: u32,
    last_line: u32,
    location: Option<(String, Option<u32>, String)>,
    error_lines: Vec<String>,
    /// The `E` lines as printed after the `E`, their alignment kept (a caret under code).
    printed_error_lines: Vec<String>,
    in_captured_output: bool,
    frames: Vec<crate::StackFrame>,
    /// `--tb=native`: frames are `File "x", line N` and the exception line has no `E` prefix.
    native: bool,
    native_exception: Option<String>,
}

impl ParserSession for PytestSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(title) = banner(text) {
            self.close_block(out);
            if title == "FAILURES" || title == "ERRORS" {
                self.region = Region::Failures;
                return true;
            }
            if title == "short test summary info" {
                self.region = Region::Summary;
                return true;
            }
            if title.contains("test session starts") {
                // Another run: what the last one reported in detail says nothing of this one.
                self.end_run(out);
                self.detailed.clear();
                self.detailed_errors.clear();
                return true;
            }
            let was_inside = self.region != Region::Outside;
            if was_inside {
                self.end_run(out);
            }
            return was_inside;
        }
        match self.region {
            Region::Failures => self.failure_line(text, n, out),
            Region::Summary => {
                if let Some(entry) = summary_entry(text, n) {
                    self.summary.push(entry);
                    return true;
                }
                // Continuation lines of multi-line summary messages; anything else (`-q` prints
                // its totals without a banner) ends the run.
                if text.starts_with("  ") || text.trim().is_empty() {
                    return true;
                }
                self.end_run(out);
                false
            }
            Region::Outside => match summary_entry(text, n) {
                // `-q --tb=no`/`-r` output without a summary banner.
                Some(entry) if text.contains("::") => {
                    self.summary.push(entry);
                    true
                }
                _ => false,
            },
        }
    }

    fn busy(&self) -> bool {
        self.region != Region::Outside
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close_block(out);
        self.end_run(out);
    }
}

/// The title of a `=== title ===` banner.
fn banner(text: &str) -> Option<&str> {
    let caps = lazy_regex!(r"^={3,} (.+?) ={3,}$").captures(text)?;
    Some(caps.get(1)?.as_str())
}

fn summary_entry(text: &str, n: u32) -> Option<(String, Option<String>, String, u32)> {
    let caps = lazy_regex!(r"^(?:FAILED|ERROR) (?P<id>\S+)(?: - (?P<rest>.*))?$").captures(text)?;
    let rest = caps.name("rest").map_or("", |m| m.as_str());
    let (class, message) = split_exception(rest);
    Some((caps["id"].to_string(), class, message, n))
}

/// `ZeroDivisionError: division by zero` → (class, message); anything else is all message.
fn split_exception(text: &str) -> (Option<String>, String) {
    match lazy_regex!(r"^(?P<class>[A-Za-z_][\w.]*)(?: \[[^\]]*\])?: (?P<msg>.*)$").captures(text) {
        Some(caps) => {
            let class = caps["class"]
                .rsplit('.')
                .next()
                .unwrap_or(&caps["class"])
                .to_string();
            (Some(class), caps["msg"].trim().to_string())
        }
        None => (None, text.trim().to_string()),
    }
}

impl PytestSession {
    fn failure_line(&mut self, text: &str, n: u32, out: &mut Sink) -> bool {
        if let Some(caps) = lazy_regex!(r"^_{3,} (?P<name>.+?) _{3,}$").captures(text) {
            self.close_block(out);
            let name = caps["name"].to_string();
            let name = name
                .strip_prefix("ERROR collecting ")
                .or_else(|| name.strip_prefix("ERROR at setup of "))
                .or_else(|| name.strip_prefix("ERROR at teardown of "))
                .unwrap_or(&name)
                .to_string();
            self.block = Some(Block {
                name: Some(name),
                first_line: n,
                last_line: n,
                ..Block::default()
            });
            return true;
        }
        let block = self.block.get_or_insert_with(|| Block {
            first_line: n,
            ..Block::default()
        });
        block.last_line = n;
        if lazy_regex!(r"^-{5,} Captured .* -{5,}$").is_match(text) {
            block.in_captured_output = true;
            return true;
        }
        let tbline_location = block.name.is_none()
            && lazy_regex!(r"^\S+\.py:\d+: [A-Za-z_][\w.]*(?:: .*)?$").is_match(text);
        if block.in_captured_output && !tbline_location {
            // What the test printed is not pytest's report, even when it looks like one.
            return true;
        }
        block.in_captured_output = false;
        // `--tb=native`: a plain Python traceback inside the block.
        if let Some(caps) =
            lazy_regex!(r#"^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$"#)
                .captures(text)
        {
            let function = caps.name("func").map(|f| f.as_str().trim().to_string());
            block.frames.push(crate::StackFrame {
                file: Some(caps["file"].to_string()),
                line: number(caps.name("line")),
                column: None,
                function,
            });
            // pytest's own frames (`pytest.raises`, `pytest.fail`) are not where it failed.
            if !lazy_regex!(r"[/\\](?:_pytest|pluggy)[/\\]").is_match(&caps["file"]) {
                block.location = Some((
                    caps["file"].to_string(),
                    number(caps.name("line")),
                    String::new(),
                ));
            }
            block.native = true;
            return true;
        }
        if block.native
            && lazy_regex!(r"^[A-Za-z_][\w.]*(?:: .*)?$").is_match(text)
            && !text.starts_with("Traceback")
        {
            block.native_exception = Some(text.trim_end().to_string());
            return true;
        }
        if text.starts_with("Traceback (most recent call last)")
            || text.starts_with("During handling of the above")
            || text.starts_with("The above exception was the direct cause")
        {
            return true;
        }
        if let Some(caps) = lazy_regex!(r"^E\s+(.*)$").captures(text) {
            if block.error_lines.len() < 40 {
                block.error_lines.push(caps[1].trim_end().to_string());
                (block.printed_error_lines).push(text[1..].trim_end().to_string());
            }
            return true;
        }
        if let Some(caps) =
            lazy_regex!(r"^(?P<file>[^\s:][^:]*\.py):(?P<line>\d+)(?:: (?P<rest>.*))?$")
                .captures(text)
        {
            let rest = caps
                .name("rest")
                .map_or("", |m| m.as_str().trim())
                .to_string();
            let frame = crate::StackFrame {
                file: Some(caps["file"].to_string()),
                line: number(caps.name("line")),
                column: None,
                function: rest.strip_prefix("in ").map(str::to_string),
            };
            block.frames.push(frame);
            block.location = Some((
                caps["file"].to_string(),
                number(caps.name("line")),
                rest.clone(),
            ));
            // `--tb=line` prints no block headers: each failure ends at its location line.
            if block.name.is_none() && !rest.is_empty() && !rest.starts_with("in ") {
                self.close_block(out);
            }
            return true;
        }
        // Source lines, blank lines, native tracebacks: leave them to other parsers.
        false
    }

    fn close_block(&mut self, out: &mut Sink) {
        let Some(block) = self.block.take() else {
            return;
        };
        let diagnostic = block_diagnostic(&block);
        // A named block was shown in detail even when pytest printed a native traceback that
        // another parser reports.
        match block.name {
            Some(name) => self.detailed.push(name),
            None if diagnostic.is_some() => self.detailed.push(String::new()),
            None => {}
        }
        if let Some(d) = diagnostic {
            self.detailed_errors
                .push((d.code.clone(), d.message.clone()));
            out.emit(d);
        }
    }

    /// Adds summary entries whose failure was not shown in detail.
    fn end_run(&mut self, out: &mut Sink) {
        self.region = Region::Outside;
        let summary = std::mem::take(&mut self.summary);
        let detailed = &self.detailed;
        for (id, class, message, n) in summary {
            let (file, test) = id.split_once("::").unwrap_or((&id, ""));
            let name = test.replace("::", ".");
            if detailed
                .iter()
                .any(|d| *d == name || *d == id || *d == file)
            {
                continue;
            }
            // pytest cuts a summary message to the terminal's width with `...`.
            let shown = message.trim_end_matches("...").trim_end();
            let same_failure = |(detailed_class, detailed_message): &(Option<String>, String)| {
                match (&class, detailed_class) {
                    (Some(_), _) => {
                        *detailed_class == class
                            && !shown.is_empty()
                            && detailed_message.starts_with(shown)
                    }
                    // Cut inside the class name: `json.decoder.JSONDecodeError...`.
                    (None, Some(detailed)) => {
                        let cut = shown.rsplit('.').next().unwrap_or(shown);
                        cut.len() >= 3 && detailed.starts_with(cut)
                    }
                    (None, None) => false,
                }
            };
            if self.detailed_errors.iter().any(same_failure) {
                continue;
            }
            let message = if message.is_empty() {
                format!("{id} failed")
            } else {
                message
            };
            let (category, subcategory) = classify(class.as_deref(), &message);
            let mut d = Diagnostic::new("pytest", message)
                .with_class(category, subcategory)
                .from_lines(n, n)
                .with_confidence(0.7);
            d.file = Some(file.to_string());
            d.code = class;
            if !test.is_empty() {
                d.notes.push(format!("test: {test}"));
            }
            out.emit(d);
        }
    }
}

fn block_diagnostic(block: &Block) -> Option<Diagnostic> {
    // A syntax error while importing prints its own traceback in the `E` lines; its last
    // exception line is the error. Otherwise the first `E` line is.
    let exception_line = lazy_regex!(r"^[A-Za-z_][\w.]*(?: \[[^\]]*\])?: ");
    let reports_traceback = block
        .error_lines
        .iter()
        .any(|l| l.trim_start().starts_with("File \""));
    let first_error = if reports_traceback {
        block
            .error_lines
            .iter()
            .rev()
            .find(|l| exception_line.is_match(l))
    } else {
        block.error_lines.iter().find(|l| !l.trim().is_empty())
    }
    .or(block.native_exception.as_ref());
    if first_error.is_none() && block.location.is_none() {
        return None;
    }
    let (mut class, message) = match first_error {
        Some(line) => split_exception(line),
        None => (None, String::new()),
    };
    let mut location = block.location.clone();
    // A syntax error while collecting names its own location in the `E` lines.
    for error in &block.error_lines {
        if let Some(caps) =
            lazy_regex!(r#"File "(?P<file>[^"]+)", line (?P<line>\d+)"#).captures(error)
        {
            location = Some((
                caps["file"].to_string(),
                number(caps.name("line")),
                String::new(),
            ));
        }
    }
    if let Some((_, _, rest)) = &location
        && class.is_none()
        && lazy_regex!(r"^[A-Za-z_][\w.]*$").is_match(rest)
    {
        class = Some(rest.rsplit('.').next().unwrap_or(rest).to_string());
    }
    let mut message = message;
    if message.is_empty() {
        message = location.as_ref().map(|l| l.2.clone()).unwrap_or_default();
    }
    let (category, subcategory) = classify(class.as_deref(), &message);
    let mut d = Diagnostic::new("pytest", message)
        .with_class(category, subcategory)
        .from_lines(block.first_line, block.last_line)
        .with_confidence(0.92);
    d.code = class;
    if let Some((file, line, _)) = location {
        d.file = Some(file);
        d.line = line;
    }
    d.stack = block.frames.clone();
    if reports_traceback {
        d.fixits.extend(super::python::expected_token(
            &d,
            &block.printed_error_lines,
        ));
    }
    d.notes = block
        .error_lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .cloned()
        .collect();
    if let Some(name) = &block.name {
        d.notes.insert(0, format!("test: {name}"));
    }
    Some(d)
}

fn classify(class: Option<&str>, message: &str) -> (Category, Subcategory) {
    if message.starts_with("fixture '") && message.contains("not found") {
        return (Category::Configuration, Subcategory::Other);
    }
    match class {
        Some(class) => classify_exception(class, message, ""),
        None if message.starts_with("assert") => (Category::Runtime, Subcategory::TestFailure),
        None => (Category::Runtime, Subcategory::TestFailure),
    }
}

#[cfg(test)]
mod tests {
    use crate::FixitEdit;

    #[test]
    fn a_syntax_error_met_while_collecting_gets_its_missing_token() {
        let log = "==================================== ERRORS ====================================\n\
_________________________ ERROR collecting test_app.py _________________________\n\
test_app.py:1: in <module>\n    from app import total\n\
E     File \"/w/app.py\", line 1\n\
E       def total(items)\n\
E                       ^\n\
E   SyntaxError: expected ':'\n";
        let found = crate::parse::parse(log);
        assert!(
            matches!(&found[0].fixits[..], [fixit] if fixit.edit == FixitEdit::Word {
                line: 1,
                original: "def total(items)".into(),
                replacement: "def total(items):".into(),
            }),
            "{found:#?}"
        );
    }

    use crate::parse::parse;
    use crate::{Category, Subcategory};

    const LONG: &str =
        "=================================== FAILURES ===================================
_______________________________ test_ratio_zero ________________________________

    def test_ratio_zero():
>       assert ratio(1, 0) == 0

tests/test_ops.py:13: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ 

    def ratio(a, b):
>       return a / b
E       ZeroDivisionError: division by zero

src/calc/ops.py:6: ZeroDivisionError
_______________________________ test_add_strings _______________________________

>       assert add(\"a\", \"b\") == \"a b\"
E       AssertionError: assert 'ab' == 'a b'
E         - a b

tests/test_ops.py:9: AssertionError
=========================== short test summary info ============================
FAILED tests/test_ops.py::test_ratio_zero - ZeroDivisionError: division by zero
FAILED tests/test_ops.py::test_add_strings - AssertionError: assert 'ab' == 'a b'
========================= 2 failed, 1 passed in 0.08s ==========================
";

    #[test]
    fn long_format_reports_each_failure_once_at_the_crash_location() {
        let found = parse(LONG);
        assert_eq!(found.len(), 2, "{found:#?}");
        let zero = found
            .iter()
            .find(|d| d.code.as_deref() == Some("ZeroDivisionError"))
            .unwrap();
        assert_eq!(
            (zero.file.as_deref(), zero.line),
            (Some("src/calc/ops.py"), Some(6))
        );
        assert_eq!(zero.message, "division by zero");
        let assertion = found.iter().find(|d| d.line == Some(9)).unwrap();
        assert_eq!(assertion.message, "assert 'ab' == 'a b'");
        assert_eq!(assertion.subcategory, Subcategory::TestFailure);
        assert_eq!(assertion.notes, ["test: test_add_strings", "- a b"]);
    }

    #[test]
    fn summary_only_output_still_reports_failures() {
        let log = "FAILED tests/test_ops.py::test_add - assert 1 == 2\nFAILED tests/test_ops.py::TestX::test_y - KeyError: 'k'\n2 failed in 0.01s\n";
        let found = parse(log);
        assert_eq!(found.len(), 2);
        assert!(
            found
                .iter()
                .all(|d| d.file.as_deref() == Some("tests/test_ops.py") && d.line.is_none())
        );
    }

    #[test]
    fn collection_and_fixture_errors() {
        let log = "==================================== ERRORS ====================================
_____________________ ERROR collecting tests/test_x.py ______________________
ImportError while importing test module '/app/tests/test_x.py'.
Traceback:
/usr/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package)
tests/test_x.py:1: in <module>
    import missing_mod
E   ModuleNotFoundError: No module named 'missing_mod'
_________________________ ERROR at setup of test_foo __________________________
file /app/tests/test_y.py, line 5
  def test_foo(db):
E       fixture 'db' not found
>       available fixtures: cache, capfd

/app/tests/test_y.py:5
=========================== short test summary info ============================
ERROR tests/test_x.py
ERROR tests/test_y.py::test_foo
!!!!!!!!!!!!!!!!!!! Interrupted: 2 errors during collection !!!!!!!!!!!!!!!!!!!!
";
        let found = parse(log);
        assert_eq!(found.len(), 2, "{found:#?}");
        let missing = found
            .iter()
            .find(|d| d.category == Category::Dependency)
            .unwrap();
        assert_eq!(
            (missing.file.as_deref(), missing.line),
            (Some("tests/test_x.py"), Some(1))
        );
        let fixture = found
            .iter()
            .find(|d| d.category == Category::Configuration)
            .unwrap();
        assert_eq!(fixture.line, Some(5));
        assert_eq!(fixture.message, "fixture 'db' not found");
    }
}

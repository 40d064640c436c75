//! The GNU diagnostic format shared by many compilers and checkers: gcc, g++, clang, mypy and
//! others (`file:line[:col]: severity: message`), plus pyright, linkers and make.
//!
//! ```text
//! src/net.c:6:24: error: storage size of ‘addr’ isn’t known
//!     6 |     struct sockaddr_in addr;
//!       |                        ^~~~
//! src/job.c:4:9: error: unused variable 'status' [-Werror,-Wunused-variable]
//! etl/transform.py:8: error: Item "None" of "Any | None" has no attribute "strip"  [union-attr]
//! main.c:(.text+0x3b): undefined reference to `cos'
//! make: *** [Makefile:9: build/net.o] Error 1
//! ```
//!
//! `note:` lines, `In function …` context and `required from here` chains attach to the
//! diagnostic they explain. The tool is told by the file extension (mypy for Python) and, for C
//! and C++, by the quotes and summary lines gcc and clang print.

use super::classify::{self, lazy_regex};
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Fixit, FixitEdit, Severity, StackFrame, Subcategory};

builtin_parser! {
    /// Parses GNU-style compiler output.
    Gnu, "gnu", GnuSession,
    ["error", "warning", "Error", "Warning", "undefined reference", "undefined symbol", "*** ", "fix-it:", " - information", " In function", " In member function", " In constructor", " In destructor", " In instantiation", " At top level", " At global scope", "in function", "generated.", "gcc", "g++", "clang", "cc ", "compilation terminated", ": note: ", " required from ", " required by ", ": In substitution of "]
}

#[derive(Debug, Default)]
struct GnuSession {
    open: Option<Open>,
    /// `In function 'main':` context for the next diagnostic.
    function: Option<String>,
    /// The C compiler of the last command line echoed (`gcc -c …`, `clang-19 -c …`).
    compiler: Option<&'static str>,
    /// C and C++ diagnostics whose compiler is not told yet: gcc and clang print the same
    /// format, and clang's `N errors generated.` comes after them.
    undecided: Vec<Diagnostic>,
    /// The last diagnostic's notes said a template candidate failed substitution: the error
    /// that follows is why (gcc nests it in that diagnostic), not one of its own.
    substitution_failed: bool,
}

#[derive(Debug)]
struct Open {
    diagnostic: Diagnostic,
    c_family: bool,
    frame: Vec<String>,
    /// (offset in the frame body, length) of the caret run under the source line.
    caret: Option<(usize, u32)>,
}

const C_FAMILY: &[&str] = &[
    "c", "h", "cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "m", "mm", "inl", "ipp", "tcc",
];

impl ParserSession for GnuSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(open) = self.open.as_mut() {
            if frame_line(open, text) {
                open.diagnostic.log_lines.end = n;
                return true;
            }
            if let Some(note) = child_note(text) {
                self.substitution_failed |= note.ends_with("substitution failed:");
                open.diagnostic.notes.push(note);
                open.diagnostic.log_lines.end = n;
                return true;
            }
            if let Some(fixit) = parseable_fixit(text) {
                open.diagnostic.fixits.push(fixit);
                return true;
            }
            self.close(out);
        }
        self.start(text, n, out)
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
        self.settle(None, out);
    }
}

impl GnuSession {
    fn start(&mut self, text: &str, n: u32, out: &mut Sink) -> bool {
        // Cheap literal checks first: most lines offered here are none of these.
        if text.contains(": In ")
            && let Some(caps) = lazy_regex!(r"^\S[^:]*: (?:In (?:member )?function|In constructor|In destructor|In lambda function|In instantiation of) [‘'`](?P<func>.+)[’']:?$").captures(text)
        {
            self.function = Some(caps["func"].to_string());
            // A new context: what follows stands alone.
            self.substitution_failed = false;
            return true;
        }
        if (text.contains(": At ")
            || text.starts_with("In file included")
            || text.contains("from "))
            && lazy_regex!(
                r"^\S[^:]*: At (top|global) level:$|^In file included from |^\s+from \S+:\d+[:,]$"
            )
            .is_match(text)
        {
            self.function = None;
            return true;
        }
        if text.ends_with(" generated.")
            && lazy_regex!(r"^\d+ (warnings?|errors?)( and \d+ (warnings?|errors?))? generated\.$")
                .is_match(text)
        {
            self.settle(Some("clang"), out);
            return true;
        }
        if text == "compilation terminated." {
            self.settle(Some("gcc"), out);
            return true;
        }
        if let Some(caps) =
            lazy_regex!(r"^\s*(?:\S*/)?(?P<cc>gcc|g\+\+|cc|c\+\+|clang|clang\+\+)(?:-[\d.]+)?\s+-")
                .captures(text)
        {
            self.settle(None, out);
            self.compiler = Some(if caps["cc"].starts_with("clang") {
                "clang"
            } else {
                "gcc"
            });
            return false;
        }
        // Notes of a C or C++ diagnostic after an `In file included from` break: still its.
        if let Some(note) = child_note(text)
            && let Some(last) = self.undecided.last_mut()
        {
            self.substitution_failed |= note.ends_with("substitution failed:");
            if last.notes.len() < 50 {
                last.notes.push(note);
            }
            return true;
        }
        if text.contains(": In substitution of ") {
            return true;
        }
        if let Some((d, c_family)) = self.located(text) {
            if c_family && self.nested(&d) {
                return true;
            }
            self.substitution_failed = false;
            self.open = Some(Open {
                diagnostic: d.from_lines(n, n),
                c_family,
                frame: Vec::new(),
                caret: None,
            });
            return true;
        }
        if let Some(d) = pyright(text) {
            out.emit(d.from_lines(n, n));
            return true;
        }
        if let Some(result) = self.linker_or_driver(text, n, out) {
            return result;
        }
        make_line(text, n, out)
    }

    /// Whether `d` belongs to the C or C++ diagnostic before it rather than standing alone:
    /// the error of a failed template substitution that diagnostic's notes announced (kept as
    /// its note), or the error gcc prints right after a warning at the same place with the same
    /// message (`missing terminating " character`: one diagnostic, an error).
    fn nested(&mut self, d: &Diagnostic) -> bool {
        let Some(before) = self.undecided.last_mut() else {
            return false;
        };
        if d.severity > Severity::Error {
            return false;
        }
        if self.substitution_failed {
            self.substitution_failed = false;
            let at = format!(
                "{}:{}:{}",
                d.file.as_deref().unwrap_or(""),
                d.line.unwrap_or(0),
                d.column.unwrap_or(0)
            );
            before.notes.push(format!("error: {} ({at})", d.message));
            return true;
        }
        let same_place = (&before.file, before.line, before.column) == (&d.file, d.line, d.column);
        if same_place && before.severity == Severity::Warning && before.message == d.message {
            before.severity = d.severity;
            (before.category, before.subcategory) = classify_compiler(before);
            return true;
        }
        false
    }

    /// `file:line[:col][:end_line:end_col]: severity: message [code]`.
    fn located(&mut self, text: &str) -> Option<(Diagnostic, bool)> {
        if !has_severity_word(text) {
            return None;
        }
        let caps = lazy_regex!(
            r"^(?P<file>(?:[A-Za-z]:)?[^:\s][^:]*?):(?P<line>\d+):(?:(?P<col>\d+):)?(?:(?P<eline>\d+):(?P<ecol>\d+):)? (?P<sev>fatal error|error|warning|Error|Warning)(?:\[(?P<bracket>[^\]]+)\])?: (?P<msg>.*)$"
        )
        .captures(text)?;
        let file = caps["file"].to_string();
        let extension = file.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        let mut message = caps["msg"].trim_end().to_string();
        let mut code = caps.name("bracket").map(|b| b.as_str().to_string());
        // gcc/clang: `msg [-Wx]` or `[-Werror,-Wx]`; mypy: `msg  [code]`.
        if let Some(trailing) = lazy_regex!(r"\s+\[([-\w,=+]+)\]$").captures(&message) {
            let inner = trailing[1].to_string();
            let first = inner.split(',').next().unwrap_or(&inner).to_string();
            if first.starts_with("-W") || extension == "py" || extension == "pyi" {
                code = Some(first);
                message.truncate(message.len() - trailing[0].len());
            }
        }
        let severity = match &caps["sev"] {
            "fatal error" => Severity::Critical,
            s if s.eq_ignore_ascii_case("warning") => Severity::Warning,
            _ => Severity::Error,
        };
        // The C++ standard headers have no extension (`/usr/include/c++/12/type_traits`).
        let last = file.rsplit('/').next().unwrap_or(&file);
        let c_family = C_FAMILY.contains(&extension.as_str())
            || (!last.contains('.') && file.contains("/include/"));
        let tool = if extension == "py" || extension == "pyi" {
            "mypy"
        } else if c_family {
            "gcc"
        } else {
            tool_for_extension(&extension)
        };
        let mut d = Diagnostic::new(tool, message)
            .at(file, number(caps.name("line")), number(caps.name("col")))
            .with_severity(severity)
            .with_confidence(0.95);
        d.end_line = number(caps.name("eline"));
        d.end_column = number(caps.name("ecol"));
        d.code = code;
        if let Some(function) = self.function.take() {
            d.stack.push(StackFrame {
                file: d.file.clone(),
                line: None,
                column: None,
                function: Some(function),
            });
        }
        (d.category, d.subcategory) = if tool == "mypy" {
            d.fixits.extend(mypy_did_you_mean(&d));
            classify_mypy(d.code.as_deref(), &d.message)
        } else {
            classify_compiler(&d)
        };
        Some((d, c_family))
    }

    /// Linker and compiler-driver lines without a source position. `None`: not one of them.
    fn linker_or_driver(&mut self, text: &str, n: u32, out: &mut Sink) -> Option<bool> {
        if text.contains("in function ")
            && let Some(caps) = lazy_regex!(
                r"^(?:\S*ld(?:\.\w+)?: )?[^\s:]+: in function [`'‘](?P<func>[^'’]+)['’]:$"
            )
            .captures(text)
        {
            self.function = Some(caps["func"].to_string());
            return Some(true);
        }
        let undefined = lazy_regex!(
            r"^(?:\S*ld(?:\.\w+)?: )?(?:(?P<object>[^\s:]+):\([^)]*\): )?(?:error: )?(?P<msg>undefined reference to .+|undefined symbol: .+|cannot find -l\S+.*)$"
        );
        if (text.contains("undefined") || text.contains("cannot find -l"))
            && let Some(caps) = undefined.captures(text)
        {
            let message = caps["msg"].trim_end();
            let mut d = Diagnostic::new("ld", message)
                .with_class(Category::Dependency, Subcategory::UndefinedSymbol)
                .from_lines(n, n)
                .with_confidence(0.9);
            if let Some(object) = caps.name("object") {
                d.stack.push(StackFrame {
                    file: Some(object.as_str().to_string()),
                    line: None,
                    column: None,
                    function: self.function.clone(),
                });
            }
            out.emit(d);
            return Some(true);
        }
        let driver = lazy_regex!(
            r"^(?P<tool>\S*?(?:gcc|g\+\+|clang(?:\+\+)?|cc1(?:plus)?|cc|c\+\+|collect2)(?:-[\d.]+)?): (?P<sev>fatal error|error|warning): (?P<msg>.+)$"
        );
        let caps = driver.captures(text)?;
        let message = caps["msg"].trim_end();
        let driver_compiler = if caps["tool"].contains("clang") {
            "clang"
        } else {
            "gcc"
        };
        self.settle(Some(driver_compiler), out);
        let consequence = message.starts_with("linker command failed")
            || message.starts_with("ld returned")
            || message.starts_with("all warnings being treated as errors");
        if consequence {
            return Some(true);
        }
        let (category, subcategory) =
            classify::by_message(message).unwrap_or((Category::Configuration, Subcategory::Other));
        let tool = caps["tool"].rsplit('/').next().unwrap_or("cc").to_string();
        out.emit(
            Diagnostic::new(tool, message)
                .with_class(category, subcategory)
                .from_lines(n, n)
                .with_confidence(0.8),
        );
        Some(true)
    }

    fn close(&mut self, out: &mut Sink) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        if !open.frame.is_empty() {
            open.diagnostic.snippet = Some(open.frame.join("\n"));
        }
        if open.c_family {
            self.undecided.push(open.diagnostic);
        } else {
            out.emit(open.diagnostic);
        }
    }

    /// Names the compiler of the C and C++ diagnostics read so far and emits them: gcc quotes
    /// with ‘…’, otherwise the evidence at hand (clang's summary line, the echoed command).
    fn settle(&mut self, evidence: Option<&'static str>, out: &mut Sink) {
        let curly = self
            .undecided
            .iter()
            .any(|d| d.message.contains('‘') || d.message.contains('’'));
        let tool = if curly {
            "gcc"
        } else {
            evidence.or(self.compiler).unwrap_or("gcc")
        };
        for mut d in self.undecided.drain(..) {
            d.tool = tool.to_string();
            out.emit(d);
        }
    }
}

fn tool_for_extension(extension: &str) -> &'static str {
    match extension {
        "go" => "go",
        "swift" => "swiftc",
        "java" => "javac",
        "kt" | "kts" => "kotlinc",
        "rs" => "rustc",
        "f" | "f90" | "f95" => "gfortran",
        "s" | "asm" => "as",
        _ => "compiler",
    }
}

/// The code frame under a gcc/clang diagnostic: `   15 |     code`, `      |     ^~~~`, and a
/// fix-it hint line under the caret.
fn frame_line(open: &mut Open, text: &str) -> bool {
    if !text.contains('|') {
        return false;
    }
    let Some(caps) = lazy_regex!(r"^\s*(?P<number>\d+)?\s*\|(?P<body>.*)$").captures(text) else {
        return false;
    };
    if open.frame.len() < 20 {
        open.frame.push(text.trim_end().to_string());
    }
    if caps.name("number").is_some() {
        return true;
    }
    let body = caps.name("body").map_or("", |b| b.as_str());
    if let Some(start) = body.find(['^', '~']) {
        if open.caret.is_none() {
            let run = body[start..]
                .bytes()
                .take_while(|&b| matches!(b, b'^' | b'~'))
                .count();
            let len = u32::try_from(run).unwrap_or(1);
            open.caret = Some((start, len));
            let d = &mut open.diagnostic;
            if let (Some(line), Some(column)) = (d.line, d.column)
                && d.end_column.is_none()
            {
                let caret_at = body[start..].find('^').unwrap_or(0);
                let first = column.saturating_sub(u32::try_from(caret_at).unwrap_or(0));
                d.end_line = Some(line);
                d.end_column = Some(first.saturating_add(len));
            }
        }
        return true;
    }
    if let (Some((start, len)), false) = (open.caret, body.trim().is_empty()) {
        fixit_hint(&mut open.diagnostic, body, start, len);
    }
    true
}

/// mypy's one suggestion for a misspelt name (`has no attribute "getenvv"; maybe "getenv"?`,
/// `Unexpected keyword argument "nmae" for "f"; did you mean "name"?`) → the name replaced on the
/// reported line. Two suggestions (`maybe "a" or "b"?`) are a choice left to others.
fn mypy_did_you_mean(d: &Diagnostic) -> Option<Fixit> {
    let caps = lazy_regex!(
        r#"(?:has no attribute|Unexpected keyword argument|Name) "(?P<old>[A-Za-z_][\w]*)"[^;]*; (?:maybe|did you mean) "(?P<new>[A-Za-z_][\w]*)"\?$"#
    )
    .captures(&d.message)?;
    Some(Fixit {
        message: format!("did you mean `{}`", &caps["new"]),
        file: d.file.clone(),
        edit: FixitEdit::Word {
            line: d.line?,
            original: caps["old"].to_string(),
            replacement: caps["new"].to_string(),
        },
    })
}

/// A fix-it hint printed under the caret: the replacement for the underlined range after "did
/// you mean", an insertion otherwise.
fn fixit_hint(d: &mut Diagnostic, body: &str, caret_start: usize, caret_len: u32) {
    let (Some(line), Some(column)) = (d.line, d.column) else {
        return;
    };
    let hint_start = body.len() - body.trim_start().len();
    let hint = body.trim();
    let shift = i64::try_from(hint_start).unwrap_or(0) - i64::try_from(caret_start).unwrap_or(0);
    let Ok(hint_column) = u32::try_from(i64::from(column) + shift) else {
        return;
    };
    let replaces = d.message.contains("did you mean");
    let end_column = if replaces {
        hint_column.saturating_add(caret_len)
    } else {
        hint_column
    };
    d.fixits.push(Fixit {
        message: if replaces {
            format!("did you mean `{hint}`")
        } else {
            format!("insert `{hint}`")
        },
        file: d.file.clone(),
        edit: FixitEdit::Span {
            line,
            column: hint_column,
            end_line: line,
            end_column,
            replacement: hint.to_string(),
        },
    });
}

/// True when `text` has a `: error`/`: warning` the GNU format needs: checked before its regex.
fn has_severity_word(text: &str) -> bool {
    [
        ": error",
        ": warning",
        ": fatal error",
        ": Error",
        ": Warning",
    ]
    .iter()
    .any(|word| text.contains(word))
}

/// `-fdiagnostics-parseable-fixits`: `fix-it:"file":{15:10-15:18}:"balance"`.
fn parseable_fixit(text: &str) -> Option<Fixit> {
    let caps = lazy_regex!(r#"^fix-it:"(?P<file>[^"]+)":\{(?P<l>\d+):(?P<c>\d+)-(?P<el>\d+):(?P<ec>\d+)\}:"(?P<text>(?:[^"\\]|\\.)*)"$"#)
        .captures(text)?;
    let replacement = caps["text"]
        .replace("\\\"", "\"")
        .replace("\\n", "\n")
        .replace("\\\\", "\\");
    Some(Fixit {
        message: "fix-it".into(),
        file: Some(caps["file"].to_string()),
        edit: FixitEdit::Span {
            line: number(caps.name("l"))?,
            column: number(caps.name("c"))?,
            end_line: number(caps.name("el"))?,
            end_column: number(caps.name("ec"))?,
            replacement,
        },
    })
}

/// `note:` lines and template/macro context chains that explain the open diagnostic.
fn child_note(text: &str) -> Option<String> {
    if !(text.contains(": note: ") || text.contains(": remark: ") || text.contains(" required ")) {
        return None;
    }
    let caps = lazy_regex!(r"^(?:\S[^:]*?):\d+(?::\d+)?: (?P<kind>note|remark): (?P<msg>.*)$|^\S[^:]*?:\d+:\d+:\s+(?P<req>required (?:from|by) .*)$")
        .captures(text)?;
    let message = caps.name("msg").or(caps.name("req"))?.as_str().trim();
    Some(match caps.name("kind") {
        Some(kind) => format!("{}: {message}", kind.as_str()),
        None => message.to_string(),
    })
}

/// `  /app/x.py:3:5 - error: "foo" is not defined (reportUndefinedVariable)`.
fn pyright(text: &str) -> Option<Diagnostic> {
    if !text.contains(" - ") {
        return None;
    }
    let caps = lazy_regex!(
        r"^\s+(?P<file>\S.*?):(?P<line>\d+):(?P<col>\d+) - (?P<sev>error|warning|information): (?P<msg>.+?)(?: \((?P<rule>report\w+)\))?$"
    )
    .captures(text)?;
    if &caps["sev"] == "information" {
        return None;
    }
    let rule = caps.name("rule").map(|r| r.as_str());
    let (category, subcategory) = match rule.unwrap_or("") {
        "reportMissingImports" | "reportMissingModuleSource" => {
            (Category::Dependency, Subcategory::MissingPackage)
        }
        "reportUndefinedVariable" => (Category::Type, Subcategory::UndefinedName),
        "reportAttributeAccessIssue" => (Category::Type, Subcategory::MissingProperty),
        "reportOptionalMemberAccess" | "reportOptionalSubscript" => {
            (Category::Type, Subcategory::NullUndefined)
        }
        "reportArgumentType" | "reportAssignmentType" | "reportReturnType" => {
            (Category::Type, Subcategory::TypeMismatch)
        }
        "reportCallIssue" => (Category::Type, Subcategory::WrongArity),
        _ => (Category::Type, Subcategory::Other),
    };
    let mut d = Diagnostic::new("pyright", caps["msg"].trim())
        .at(
            &caps["file"],
            number(caps.name("line")),
            number(caps.name("col")),
        )
        .with_class(category, subcategory)
        .with_confidence(0.95);
    if &caps["sev"] == "warning" {
        d.severity = Severity::Warning;
    }
    d.code = rule.map(str::to_string);
    Some(d)
}

/// make: `Makefile:5: *** missing separator.  Stop.` is a real error; `*** [x] Error 1` only
/// says a recipe failed.
fn make_line(text: &str, n: u32, out: &mut Sink) -> bool {
    if !text.contains("*** ") {
        return false;
    }
    if let Some(caps) =
        lazy_regex!(r"^(?P<file>\S*[Mm]akefile\S*):(?P<line>\d+): \*\*\* (?P<msg>.+?)\.?\s+Stop\.$")
            .captures(text)
    {
        out.emit(
            Diagnostic::new("make", &caps["msg"])
                .at(&caps["file"], number(caps.name("line")), None)
                .with_class(Category::Syntax, Subcategory::ParseError)
                .from_lines(n, n),
        );
        return true;
    }
    let Some(caps) = lazy_regex!(r"^(?:g?make)(?:\[\d+\])?: \*\*\* (?P<msg>.+)$").captures(text)
    else {
        return false;
    };
    let message = caps["msg"].trim();
    if lazy_regex!(r"Error \d+|Killed|Terminated|Interrupt").is_match(message) {
        let (category, subcategory) =
            classify::by_message(message).unwrap_or((Category::Runtime, Subcategory::Other));
        out.emit_fallback(
            Diagnostic::new("make", message)
                .with_class(category, subcategory)
                .from_lines(n, n)
                .with_confidence(0.5),
        );
    } else {
        let message = message
            .trim_end_matches("Stop.")
            .trim()
            .trim_end_matches('.');
        out.emit(
            Diagnostic::new("make", message)
                .with_class(Category::Configuration, Subcategory::FileNotFound)
                .from_lines(n, n)
                .with_confidence(0.8),
        );
    }
    true
}

fn classify_mypy(code: Option<&str>, message: &str) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    match code.unwrap_or("") {
        "import-not-found" | "import-untyped" | "import" => (C::Dependency, S::MissingPackage),
        "syntax" => (C::Syntax, S::ParseError),
        "name-defined" => (C::Type, S::UndefinedName),
        "attr-defined" => (C::Type, S::MissingProperty),
        "union-attr" | "possibly-undefined" => (C::Type, S::NullUndefined),
        "arg-type" | "assignment" | "return-value" | "operator" | "index" | "call-overload"
        | "type-var" | "list-item" | "dict-item" | "return" => (C::Type, S::TypeMismatch),
        "call-arg" => (C::Type, S::WrongArity),
        "unused-ignore" | "redundant-cast" | "redundant-expr" | "unused-coroutine" => {
            (C::Unknown, S::Lint)
        }
        "" if message.starts_with("Cannot find implementation or library stub")
            || message.starts_with("Library stubs not installed") =>
        {
            (C::Dependency, S::MissingPackage)
        }
        _ => (C::Type, S::Other),
    }
}

/// gcc/clang and other compilers: by message, with warnings split into style and real problems.
fn classify_compiler(d: &Diagnostic) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    let m = d.message.as_str();
    let code = d.code.as_deref().unwrap_or("");
    if lazy_regex!(r"No such file or directory|file not found").is_match(m)
        && (d.severity == Severity::Critical
            || lazy_regex!(r"\.(h|hpp|hh|hxx|inc)\b|#include").is_match(m))
    {
        return (C::Dependency, S::MissingPackage);
    }
    if d.severity == Severity::Warning && !code.contains("-Werror") {
        if code.starts_with("-Wunused") || code == "-Wunused" {
            return (C::Unknown, S::Lint);
        }
        if code.starts_with("-Wdeprecated") {
            return (C::Unknown, S::Deprecation);
        }
        if d.tool == "compiler" || d.tool == "go" {
            return (C::Unknown, S::Other);
        }
        return (C::Type, S::Other);
    }
    if lazy_regex!(r"^expected declaration or statement at end of input|^unterminated |^missing terminating|^unexpected end of file").is_match(m) {
        return (C::Syntax, S::UnexpectedEof);
    }
    if m.starts_with("unknown type name") {
        return (C::Type, S::UndefinedName);
    }
    if m.starts_with("#error") {
        // The project's own guard of how it must be configured (`#error "define PLATFORM"`).
        return (C::Configuration, S::Other);
    }
    if lazy_regex!(r"^expected |^stray |^extra tokens|^expected expression|^invalid preprocessing directive|before .* token$").is_match(m)
        && !m.starts_with("expected type-specifier")
    {
        return (C::Syntax, S::UnexpectedToken);
    }
    if lazy_regex!(r"has no member named|no member named|is not a member of").is_match(m) {
        return (C::Type, S::MissingProperty);
    }
    if lazy_regex!(r"was not declared in this scope|undeclared|use of undeclared identifier|call to undeclared function|implicit declaration").is_match(m) {
        return (C::Type, S::UndefinedName);
    }
    if lazy_regex!(
        r"too (many|few) arguments|no matching function for call|no matching constructor"
    )
    .is_match(m)
    {
        return (C::Type, S::WrongArity);
    }
    if lazy_regex!(r"cannot convert|incompatible|invalid conversion|conversion from|cannot initialize|assigning to").is_match(m) {
        return (C::Type, S::TypeMismatch);
    }
    if let Some(class) = classify::by_message(m)
        && class.0 != C::Runtime
    {
        return class;
    }
    (C::Type, S::Other)
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, FixitEdit, Severity, Subcategory};

    #[test]
    fn gcc_with_context_frame_and_did_you_mean() {
        let log = "src/account.cpp: In function ‘int main()’:\nsrc/account.cpp:22:20: error: ‘class Account’ has no member named ‘balanse’; did you mean ‘balance’?\n   22 |     std::cout << a.balanse() << std::endl;\n      |                    ^~~~~~~\n      |                    balance\nsrc/account.cpp:8:10: note: candidate: ‘void Account::deposit(double)’\n";
        let found = parse(log);
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!(
            (d.tool.as_str(), d.subcategory),
            ("gcc", Subcategory::MissingProperty)
        );
        assert_eq!(d.stack[0].function.as_deref(), Some("int main()"));
        assert_eq!(d.end_column, Some(27));
        assert_eq!(
            d.fixits[0].edit,
            FixitEdit::Span {
                line: 22,
                column: 20,
                end_line: 22,
                end_column: 27,
                replacement: "balance".into()
            }
        );
        assert_eq!(d.notes.len(), 1);
    }

    #[test]
    fn clang_warnings_and_werror() {
        let log = "src/log.c:4:9: warning: unused variable 'level' [-Wunused-variable]\n    4 |     int level;\n      |         ^~~~~\n1 warning generated.\nsrc/job.c:4:9: error: unused variable 'status' [-Werror,-Wunused-variable]\n2 errors generated.\nsrc/http.c:2:10: fatal error: 'curl/curl.h' file not found\n";
        let found = parse(log);
        assert_eq!(found.len(), 3, "{found:#?}");
        let fatal = &found[0];
        assert_eq!(
            (fatal.severity, fatal.category),
            (Severity::Critical, Category::Dependency)
        );
        let werror = found
            .iter()
            .find(|d| d.code.as_deref() == Some("-Werror"))
            .unwrap();
        assert_eq!(werror.category, Category::Type);
        assert_eq!(werror.message, "unused variable 'status'");
        let warning = found
            .iter()
            .find(|d| d.severity == Severity::Warning)
            .unwrap();
        assert_eq!(
            (warning.category, warning.tool.as_str()),
            (Category::Unknown, "clang")
        );
    }

    #[test]
    fn the_echoed_command_names_the_compiler() {
        let log = "clang-19 -Wall -c src/a.c -o a.o\nsrc/a.c:3:5: error: use of undeclared identifier 'x'\nmake: *** [Makefile:2: a.o] Error 1\ngcc -Wall -c src/b.c -o b.o\nsrc/b.c:4:1: error: expected ';' before '}' token\n";
        let found = parse(log);
        let tool_of = |file: &str| {
            found
                .iter()
                .find(|d| d.file.as_deref() == Some(file))
                .map(|d| d.tool.clone())
        };
        assert_eq!(tool_of("src/a.c").as_deref(), Some("clang"));
        assert_eq!(tool_of("src/b.c").as_deref(), Some("gcc"));
    }

    #[test]
    fn linker_and_make() {
        let log = "/usr/bin/ld: main.o: in function `main':\nmain.c:(.text+0x3b): undefined reference to `cos'\ncollect2: error: ld returned 1 exit status\nmake: *** [Makefile:9: app] Error 1\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert_eq!(
            (d.file.as_deref(), d.category),
            (None, Category::Dependency)
        );
        assert_eq!(d.stack[0].file.as_deref(), Some("main.c"));
        assert_eq!(d.stack[0].function.as_deref(), Some("main"));
    }

    #[test]
    fn mypy_codes_and_notes() {
        let log = "etl/t.py:8: error: Item \"None\" of \"Any | None\" has no attribute \"strip\"  [union-attr]\netl/t.py:8: note: You can use \"if x is not None\" to guard\napi/u.py:1:5: error: Cannot find implementation or library stub for module named \"yaml\"  [import-not-found]\nFound 2 errors in 2 files (checked 3 source files)\n";
        let found = parse(log);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].category, Category::Dependency);
        assert_eq!(found[0].column, Some(5));
        assert_eq!(found[1].code.as_deref(), Some("union-attr"));
        assert_eq!(
            found[1].message,
            "Item \"None\" of \"Any | None\" has no attribute \"strip\""
        );
        assert_eq!(found[1].notes.len(), 1);
        assert_eq!(found[1].tool, "mypy");
    }

    #[test]
    fn mypy_suggestions_become_fixits_unless_there_is_a_choice() {
        let log = "app/cfg.py:3:11: error: Module has no attribute \"getenvv\"; maybe \"getenv\"?  [attr-defined]\n\
                   app/cfg.py:9: error: \"Settings\" has no attribute \"debg\"; maybe \"debug\"?  [attr-defined]\n\
                   app/cfg.py:12: error: Unexpected keyword argument \"nmae\" for \"User\"; did you mean \"name\"?  [call-arg]\n\
                   app/cfg.py:15: error: Module \"os\" has no attribute \"pth\"; maybe \"path\" or \"pathsep\"?  [attr-defined]\n";
        let found = parse(log);
        let fixits: Vec<Option<(u32, &str, &str)>> = (found.iter())
            .map(|d| {
                d.fixits.first().and_then(|f| match &f.edit {
                    FixitEdit::Word {
                        line,
                        original,
                        replacement,
                    } => Some((*line, original.as_str(), replacement.as_str())),
                    _ => None,
                })
            })
            .collect();
        assert_eq!(
            fixits,
            [
                Some((3, "getenvv", "getenv")),
                Some((9, "debg", "debug")),
                Some((12, "nmae", "name")),
                None
            ]
        );
    }

    #[test]
    fn gcc_insertion_hint_and_parseable_fixit() {
        let log = "src/shape.cpp:11:2: error: expected ‘;’ after class definition\n   11 | }\n      |  ^\n      |  ;\nfix-it:\"src/shape.cpp\":{11:2-11:2}:\";\"\n";
        let d = &parse(log)[0];
        assert_eq!(d.category, Category::Syntax);
        assert_eq!(d.fixits.len(), 2);
        for fixit in &d.fixits {
            assert!(
                matches!(&fixit.edit, FixitEdit::Span { line: 11, column: 2, end_column: 2, replacement, .. } if replacement == ";")
            );
        }
    }
}

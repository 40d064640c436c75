//! Python tracebacks, including syntax errors with carets and chained exceptions.
//!
//! ```text
//! Traceback (most recent call last):
//!   File "/app/service.py", line 11, in <module>
//!     print(parse_version(t))
//!           ^^^^^^^^^^^^^^^^
//! AttributeError: 'NoneType' object has no attribute 'group'
//! ```
//!
//! The location is the innermost frame inside the project (not the standard library,
//! site-packages or `<frozen …>`); of chained exceptions only the last, uncaught one is reported,
//! with the earlier ones as notes.

use super::classify::{self, lazy_regex};
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Fixit, FixitEdit, StackFrame, Subcategory};

builtin_parser! {
    /// Parses Python tracebacks.
    Python, "python", PythonSession,
    ["Traceback (most recent call last)", "File \""]
}

#[derive(Debug, Default)]
struct PythonSession {
    state: State,
    frames: Vec<Frame>,
    causes: Vec<String>,
    first_line: u32,
    /// Inside an exception group's traceback: the `  | ` prefix of its lines.
    group_prefix: Option<String>,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    Frames,
    /// After the exception line: a chained exception may follow.
    AfterException(Box<Diagnostic>),
    /// After "During handling of the above exception…": waiting for the next traceback.
    Chained,
}

#[derive(Debug)]
struct Frame {
    frame: StackFrame,
    code: Vec<String>,
    /// `File "x", line N` without `in func`: the location of a syntax error.
    is_syntax_location: bool,
}

const CHAIN_SEPARATORS: &[&str] = &[
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
];

impl ParserSession for PythonSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let mut text = line.text();
        if let Some(rest) = self
            .group_prefix
            .as_deref()
            .and_then(|prefix| text.strip_prefix(prefix))
        {
            text = rest;
        }
        if let Some(caps) =
            lazy_regex!(r"^(\s*)\+ Exception Group Traceback \(most recent call last\):$")
                .captures(text)
        {
            if let State::AfterException(pending) = std::mem::take(&mut self.state) {
                out.emit(*pending);
            }
            self.reset();
            self.first_line = line.number();
            self.group_prefix = Some(format!("{}| ", &caps[1]));
            self.state = State::Frames;
            return true;
        }
        match std::mem::take(&mut self.state) {
            State::Idle => self.start(text, line.number()),
            State::Chained => {
                if text.trim().is_empty() {
                    self.state = State::Chained;
                    return true;
                }
                if text.starts_with("Traceback (most recent call last)") {
                    self.state = State::Frames;
                    return true;
                }
                self.reset();
                self.start(text, line.number())
            }
            State::AfterException(pending) => {
                if text.trim().is_empty() {
                    self.state = State::AfterException(pending);
                    return false;
                }
                if CHAIN_SEPARATORS.contains(&text.trim()) {
                    self.causes.push(format!(
                        "{}: {}",
                        pending.code.as_deref().unwrap_or(""),
                        pending.message
                    ));
                    self.frames.clear();
                    self.state = State::Chained;
                    return true;
                }
                out.emit(*pending);
                self.reset();
                self.start(text, line.number())
            }
            State::Frames => {
                self.state = State::Frames;
                if self.frame_line(text) {
                    return true;
                }
                if text.starts_with([' ', '\t']) {
                    if let Some(frame) = self.frames.last_mut()
                        && frame.code.len() < 8
                    {
                        frame.code.push(text.to_string());
                    }
                    return true;
                }
                if text.trim().is_empty() {
                    return true;
                }
                match self.exception(text, line.number()) {
                    Some(d) => {
                        self.state = State::AfterException(Box::new(d));
                        true
                    }
                    None => {
                        self.reset();
                        false
                    }
                }
            }
        }
    }

    fn busy(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    fn finish(&mut self, out: &mut Sink) {
        if let State::AfterException(pending) = std::mem::take(&mut self.state) {
            out.emit(*pending);
        }
        self.reset();
    }
}

impl PythonSession {
    fn reset(&mut self) {
        self.state = State::Idle;
        self.frames.clear();
        self.causes.clear();
        self.group_prefix = None;
    }

    fn start(&mut self, text: &str, number: u32) -> bool {
        self.first_line = number;
        if text.starts_with("Traceback (most recent call last)") {
            self.state = State::Frames;
            return true;
        }
        // A syntax error in the main script has no "Traceback" header.
        if self.frame_line(text) {
            self.state = State::Frames;
            return true;
        }
        false
    }

    fn frame_line(&mut self, text: &str) -> bool {
        let Some(caps) = lazy_regex!(
            r#"^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?\s*$"#
        )
        .captures(text) else {
            return false;
        };
        if self.frames.len() >= 512 {
            // Endless recursion prints the same frames thousands of times; the innermost ones
            // are what matters.
            self.frames.remove(0);
        }
        self.frames.push(Frame {
            frame: StackFrame {
                file: Some(caps["file"].to_string()),
                line: number(caps.name("line")),
                column: None,
                function: caps.name("func").map(|f| f.as_str().trim().to_string()),
            },
            code: Vec::new(),
            is_syntax_location: caps.name("func").is_none(),
        });
        true
    }

    fn exception(&mut self, text: &str, line_number: u32) -> Option<Diagnostic> {
        let caps = lazy_regex!(r"^(?P<class>[A-Za-z_][\w.]*)(?:: (?P<msg>.*))?$").captures(text)?;
        if self.frames.is_empty() {
            return None;
        }
        let class = caps["class"]
            .rsplit('.')
            .next()
            .unwrap_or(&caps["class"])
            .to_string();
        let message = caps.name("msg").map_or("", |m| m.as_str().trim());
        let chosen = self
            .frames
            .iter()
            .rposition(|f| f.is_syntax_location && is_syntax_error(&class))
            .or_else(|| {
                self.frames
                    .iter()
                    .rposition(|f| f.frame.file.as_deref().is_some_and(is_project_file))
            })
            .unwrap_or(self.frames.len() - 1);
        let frame = &self.frames[chosen];
        let code_line = frame.code.first().map(|c| c.trim()).unwrap_or("");
        let (category, subcategory) = classify_exception(&class, message, code_line);
        let mut d = Diagnostic::new("python", message)
            .with_code(class)
            .with_class(category, subcategory)
            .from_lines(self.first_line, line_number)
            .with_confidence(0.95);
        d.file = frame.frame.file.clone();
        d.line = frame.frame.line;
        if !frame.code.is_empty() {
            d.snippet = Some(frame.code.join("\n"));
        }
        d.stack = self.frames.iter().map(|f| f.frame.clone()).collect();
        d.notes = std::mem::take(&mut self.causes)
            .into_iter()
            .map(|c| format!("while handling: {c}"))
            .collect();
        if let Some(fixit) = did_you_mean(&d) {
            d.fixits.push(fixit);
        }
        if d.category == Category::Syntax {
            d.fixits.extend(expected_token(&d, &frame.code));
        }
        Some(d)
    }
}

/// `SyntaxError: expected ':'` with the code line and the caret Python printed under it → the
/// token inserted where the caret points. The code line is printed without its indentation, so
/// the fix-it names the text before the caret rather than a column.
pub(crate) fn expected_token(d: &Diagnostic, printed: &[String]) -> Option<Fixit> {
    let token = lazy_regex!(r"^expected '([:,)\]}])'$")
        .captures(&d.message)?
        .get(1)?
        .as_str();
    let caret_at = printed.iter().position(|l| {
        let t = l.trim();
        !t.is_empty() && t.chars().all(|c| c == '^')
    })?;
    let code = printed.get(caret_at.checked_sub(1)?)?;
    let caret = printed[caret_at].chars().position(|c| c == '^')?;
    let margin = code.chars().take_while(|c| *c == ' ').count();
    let before: String = code
        .chars()
        .skip(margin)
        .take(caret.checked_sub(margin)?)
        .collect();
    let before = before.trim_end();
    if before.is_empty() {
        return None;
    }
    Some(Fixit {
        message: format!("insert `{token}`"),
        file: d.file.clone(),
        edit: FixitEdit::Word {
            line: d.line?,
            original: before.to_string(),
            replacement: format!("{before}{token}"),
        },
    })
}

fn is_syntax_error(class: &str) -> bool {
    matches!(class, "SyntaxError" | "IndentationError" | "TabError")
}

/// True for files of the project, false for the interpreter's own and installed packages.
pub(crate) fn is_project_file(path: &str) -> bool {
    !(path.starts_with('<')
        || path.contains("site-packages")
        || path.contains("dist-packages")
        || lazy_regex!(r"/lib/python\d(\.\d+)?/|\\Lib\\").is_match(path))
}

/// `Did you mean: 'print'?` (NameError, AttributeError, ImportError) → replace the name on the
/// reported line.
fn did_you_mean(d: &Diagnostic) -> Option<Fixit> {
    let caps = lazy_regex!(r"^(?:name '(?P<name>[^']+)' is not defined|.*has no attribute '(?P<attr>[^']+)'|cannot import name '(?P<import>[^']+)'.*)\. Did you mean:? '(?P<new>[^']+)'\?")
        .captures(&d.message)?;
    let original = caps
        .name("name")
        .or(caps.name("attr"))
        .or(caps.name("import"))?
        .as_str();
    Some(Fixit {
        message: format!("Did you mean '{}'?", &caps["new"]),
        file: d.file.clone(),
        edit: FixitEdit::Word {
            line: d.line?,
            original: original.to_string(),
            replacement: caps["new"].to_string(),
        },
    })
}

/// Category of a Python exception by class, message and the code line that raised it.
pub(crate) fn classify_exception(
    class: &str,
    message: &str,
    code_line: &str,
) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    match class {
        "SyntaxError" | "TabError" => {
            let sub = if message.contains("unexpected EOF")
                || message.contains("was never closed")
                || message.contains("unterminated")
            {
                S::UnexpectedEof
            } else {
                S::ParseError
            };
            (C::Syntax, sub)
        }
        "IndentationError" => (C::Syntax, S::ParseError),
        "ModuleNotFoundError" => (C::Dependency, S::MissingPackage),
        "ImportError" if message.starts_with("cannot import name") => (C::Type, S::MissingExport),
        "ImportError" => (C::Dependency, S::ImportError),
        "KeyError" if code_line.contains("environ") => (C::Configuration, S::MissingEnvVar),
        "NameError" | "UnboundLocalError" => (C::Runtime, S::UndefinedName),
        "MemoryError" => (C::Resource, S::OutOfMemory),
        "RecursionError" => (C::Runtime, S::Exception),
        "PermissionError" => (C::Configuration, S::PermissionDenied),
        "FileNotFoundError" | "IsADirectoryError" | "NotADirectoryError" => {
            (C::Runtime, S::FileNotFound)
        }
        "AssertionError" => (C::Runtime, S::TestFailure),
        "ConnectionRefusedError" | "ConnectionResetError" => (C::Network, S::ConnectionRefused),
        "TimeoutError" | "socket.timeout" => (C::Network, S::ConnectionTimeout),
        "gaierror" => (C::Network, S::DnsResolution),
        _ => match classify::by_message(message) {
            Some((C::Runtime, _)) | None => {
                let sub = if message.contains("NoneType") || message.contains("None") {
                    S::NullUndefined
                } else {
                    S::Exception
                };
                (C::Runtime, sub)
            }
            Some(class) => class,
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, FixitEdit, Subcategory};

    #[test]
    fn innermost_project_frame_and_stack() {
        let log = "Traceback (most recent call last):\n  File \"/app/loader.py\", line 10, in <module>\n    cfg = read_config(\"config.json\")\n  File \"/app/loader.py\", line 7, in read_config\n    return json.loads(text)\n  File \"/usr/local/lib/python3.11/json/__init__.py\", line 346, in loads\n    return _default_decoder.decode(s)\njson.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n";
        let d = &parse(log)[0];
        assert_eq!(
            (d.file.as_deref(), d.line),
            (Some("/app/loader.py"), Some(7))
        );
        assert_eq!(d.code.as_deref(), Some("JSONDecodeError"));
        assert_eq!(d.stack.len(), 3);
        assert_eq!(d.snippet.as_deref(), Some("    return json.loads(text)"));
    }

    #[test]
    fn chained_exceptions_report_the_last_one() {
        let log = "Traceback (most recent call last):\n  File \"/a/cache.py\", line 10, in get\n    return _store[key]\nKeyError: 'user:42'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/a/cache.py\", line 15, in <module>\n  File \"/a/cache.py\", line 12, in get\nCacheMiss: no entry for 'user:42'\n";
        let found = parse(log);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code.as_deref(), Some("CacheMiss"));
        assert_eq!(found[0].line, Some(12));
        assert_eq!(found[0].notes, ["while handling: KeyError: 'user:42'"]);
    }

    #[test]
    fn exception_groups_report_the_group() {
        let log = "  + Exception Group Traceback (most recent call last):\n  |   File \"/a/main.py\", line 5, in <module>\n  |     work()\n  |   File \"/a/main.py\", line 2, in work\n  |     raise ExceptionGroup(\"several\", [ValueError(\"bad\")])\n  | ExceptionGroup: several (1 sub-exception)\n  +-+---------------- 1 ----------------\n    | ValueError: bad\n    +------------------------------------\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].code.as_deref(), Some("ExceptionGroup"));
        assert_eq!(found[0].line, Some(2));
    }

    #[test]
    fn syntax_errors_without_traceback_header() {
        let log = "  File \"/b/tasks.py\", line 3\n    print(\"done\")\nIndentationError: unexpected indent\n";
        let d = &parse(log)[0];
        assert_eq!((d.line, d.category), (Some(3), Category::Syntax));
    }

    #[test]
    fn did_you_mean_and_env_vars() {
        let log = "Traceback (most recent call last):\n  File \"/a/m.py\", line 2, in <module>\n    pritn(1)\nNameError: name 'pritn' is not defined. Did you mean: 'print'?\n";
        let d = &parse(log)[0];
        assert_eq!(
            d.fixits[0].edit,
            FixitEdit::Word {
                line: 2,
                original: "pritn".into(),
                replacement: "print".into()
            }
        );
        let log = "Traceback (most recent call last):\n  File \"/a/s.py\", line 3, in <module>\n    url = os.environ[\"DATABASE_URL\"]\n  File \"<frozen os>\", line 679, in __getitem__\nKeyError: 'DATABASE_URL'\n";
        assert_eq!(parse(log)[0].subcategory, Subcategory::MissingEnvVar);
    }
}

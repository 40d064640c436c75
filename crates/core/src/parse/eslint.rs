//! ESLint: the default `stylish` format, `compact`, `unix` and `json`.
//!
//! ```text
//! /srv/app/src/a.js
//!   2:9   error    Expected '===' and instead saw '=='  eqeqeq
//! /srv/app/src/a.js: line 2, col 9, Error - Expected '===' and instead saw '=='. (eqeqeq)
//! /srv/app/src/a.js:2:9: Expected '===' and instead saw '=='. [Error/eqeqeq]
//! ```
//!
//! Stylish items only carry a position: the file is the header line above the first item of a
//! group.

use serde_json::Value;

use super::classify::lazy_regex;
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Severity, Subcategory};

builtin_parser! {
    /// Parses ESLint output.
    Eslint, "eslint", EslintSession,
    ["error", "warning", "Error", "Warning", "\"filePath\""]
}

#[derive(Debug, Default)]
struct EslintSession {
    /// The file of the stylish group being read.
    file: Option<String>,
}

impl ParserSession for EslintSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(d) = self.stylish_item(line) {
            out.emit(d.from_lines(n, n));
            return true;
        }
        self.file = None;
        let found = if text.starts_with("[{\"filePath\"") {
            json_report(text)
        } else {
            compact_or_unix(text).into_iter().collect()
        };
        if found.is_empty() {
            return false;
        }
        for d in found {
            out.emit(d.from_lines(n, n));
        }
        true
    }

    fn busy(&self) -> bool {
        self.file.is_some()
    }

    fn finish(&mut self, _out: &mut Sink) {}
}

impl EslintSession {
    fn stylish_item(&mut self, line: &Line<'_>) -> Option<Diagnostic> {
        let caps = lazy_regex!(
            r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>error|warning)\s+(?P<msg>.+?)(?:\s{2,}(?P<rule>[@\w][\w@/.-]*))?\s*$"
        )
        .captures(line.text())?;
        if self.file.is_none() {
            let header = line.previous(1)?;
            if header.trim().is_empty() || header.starts_with([' ', '\t']) {
                return None;
            }
            self.file = Some(header.trim_end().to_string());
        }
        let rule = caps.name("rule").map(|r| r.as_str());
        Some(diagnostic(
            self.file.clone()?,
            number(caps.name("line")),
            number(caps.name("col")),
            &caps["sev"],
            &caps["msg"],
            rule,
        ))
    }
}

fn compact_or_unix(text: &str) -> Option<Diagnostic> {
    let compact = lazy_regex!(
        r"^(?P<file>\S.*?): line (?P<line>\d+), col (?P<col>\d+), (?P<sev>Error|Warning) - (?P<msg>.+?)(?: \((?P<rule>[@\w][\w@/.-]*)\))?$"
    );
    let unix = lazy_regex!(
        r"^(?P<file>\S.*?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+) \[(?P<sev>Error|Warning)(?:/(?P<rule>[^\]]+))?\]$"
    );
    let caps = compact.captures(text).or_else(|| unix.captures(text))?;
    Some(diagnostic(
        caps["file"].to_string(),
        number(caps.name("line")),
        number(caps.name("col")),
        &caps["sev"].to_ascii_lowercase(),
        &caps["msg"],
        caps.name("rule").map(|r| r.as_str()),
    ))
}

/// `eslint -f json`: one array of files with their messages.
fn json_report(text: &str) -> Vec<Diagnostic> {
    let Ok(Value::Array(files)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for file in &files {
        let Some(path) = file.get("filePath").and_then(Value::as_str) else {
            continue;
        };
        for message in file
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = |name: &str| {
                message
                    .get(name)
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
            };
            let severity = if field("severity") == Some(1) {
                "warning"
            } else {
                "error"
            };
            let mut d = diagnostic(
                path.to_string(),
                field("line"),
                field("column"),
                severity,
                message.get("message").and_then(Value::as_str).unwrap_or(""),
                message.get("ruleId").and_then(Value::as_str),
            );
            d.end_line = field("endLine");
            d.end_column = field("endColumn");
            out.push(d);
        }
    }
    out
}

pub(super) fn diagnostic(
    file: String,
    line: Option<u32>,
    column: Option<u32>,
    severity: &str,
    message: &str,
    rule: Option<&str>,
) -> Diagnostic {
    let message = message.trim();
    let (category, subcategory) = classify(rule, message);
    let mut d = Diagnostic::new("eslint", message)
        .at(file, line, column)
        .with_class(category, subcategory)
        .with_confidence(if rule.is_some() { 0.97 } else { 0.9 });
    if severity == "warning" {
        d.severity = Severity::Warning;
    }
    d.code = rule.map(str::to_string);
    d
}

/// Lint findings are style (`unknown`) except the rules that report errors of another kind.
fn classify(rule: Option<&str>, message: &str) -> (Category, Subcategory) {
    match rule {
        None if message.starts_with("Parsing error") => {
            let sub = if message.contains("Unexpected token") {
                Subcategory::UnexpectedToken
            } else {
                Subcategory::ParseError
            };
            (Category::Syntax, sub)
        }
        Some("no-undef") => (Category::Type, Subcategory::UndefinedName),
        Some(
            "import/no-unresolved"
            | "import/no-extraneous-dependencies"
            | "n/no-missing-import"
            | "n/no-missing-require"
            | "n/no-extraneous-import"
            | "n/no-extraneous-require"
            | "node/no-missing-import"
            | "node/no-missing-require",
        ) => (Category::Dependency, Subcategory::MissingPackage),
        Some("import/named" | "import/default" | "import/namespace") => {
            (Category::Type, Subcategory::MissingExport)
        }
        Some(rule) if rule.contains("deprecat") => (Category::Unknown, Subcategory::Deprecation),
        Some(_) => (Category::Unknown, Subcategory::Lint),
        None => (Category::Unknown, Subcategory::Other),
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, Severity, Subcategory};

    #[test]
    fn stylish_groups_take_the_file_from_their_header() {
        let log = "\n/srv/app/src/a.js\n  2:9   error    Expected '===' and instead saw '=='  eqeqeq\n  4:3   warning  Unexpected console statement     no-console\n\n/srv/app/src/b.js\n  1:10  error  Parsing error: Unexpected token )\n\n✖ 3 problems (2 errors, 1 warning)\n";
        let found = parse(log);
        assert_eq!(found.len(), 3);
        let parse_error = &found[0];
        assert_eq!(parse_error.file.as_deref(), Some("/srv/app/src/b.js"));
        assert_eq!(parse_error.category, Category::Syntax);
        assert_eq!(parse_error.code, None);
        assert_eq!(found[1].code.as_deref(), Some("eqeqeq"));
        assert_eq!(found[2].severity, Severity::Warning);
        assert_eq!(found[2].file.as_deref(), Some("/srv/app/src/a.js"));
    }

    #[test]
    fn compact_unix_and_json_formats() {
        let log = concat!(
            "/a/x.js: line 3, col 1, Error - 'foo' is not defined. (no-undef)\n",
            "/a/y.js:4:2: Missing semicolon. [Warning/semi]\n",
            r#"[{"filePath":"/a/z.js","messages":[{"ruleId":"import/no-unresolved","severity":2,"message":"Unable to resolve path to module 'lodash'.","line":1,"column":15,"endLine":1,"endColumn":23}],"errorCount":1}]"#,
            "\n"
        );
        let found = parse(log);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0].subcategory, Subcategory::MissingPackage);
        assert_eq!(found[0].end_column, Some(23));
        assert_eq!(found[1].subcategory, Subcategory::UndefinedName);
        assert_eq!((found[2].line, found[2].column), (Some(4), Some(2)));
    }
}

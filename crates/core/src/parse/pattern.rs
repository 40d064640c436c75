//! [`PatternParser`]: a tool format added at run time from a regex, no recompiling.

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{ErrorParser, Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Error, Result, Severity, Subcategory};

/// The named groups a pattern may use.
const GROUPS: &[&str] = &[
    "file",
    "line",
    "column",
    "end_line",
    "end_column",
    "severity",
    "code",
    "message",
];

/// A user-supplied line format.
///
/// `regex` is matched against each cleaned log line (no colors, no `\r`). Its named groups
/// (`file`, `line`, `column`, `end_line`, `end_column`, `severity`, `code`, `message`) fill the
/// diagnostic; `message` is required. A captured severity starting with `warn` gives a warning,
/// `crit`/`fatal` a critical error, `note`/`info`/`hint` skips the line, anything else is an
/// error.
///
/// In JSON (the form host applications and `selfheal parse --patterns` use):
///
/// ```json
/// {"name": "mytool", "regex": "^(?P<file>[^:]+):(?P<line>\\d+): (?P<message>.+)$",
///  "category": "syntax", "subcategory": "parse_error", "severity": "error"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternSpec {
    /// Name of the format; also the `tool` of its diagnostics unless `tool` is set.
    pub name: String,
    /// The line regex, with named groups.
    pub regex: String,
    /// Category of every match: `dependency`, `syntax`, `type`, `runtime`, `resource`,
    /// `configuration`, `network` or `unknown`.
    pub category: String,
    /// Subcategory (snake_case, e.g. `parse_error`); `other` when unset.
    #[serde(default)]
    pub subcategory: Option<String>,
    /// Severity when the regex has no `severity` group: `critical`, `error` (default) or
    /// `warning`.
    #[serde(default)]
    pub severity: Option<String>,
    /// The `tool` of the diagnostics; defaults to `name`.
    #[serde(default)]
    pub tool: Option<String>,
    /// The tool prints 0-based columns (converted to 1-based).
    #[serde(default)]
    pub zero_based_columns: bool,
    /// Literals one of which is on every matching line; lines without them skip the regex.
    /// Empty: the regex runs on every line.
    #[serde(default)]
    pub triggers: Vec<String>,
}

impl PatternSpec {
    /// A spec with the required fields; the rest default.
    pub fn new(
        name: impl Into<String>,
        regex: impl Into<String>,
        category: impl Into<String>,
    ) -> Self {
        PatternSpec {
            name: name.into(),
            regex: regex.into(),
            category: category.into(),
            subcategory: None,
            severity: None,
            tool: None,
            zero_based_columns: false,
            triggers: Vec::new(),
        }
    }
}

/// A parser compiled from a [`PatternSpec`].
#[derive(Debug, Clone)]
pub struct PatternParser {
    spec: PatternSpec,
    regex: Regex,
    category: Category,
    subcategory: Subcategory,
    severity: Severity,
}

impl PatternParser {
    /// Compiles and checks a spec.
    ///
    /// Fails with [`Error::InvalidPattern`] when the regex does not compile, uses a group other
    /// than the known ones, has no `message` group, matches an empty line, or when category,
    /// subcategory or severity are not known names.
    pub fn new(spec: PatternSpec) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidPattern {
            name: spec.name.clone(),
            reason,
        };
        if spec.name.trim().is_empty() {
            return Err(invalid("the name is empty".into()));
        }
        let regex = regex::RegexBuilder::new(&spec.regex)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| invalid(format!("the regex does not compile: {e}")))?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        if let Some(unknown) = names.iter().find(|n| !GROUPS.contains(n)) {
            return Err(invalid(format!(
                "unknown group `{unknown}`; groups may be {}",
                GROUPS.join(", ")
            )));
        }
        if !names.contains(&"message") {
            return Err(invalid("the regex has no `message` group".into()));
        }
        if regex.is_match("") {
            return Err(invalid("the regex matches an empty line".into()));
        }
        let category: Category = spec
            .category
            .parse()
            .map_err(|_| invalid(format!("unknown category `{}`", spec.category)))?;
        let subcategory = match &spec.subcategory {
            None => Subcategory::Other,
            Some(name) => serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| invalid(format!("unknown subcategory `{name}`")))?,
        };
        let severity = match spec.severity.as_deref() {
            None | Some("error") => Severity::Error,
            Some("warning") => Severity::Warning,
            Some("critical") => Severity::Critical,
            Some(other) => return Err(invalid(format!("unknown severity `{other}`"))),
        };
        Ok(PatternParser {
            spec,
            regex,
            category,
            subcategory,
            severity,
        })
    }

    /// The spec it was compiled from.
    pub fn spec(&self) -> &PatternSpec {
        &self.spec
    }

    fn diagnostic(&self, text: &str) -> Option<Diagnostic> {
        let caps = self.regex.captures(text)?;
        let severity = match caps
            .name("severity")
            .map(|m| m.as_str().to_ascii_lowercase())
        {
            None => self.severity,
            Some(s) if s.starts_with("warn") => Severity::Warning,
            Some(s) if s.starts_with("crit") || s.starts_with("fatal") => Severity::Critical,
            Some(s) if s.starts_with("note") || s.starts_with("info") || s.starts_with("hint") => {
                return None;
            }
            Some(_) => Severity::Error,
        };
        let column_shift = u32::from(self.spec.zero_based_columns);
        let column = |name| number(caps.name(name)).map(|c| c.saturating_add(column_shift));
        let tool = self.spec.tool.as_deref().unwrap_or(&self.spec.name);
        let mut d = Diagnostic::new(tool, caps.name("message")?.as_str().trim())
            .with_class(self.category, self.subcategory)
            .with_severity(severity)
            .with_confidence(0.8);
        d.code = caps.name("code").map(|m| m.as_str().to_string());
        d.file = caps.name("file").map(|m| m.as_str().to_string());
        d.line = number(caps.name("line"));
        d.column = column("column");
        d.end_line = number(caps.name("end_line"));
        d.end_column = column("end_column");
        Some(d)
    }
}

impl ErrorParser for PatternParser {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn triggers(&self) -> Vec<&str> {
        self.spec.triggers.iter().map(String::as_str).collect()
    }

    fn session(&self) -> Box<dyn ParserSession + '_> {
        Box::new(PatternSession { parser: self })
    }
}

struct PatternSession<'a> {
    parser: &'a PatternParser,
}

impl ParserSession for PatternSession<'_> {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        match self.parser.diagnostic(line.text()) {
            Some(d) => {
                out.emit(d.from_lines(line.number(), line.number()));
                true
            }
            None => false,
        }
    }

    fn busy(&self) -> bool {
        false
    }

    fn finish(&mut self, _out: &mut Sink) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::ParserSet;

    fn spec(regex: &str) -> PatternSpec {
        PatternSpec::new("t", regex, "syntax")
    }

    #[test]
    fn invalid_specs_explain_themselves() {
        let reason = |s: PatternSpec| PatternParser::new(s).unwrap_err().to_string();
        assert!(reason(spec("(")).contains("does not compile"));
        assert!(reason(spec("(?P<msg>.+)")).contains("unknown group `msg`"));
        assert!(reason(spec("(?P<file>.+)")).contains("no `message` group"));
        assert!(reason(spec("(?P<message>.*)")).contains("matches an empty line"));
        let mut bad = spec("x(?P<message>.+)");
        bad.category = "types".into();
        assert!(reason(bad).contains("unknown category `types`"));
        let mut bad = spec("x(?P<message>.+)");
        bad.subcategory = Some("nope".into());
        assert!(reason(bad).contains("unknown subcategory"));
    }

    #[test]
    fn zero_based_columns_severity_and_notes() {
        let mut s = spec(
            r"^(?P<file>\S+) (?P<line>\d+):(?P<column>\d+) (?P<severity>\w+): (?P<message>.+)$",
        );
        s.zero_based_columns = true;
        s.subcategory = Some("unexpected_token".into());
        let mut set = ParserSet::with_parsers(Vec::new());
        set.add_pattern(s).unwrap();
        let found = set.parse("a.cfg 3:0 WARN: odd\na.cfg 4:2 note: fyi\na.cfg 5:1 Error: bad\n");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].subcategory, Subcategory::UnexpectedToken);
        assert_eq!(found[1].column, Some(1));
        assert_eq!(found[1].severity, Severity::Warning);
    }

    #[test]
    fn specs_read_from_json() {
        let spec: PatternSpec = serde_json::from_str(
            r#"{"name":"x","regex":"^E (?P<message>.+)$","category":"runtime","triggers":["E "]}"#,
        )
        .unwrap();
        let parser = PatternParser::new(spec).unwrap();
        assert_eq!(parser.triggers(), ["E "]);
    }
}

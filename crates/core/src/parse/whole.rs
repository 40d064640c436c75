//! [`WholeLogParser`]: a parser that reads the whole cleaned log at once — how a host
//! application's own parser (a Python or JavaScript function) joins the built-in ones.

use super::{ErrorParser, Line, ParserSession, Sink};
use crate::Diagnostic;

/// The function a [`WholeLogParser`] calls with the cleaned log.
type Read = dyn Fn(&str) -> Vec<Diagnostic> + Send + Sync;

/// Gives the whole cleaned log (colors, `\r` rewrites and CI prefixes removed; one line per
/// line) to a function once the log has ended; its diagnostics are made relative, merged and
/// ordered with the built-in parsers' ones. It sees every line and claims none.
///
/// ```
/// use std::sync::Arc;
/// use selfheal::Diagnostic;
/// use selfheal::parse::{ParserSet, WholeLogParser};
///
/// let mut parsers = ParserSet::new();
/// parsers.add(Arc::new(WholeLogParser::new("licenses", |log| {
///     log.lines()
///         .filter_map(|line| line.strip_prefix("LICENSE: "))
///         .map(|message| Diagnostic::new("licenses", message))
///         .collect()
/// })));
/// let found = parsers.parse("\x1b[31mLICENSE: left-pad is GPL\x1b[0m\n");
/// assert_eq!(found[0].message, "left-pad is GPL");
/// ```
pub struct WholeLogParser {
    name: String,
    read: Box<Read>,
}

impl WholeLogParser {
    /// A parser named `name` that calls `read` with the cleaned log.
    pub fn new(
        name: impl Into<String>,
        read: impl Fn(&str) -> Vec<Diagnostic> + Send + Sync + 'static,
    ) -> Self {
        WholeLogParser {
            name: name.into(),
            read: Box::new(read),
        }
    }
}

impl std::fmt::Debug for WholeLogParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WholeLogParser")
            .field("name", &self.name)
            .finish()
    }
}

impl ErrorParser for WholeLogParser {
    fn name(&self) -> &str {
        &self.name
    }

    fn triggers(&self) -> Vec<&str> {
        Vec::new()
    }

    fn session(&self) -> Box<dyn ParserSession + '_> {
        Box::new(WholeLog {
            parser: self,
            log: String::new(),
        })
    }
}

/// Gathers the cleaned log. Busy from the start, so that it is offered every line before any
/// other parser claims it.
struct WholeLog<'a> {
    parser: &'a WholeLogParser,
    log: String,
}

impl ParserSession for WholeLog<'_> {
    fn line(&mut self, line: &Line<'_>, _: &mut Sink) -> bool {
        self.log.push_str(line.text());
        self.log.push('\n');
        false
    }

    fn busy(&self) -> bool {
        true
    }

    fn finish(&mut self, out: &mut Sink) {
        (self.parser.read)(&self.log)
            .into_iter()
            .for_each(|diagnostic| out.emit(diagnostic));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::parse::ParserSet;

    #[test]
    fn it_sees_lines_other_parsers_claim() {
        let mut parsers = ParserSet::new();
        let seen = Arc::new(std::sync::Mutex::new(String::new()));
        let kept = seen.clone();
        parsers.add(Arc::new(WholeLogParser::new("all", move |log| {
            kept.lock().unwrap().push_str(log);
            Vec::new()
        })));
        let log = "src/a.ts(1,2): error TS2322: Type 'string' is not assignable to type 'number'.\nplain\n";
        let found = parsers.parse(log);
        assert_eq!(found.len(), 1, "the tsc diagnostic is still found");
        assert_eq!(*seen.lock().unwrap(), log);
    }
}

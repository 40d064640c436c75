//! Build logs to structured [`Diagnostic`]s.
//!
//! A [`ParserSet`] reads a log **once**, line by line. Every line is cleaned first (see
//! [`Line`]): colors and terminal escapes removed, carriage-return overwrites resolved, invalid
//! UTF-8 replaced. A line is then offered to the parsers that asked for it:
//!
//! - a parser that is in the middle of a multi-line diagnostic (a code frame, a traceback, a
//!   `help:` child) sees every line until it says it is done;
//! - an idle parser only sees lines that contain one of its *trigger* literals, found for all
//!   parsers at once by one Aho-Corasick automaton, so noise lines (progress bars, `Compiling`,
//!   passing tests) cost one scan.
//!
//! The first parser that claims a line owns it. When the log ends, diagnostics are made relative
//! to the project root, duplicates re-printed by wrappers are merged, fallback diagnostics (a
//! failed npm lifecycle script, `make: *** Error 1`) are dropped when a real error explains the
//! failure, and the rest are ordered: errors before warnings, root causes before their cascades.
//!
//! Built-in parsers cover tsc, ESLint, rustc/cargo/clippy, ruff, Python tracebacks, mypy,
//! pytest, Node, gcc/clang and linkers, npm, esbuild, vite, webpack, Next.js, Docker builds, shell
//! errors and resource and network signatures. Host applications add formats at run time with a
//! [`PatternParser`], or implement [`ErrorParser`] themselves.

/// Declares a built-in parser: a unit struct with a name, trigger literals, and sessions that
/// start from their `Default`.
macro_rules! builtin_parser {
    ($(#[$doc:meta])* $parser:ident, $name:literal, $session:ty, [$($trigger:literal),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub(crate) struct $parser;

        impl $crate::parse::ErrorParser for $parser {
            fn name(&self) -> &str {
                $name
            }

            fn triggers(&self) -> Vec<&str> {
                vec![$($trigger),*]
            }

            fn session(&self) -> Box<dyn $crate::parse::ParserSession + '_> {
                Box::<$session>::default()
            }
        }
    };
}

mod classify;
mod docker;
mod eslint;
mod gnu;
mod jstest;
mod line;
mod node;
mod npm;
mod pattern;
mod pytest;
mod python;
mod ruff;
mod rustc;
mod set;
mod signatures;
mod sink;
mod snippet;
mod tsc;
mod web;
mod whole;

use std::collections::VecDeque;

pub use pattern::{PatternParser, PatternSpec};
pub use set::{ParseOptions, ParserSet};
pub use sink::Sink;
pub(crate) use web::{is_module_exports, next_sources};
pub use whole::WholeLogParser;

use crate::Diagnostic;

/// A parser for one family of tool output.
///
/// Parsers are line driven so that a [`ParserSet`] can run all of them in one pass. The parser
/// itself is immutable configuration; each parse gets a fresh [`ParserSession`] holding the
/// state of that one log.
pub trait ErrorParser: Send + Sync {
    /// A short name (`tsc`, `pytest`, the name of a pattern).
    fn name(&self) -> &str;

    /// Literal substrings, one of which is on every line that can start a diagnostic of this
    /// parser. Lines without any of them are not offered to an idle session. An empty list means
    /// every line is offered.
    fn triggers(&self) -> Vec<&str>;

    /// Fresh state for parsing one log.
    fn session(&self) -> Box<dyn ParserSession + '_>;
}

/// The state of one parser while it reads one log.
pub trait ParserSession: Send {
    /// Offers one line. Returns true when the line belongs to a diagnostic this session is
    /// assembling; no other parser sees it then.
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool;

    /// True while the session is in the middle of a multi-line diagnostic: it is offered every
    /// following line, whatever its triggers, until this turns false.
    fn busy(&self) -> bool;

    /// The log has ended: emit whatever is still open.
    fn finish(&mut self, out: &mut Sink);
}

/// One cleaned line of the log, with a short look back at the lines before it.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    text: &'a str,
    number: u32,
    history: &'a History,
}

impl<'a> Line<'a> {
    /// The visible text: no colors, no terminal escapes, no trailing `\r`, valid UTF-8.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// 1-based position in the log.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The cleaned line `back` lines before this one (`1` is the previous line), if kept.
    /// At least the [`History::DEPTH`] previous lines are kept.
    pub fn previous(&self, back: usize) -> Option<&'a str> {
        self.history.get(back)
    }
}

/// The last few cleaned lines, so parsers can look back without buffering the log.
#[derive(Debug, Default)]
pub struct History {
    lines: VecDeque<String>,
}

impl History {
    /// How many previous lines are kept.
    pub const DEPTH: usize = 4;

    fn push(&mut self, text: &str) {
        let mut slot = if self.lines.len() == Self::DEPTH {
            self.lines.pop_back().unwrap_or_default()
        } else {
            String::new()
        };
        slot.clear();
        slot.push_str(text);
        self.lines.push_front(slot);
    }

    fn get(&self, back: usize) -> Option<&str> {
        back.checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map(String::as_str)
    }
}

/// Parses a log with the built-in parsers and default options.
///
/// Shorthand for `ParserSet::new().parse(log)`.
pub fn parse(log: impl AsRef<[u8]>) -> Vec<Diagnostic> {
    ParserSet::new().parse(log)
}

/// A captured decimal number, saturating instead of failing on absurd values.
fn number(m: Option<regex::Match<'_>>) -> Option<u32> {
    let digits = m?.as_str();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u32::MAX))
}

//! [`ParserSet`]: all parsers, one pass over the log.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::line::{LineCleaner, already_clean, split_lines};
use super::pattern::{PatternParser, PatternSpec};
use super::{ErrorParser, History, Line, ParserSession, Sink};
use super::{
    docker, eslint, gnu, jstest, node, npm, pytest, python, ruff, rustc, signatures, tsc, web,
};
use crate::{Diagnostic, Result};

/// Options of a [`ParserSet`].
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The project root: paths inside it are reported relative to it. When unset, a root the log
    /// itself prints (pytest's `rootdir:`, the package path cargo prints) is used.
    pub root: Option<String>,
    /// At most this many diagnostics are kept (in log order), bounding memory on logs with
    /// millions of errors.
    pub max_diagnostics: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            root: None,
            max_diagnostics: 10_000,
        }
    }
}

/// Runs a list of [`ErrorParser`]s over a log in one pass.
///
/// ```
/// use selfheal::parse::{ParserSet, PatternSpec};
///
/// let mut parsers = ParserSet::new();
/// parsers.add_pattern(PatternSpec::new(
///     "mytool",
///     r"^(?P<file>[^:]+):(?P<line>\d+): (?P<severity>ERROR|WARN) (?P<message>.+)$",
///     "syntax",
/// ))?;
/// let found = parsers.parse("app.cfg:3: ERROR unexpected `}`\n");
/// assert_eq!(found[0].tool, "mytool");
/// assert_eq!(found[0].line, Some(3));
/// # Ok::<(), selfheal::Error>(())
/// ```
#[derive(Clone)]
pub struct ParserSet {
    parsers: Vec<Arc<dyn ErrorParser>>,
    triggers: TriggerIndex,
    options: ParseOptions,
}

impl std::fmt::Debug for ParserSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.parsers.iter().map(|p| p.name()).collect();
        f.debug_struct("ParserSet")
            .field("parsers", &names)
            .field("options", &self.options)
            .finish()
    }
}

impl Default for ParserSet {
    fn default() -> Self {
        Self::new()
    }
}

impl ParserSet {
    /// All built-in parsers with default options.
    pub fn new() -> Self {
        // Order matters where formats overlap: the first parser to claim a line owns it, so
        // specific formats come before generic ones and signatures come last.
        let builtin: Vec<Arc<dyn ErrorParser>> = vec![
            Arc::new(tsc::Tsc),
            Arc::new(rustc::Rustc),
            Arc::new(ruff::Ruff),
            Arc::new(eslint::Eslint),
            Arc::new(pytest::Pytest),
            Arc::new(python::Python),
            Arc::new(jstest::Jest),
            Arc::new(jstest::Vitest),
            Arc::new(jstest::Tap),
            // Before Node: Turbopack's failure starts `Error: …` like an uncaught exception.
            Arc::new(web::Next),
            Arc::new(web::NextPrerender),
            Arc::new(node::Node),
            Arc::new(web::Esbuild),
            Arc::new(web::Vite),
            Arc::new(web::Webpack),
            Arc::new(docker::Docker),
            Arc::new(npm::Npm),
            Arc::new(gnu::Gnu),
            Arc::new(signatures::Signatures),
        ];
        Self::with_parsers(builtin)
    }

    /// A set of exactly these parsers.
    pub fn with_parsers(parsers: Vec<Arc<dyn ErrorParser>>) -> Self {
        let triggers = TriggerIndex::build(&parsers);
        ParserSet {
            parsers,
            triggers,
            options: ParseOptions::default(),
        }
    }

    /// Replaces the options.
    pub fn with_options(mut self, options: ParseOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in use.
    pub fn options(&self) -> &ParseOptions {
        &self.options
    }

    /// Adds a parser in front of the others: it gets the first claim on every line.
    pub fn add(&mut self, parser: Arc<dyn ErrorParser>) {
        self.parsers.insert(0, parser);
        self.triggers = TriggerIndex::build(&self.parsers);
    }

    /// Compiles `spec` into a [`PatternParser`] and adds it in front of the others.
    pub fn add_pattern(&mut self, spec: PatternSpec) -> Result<()> {
        self.add(Arc::new(PatternParser::new(spec)?));
        Ok(())
    }

    /// The parsers, in the order they are offered lines.
    pub fn parsers(&self) -> impl Iterator<Item = &dyn ErrorParser> {
        self.parsers.iter().map(|p| p.as_ref())
    }

    /// Parses a log (any bytes: invalid UTF-8 and control characters are tolerated).
    ///
    /// Time is linear in the size of the log and memory is bounded by the line cap and
    /// [`ParseOptions::max_diagnostics`].
    pub fn parse(&self, log: impl AsRef<[u8]>) -> Vec<Diagnostic> {
        let mut sessions: Vec<Box<dyn ParserSession + '_>> =
            self.parsers.iter().map(|p| p.session()).collect();
        let mut busy = vec![false; sessions.len()];
        let mut offered = vec![false; sessions.len()];
        let mut sink = Sink::new(self.options.max_diagnostics);
        let mut cleaner = LineCleaner::default();
        let mut history = History::default();
        let mut cleaned = String::new();
        let log = log.as_ref();
        // Valid UTF-8 (the usual case) lets clean lines be borrowed from the log as they are.
        let valid = std::str::from_utf8(log).ok();

        for (index, raw) in split_lines(log).enumerate() {
            let borrowed = valid.and_then(|whole| {
                let start = raw.as_ptr() as usize - log.as_ptr() as usize;
                whole.get(start..start + raw.len()).and_then(already_clean)
            });
            let text = match borrowed {
                Some(text) => text,
                None => {
                    cleaner.clean(raw, &mut cleaned);
                    cleaned.as_str()
                }
            };
            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
            sink.observe(text, number);
            let line = Line {
                text,
                number,
                history: &history,
            };

            let mut taken = false;
            for (i, session) in sessions.iter_mut().enumerate() {
                if busy[i] {
                    taken = session.line(&line, &mut sink);
                    busy[i] = session.busy();
                    if taken {
                        break;
                    }
                }
            }
            if !taken {
                self.triggers.mark(text, &mut offered);
                for (i, session) in sessions.iter_mut().enumerate() {
                    if offered[i] && !busy[i] {
                        taken = session.line(&line, &mut sink);
                        busy[i] = session.busy();
                        if taken {
                            break;
                        }
                    }
                }
            }
            history.push(text);
        }
        for session in &mut sessions {
            session.finish(&mut sink);
        }
        sink.finish(self.options.root.as_deref())
    }
}

/// Finds, in one scan of a line, which parsers have a trigger on it.
#[derive(Clone)]
struct TriggerIndex {
    automaton: Option<AhoCorasick>,
    /// Parser index of each pattern of the automaton.
    owner: Vec<usize>,
    /// Parsers without triggers: offered every line.
    always: Vec<bool>,
}

impl TriggerIndex {
    fn build(parsers: &[Arc<dyn ErrorParser>]) -> Self {
        let mut literals = Vec::new();
        let mut owner = Vec::new();
        let mut always = vec![false; parsers.len()];
        for (i, parser) in parsers.iter().enumerate() {
            let triggers = parser.triggers();
            always[i] = triggers.is_empty();
            for literal in triggers.into_iter().filter(|t| !t.is_empty()) {
                literals.push(literal.to_string());
                owner.push(i);
            }
        }
        // Literal sets are small and fixed; building only fails past size limits we never reach,
        // and then every parser is simply offered every line.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&literals)
            .ok();
        if automaton.is_none() {
            always.iter_mut().for_each(|a| *a = true);
        }
        TriggerIndex {
            automaton,
            owner,
            always,
        }
    }

    fn mark(&self, text: &str, offered: &mut [bool]) {
        offered.copy_from_slice(&self.always);
        if let Some(automaton) = &self.automaton {
            // Most lines hold no trigger: one prefiltered search settles them, the full set of
            // overlapping matches is only collected for the rest.
            if !automaton.is_match(text) {
                return;
            }
            for found in automaton.find_overlapping_iter(text) {
                offered[self.owner[found.pattern().as_usize()]] = true;
            }
        }
    }
}

//! JSON out of LLM replies: [`recover`] finds the value a careful human would extract.
//!
//! Replies wrap JSON in prose and markdown fences, cut it off, or get it subtly wrong, and their
//! strings are source files full of quotes, backslashes, backticks and braces. `recover` reads
//! them in one linear pass:
//!
//! 1. **Candidates.** The text is scanned once. Fenced blocks tagged `json` (or untagged) hold
//!    candidates; a block tagged with another language (`ts`, `bash`, `yaml`, a build log) only
//!    when it is one JSON value and nothing else. In prose, a `{` or `[` starts a candidate unless
//!    it sits in a word or a quote (`Type '{ id: number; }'`, `items[0]`).
//! 2. **Tolerant parsing** of each candidate with explicit stacks (any depth): trailing and
//!    missing commas, unquoted keys, single and smart quotes, comments, Python literals, `NaN`,
//!    raw newlines and unescaped quotes inside strings, invalid escapes kept as written (`\d`),
//!    missing brackets where the next token proves them, and truncation (a cut-off string keeps
//!    its text, a cut-off number, literal or key is dropped, open containers are closed).
//! 3. **Selection.** The first object with every key of the [`Hint`] (e.g. `analysis` and `fixes`
//!    for fix proposals), else the first candidate. No candidate: [`NotFound`] — declining is
//!    better than a wrong value.
//!
//! ```
//! use selfheal::json::{Hint, Stage, recover};
//!
//! let reply = "Here is the fix:\n```json\n{'analysis': 'typo', 'fixes': [], 'confidence': 0.9,}\n```";
//! let found = recover(reply, &Hint::fix_proposal()).unwrap();
//! assert_eq!(found.value["analysis"], "typo");
//! assert_eq!(found.stage, Stage::Extracted);
//! assert!(recover("I cannot help with that.", &Hint::none()).is_err());
//! ```

mod parser;
mod scan;
mod value;

use serde::Serialize;
use serde_json::Value;

pub use parser::MAX_DEPTH;
pub use value::{HOST_DEPTH, drop_deep, equal, nests_deeper, to_string, to_string_pretty};

/// What the caller expects: the keys an object must have to be the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hint {
    keys: Vec<String>,
}

impl Hint {
    /// No expectation: the first JSON value wins.
    pub fn none() -> Self {
        Hint::default()
    }

    /// The first object with all of these keys wins.
    pub fn keys(keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Hint {
            keys: keys.into_iter().map(Into::into).collect(),
        }
    }

    /// The fix-proposal schema: `analysis` and `fixes`.
    pub fn fix_proposal() -> Self {
        Hint::keys(["analysis", "fixes"])
    }

    /// The schema a host names (`"fix"`: [`Hint::fix_proposal`]); `None` for a name there is
    /// no schema of.
    pub fn named(name: &str) -> Option<Self> {
        (name == "fix").then(Hint::fix_proposal)
    }

    /// True when `value` is an object with every key of the hint (never for [`Hint::none`]).
    pub fn fits(&self, value: &Value) -> bool {
        !self.keys.is_empty()
            && value
                .as_object()
                .is_some_and(|map| self.keys.iter().all(|k| map.contains_key(k)))
    }
}

/// Which stage of recovery produced the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The whole text is valid JSON.
    Strict,
    /// The whole text is JSON after repairs.
    Repaired,
    /// Found in a fence or in prose.
    Extracted,
    /// The text ends inside the value: completed from what was there.
    Truncated,
}

impl Stage {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Strict => "strict",
            Stage::Repaired => "repaired",
            Stage::Extracted => "extracted",
            Stage::Truncated => "truncated",
        }
    }
}

/// A kind of repair made to read the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RepairKind {
    /// A comma before `]` or `}`.
    TrailingComma,
    /// A comma missing between two members or elements.
    MissingComma,
    /// Two commas in a row.
    ExtraComma,
    /// An object key without quotes.
    UnquotedKey,
    /// A string in single quotes.
    SingleQuotes,
    /// A string in typographic quotes.
    SmartQuotes,
    /// A `//` or `/* */` comment.
    Comment,
    /// `True`, `False` or `None`.
    PythonLiteral,
    /// `NaN` or `Infinity`, which JSON cannot hold: `null`.
    NonFiniteNumber,
    /// JavaScript's `undefined`: `null`.
    Undefined,
    /// A raw newline, tab or other control character inside a string.
    ControlCharacter,
    /// A `"` inside a string that was not escaped.
    UnescapedQuote,
    /// A backslash escape JSON does not have, kept as written (`\'` becomes `'`).
    InvalidEscape,
    /// A closing bracket that was missing.
    MissingBracket,
    /// A key given twice: the last value wins.
    DuplicateKey,
    /// A byte-order mark before the text.
    ByteOrderMark,
}

impl RepairKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RepairKind::TrailingComma => "trailing_comma",
            RepairKind::MissingComma => "missing_comma",
            RepairKind::ExtraComma => "extra_comma",
            RepairKind::UnquotedKey => "unquoted_key",
            RepairKind::SingleQuotes => "single_quotes",
            RepairKind::SmartQuotes => "smart_quotes",
            RepairKind::Comment => "comment",
            RepairKind::PythonLiteral => "python_literal",
            RepairKind::NonFiniteNumber => "non_finite_number",
            RepairKind::Undefined => "undefined",
            RepairKind::ControlCharacter => "control_character",
            RepairKind::UnescapedQuote => "unescaped_quote",
            RepairKind::InvalidEscape => "invalid_escape",
            RepairKind::MissingBracket => "missing_bracket",
            RepairKind::DuplicateKey => "duplicate_key",
            RepairKind::ByteOrderMark => "byte_order_mark",
        }
    }
}

/// One kind of repair, how often it was made and where first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repair {
    /// What was repaired.
    pub kind: RepairKind,
    /// How many times.
    pub count: usize,
    /// Byte offset in the text of the first one.
    pub first_offset: usize,
}

/// The repairs made while parsing, one entry per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Repairs(Vec<Repair>);

impl Repairs {
    fn add(&mut self, kind: RepairKind, offset: usize) {
        match self.0.iter_mut().find(|r| r.kind == kind) {
            Some(repair) => repair.count += 1,
            None => self.0.push(Repair {
                kind,
                count: 1,
                first_offset: offset,
            }),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A value recovered from a reply.
#[derive(Debug)]
pub struct Recovered {
    /// The value. Take it with [`Recovered::into_value`]; values nested thousands of levels deep
    /// must then be dropped with [`drop_deep`].
    pub value: Value,
    /// How it was obtained.
    pub stage: Stage,
    /// What had to be repaired.
    pub repairs: Vec<Repair>,
    /// Where in the text it was found (byte offsets).
    pub span: std::ops::Range<usize>,
}

impl Recovered {
    /// The value, leaving `Null` behind.
    pub fn into_value(mut self) -> Value {
        std::mem::take(&mut self.value)
    }
}

impl Drop for Recovered {
    fn drop(&mut self) {
        drop_deep(std::mem::take(&mut self.value));
    }
}

/// Why no value was recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotFound {
    /// The text is empty or blank.
    #[error("the reply is empty")]
    Empty,
    /// No JSON object or array in the text.
    #[error("no JSON object or array in the reply")]
    NoValue,
    /// The only JSON in the text nests deeper than [`MAX_DEPTH`] levels.
    #[error("the JSON in the reply nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Recovers the JSON value a reply holds; see the [module documentation](self).
///
/// Linear in the length of `text`; never panics; any nesting depth.
pub fn recover(text: &str, hint: &Hint) -> Result<Recovered, NotFound> {
    let mut repairs = Repairs::default();
    let body = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => {
            repairs.add(RepairKind::ByteOrderMark, 0);
            rest
        }
        None => text,
    };
    let offset = text.len() - body.len();
    if body.trim().is_empty() {
        return Err(NotFound::Empty);
    }
    let candidate = scan::select(body, |value| hint.fits(value))?;
    for repair in candidate.repairs.0 {
        match repairs.0.iter_mut().find(|r| r.kind == repair.kind) {
            Some(existing) => existing.count += repair.count,
            None => repairs.0.push(Repair {
                first_offset: repair.first_offset + offset,
                ..repair
            }),
        }
    }
    let whole = body[..candidate.start].trim().is_empty() && scan::only_space(body, candidate.end);
    let stage = if candidate.truncated {
        Stage::Truncated
    } else if candidate.fenced || !whole {
        Stage::Extracted
    } else if repairs.is_empty() && !candidate.open_at_end {
        Stage::Strict
    } else {
        Stage::Repaired
    };
    if candidate.open_at_end {
        repairs.add(RepairKind::MissingBracket, candidate.end + offset);
    }
    Ok(Recovered {
        value: candidate.value,
        stage,
        repairs: repairs.0,
        span: candidate.start + offset..candidate.end + offset,
    })
}

#[cfg(test)]
mod tests;

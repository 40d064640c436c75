//! Finding candidate values in a reply: markdown fences and prose, in one pass.

use memchr::memchr3;
use serde_json::Value;

use super::parser::{Fence, Parsed, Parser};
use super::{NotFound, Repairs};

/// A JSON value found in the text.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub(crate) value: Value,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) repairs: Repairs,
    /// The text (or its fence) ended inside the value: brackets were closed.
    pub(crate) open_at_end: bool,
    /// The text itself ended inside the value: it was cut off.
    pub(crate) truncated: bool,
    /// Found inside a fenced block.
    pub(crate) fenced: bool,
}

/// Bytes that failed candidates may read, per byte of text, before failures stop being retried
/// one byte further: keeps the scan linear on hostile input (`[[[[…x`).
const RETRY_BUDGET: usize = 4;

/// The first candidate `fits` accepts, else the first candidate.
pub(crate) fn select(text: &str, fits: impl Fn(&Value) -> bool) -> Result<Candidate, NotFound> {
    let mut scan = Scan {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        budget: text.len().saturating_mul(RETRY_BUDGET).saturating_add(4096),
        too_deep: false,
    };
    let mut first: Option<Candidate> = None;
    while let Some(candidate) = scan.next_candidate() {
        if fits(&candidate.value) {
            if let Some(earlier) = first.take() {
                super::drop_deep(earlier.value);
            }
            return Ok(candidate);
        }
        match first {
            None => first = Some(candidate),
            Some(_) => super::drop_deep(candidate.value),
        }
    }
    first.ok_or(if scan.too_deep {
        NotFound::TooDeep
    } else {
        NotFound::NoValue
    })
}

/// True when only whitespace and comments follow `from`.
pub(crate) fn only_space(text: &str, from: usize) -> bool {
    skip_space_and_comments(text, from) >= text.len()
}

/// The first position at or after `from` that is not whitespace or a comment.
fn skip_space_and_comments(text: &str, from: usize) -> usize {
    let mut pos = from.min(text.len());
    loop {
        let rest = &text[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        if let Some(comment) = trimmed.strip_prefix("//") {
            pos = comment.find('\n').map_or(text.len(), |n| pos + 2 + n);
        } else if let Some(comment) = trimmed.strip_prefix("/*") {
            pos = comment.find("*/").map_or(text.len(), |n| pos + 2 + n + 2);
        } else {
            return pos;
        }
    }
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    budget: usize,
    /// A candidate was refused for nesting deeper than [`super::MAX_DEPTH`].
    too_deep: bool,
}

/// An opening fence: its marker, length, tag and where its content starts.
struct Opening<'a> {
    fence: Fence,
    tag: &'a str,
    content: usize,
}

impl<'a> Scan<'a> {
    fn at_line_start(&self) -> bool {
        self.pos == 0 || self.bytes[self.pos - 1] == b'\n'
    }

    fn next_candidate(&mut self) -> Option<Candidate> {
        // Past a value nested too deep there is only more of it: the scan stops.
        while self.pos < self.bytes.len() && !self.too_deep {
            if self.at_line_start()
                && let Some(opening) = self.opening_fence(self.pos)
            {
                if let Some(found) = self.fenced_block(&opening) {
                    return Some(found);
                }
                continue;
            }
            let rest = &self.bytes[self.pos..];
            let Some(offset) = memchr3(b'{', b'[', b'\n', rest) else {
                self.pos = self.bytes.len();
                return None;
            };
            let at = self.pos + offset;
            if self.bytes[at] == b'\n' {
                self.pos = at + 1;
                continue;
            }
            if in_word_or_quote(self.text, at) {
                self.pos = at + 1;
                continue;
            }
            match self.attempt(at, None) {
                Ok(found) if in_statement(self.text, at, found.end) => {
                    self.pos = found.end.max(at + 1);
                    super::drop_deep(found.value);
                }
                Ok(found) => {
                    self.pos = found.end.max(at + 1);
                    return Some(found);
                }
                Err(failed_at) => self.skip_failure(at, failed_at),
            }
        }
        None
    }

    /// After a failed attempt at `start` that gave up at `failed_at`: retry one byte further
    /// while the budget lasts, else continue where it failed.
    fn skip_failure(&mut self, start: usize, failed_at: usize) {
        let work = failed_at.saturating_sub(start) + 1;
        self.budget = self.budget.saturating_sub(work);
        self.pos = if self.budget > 0 {
            start + 1
        } else {
            failed_at.max(start + 1)
        };
    }

    fn attempt(&mut self, start: usize, fence: Option<Fence>) -> Result<Candidate, usize> {
        let (parsed, repairs) = Parser::new(self.text, start, fence).parse();
        match parsed {
            Parsed::Value {
                value,
                end,
                open_at_end,
                cut_in_token,
            } => Ok(Candidate {
                value,
                start,
                end,
                repairs,
                open_at_end,
                truncated: open_at_end && (cut_in_token || end >= self.bytes.len()),
                fenced: fence.is_some(),
            }),
            Parsed::Failed { at } => Err(at),
            Parsed::TooDeep { at } => {
                self.too_deep = true;
                Err(at)
            }
        }
    }

    /// A line opening a fence: optional indentation or list/quote markers, then three or more
    /// backticks or tildes, then a tag; content may follow on the same line (```` ```json{…}``` ````).
    fn opening_fence(&self, line_start: usize) -> Option<Opening<'a>> {
        let line_end = memchr::memchr(b'\n', &self.bytes[line_start..])
            .map_or(self.bytes.len(), |n| line_start + n);
        let text: &'a str = self.text;
        let line = &text[line_start..line_end];
        let indent = line.len() - line.trim_start_matches([' ', '\t', '>']).len();
        let rest = &line[indent..];
        let marker = *rest.as_bytes().first()?;
        if marker != b'`' && marker != b'~' {
            return None;
        }
        let len = rest.bytes().take_while(|&b| b == marker).count();
        if len < 3 {
            return None;
        }
        let after = &rest[len..];
        let tag_len = after
            .trim_start()
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.'))
            .count();
        let tag_start = after.len() - after.trim_start().len();
        let tag = &after[tag_start..tag_start + tag_len];
        let content = line_start + indent + len + tag_start + tag_len;
        Some(Opening {
            fence: Fence { marker, len },
            tag,
            content,
        })
    }

    /// Reads a fenced block whose opening line starts at the current position; leaves the
    /// position after its closing fence.
    fn fenced_block(&mut self, opening: &Opening<'_>) -> Option<Candidate> {
        let json_tag = opening.tag.is_empty() || opening.tag.to_ascii_lowercase().contains("json");
        let first = Some(skip_space_and_comments(self.text, opening.content))
            .filter(|&at| at < self.bytes.len());
        let mut found = None;
        let mut resume = opening.content;
        if let Some(start) = first.filter(|&s| matches!(self.bytes[s], b'{' | b'[')) {
            match self.attempt(start, Some(opening.fence)) {
                Ok(candidate) => {
                    resume = candidate.end;
                    let alone = self.block_rest_is_empty(candidate.end, opening.fence);
                    if json_tag || alone {
                        found = Some(candidate);
                    } else {
                        super::drop_deep(candidate.value);
                    }
                }
                Err(failed_at) => {
                    let work = failed_at.saturating_sub(start) + 1;
                    self.budget = self.budget.saturating_sub(work);
                }
            }
        }
        self.pos = self.closing_fence_end(resume, opening.fence);
        found
    }

    /// True when only whitespace separates `from` from the closing fence (or the end).
    fn block_rest_is_empty(&self, from: usize, fence: Fence) -> bool {
        let rest = &self.text[from..];
        let trimmed = rest.trim_start();
        trimmed.is_empty()
            || trimmed.bytes().take_while(|&b| b == fence.marker).count() >= fence.len
    }

    /// The position after the line that closes the fence, searching from `from`.
    fn closing_fence_end(&self, from: usize, fence: Fence) -> usize {
        let mut pos = from;
        while pos < self.bytes.len() {
            let line_end =
                memchr::memchr(b'\n', &self.bytes[pos..]).map_or(self.bytes.len(), |n| pos + n);
            let line = &self.text[pos..line_end];
            let trimmed = line.trim();
            // The fence may close right after the value, on the value's own line.
            let marker_at = line.find(|c: char| c as u32 == u32::from(fence.marker));
            if let Some(at) = marker_at {
                let run = line[at..]
                    .bytes()
                    .take_while(|&b| b == fence.marker)
                    .count();
                let before = &line[..at];
                if run >= fence.len
                    && (before.trim().is_empty() || pos == from)
                    && !trimmed.is_empty()
                {
                    return (line_end + 1).min(self.bytes.len());
                }
            }
            pos = line_end + 1;
        }
        self.bytes.len()
    }
}

/// A value assigned or terminated like a statement of code on its line (`const xs = [1, 2];`,
/// `export default { a: 1 };`) is code, not an answer.
fn in_statement(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].trim_end_matches([' ', '\t']);
    let after = text[end..].trim_start_matches([' ', '\t']);
    (before.ends_with('=') && !before.ends_with("==")) || after.starts_with(';')
}

/// A `{` or `[` glued to a word or a quote is part of prose or code (`items[0]`, `vec![1]`,
/// `'{ id: number }'`), not a JSON value — unless the word is the tag of a fence opened in the
/// middle of a line (```` Result: ```json{…}``` ````).
fn in_word_or_quote(text: &str, at: usize) -> bool {
    let head = &text[..at];
    let Some(before) = head.chars().next_back() else {
        return false;
    };
    let untagged = head.trim_end_matches(|c: char| c.is_ascii_alphanumeric());
    if untagged.ends_with("```") || untagged.ends_with("~~~") {
        return false;
    }
    before.is_alphanumeric()
        || matches!(
            before,
            '\'' | '"' | '`' | '!' | '$' | '(' | '=' | '<' | '_' | '\u{2018}' | '\u{201C}'
        )
}

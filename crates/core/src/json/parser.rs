//! The tolerant parser: one JSON value from a start position, with explicit stacks.
//!
//! It reads what LLMs write: trailing and missing commas, unquoted keys, single and smart quotes,
//! comments, Python literals, raw newlines and unescaped quotes inside strings, invalid escapes,
//! `NaN`, missing brackets, and values cut off at the end of the input. Every byte is looked at a
//! bounded number of times; nesting costs heap, not stack.

use memchr::memchr2;
use serde_json::{Map, Number, Value};

use super::{RepairKind, Repairs, drop_deep};

/// A closing markdown fence that ends the region being parsed: a run of `len` `marker` bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fence {
    pub(crate) marker: u8,
    pub(crate) len: usize,
}

/// What parsing from a start position gave.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A value, ending before byte `end`.
    Value {
        value: Value,
        end: usize,
        /// The input ended (or the fence closed) inside the value.
        open_at_end: bool,
        /// The end came in the middle of a token (a string, number, literal or key).
        cut_in_token: bool,
    },
    /// Not a value: the parser gave up at byte `at`.
    Failed { at: usize },
    /// Nested deeper than [`MAX_DEPTH`] at byte `at`.
    TooDeep { at: usize },
}

/// The deepest nesting read: twice what any real reply needs (values 100 000 levels deep are
/// read in full), and a bound on the memory a hostile `[[[[…` can claim (about 100 bytes a level).
pub const MAX_DEPTH: usize = 200_000;

enum Frame {
    Array(Vec<Value>),
    Object(Map<String, Value>, Option<String>),
}

/// The open containers. Dropping it (when a candidate fails) dismantles what was built without
/// recursion: a finished member may be nested thousands of levels deep.
#[derive(Default)]
struct Open(Vec<Frame>);

impl Drop for Open {
    fn drop(&mut self) {
        for frame in self.0.drain(..) {
            match frame {
                Frame::Array(items) => drop_deep(Value::Array(items)),
                Frame::Object(map, _) => drop_deep(Value::Object(map)),
            }
        }
    }
}

impl std::ops::Deref for Open {
    type Target = Vec<Frame>;

    fn deref(&self) -> &Vec<Frame> {
        &self.0
    }
}

impl std::ops::DerefMut for Open {
    fn deref_mut(&mut self) -> &mut Vec<Frame> {
        &mut self.0
    }
}

/// Sets a member; a value it replaces (a duplicate key) is dropped without recursion.
/// Returns true when it replaced one.
fn insert_member(map: &mut Map<String, Value>, key: String, value: Value) -> bool {
    match map.insert(key, value) {
        Some(replaced) => {
            drop_deep(replaced);
            true
        }
        None => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value must come: the top level, an array element after `[`/`,`, a member value.
    Value,
    /// Right after `[` or `,` in an array: a value or `]`.
    ArrayItem,
    /// After an array element: `,` or `]`.
    ArrayNext,
    /// Right after `{` or `,` in an object: a key or `}`.
    ObjectKey,
    /// After a key: `:`.
    ObjectColon,
    /// After a member value: `,` or `}`.
    ObjectNext,
}

/// How a token reader ended.
enum Token<T> {
    Done(T),
    /// The input ended inside the token; what was read so far (if it is worth keeping).
    Cut(Option<T>),
    Invalid,
}

pub(crate) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    fence: Option<Fence>,
    pub(crate) repairs: Repairs,
    after_comma: bool,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str, start: usize, fence: Option<Fence>) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: start,
            fence,
            repairs: Repairs::default(),
            after_comma: false,
        }
    }

    fn repair(&mut self, kind: RepairKind) {
        self.repairs.add(kind, self.pos);
    }

    /// True at the end of the input or at the closing fence.
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len() || self.at_fence()
    }

    fn at_fence(&self) -> bool {
        let Some(fence) = self.fence else {
            return false;
        };
        let run = self.bytes[self.pos..]
            .iter()
            .take_while(|&&b| b == fence.marker)
            .count();
        run >= fence.len
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips whitespace and comments. Returns false at the end of the region.
    fn skip_space(&mut self) -> bool {
        loop {
            while let Some(b) = self.peek() {
                if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                    self.pos += 1;
                } else if b == 0xC2 && self.bytes.get(self.pos + 1) == Some(&0xA0) {
                    self.pos += 2;
                } else {
                    break;
                }
            }
            if self.at_end() {
                return false;
            }
            match (self.peek(), self.bytes.get(self.pos + 1)) {
                (Some(b'/'), Some(b'/')) => {
                    self.repair(RepairKind::Comment);
                    self.pos = memchr::memchr(b'\n', &self.bytes[self.pos..])
                        .map_or(self.bytes.len(), |n| self.pos + n);
                }
                (Some(b'/'), Some(b'*')) => {
                    self.repair(RepairKind::Comment);
                    self.pos = memchr::memmem::find(&self.bytes[self.pos + 2..], b"*/")
                        .map_or(self.bytes.len(), |n| self.pos + 2 + n + 2);
                }
                _ => return true,
            }
        }
    }

    /// Parses one value starting at the current position (which must be `{` or `[`).
    pub(crate) fn parse(mut self) -> (Parsed, Repairs) {
        let parsed = self.run();
        (parsed, self.repairs)
    }

    fn run(&mut self) -> Parsed {
        let mut stack = Open::default();
        let mut state = State::Value;
        loop {
            if !self.skip_space() {
                return self.end_of_input(&mut stack, state, false);
            }
            let Some(b) = self.peek() else {
                return self.end_of_input(&mut stack, state, false);
            };
            let start = self.pos;
            match state {
                State::Value | State::ArrayItem => {
                    if state == State::ArrayItem {
                        match b {
                            b']' => {
                                if self.after_comma {
                                    self.repair(RepairKind::TrailingComma);
                                }
                                self.pos += 1;
                                match self.close(&mut stack, &mut state) {
                                    Some(done) => return done,
                                    None => continue,
                                }
                            }
                            b',' => {
                                self.repair(RepairKind::ExtraComma);
                                self.pos += 1;
                                continue;
                            }
                            b'}' => {
                                if !self.close_to(&mut stack, &mut state, b'}') {
                                    return Parsed::Failed { at: start };
                                }
                                match self.close(&mut stack, &mut state) {
                                    Some(done) => return done,
                                    None => continue,
                                }
                            }
                            _ if is_quote(self.text, self.pos) && self.key_follows() => {
                                // `… }, "confidence": …` inside an array: its `]` is missing.
                                if !matches!(
                                    stack.get(stack.len().wrapping_sub(2)),
                                    Some(Frame::Object(..))
                                ) {
                                    return Parsed::Failed { at: start };
                                }
                                self.repair(RepairKind::MissingBracket);
                                if let Some(done) = self.close(&mut stack, &mut state) {
                                    return done;
                                }
                                state = State::ObjectKey;
                                continue;
                            }
                            _ => {}
                        }
                    }
                    self.after_comma = false;
                    match b {
                        b'{' | b'[' if stack.len() >= MAX_DEPTH => {
                            return Parsed::TooDeep { at: start };
                        }
                        b'{' => {
                            self.pos += 1;
                            stack.push(Frame::Object(Map::new(), None));
                            state = State::ObjectKey;
                        }
                        b'[' => {
                            self.pos += 1;
                            stack.push(Frame::Array(Vec::new()));
                            state = State::ArrayItem;
                        }
                        _ if stack.is_empty() => return Parsed::Failed { at: start },
                        _ => match self.scalar() {
                            Token::Done(value) => {
                                if let Some(done) = self.complete(&mut stack, &mut state, value) {
                                    return done;
                                }
                            }
                            Token::Cut(value) => {
                                if let Some(value) = value {
                                    if let Some(done) = self.complete(&mut stack, &mut state, value)
                                    {
                                        return done;
                                    }
                                } else {
                                    drop_pending_key(&mut stack);
                                }
                                return self.end_of_input(&mut stack, state, true);
                            }
                            Token::Invalid => return Parsed::Failed { at: start },
                        },
                    }
                }
                State::ArrayNext => match b {
                    b',' => {
                        self.pos += 1;
                        self.after_comma = true;
                        state = State::ArrayItem;
                    }
                    b']' => {
                        self.pos += 1;
                        if let Some(done) = self.close(&mut stack, &mut state) {
                            return done;
                        }
                    }
                    b'}' => {
                        if !self.close_to(&mut stack, &mut state, b'}') {
                            return Parsed::Failed { at: start };
                        }
                        if let Some(done) = self.close(&mut stack, &mut state) {
                            return done;
                        }
                    }
                    _ if is_quote(self.text, self.pos)
                        && self.key_follows()
                        && matches!(
                            stack.get(stack.len().wrapping_sub(2)),
                            Some(Frame::Object(..))
                        ) =>
                    {
                        // `] ` of the array missing before the parent's next key.
                        self.repair(RepairKind::MissingBracket);
                        if let Some(done) = self.close(&mut stack, &mut state) {
                            return done;
                        }
                        self.repair(RepairKind::MissingComma);
                        state = State::ObjectKey;
                    }
                    _ if starts_value(b) || is_quote(self.text, self.pos) => {
                        self.repair(RepairKind::MissingComma);
                        state = State::ArrayItem;
                    }
                    _ => return Parsed::Failed { at: start },
                },
                State::ObjectKey => match b {
                    b'}' => {
                        if self.after_comma {
                            self.repair(RepairKind::TrailingComma);
                        }
                        self.after_comma = false;
                        self.pos += 1;
                        if let Some(done) = self.close(&mut stack, &mut state) {
                            return done;
                        }
                    }
                    b',' => {
                        self.repair(RepairKind::ExtraComma);
                        self.pos += 1;
                    }
                    b']' => {
                        if !self.close_to(&mut stack, &mut state, b']') {
                            return Parsed::Failed { at: start };
                        }
                        if let Some(done) = self.close(&mut stack, &mut state) {
                            return done;
                        }
                    }
                    b'{' | b'[' if self.after_comma => {
                        // `…" , {`: the `}` of an object in an array is missing.
                        if !matches!(
                            stack.get(stack.len().wrapping_sub(2)),
                            Some(Frame::Array(_))
                        ) {
                            return Parsed::Failed { at: start };
                        }
                        self.repair(RepairKind::MissingBracket);
                        if let Some(done) = self.close(&mut stack, &mut state) {
                            return done;
                        }
                        state = State::ArrayItem;
                    }
                    _ => {
                        self.after_comma = false;
                        match self.key() {
                            Token::Done(key) => {
                                set_pending_key(&mut stack, key);
                                state = State::ObjectColon;
                            }
                            Token::Cut(_) => return self.end_of_input(&mut stack, state, true),
                            Token::Invalid => return Parsed::Failed { at: start },
                        }
                    }
                },
                State::ObjectColon => {
                    if b == b':' {
                        self.pos += 1;
                        state = State::Value;
                    } else {
                        return Parsed::Failed { at: start };
                    }
                }
                State::ObjectNext => match b {
                    b',' => {
                        self.pos += 1;
                        self.after_comma = true;
                        state = State::ObjectKey;
                    }
                    b'}' => {
                        self.pos += 1;
                        if let Some(done) = self.close(&mut stack, &mut state) {
                            return done;
                        }
                    }
                    b']' => {
                        if !self.close_to(&mut stack, &mut state, b']') {
                            return Parsed::Failed { at: start };
                        }
                        if let Some(done) = self.close(&mut stack, &mut state) {
                            return done;
                        }
                    }
                    _ if is_quote(self.text, self.pos) || is_key_start(b) => {
                        self.repair(RepairKind::MissingComma);
                        state = State::ObjectKey;
                    }
                    _ => return Parsed::Failed { at: start },
                },
            }
        }
    }

    /// The input ended (or the fence closed) with `stack` still open: every open container is
    /// closed; a member whose value never started is dropped.
    fn end_of_input(&mut self, stack: &mut Vec<Frame>, state: State, cut_in_token: bool) -> Parsed {
        if stack.is_empty() {
            return Parsed::Failed { at: self.pos };
        }
        if matches!(state, State::ObjectKey | State::ObjectColon | State::Value) {
            drop_pending_key(stack);
        }
        let mut inner: Option<Value> = None;
        while let Some(frame) = stack.pop() {
            let closed = match frame {
                Frame::Array(mut items) => {
                    items.extend(inner.take());
                    Value::Array(items)
                }
                Frame::Object(mut map, key) => {
                    match (inner.take(), key) {
                        (Some(value), Some(key)) => {
                            insert_member(&mut map, key, value);
                        }
                        (Some(value), None) => drop_deep(value),
                        (None, _) => {}
                    }
                    Value::Object(map)
                }
            };
            inner = Some(closed);
        }
        Parsed::Value {
            value: inner.unwrap_or(Value::Null),
            end: self.pos,
            open_at_end: true,
            cut_in_token,
        }
    }

    /// Closes the innermost container after its closing bracket was read; returns the finished
    /// top-level value when it was the outermost.
    fn close(&mut self, stack: &mut Vec<Frame>, state: &mut State) -> Option<Parsed> {
        let value = match stack.pop()? {
            Frame::Array(items) => Value::Array(items),
            Frame::Object(map, _) => Value::Object(map),
        };
        self.complete(stack, state, value)
    }

    /// A closing bracket of the wrong kind: closes the inner containers (their brackets were
    /// missing) until `closer` matches. Returns false when nothing matches.
    fn close_to(&mut self, stack: &mut Vec<Frame>, state: &mut State, closer: u8) -> bool {
        let matches = |frame: &Frame| match frame {
            Frame::Array(_) => closer == b']',
            Frame::Object(..) => closer == b'}',
        };
        let Some(target) = stack.iter().rposition(matches) else {
            return false;
        };
        while stack.len() > target + 1 {
            self.repair(RepairKind::MissingBracket);
            if self.close(stack, state).is_some() {
                return false;
            }
        }
        self.pos += 1;
        true
    }

    /// Adds a finished value to the innermost container.
    fn complete(&mut self, stack: &mut [Frame], state: &mut State, value: Value) -> Option<Parsed> {
        match stack.last_mut() {
            None => Some(Parsed::Value {
                value,
                end: self.pos,
                open_at_end: false,
                cut_in_token: false,
            }),
            Some(Frame::Array(items)) => {
                items.push(value);
                *state = State::ArrayNext;
                None
            }
            Some(Frame::Object(map, key)) => {
                match key.take() {
                    Some(key) => {
                        if insert_member(map, key, value) {
                            self.repairs.add(RepairKind::DuplicateKey, self.pos);
                        }
                    }
                    None => drop_deep(value),
                }
                *state = State::ObjectNext;
                None
            }
        }
    }

    /// True when the string at the current position is followed by `:` — a key.
    fn key_follows(&self) -> bool {
        let mut probe = Parser::new(self.text, self.pos, self.fence);
        matches!(probe.string(), Token::Done(_)) && probe.skip_space() && probe.peek() == Some(b':')
    }

    /// A key: a quoted string or a bare identifier.
    fn key(&mut self) -> Token<String> {
        if is_quote(self.text, self.pos) {
            return self.string();
        }
        let rest = &self.bytes[self.pos..];
        let len = rest
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'-')
            .count();
        if len == 0 || !is_key_start(rest[0]) {
            return Token::Invalid;
        }
        let key = self.text[self.pos..self.pos + len].to_string();
        self.repair(RepairKind::UnquotedKey);
        self.pos += len;
        if self.pos >= self.bytes.len() {
            return Token::Cut(None);
        }
        Token::Done(key)
    }

    /// A value that is not a container.
    fn scalar(&mut self) -> Token<Value> {
        let Some(b) = self.peek() else {
            return Token::Cut(None);
        };
        if is_quote(self.text, self.pos) {
            return match self.string() {
                Token::Done(s) => Token::Done(Value::String(s)),
                Token::Cut(s) => Token::Cut(s.map(Value::String)),
                Token::Invalid => Token::Invalid,
            };
        }
        if b == b'-' || b == b'+' || b.is_ascii_digit() || b == b'.' {
            return self.number();
        }
        if b.is_ascii_alphabetic() {
            return self.literal();
        }
        Token::Invalid
    }

    fn delimiter_follows(&self) -> bool {
        match self.peek() {
            None => false,
            Some(b) => {
                matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b',' | b']' | b'}' | b'/')
                    || self.at_fence()
            }
        }
    }

    fn number(&mut self) -> Token<Value> {
        let start = self.pos;
        let rest = &self.bytes[start..];
        if rest.starts_with(b"-Infinity") || rest.starts_with(b"+Infinity") {
            self.pos += 9;
            return self.non_finite();
        }
        let mut i = 0;
        if matches!(rest.first(), Some(b'-' | b'+')) {
            i += 1;
        }
        let int_digits = rest[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        i += int_digits;
        let mut frac_digits = 0;
        if rest.get(i) == Some(&b'.') {
            i += 1;
            frac_digits = rest[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            i += frac_digits;
        }
        if int_digits == 0 && frac_digits == 0 {
            return if start + i >= self.bytes.len() {
                Token::Cut(None)
            } else {
                Token::Invalid
            };
        }
        if matches!(rest.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(rest.get(j), Some(b'-' | b'+')) {
                j += 1;
            }
            let exp_digits = rest[j..].iter().take_while(|b| b.is_ascii_digit()).count();
            if exp_digits == 0 {
                return if start + j >= self.bytes.len() {
                    Token::Cut(None)
                } else {
                    Token::Invalid
                };
            }
            i = j + exp_digits;
        }
        self.pos = start + i;
        if !self.delimiter_follows() {
            // `12` at the very end might have been `123`.
            return if self.pos >= self.bytes.len() {
                Token::Cut(None)
            } else {
                Token::Invalid
            };
        }
        let literal = self.text[start..self.pos].trim_start_matches('+');
        let number = if frac_digits == 0 && !literal.contains(['e', 'E']) {
            literal
                .parse::<i64>()
                .map(Number::from)
                .ok()
                .or_else(|| literal.parse::<u64>().map(Number::from).ok())
                .or_else(|| literal.parse::<f64>().ok().and_then(Number::from_f64))
        } else {
            literal.parse::<f64>().ok().and_then(Number::from_f64)
        };
        match number {
            Some(n) => Token::Done(Value::Number(n)),
            None => Token::Done(Value::Null),
        }
    }

    fn non_finite(&mut self) -> Token<Value> {
        self.repair(RepairKind::NonFiniteNumber);
        Token::Done(Value::Null)
    }

    fn literal(&mut self) -> Token<Value> {
        let rest = &self.bytes[self.pos..];
        let len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let word = &self.text[self.pos..self.pos + len];
        self.pos += len;
        let at_end = self.pos >= self.bytes.len();
        let value = match word {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            "True" | "False" | "None" => {
                self.repair(RepairKind::PythonLiteral);
                match word {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            "undefined" => {
                self.repair(RepairKind::Undefined);
                Value::Null
            }
            "NaN" | "Infinity" => return self.non_finite(),
            _ => {
                let prefix_of_literal = [
                    "true",
                    "false",
                    "null",
                    "True",
                    "False",
                    "None",
                    "NaN",
                    "Infinity",
                    "undefined",
                ]
                .iter()
                .any(|l| l.starts_with(word));
                return if at_end && prefix_of_literal {
                    Token::Cut(None)
                } else {
                    Token::Invalid
                };
            }
        };
        if !at_end && !self.delimiter_follows() {
            return Token::Invalid;
        }
        Token::Done(value)
    }

    /// A quoted string: `"…"`, `'…'`, `“…”` or `‘…’`.
    fn string(&mut self) -> Token<String> {
        let rest = &self.text[self.pos..];
        let (close, open_len): (&str, usize) = if rest.starts_with('"') {
            ("\"", 1)
        } else if rest.starts_with('\'') {
            self.repair(RepairKind::SingleQuotes);
            ("'", 1)
        } else if rest.starts_with('\u{201C}') || rest.starts_with('\u{201D}') {
            self.repair(RepairKind::SmartQuotes);
            ("\u{201D}", 3)
        } else if rest.starts_with('\u{2018}') || rest.starts_with('\u{2019}') {
            self.repair(RepairKind::SmartQuotes);
            ("\u{2019}", 3)
        } else {
            return Token::Invalid;
        };
        let close_byte = close.as_bytes()[0];
        self.pos += open_len;
        let mut out = String::new();
        loop {
            let Some(offset) = memchr2(close_byte, b'\\', &self.bytes[self.pos..]) else {
                self.push_chunk(&mut out, self.bytes.len());
                self.pos = self.bytes.len();
                return Token::Cut(Some(out));
            };
            let at = self.pos + offset;
            self.push_chunk(&mut out, at);
            self.pos = at;
            if self.bytes[at] == b'\\' {
                if !self.escape(&mut out) {
                    return Token::Cut(Some(out));
                }
                continue;
            }
            if !self.text[at..].starts_with(close) {
                // The first byte of a multi-byte quote that is not the closing one.
                let len = self.text[at..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&self.text[at..at + len]);
                self.pos = at + len;
                continue;
            }
            self.pos = at + close.len();
            if self.string_ends() {
                return Token::Done(out);
            }
            self.repairs.add(RepairKind::UnescapedQuote, at);
            out.push_str(close);
        }
    }

    /// Appends the text from the current position to `end`, noting raw control characters.
    fn push_chunk(&mut self, out: &mut String, end: usize) {
        let chunk = &self.text[self.pos..end];
        if chunk.bytes().fold(false, |found, b| found | (b < 0x20)) {
            self.repairs.add(RepairKind::ControlCharacter, self.pos);
        }
        out.push_str(chunk);
    }

    /// After a quote that may close the string: it does when what follows (past spaces) could
    /// follow a string in JSON — a separator, a closer, another string, a comment, the fence —
    /// or, on a later line, a bare key and its colon (`"a"⏎ key: …`, a comma missing).
    fn string_ends(&self) -> bool {
        let mut probe = self.pos;
        let mut newline = false;
        while let Some(&b) = self.bytes.get(probe) {
            match b {
                b' ' | b'\t' | b'\r' => probe += 1,
                b'\n' => {
                    newline = true;
                    probe += 1;
                }
                _ => break,
            }
        }
        let rest = &self.text[probe..];
        let Some(next) = rest.bytes().next() else {
            return true;
        };
        if matches!(next, b',' | b':' | b'}' | b']' | b'"' | b'\'') {
            return true;
        }
        if rest.starts_with("//") || rest.starts_with("/*") {
            return newline || !quote_closes_in_line(rest);
        }
        if rest.starts_with(['\u{201C}', '\u{2018}']) {
            return true;
        }
        if let Some(fence) = self.fence
            && rest.bytes().take_while(|&b| b == fence.marker).count() >= fence.len
        {
            return true;
        }
        newline && (bare_key_follows(rest) || value_follows(rest))
    }

    /// Reads the escape at the current position (a backslash) into `out`. Returns false when
    /// the input ends inside it (the partial escape is dropped).
    fn escape(&mut self, out: &mut String) -> bool {
        let Some(&next) = self.bytes.get(self.pos + 1) else {
            self.pos = self.bytes.len();
            return false;
        };
        let simple = match next {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            self.pos += 2;
            return true;
        }
        if next == b'\'' {
            self.repair(RepairKind::InvalidEscape);
            out.push('\'');
            self.pos += 2;
            return true;
        }
        if next == b'u' {
            let hex = &self.bytes[self.pos + 2..];
            let digits = hex
                .iter()
                .take(4)
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            if digits < 4 && self.pos + 2 + digits >= self.bytes.len() {
                self.pos = self.bytes.len();
                return false;
            }
            if digits == 4 {
                let unit = u32::from_str_radix(&self.text[self.pos + 2..self.pos + 6], 16)
                    .unwrap_or(0xFFFD);
                self.pos += 6;
                let Some(c) = self.code_unit(unit) else {
                    self.pos = self.bytes.len();
                    return false;
                };
                out.push(c);
                return true;
            }
        }
        // An escape JSON does not know: the model meant the source text (`\d`, `C:\Users`).
        self.repair(RepairKind::InvalidEscape);
        out.push('\\');
        self.pos += 1;
        true
    }

    /// A `\uXXXX` code unit, joined with a following low surrogate when it is a high one.
    /// `None` when the input ends before the low surrogate is complete: the character was cut.
    fn code_unit(&mut self, unit: u32) -> Option<char> {
        if (0xD800..0xDC00).contains(&unit) {
            let rest = &self.bytes[self.pos..];
            let cut_escape = b"\\u".iter().zip(rest).all(|(want, got)| want == got)
                && rest.iter().skip(2).all(u8::is_ascii_hexdigit);
            if rest.len() < 6 && cut_escape {
                return None;
            }
            if rest.len() >= 6
                && rest[0] == b'\\'
                && rest[1] == b'u'
                && rest[2..6].iter().all(u8::is_ascii_hexdigit)
            {
                let low =
                    u32::from_str_radix(&self.text[self.pos + 2..self.pos + 6], 16).unwrap_or(0);
                if (0xDC00..0xE000).contains(&low) {
                    self.pos += 6;
                    let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    return Some(char::from_u32(c).unwrap_or('\u{FFFD}'));
                }
            }
            return Some('\u{FFFD}');
        }
        Some(char::from_u32(unit).unwrap_or('\u{FFFD}'))
    }
}

fn is_quote(text: &str, pos: usize) -> bool {
    let rest = &text[pos..];
    rest.starts_with(['"', '\'', '\u{201C}', '\u{201D}', '\u{2018}', '\u{2019}'])
}

/// `key: value` — an unquoted key, its colon and the start of a JSON value.
/// True when a quote on the line starting at `rest` (a `//` or `/*` right after a quote) closes
/// the string, so that the quote before `rest` was content (`"x = \"a\"  // fixed\n"`) rather
/// than a string followed by a comment: the first quote on the line is followed by `,`, `}` or
/// `]`, or the line holds an odd number of quotes. Looks at most [`COMMENT_LOOKAHEAD`] bytes, so
/// that scanning stays linear.
fn quote_closes_in_line(rest: &str) -> bool {
    let bytes = &rest.as_bytes()[..rest.len().min(COMMENT_LOOKAHEAD)];
    let line = memchr::memchr(b'\n', bytes).map_or(bytes, |end| &bytes[..end]);
    let mut quotes = 0;
    let mut escaped = false;
    for (i, &b) in line.iter().enumerate() {
        if b == b'"' && !escaped {
            if quotes == 0 {
                let after = line[i + 1..].iter().find(|&&b| b != b' ' && b != b'\t');
                if matches!(after, Some(b',' | b'}' | b']')) {
                    return true;
                }
            }
            quotes += 1;
        }
        escaped = b == b'\\' && !escaped;
    }
    quotes % 2 == 1
}

/// How far [`quote_closes_in_line`] looks.
const COMMENT_LOOKAHEAD: usize = 1024;

/// A value starts a line: the next element after a missing comma (`"a"⏎[1]`).
fn value_follows(rest: &str) -> bool {
    rest.starts_with(['{', '[', '-'])
        || rest.bytes().next().is_some_and(|b| b.is_ascii_digit())
        || {
            let word = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
            matches!(
                &rest[..word],
                "true" | "false" | "null" | "True" | "False" | "None"
            )
        }
}

fn bare_key_follows(rest: &str) -> bool {
    let bytes = rest.as_bytes();
    if !bytes.first().copied().is_some_and(is_key_start) {
        return false;
    }
    let len = bytes
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        .count();
    let after = rest[len..].trim_start_matches([' ', '\t']);
    let Some(value) = after.strip_prefix(':') else {
        return false;
    };
    let value = value.trim_start_matches([' ', '\t']);
    value.starts_with(['"', '\'', '{', '[', '-'])
        || value.bytes().next().is_some_and(|b| b.is_ascii_digit())
        || ["true", "false", "null", "True", "False", "None"]
            .iter()
            .any(|l| value.starts_with(l))
}

fn is_key_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn starts_value(b: u8) -> bool {
    matches!(b, b'{' | b'[' | b'-' | b'+' | b'.') || b.is_ascii_digit() || b.is_ascii_alphabetic()
}

fn set_pending_key(stack: &mut [Frame], key: String) {
    if let Some(Frame::Object(_, pending)) = stack.last_mut() {
        *pending = Some(key);
    }
}

fn drop_pending_key(stack: &mut [Frame]) {
    if let Some(Frame::Object(_, pending)) = stack.last_mut() {
        *pending = None;
    }
}

//! Raw log bytes to clean text lines.
//!
//! Build logs arrive as bytes: colored, written through a pty (`\r\n`), overwritten in place by
//! progress bars (`\r`), occasionally not UTF-8 at all, and wrapped by CI runners that prefix every
//! line. Parsers only ever see the text a human would read on the last state of the terminal line.

use memchr::memchr;

/// Lines longer than this are cut: no tool prints a diagnostic that long, and the cap keeps the
/// work per line bounded on hostile input (a 100 MB minified line in a code frame).
pub(crate) const MAX_LINE_BYTES: usize = 16 * 1024;

/// Splits a log on `\n` without copying.
pub(crate) fn split_lines(log: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = log;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match memchr(b'\n', rest) {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                Some(line)
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}

/// The line itself when it needs no cleaning: short enough, no control characters (escape
/// sequences, carriage returns, NUL…) and no CI wrapper prefix. Most lines of a log qualify.
pub(crate) fn already_clean(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    // A fold without early exit vectorises; lines are short.
    let has_control = bytes.iter().fold(false, |found, &b| found | is_control(b));
    let clean = bytes.len() <= MAX_LINE_BYTES && !has_control && wrapper_prefix_len(bytes) == 0;
    clean.then_some(line)
}

/// Turns raw lines into clean text, reusing its buffers between lines.
#[derive(Debug, Default)]
pub(crate) struct LineCleaner {
    bytes: Vec<u8>,
}

impl LineCleaner {
    /// Writes the visible text of `raw` into `out` (replacing its content): cut to
    /// [`MAX_LINE_BYTES`], the last visible `\r`-separated segment, escape sequences and control
    /// characters removed, invalid UTF-8 replaced, CI wrapper prefixes removed.
    pub(crate) fn clean(&mut self, raw: &[u8], out: &mut String) {
        out.clear();
        let raw = &raw[..raw.len().min(MAX_LINE_BYTES)];
        let bytes = if raw.iter().any(|&b| is_control(b)) {
            self.bytes.clear();
            strip_escapes(raw, &mut self.bytes);
            &self.bytes[..]
        } else {
            raw
        };
        let visible = if memchr(b'\r', bytes).is_some() {
            // A carriage return overwrites the terminal line: the last segment with visible
            // text is what remains on screen.
            bytes
                .rsplit(|&b| b == b'\r')
                .find(|segment| segment.iter().any(|b| !b.is_ascii_whitespace()))
                .unwrap_or_default()
        } else {
            bytes
        };
        match std::str::from_utf8(visible) {
            Ok(text) => out.push_str(text),
            Err(_) => out.push_str(&String::from_utf8_lossy(visible)),
        }
        let prefix = wrapper_prefix_len(out.as_bytes());
        if prefix > 0 {
            out.drain(..prefix);
        }
    }
}

fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Copies `segment` to `out` without ANSI escape sequences and control characters, except
/// carriage returns: those are kept, and a cursor move to the first column (`ESC [ 1 G`, which
/// npm's and other spinners write before each frame) becomes one.
fn strip_escapes(segment: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < segment.len() {
        let b = segment[i];
        if b != 0x1b {
            if !is_control(b) || b == b'\r' {
                out.push(b);
            }
            i += 1;
            continue;
        }
        i += 1;
        match segment.get(i) {
            // CSI: parameters and intermediates, then one final byte.
            Some(b'[') => {
                i += 1;
                let parameters = i;
                while let Some(&c) = segment.get(i) {
                    i += 1;
                    if (0x40..=0x7e).contains(&c) {
                        let to_first_column =
                            c == b'G' && matches!(&segment[parameters..i - 1], b"" | b"0" | b"1");
                        if to_first_column {
                            out.push(b'\r');
                        }
                        break;
                    }
                    if !(0x20..=0x3f).contains(&c) {
                        // Not a well-formed sequence: keep what follows.
                        i -= 1;
                        break;
                    }
                }
            }
            // OSC (hyperlinks, titles): up to BEL or ESC \.
            Some(b']') => {
                i += 1;
                while let Some(&c) = segment.get(i) {
                    i += 1;
                    if c == 0x07 {
                        break;
                    }
                    if c == 0x1b && segment.get(i) == Some(&b'\\') {
                        i += 1;
                        break;
                    }
                }
            }
            // Character set designations take one more byte.
            Some(b'(' | b')' | b'*' | b'+' | b'-' | b'.' | b'/' | b'#' | b'%') => i += 2,
            Some(_) => i += 1,
            None => {}
        }
    }
}

/// Length of a prefix that a CI wrapper put in front of a tool's line: BuildKit's step output
/// (`#8 0.292 `) or a GitHub Actions timestamp (`2024-05-01T12:34:56.1234567Z `).
fn wrapper_prefix_len(line: &[u8]) -> usize {
    buildkit_prefix_len(line)
        .or_else(|| timestamp_prefix_len(line))
        .unwrap_or(0)
}

fn buildkit_prefix_len(line: &[u8]) -> Option<usize> {
    let mut i = 1;
    (line.first() == Some(&b'#')).then_some(())?;
    i += digits(&line[i..]).filter(|&n| n > 0)?;
    (line.get(i) == Some(&b' ')).then_some(())?;
    i += 1;
    i += digits(&line[i..]).filter(|&n| n > 0)?;
    (line.get(i) == Some(&b'.')).then_some(())?;
    i += 1;
    i += digits(&line[i..]).filter(|&n| n > 0)?;
    match line.get(i) {
        Some(b' ') => Some(i + 1),
        None => Some(i),
        _ => None,
    }
}

fn timestamp_prefix_len(line: &[u8]) -> Option<usize> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    if line.len() < SHAPE.len() + 2 {
        return None;
    }
    let shaped = SHAPE.iter().zip(line).all(|(&s, &c)| match s {
        b'd' => c.is_ascii_digit(),
        other => other == c,
    });
    shaped.then_some(())?;
    let mut i = SHAPE.len();
    if line[i] == b'.' {
        i += 1;
        i += digits(&line[i..])?;
    }
    (line.get(i) == Some(&b'Z') && line.get(i + 1) == Some(&b' ')).then_some(i + 2)
}

fn digits(s: &[u8]) -> Option<usize> {
    Some(s.iter().take_while(|c| c.is_ascii_digit()).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(raw: &[u8]) -> String {
        let mut out = String::new();
        LineCleaner::default().clean(raw, &mut out);
        out
    }

    #[test]
    fn removes_colors_and_charset_sequences() {
        assert_eq!(
            clean(b"\x1b[1m\x1b[91merror[E0425]\x1b[0m\x1b[1m: cannot find\x1b[0m"),
            "error[E0425]: cannot find"
        );
        assert_eq!(
            clean(b"x.py:8: \x1b[1m\x1b[31merror:\x1b(B\x1b[m Item"),
            "x.py:8: error: Item"
        );
        assert_eq!(
            clean(b"\x1b]8;;file:///a\x07link\x1b]8;;\x1b\\ done"),
            "link done"
        );
        assert_eq!(clean(b"\x1b[01;31m\x1b[Kerror: \x1b[m\x1b[K"), "error: ");
    }

    #[test]
    fn carriage_returns_keep_the_last_visible_text() {
        assert_eq!(clean(b"progress 10%\rprogress 100%"), "progress 100%");
        assert_eq!(clean(b"done\r\x1b[K"), "done");
        assert_eq!(
            clean(b"Sending build context 3.072kB\r\r"),
            "Sending build context 3.072kB"
        );
        assert_eq!(clean(b"pty line\r"), "pty line");
    }

    #[test]
    fn a_spinner_frame_before_the_first_column_is_overwritten() {
        // npm under a terminal: `⠙`, cursor to column 1, erase line, then the error.
        assert_eq!(
            clean("\u{2819}\x1b[1G\x1b[0K\x1b[1mnpm\x1b[22m error code E404\r".as_bytes()),
            "npm error code E404"
        );
        assert_eq!(clean(b"50%\x1b[Gdone"), "done");
        // Other columns are not a line start.
        assert_eq!(clean(b"ab\x1b[5Gcd"), "abcd");
    }

    #[test]
    fn invalid_utf8_and_nul_bytes_do_not_break_lines() {
        assert_eq!(clean(b"a\xffb\x00c"), "a\u{fffd}bc");
        assert_eq!(clean(b"\xe2\x80"), "\u{fffd}");
    }

    #[test]
    fn unterminated_sequences_end_quietly() {
        assert_eq!(clean(b"abc\x1b["), "abc");
        assert_eq!(clean(b"abc\x1b]8;;never closed"), "abc");
        assert_eq!(clean(b"abc\x1b"), "abc");
    }

    #[test]
    fn ci_wrapper_prefixes_are_removed() {
        assert_eq!(
            clean(b"#8 0.292 cat: can't open 'x'"),
            "cat: can't open 'x'"
        );
        assert_eq!(clean(b"#8 ERROR: boom"), "#8 ERROR: boom");
        assert_eq!(
            clean(b"2024-05-01T12:34:56.1234567Z src/a.ts(1,2): error TS1: x"),
            "src/a.ts(1,2): error TS1: x"
        );
    }

    #[test]
    fn clean_lines_are_borrowed_as_they_are() {
        assert_eq!(
            already_clean("src/a.ts(1,2): error TS1: x"),
            Some("src/a.ts(1,2): error TS1: x")
        );
        assert_eq!(already_clean("tab\tis fine"), Some("tab\tis fine"));
        assert_eq!(already_clean("\x1b[31mred"), None);
        assert_eq!(already_clean("pty\r"), None);
        assert_eq!(already_clean("#8 0.292 output"), None);
    }

    #[test]
    fn long_lines_are_capped() {
        let long = vec![b'a'; MAX_LINE_BYTES * 3];
        assert_eq!(clean(&long).len(), MAX_LINE_BYTES);
    }

    #[test]
    fn splitting_keeps_empty_lines_and_a_last_unterminated_one() {
        let lines: Vec<&[u8]> = split_lines(b"a\n\nb\nc").collect();
        assert_eq!(lines, vec![&b"a"[..], b"", b"b", b"c"]);
        assert_eq!(split_lines(b"").count(), 0);
        assert_eq!(split_lines(b"x\n").count(), 1);
    }
}

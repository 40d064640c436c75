//! Finding a patch's search text in a file: exactly, then ignoring whitespace, then fuzzily near
//! the line the proposer named; and, when it is nowhere, the lines most like it.
//!
//! Every step is linear in the file, or bounded by a deadline: the text comes from a model.

use std::ops::Range;
use std::time::{Duration, Instant};

use serde::Serialize;
use similar::TextDiff;

/// How a patch's search text was found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatchMatch {
    /// Character for character.
    Exact,
    /// Equal once runs of whitespace (indentation, line ends, trailing spaces) count as one
    /// space.
    Whitespace,
    /// The most similar lines near the line hint, at least the configured similarity.
    Fuzzy {
        /// The similarity of the lines replaced to the search text, `0.0..=1.0`.
        similarity: f32,
    },
}

/// The lines most like a search text that matched nowhere: the "did you mean" of a failed patch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Closest {
    /// The first of the lines (1-based).
    pub line: u32,
    /// The lines.
    pub text: String,
    /// Their similarity to the search text, `0.0..=1.0`.
    pub similarity: f32,
}

/// How fuzzy matching behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fuzzy {
    /// Lines on each side of the hint that fuzzy matching looks at.
    pub(crate) window: u32,
    /// The least similarity a fuzzy match needs.
    pub(crate) threshold: f32,
}

/// Time allowed for each of the fuzzy match and the search for the closest lines.
const COMPARISON_BUDGET: Duration = Duration::from_millis(100);

/// Where `search` is in `content`, how it was found, and the text to put there instead of
/// `replace` (adjusted when the match dropped the search's outer whitespace); or the closest
/// lines when it is nowhere.
pub(crate) fn locate(
    content: &str,
    search: &str,
    replace: &str,
    line: Option<u32>,
    fuzzy: Fuzzy,
) -> Result<(Range<usize>, PatchMatch, String), Option<Closest>> {
    let lines = LineIndex::new(content);
    if let Some(range) = exact(content, search, line, &lines) {
        return Ok((range, PatchMatch::Exact, replace.to_string()));
    }
    if let Some(range) = ignoring_whitespace(content, search, line, &lines) {
        return Ok((range, PatchMatch::Whitespace, trim_like(search, replace)));
    }
    if let Some(line) = line
        && let Some((range, similarity)) = near(content, search, line, fuzzy, &lines)
    {
        let mut replacement = replace.to_string();
        if content[range.clone()].ends_with('\n') && !replacement.ends_with('\n') {
            replacement.push('\n');
        }
        return Ok((range, PatchMatch::Fuzzy { similarity }, replacement));
    }
    Err(closest(content, search, &lines))
}

/// Byte offsets of line starts.
struct LineIndex {
    starts: Vec<usize>,
    end: usize,
}

impl LineIndex {
    fn new(content: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', content.as_bytes()).map(|at| at + 1));
        if starts.last() == Some(&content.len()) && !content.is_empty() {
            starts.pop();
        }
        LineIndex {
            starts,
            end: content.len(),
        }
    }

    fn count(&self) -> usize {
        self.starts.len()
    }

    /// The 1-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> u32 {
        self.starts.partition_point(|&start| start <= offset) as u32
    }

    /// Bytes of lines `first..first + count` (0-based), line ends included.
    fn span(&self, first: usize, count: usize) -> Range<usize> {
        let start = self.starts.get(first).copied().unwrap_or(self.end);
        let end = self.starts.get(first + count).copied().unwrap_or(self.end);
        start..end
    }
}

/// Of several candidates, the one closest to the hint (the first without one).
fn nearest(
    candidates: Vec<Range<usize>>,
    hint: Option<u32>,
    lines: &LineIndex,
) -> Option<Range<usize>> {
    match hint {
        None => candidates.into_iter().next(),
        Some(hint) => candidates
            .into_iter()
            .min_by_key(|range| lines.line_of(range.start).abs_diff(hint)),
    }
}

fn exact(
    content: &str,
    search: &str,
    hint: Option<u32>,
    lines: &LineIndex,
) -> Option<Range<usize>> {
    if search.is_empty() {
        return None;
    }
    let found = content
        .match_indices(search)
        .map(|(at, _)| at..at + search.len())
        .collect();
    nearest(found, hint, lines)
}

/// Text with every whitespace run as one space, and for each of its bytes the range of the
/// original bytes it stands for.
struct Collapsed {
    text: String,
    origins: Vec<Range<usize>>,
}

fn collapse(original: &str) -> Collapsed {
    let mut collapsed = Collapsed {
        text: String::with_capacity(original.len()),
        origins: Vec::with_capacity(original.len()),
    };
    let mut chars = original.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c.is_whitespace() {
            let mut end = at + c.len_utf8();
            while let Some(&(next, w)) = chars.peek() {
                if !w.is_whitespace() {
                    break;
                }
                end = next + w.len_utf8();
                chars.next();
            }
            collapsed.text.push(' ');
            collapsed.origins.push(at..end);
        } else {
            let end = at + c.len_utf8();
            collapsed.text.push(c);
            collapsed.origins.extend((0..c.len_utf8()).map(|_| at..end));
        }
    }
    collapsed
}

fn ignoring_whitespace(
    content: &str,
    search: &str,
    hint: Option<u32>,
    lines: &LineIndex,
) -> Option<Range<usize>> {
    let needle = collapse(search.trim()).text;
    if needle.is_empty() {
        return None;
    }
    let haystack = collapse(content);
    let found = haystack
        .text
        .match_indices(&needle)
        .map(|(at, _)| haystack.origins[at].start..haystack.origins[at + needle.len() - 1].end)
        .collect();
    nearest(found, hint, lines)
}

/// `replace` without the leading and trailing whitespace that `search` had and the match
/// therefore left in place.
fn trim_like(search: &str, replace: &str) -> String {
    let lead = &search[..search.len() - search.trim_start().len()];
    let trail = &search[search.trim_end().len()..];
    let replace = replace.strip_prefix(lead).unwrap_or(replace);
    let replace = replace.strip_suffix(trail).unwrap_or(replace);
    replace.to_string()
}

fn similarity(a: &str, b: &str, deadline: Instant) -> f32 {
    TextDiff::configure()
        .deadline(deadline)
        .diff_chars(a, b)
        .ratio()
}

/// The most similar run of as many lines as `search` has, starting within `fuzzy.window` lines
/// of `line`, if it reaches the threshold.
fn near(
    content: &str,
    search: &str,
    line: u32,
    fuzzy: Fuzzy,
    lines: &LineIndex,
) -> Option<(Range<usize>, f32)> {
    let deadline = Instant::now() + COMPARISON_BUDGET;
    let needle = collapse(search.trim()).text;
    let count = search.trim_end_matches('\n').lines().count().max(1);
    let hint = line.saturating_sub(1) as usize;
    let first = hint.saturating_sub(fuzzy.window as usize);
    let last = (hint + fuzzy.window as usize).min(lines.count().saturating_sub(count));
    let mut best: Option<(Range<usize>, f32)> = None;
    for start in first..=last {
        if Instant::now() >= deadline {
            break;
        }
        let span = lines.span(start, count);
        let candidate = collapse(content[span.clone()].trim()).text;
        let score = similarity(&needle, &candidate, deadline);
        if best.as_ref().is_none_or(|(_, s)| score > *s) {
            best = Some((span, score));
        }
    }
    best.filter(|(_, score)| *score >= fuzzy.threshold)
}

/// The line most like the search's first non-blank line, with as many lines as the search has.
fn closest(content: &str, search: &str, lines: &LineIndex) -> Option<Closest> {
    let deadline = Instant::now() + COMPARISON_BUDGET;
    let first = search.lines().map(str::trim).find(|l| !l.is_empty())?;
    let count = search.trim_end_matches('\n').lines().count().max(1);
    let mut best: Option<(usize, f32)> = None;
    for index in 0..lines.count() {
        if Instant::now() >= deadline {
            break;
        }
        let line = content[lines.span(index, 1)].trim();
        if line.is_empty() {
            continue;
        }
        let score = similarity(first, line, deadline);
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((index, score));
        }
    }
    let (index, score) = best?;
    Some(Closest {
        line: index as u32 + 1,
        text: content[lines.span(index, count)].trim_end().to_string(),
        similarity: score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUZZY: Fuzzy = Fuzzy {
        window: 40,
        threshold: 0.8,
    };

    fn apply(
        content: &str,
        search: &str,
        replace: &str,
        line: Option<u32>,
    ) -> (String, PatchMatch) {
        let (range, how, replacement) = locate(content, search, replace, line, FUZZY).unwrap();
        let mut out = content.to_string();
        out.replace_range(range, &replacement);
        (out, how)
    }

    #[test]
    fn exact_matches_prefer_the_one_nearest_the_hint() {
        let content = "x = 1\ny = 2\nx = 1\n";
        assert_eq!(
            apply(content, "x = 1", "x = 9", None).0,
            "x = 9\ny = 2\nx = 1\n"
        );
        assert_eq!(
            apply(content, "x = 1", "x = 9", Some(3)).0,
            "x = 1\ny = 2\nx = 9\n"
        );
    }

    #[test]
    fn whitespace_differences_are_forgiven_and_indentation_is_kept() {
        let content = "fn main() {\n\tlet a = 1;\n\tprintln!(\"{a}\");\n}\n";
        let search = "    let a = 1;\n    println!(\"{a}\");\n";
        let replace = "    let a = 2;\n    println!(\"{a}\");\n";
        let (out, how) = apply(content, search, replace, None);
        assert_eq!(how, PatchMatch::Whitespace);
        assert_eq!(
            out,
            "fn main() {\n\tlet a = 2;\n    println!(\"{a}\");\n}\n"
        );
    }

    #[test]
    fn a_slightly_wrong_search_matches_near_its_line_only() {
        let content = "import os\n\ndef main():\n    print(helo)\n    return 0\n";
        let (out, how) = apply(
            content,
            "    print(hello)\n",
            "    print('hello')\n",
            Some(4),
        );
        assert!(matches!(how, PatchMatch::Fuzzy { similarity } if similarity > 0.9));
        assert_eq!(
            out,
            "import os\n\ndef main():\n    print('hello')\n    return 0\n"
        );
        // Without a line hint, no guess is made.
        let closest = locate(content, "print(hello)", "x", None, FUZZY)
            .unwrap_err()
            .unwrap();
        assert_eq!(
            (closest.line, closest.text.as_str()),
            (4, "    print(helo)")
        );
    }

    #[test]
    fn nothing_similar_is_nowhere_and_hostile_input_stays_fast() {
        let content = "a\n".repeat(50_000);
        let search = "zzzz\n".repeat(2_000);
        let started = Instant::now();
        let failed = locate(&content, &search, "", Some(25_000), FUZZY).unwrap_err();
        assert!(failed.is_some_and(|c| c.similarity < 0.5));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(locate("", "x", "y", Some(1), FUZZY).unwrap_err().is_none());
    }
}

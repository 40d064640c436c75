//! Where parsers put diagnostics, and what happens to them when the log ends.

use std::collections::{HashMap, HashSet};

use super::classify;
use crate::{Category, Diagnostic};

/// Collects the diagnostics of one parse.
///
/// Parsers call [`Sink::emit`]; when the log ends the sink makes paths relative to the project
/// root, merges duplicates, drops fallbacks that a real error explains, fills in suggestions and
/// fingerprints, and orders the result.
#[derive(Debug)]
pub struct Sink {
    entries: Vec<Entry>,
    limit: usize,
    /// Log lines where a new tool invocation starts. The same diagnostic reported by two
    /// separate runs (clippy, then `cargo test`) is reported twice, a re-print within one run is
    /// merged; a fallback is only explained by an error of its own run.
    run_starts: Vec<u32>,
    inferred_root: Option<String>,
}

/// Run boundaries kept at most; past this, later runs count as one.
const MAX_RUNS: usize = 1 << 20;

#[derive(Debug)]
struct Entry {
    diagnostic: Diagnostic,
    fallback: bool,
}

impl Sink {
    pub(crate) fn new(limit: usize) -> Self {
        Sink {
            entries: Vec::new(),
            limit,
            run_starts: Vec::new(),
            inferred_root: None,
        }
    }

    /// Adds a diagnostic.
    pub fn emit(&mut self, diagnostic: Diagnostic) {
        self.push(diagnostic, false);
    }

    /// Adds a diagnostic that only says a step failed (`npm error Lifecycle script failed`,
    /// `make: *** Error 1`). It is kept only when no other error explains the failure.
    pub fn emit_fallback(&mut self, diagnostic: Diagnostic) {
        self.push(diagnostic, true);
    }

    fn push(&mut self, diagnostic: Diagnostic, fallback: bool) {
        if self.entries.len() < self.limit {
            self.entries.push(Entry {
                diagnostic,
                fallback,
            });
        }
    }

    /// The tool run the current line belongs to: it changes at every new tool invocation (an
    /// npm script header, a CI group, a compiler or test-runner banner, a Docker build).
    pub fn run(&self) -> u32 {
        u32::try_from(self.run_starts.len()).unwrap_or(u32::MAX)
    }

    /// The run a log line belongs to.
    fn run_of(&self, line: u32) -> u32 {
        u32::try_from(self.run_starts.partition_point(|&start| start <= line)).unwrap_or(u32::MAX)
    }

    /// Watches every line for the start of a new tool invocation and for the project root.
    pub(crate) fn observe(&mut self, text: &str, line: u32) {
        if starts_invocation(text) && self.run_starts.len() < MAX_RUNS {
            self.run_starts.push(line);
        }
        if self.inferred_root.is_none() {
            self.inferred_root = root_from_line(text);
        }
    }

    pub(crate) fn finish(self, root: Option<&str>) -> Vec<Diagnostic> {
        let root = root
            .map(|r| r.trim_end_matches('/').to_string())
            .or_else(|| self.inferred_root.clone());
        // A fallback is explained away by a real error of the same tool run only.
        let runs_with_errors: HashSet<u32> = self
            .entries
            .iter()
            .filter(|e| !e.fallback && e.diagnostic.is_error())
            .map(|e| self.run_of(e.diagnostic.log_lines.start))
            .collect();
        let runs: Vec<u32> = self
            .entries
            .iter()
            .map(|e| self.run_of(e.diagnostic.log_lines.start))
            .collect();

        let mut kept: Vec<Diagnostic> = Vec::with_capacity(self.entries.len());
        let mut seen: HashMap<DedupKey, usize> = HashMap::new();
        for (
            Entry {
                mut diagnostic,
                fallback,
            },
            run,
        ) in self.entries.into_iter().zip(runs)
        {
            if fallback && runs_with_errors.contains(&run) {
                continue;
            }
            normalize_paths(&mut diagnostic, root.as_deref());
            let key = DedupKey::of(&diagnostic, run);
            match seen.get(&key) {
                Some(&index) if !distinct(&kept[index], &diagnostic) => {
                    merge(&mut kept[index], diagnostic);
                }
                Some(_) => kept.push(diagnostic),
                None => {
                    seen.insert(key, kept.len());
                    kept.push(diagnostic);
                }
            }
        }

        for d in &mut kept {
            for suggestion in classify::suggestions(d) {
                if !d.suggestions.contains(&suggestion) {
                    d.suggestions.push(suggestion);
                }
            }
            d.fingerprint = d.compute_fingerprint();
        }
        kept.sort_by_key(|d| (d.severity, root_cause_rank(d.category), d.log_lines.start));
        kept
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DedupKey {
    run: u32,
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    code: Option<String>,
    message: String,
}

impl DedupKey {
    fn of(d: &Diagnostic, run: u32) -> Self {
        DedupKey {
            run,
            file: d.file.clone(),
            line: d.line,
            column: d.column,
            code: d.code.clone(),
            message: d.message.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// Whether two reports at one position with one message are two diagnostics: their blocks say
/// different things (rustc prints such pairs with other spans, labels or notes), or the second
/// follows the first at once (gcc's `expected declaration or statement at end of input`, once
/// per unclosed brace), where a re-print says the same or less, later.
fn distinct(first: &Diagnostic, again: &Diagnostic) -> bool {
    let both_differ = |a: bool, b: bool, equal: bool| a && b && !equal;
    let adjacent =
        again.log_lines.start == first.log_lines.end.saturating_add(1) && first.log_lines.end > 0;
    adjacent
        || both_differ(
            first.snippet.is_some(),
            again.snippet.is_some(),
            first.snippet == again.snippet,
        )
        || both_differ(
            !first.notes.is_empty(),
            !again.notes.is_empty(),
            first.notes == again.notes,
        )
        || both_differ(
            !first.fixits.is_empty(),
            !again.fixits.is_empty(),
            first.fixits == again.fixits,
        )
        || both_differ(
            first.end_line.is_some() || first.end_column.is_some(),
            again.end_line.is_some() || again.end_column.is_some(),
            (first.end_line, first.end_column) == (again.end_line, again.end_column),
        )
}

/// Keeps the first report and fills what it lacks from the re-print.
fn merge(first: &mut Diagnostic, again: Diagnostic) {
    first.severity = first.severity.min(again.severity);
    first.confidence = first.confidence.max(again.confidence);
    if first.snippet.is_none() {
        first.snippet = again.snippet;
    }
    if first.stack.is_empty() {
        first.stack = again.stack;
    }
    if first.fixits.is_empty() {
        first.fixits = again.fixits;
    }
    if first.notes.is_empty() {
        first.notes = again.notes;
    }
    first.log_lines.end = first.log_lines.end.max(again.log_lines.end);
}

/// Errors that other errors follow from come first: a missing module or a syntax error causes
/// type errors downstream, and those cause failing tests.
fn root_cause_rank(category: Category) -> u8 {
    match category {
        Category::Configuration
        | Category::Dependency
        | Category::Syntax
        | Category::Resource
        | Category::Network => 0,
        Category::Type => 1,
        Category::Runtime => 2,
        Category::Unknown => 3,
    }
}

fn normalize_paths(d: &mut Diagnostic, root: Option<&str>) {
    if let Some(file) = d.file.take() {
        d.file = Some(relative_path(&file, root));
    }
    for frame in &mut d.stack {
        if let Some(file) = frame.file.take() {
            frame.file = Some(relative_path(&file, root));
        }
    }
    for fixit in &mut d.fixits {
        if let Some(file) = fixit.file.take() {
            fixit.file = Some(relative_path(&file, root));
        }
    }
}

/// `path` relative to `root` when it lies inside it, without `file://` and `./` prefixes.
pub(crate) fn relative_path(path: &str, root: Option<&str>) -> String {
    let path = path.strip_prefix("file://").unwrap_or(path);
    if let Some(root) = root.filter(|r| !r.is_empty())
        && let Some(rest) = path.strip_prefix(root)
        && let Some(inside) = rest.strip_prefix(['/', '\\'])
    {
        return inside.to_string();
    }
    let mut path = path;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.to_string()
}

/// Lines that mark a new tool invocation: a package script header, a CI group, a compiler or
/// test-runner banner, a Docker build step.
fn starts_invocation(text: &str) -> bool {
    let trimmed = text.trim_start();
    let indented = trimmed.len() != text.len();
    // npm's script header, `> app@1.0.0 build` (not a code frame's `> 4 | import … '@/x'`).
    let npm_header = (text.strip_prefix("> "))
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|package| package.get(1..).is_some_and(|p| p.contains('@')));
    npm_header
        || text.starts_with("::group::")
        || text.starts_with("##[group]")
        || (indented && (trimmed.starts_with("Compiling ") || trimmed.starts_with("Checking ")))
        || (text.starts_with("====") && text.contains(" test session starts "))
        || text.starts_with("Step 1/")
        || (text.starts_with("#1 [internal] load build definition"))
}

/// A project root printed by a tool: pytest's `rootdir:` or the path cargo prints for the package
/// it compiles.
fn root_from_line(text: &str) -> Option<String> {
    if let Some(dir) = text.strip_prefix("rootdir: ") {
        let dir = dir.split(',').next().unwrap_or(dir).trim();
        return dir.starts_with('/').then(|| dir.to_string());
    }
    let trimmed = text.trim_start();
    if trimmed.len() != text.len()
        && (trimmed.starts_with("Compiling ") || trimmed.starts_with("Checking "))
    {
        let open = trimmed.rfind(" (")?;
        let dir = trimmed[open + 2..].strip_suffix(')')?;
        return dir.starts_with('/').then(|| dir.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn diag(message: &str, line: u32) -> Diagnostic {
        Diagnostic::new("t", message)
            .at("/proj/src/a.ts", Some(line), Some(1))
            .from_lines(line, line)
    }

    #[test]
    fn a_code_frame_line_is_not_an_npm_script_header() {
        assert!(starts_invocation("> app@1.0.0 build"));
        assert!(starts_invocation("> @acme/web@0.1.0 lint"));
        assert!(!starts_invocation(
            "> 4 | import { FeatureCard } from \"@/components/feature-cards\";"
        ));
    }

    #[test]
    fn reprints_in_one_run_merge_but_separate_runs_keep_both() {
        let mut sink = Sink::new(100);
        sink.emit(diag("boom", 1));
        sink.emit(diag("boom", 1));
        assert_eq!(sink.entries.len(), 2);
        sink.observe("   Compiling x v0.1.0 (/proj)", 2);
        sink.emit(diag("boom", 3));
        let out = sink.finish(None);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].file.as_deref(),
            Some("src/a.ts"),
            "root inferred from cargo"
        );
    }

    #[test]
    fn two_reports_at_one_place_are_two_when_their_blocks_differ() {
        let mut sink = Sink::new(100);
        let with = |snippet: &str, note: &str| {
            let mut d = diag("mismatched types", 4);
            d.snippet = Some(snippet.to_string());
            d.notes = vec![note.to_string()];
            d
        };
        sink.emit(with(
            "4 | let x: u8 = y;\n  |        ^ expected `u8`",
            "expected due to this",
        ));
        sink.emit(with(
            "4 | let x: u8 = y;\n  |            ^ found `u16`",
            "you can convert",
        ));
        sink.emit(with(
            "4 | let x: u8 = y;\n  |        ^ expected `u8`",
            "expected due to this",
        ));
        sink.emit(diag("mismatched types", 4));
        let out = sink.finish(None);
        assert_eq!(out.len(), 2, "{out:#?}");
        assert_eq!(out[1].notes, ["you can convert"]);
    }

    #[test]
    fn fallbacks_vanish_when_a_real_error_exists() {
        let mut sink = Sink::new(100);
        sink.emit_fallback(Diagnostic::new("npm", "Lifecycle script `build` failed"));
        sink.emit(diag("real", 3).with_severity(Severity::Warning));
        assert_eq!(
            sink.finish(None).len(),
            2,
            "a warning does not explain a failure"
        );

        let mut sink = Sink::new(100);
        sink.emit_fallback(Diagnostic::new("npm", "Lifecycle script `build` failed"));
        sink.emit(diag("real", 3));
        let out = sink.finish(Some("/proj"));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].message, "real");
    }

    #[test]
    fn fallbacks_are_explained_only_by_errors_of_their_own_run() {
        let mut sink = Sink::new(100);
        sink.emit(diag("real", 1));
        sink.observe("> app@1.0.0 build", 2);
        sink.emit_fallback(
            Diagnostic::new("npm", "Lifecycle script `build` failed").from_lines(3, 3),
        );
        assert_eq!(sink.finish(None).len(), 2);
    }

    #[test]
    fn errors_come_before_warnings_and_root_causes_first() {
        let mut sink = Sink::new(100);
        sink.emit(diag("lint", 1).with_severity(Severity::Warning));
        sink.emit(diag("type", 2).with_class(Category::Type, crate::Subcategory::Other));
        sink.emit(diag("dep", 3).with_class(Category::Dependency, crate::Subcategory::Other));
        let order: Vec<_> = sink.finish(None).into_iter().map(|d| d.message).collect();
        assert_eq!(order, ["dep", "type", "lint"]);
    }

    #[test]
    fn the_limit_bounds_memory() {
        let mut sink = Sink::new(2);
        for i in 0..10 {
            sink.emit(diag("x", i));
        }
        assert_eq!(sink.finish(None).len(), 2);
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative_path("/proj/src/a.ts", Some("/proj")), "src/a.ts");
        assert_eq!(
            relative_path("/project/a.ts", Some("/proj")),
            "/project/a.ts"
        );
        assert_eq!(relative_path("file:///proj/a.js", Some("/proj")), "a.js");
        assert_eq!(relative_path("./src/index.js", None), "src/index.js");
    }

    #[test]
    fn roots_from_tools() {
        assert_eq!(
            root_from_line("rootdir: /srv/ci/x").as_deref(),
            Some("/srv/ci/x")
        );
        assert_eq!(
            root_from_line("    Checking strs v0.1.0 (/srv/ci/rs)").as_deref(),
            Some("/srv/ci/rs")
        );
        assert_eq!(root_from_line("Checking x"), None);
    }
}

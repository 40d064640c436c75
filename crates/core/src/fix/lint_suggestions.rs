//! [`LintSuggestions`]: the edits ESLint offers only as suggestions — which `eslint --fix`
//! never applies — for the rules whose suggestion keeps what the program does (a comment in an
//! empty block, a useless escape removed, a type alias for an empty interface, …).
//!
//! ESLint marks suggestions as possibly changing behaviour and leaves the choice to a person;
//! most do (`react-hooks/exhaustive-deps` adds a dependency, `no-explicit-any` offers `unknown`
//! or `never`). The few taken here are listed in [`TAKEN`] with the exact shape their edit must
//! have, so a project's ESLint (plugins included, which are the project's code) cannot make the
//! fixer write anything but those edits.

use std::ops::Range;

use serde::Deserialize;

use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::suggestions::line_starts;
use super::tool_fix::{finding_files, project_tool_on_files};
use super::{FixProposal, RelativePath};
use crate::build::BuildStep;
use crate::{Diagnostic, Result, Severity};

/// Applies ESLint's suggestion for each finding of the build whose rule is one of `no-empty`,
/// `no-useless-escape`, `no-case-declarations`, `no-prototype-builtins` and typescript-eslint's
/// `no-empty-object-type`, `ban-ts-comment` and `no-non-null-asserted-optional-chain`, read from
/// the project's own ESLint (`--format json`) run on the files the findings name.
#[derive(Debug, Clone, Copy, Default)]
pub struct LintSuggestions;

/// A suggestion taken: the rule, the suggestion's `messageId`, what the edit does, and the
/// shape it must have (the text it replaces, the text it writes).
struct Taken {
    rule: &'static str,
    suggestion: &'static str,
    does: &'static str,
    fits: fn(&str, &str) -> bool,
}

/// The suggestions that keep the program's behaviour; types are erased at run time, so a
/// suggestion that only changes a type is checked by the rebuild's type check.
const TAKEN: &[Taken] = &[
    Taken {
        rule: "no-empty",
        suggestion: "suggestComment",
        does: "comment in the empty block",
        fits: is_comment_insertion,
    },
    Taken {
        rule: "no-useless-escape",
        suggestion: "removeEscape",
        does: "useless `\\` removed",
        fits: is_backslash_removal,
    },
    Taken {
        rule: "no-case-declarations",
        suggestion: "addBrackets",
        does: "case block in braces",
        fits: is_bracketed,
    },
    Taken {
        rule: "no-prototype-builtins",
        suggestion: "callObjectPrototype",
        does: "`Object.prototype` method called",
        fits: is_prototype_call,
    },
    Taken {
        rule: "@typescript-eslint/no-empty-object-type",
        suggestion: "replaceEmptyInterfaceWithSuper",
        does: "empty interface written as a type alias",
        fits: is_alias_of_empty_interface,
    },
    Taken {
        rule: "@typescript-eslint/ban-ts-comment",
        suggestion: "replaceTsIgnoreWithTsExpectError",
        does: "`@ts-ignore` written as `@ts-expect-error`",
        fits: is_ts_expect_error,
    },
    Taken {
        rule: "@typescript-eslint/no-non-null-asserted-optional-chain",
        suggestion: "suggestRemovingNonNull",
        does: "non-null assertion removed",
        fits: is_assertion_removal,
    },
];

/// Findings taken in one proposal at most: a bound on the work a forged report can ask for.
const MAX_FINDINGS: usize = 256;

#[async_trait::async_trait]
impl Fixer for LintSuggestions {
    fn name(&self) -> &str {
        "eslint-suggestions"
    }

    fn safety(&self) -> Safety {
        Safety::Safe
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let findings: Vec<&Diagnostic> = (input.diagnostics.iter())
            .filter(|d| d.tool == "eslint" && d.severity <= Severity::Error)
            .filter(|d| TAKEN.iter().any(|t| d.code.as_deref() == Some(t.rule)))
            .take(MAX_FINDINGS)
            .collect();
        let files = finding_files(input.workspace, findings.iter().copied(), "eslint");
        let Some((step, command)) = project_tool_on_files(
            input,
            "node_modules/.bin/eslint",
            &["--format", "json"],
            &files,
        ) else {
            return Ok(None);
        };
        let run = BuildStep {
            name: format!("eslint --format json ({})", step.name),
            command,
            continue_on_failure: true,
            ..step.clone()
        };
        let Some((output, _)) = input.changes_made_by(&run, None).await? else {
            return Ok(None);
        };
        let Some(reports) = reports(&output.stdout.text, &files) else {
            return Ok(None);
        };
        let mut edited = EditedFiles::new(input.workspace);
        for (path, report) in reports {
            let file_findings: Vec<&Diagnostic> = (findings.iter().copied())
                .filter(|d| {
                    (d.file.as_deref())
                        .and_then(|f| input.workspace.relative(f))
                        .as_ref()
                        == Some(path)
                })
                .collect();
            let Some(text) = edited.text(path)? else {
                continue;
            };
            if let Some((changed, why)) = apply(&text, &report, &file_findings) {
                edited.change(path, changed, format!("{path}: {why}"));
            }
        }
        Ok(edited.into_proposal())
    }
}

/// ESLint's `json` format: a report per file.
#[derive(Debug, Deserialize)]
struct FileReport {
    #[serde(rename = "filePath")]
    file_path: String,
    #[serde(default)]
    messages: Vec<Message>,
    /// The text ESLint linted (without a byte-order mark), when it reported anything.
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(rename = "ruleId")]
    rule_id: Option<String>,
    #[serde(default)]
    line: usize,
    #[serde(rename = "endLine")]
    end_line: Option<usize>,
    #[serde(default)]
    suggestions: Vec<Suggestion>,
}

#[derive(Debug, Deserialize)]
struct Suggestion {
    #[serde(rename = "messageId")]
    message_id: Option<String>,
    fix: TextFix,
}

/// A replacement of `range` — offsets in UTF-16 units, JavaScript's — by `text`.
#[derive(Debug, Deserialize)]
struct TextFix {
    range: (usize, usize),
    text: String,
}

/// The reports in ESLint's standard output (the JSON array on the first line that starts one),
/// each with the file of `files` it is for. ESLint names a file by its absolute path where it
/// ran (in a container, perhaps): the folder it ran in is the one prefix that turns every
/// report's path into one of `files`.
fn reports<'f>(
    stdout: &str,
    files: &'f [RelativePath],
) -> Option<Vec<(&'f RelativePath, FileReport)>> {
    let start = stdout
        .match_indices('[')
        .map(|(at, _)| at)
        .find(|&at| at == 0 || stdout.as_bytes()[at - 1] == b'\n')?;
    let mut values = serde_json::Deserializer::from_str(&stdout[start..]).into_iter();
    let reports: Vec<FileReport> = values.next()?.ok()?;
    let file_of = |report: &FileReport, folder: &str| {
        let relative = report.file_path.strip_prefix(folder)?;
        files.iter().find(|file| file.as_str() == relative)
    };
    let first = reports.first()?;
    let folder = (files.iter())
        .filter_map(|file| first.file_path.strip_suffix(file.as_str()))
        .filter(|folder| folder.is_empty() || folder.ends_with('/'))
        .filter(|folder| reports.iter().all(|r| file_of(r, folder).is_some()))
        .min_by_key(|folder| folder.len())?
        .to_string();
    Some(
        reports
            .into_iter()
            .filter_map(|report| Some((file_of(&report, &folder)?, report)))
            .collect(),
    )
}

/// `text` with the taken suggestions of the messages that match `findings` (same rule and
/// line) applied, and what they did; `None` when none applies. A report of another text than
/// the file's (changed since ESLint ran) is not used.
fn apply(text: &str, report: &FileReport, findings: &[&Diagnostic]) -> Option<(String, String)> {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(body) => ('\u{feff}'.len_utf8(), body),
        None => (0, text),
    };
    if report
        .source
        .as_deref()
        .is_some_and(|source| source != body)
    {
        return None;
    }
    let line_starts = line_starts(body);
    let line_of = |offset: usize| line_starts.partition_point(|&start| start <= offset);
    let mut edits: Vec<(Range<usize>, &str, &Taken)> = Vec::new();
    for message in &report.messages {
        let Some(rule) = message.rule_id.as_deref() else {
            continue;
        };
        let reported = findings.iter().any(|d| {
            d.code.as_deref() == Some(rule) && d.line.map(|l| l as usize) == Some(message.line)
        });
        if !reported {
            continue;
        }
        // The edit is where the finding is: on one of its lines at least.
        let lines = message.line..=message.end_line.unwrap_or(message.line).max(message.line);
        let near = |range: &Range<usize>| {
            line_of(range.start) <= *lines.end() && line_of(range.end) >= *lines.start()
        };
        let taken = message.suggestions.iter().find_map(|suggestion| {
            let taken = TAKEN.iter().find(|t| {
                t.rule == rule && suggestion.message_id.as_deref() == Some(t.suggestion)
            })?;
            let range = byte_range(body, suggestion.fix.range).filter(near)?;
            (taken.fits)(&body[range.clone()], &suggestion.fix.text).then_some((
                range,
                suggestion.fix.text.as_str(),
                taken,
            ))
        });
        edits.extend(taken);
    }
    // From the end, so that earlier offsets stay where they were; an edit overlapping one
    // already taken is left for the next round.
    edits.sort_by_key(|edit| std::cmp::Reverse((edit.0.start, edit.0.end)));
    let mut changed = body.to_string();
    let mut done: Vec<&str> = Vec::new();
    let mut lowest = usize::MAX;
    for (range, replacement, taken) in edits {
        if range.end > lowest || (range.end == lowest && range.start == range.end) {
            continue;
        }
        lowest = range.start;
        changed.replace_range(range, replacement);
        done.push(taken.does);
    }
    if done.is_empty() {
        return None;
    }
    done.reverse();
    done.dedup();
    Some((format!("{}{changed}", &text[..bom]), done.join(", ")))
}

/// The byte range of the UTF-16 range `(start, end)` of `text`, when both ends fall between
/// characters within it.
fn byte_range(text: &str, (start, end): (usize, usize)) -> Option<Range<usize>> {
    if start > end {
        return None;
    }
    let mut units = 0;
    let mut found = (None, None);
    for (at, c) in text.char_indices().chain([(text.len(), '\0')]) {
        if units == start {
            found.0 = Some(at);
        }
        if units == end {
            found.1 = Some(at);
            break;
        }
        if units > end {
            break;
        }
        units += c.len_utf16();
    }
    Some(found.0?..found.1?)
}

/// `no-empty`: a block comment inserted, nothing else.
fn is_comment_insertion(old: &str, new: &str) -> bool {
    let comment = new.trim();
    old.is_empty()
        && comment.len() >= 4
        && comment.starts_with("/*")
        && comment.ends_with("*/")
        && !comment[2..comment.len() - 2].contains("*/")
}

/// `no-useless-escape`: the backslash removed, the character it escaped kept.
fn is_backslash_removal(old: &str, new: &str) -> bool {
    old == "\\" && new.is_empty()
}

/// `no-case-declarations`: the case's statements, unchanged, in braces.
fn is_bracketed(old: &str, new: &str) -> bool {
    let inner = new
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'));
    !old.trim().is_empty() && inner.is_some_and(|inner| inner.trim() == old.trim())
}

/// `no-prototype-builtins`: `object.method(` → `Object.prototype.method.call(object, ` (or
/// `…call(object` when the call has no arguments).
fn is_prototype_call(old: &str, new: &str) -> bool {
    let Some((object, method)) = old.strip_suffix('(').and_then(|call| call.rsplit_once('.'))
    else {
        return false;
    };
    let builtin = ["hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"].contains(&method);
    let is_name_path = !object.is_empty()
        && (object.chars()).all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'));
    let call = format!("Object.prototype.{method}.call({object}");
    builtin && is_name_path && (new == call || new == format!("{call}, "))
}

/// `no-empty-object-type`: `interface Name<…> extends Base {}` → `type Name<…> = Base`.
fn is_alias_of_empty_interface(old: &str, new: &str) -> bool {
    let Some((name, base)) = (new.strip_prefix("type "))
        .and_then(|alias| alias.split_once(" = "))
        .map(|(name, base)| (name.trim(), base.trim()))
    else {
        return false;
    };
    let Some(declaration) = old
        .strip_suffix('}')
        .and_then(|rest| rest.trim_end().strip_suffix('{'))
        .map(str::trim_end)
    else {
        return false;
    };
    let head = declaration
        .strip_suffix(base)
        .and_then(|rest| rest.trim_end().strip_suffix("extends"))
        .map(str::trim_end);
    !name.is_empty()
        && !base.is_empty()
        && head.and_then(|head| head.strip_prefix("interface")) == Some(&format!(" {name}"))
}

/// `ban-ts-comment`: the comment's `@ts-ignore` made `@ts-expect-error`, the rest unchanged —
/// when the comment says why: the rule's default wants a description of 3 characters or more
/// for `@ts-expect-error`, and a reason is not for a fixer to make up.
fn is_ts_expect_error(old: &str, new: &str) -> bool {
    let described = old.split_once("@ts-ignore").is_some_and(|(_, after)| {
        let description = after.trim_end_matches("*/").trim();
        let description = description.trim_start_matches([':', '-']).trim();
        description.chars().count() >= 3
    });
    (old.starts_with("//") || old.starts_with("/*"))
        && !old.contains('\n')
        && described
        && new == old.replacen("@ts-ignore", "@ts-expect-error", 1)
}

/// `no-non-null-asserted-optional-chain`: the `!` removed.
fn is_assertion_removal(old: &str, new: &str) -> bool {
    old == "!" && new.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Diagnostic;

    fn finding(rule: &str, line: u32) -> Diagnostic {
        Diagnostic {
            file: Some("src/a.ts".into()),
            line: Some(line),
            code: Some(rule.into()),
            ..Diagnostic::new("eslint", "")
        }
    }

    fn report(source: &str, messages: serde_json::Value) -> FileReport {
        serde_json::from_value(serde_json::json!({
            "filePath": "/work/app/src/a.ts", "messages": messages, "source": source,
        }))
        .unwrap()
    }

    #[test]
    fn the_suggestions_eslint_prints_are_applied_from_the_end() {
        // Offsets as ESLint 9 and typescript-eslint 8 printed them for this text.
        let source = "interface Base { a: number }\nexport interface Props extends Base {}\n\
                      try { f() } catch {}\nconst re = /[a-z\\-]+/;\n";
        let escape = source.find('\\').unwrap();
        let empty = source.find("catch {").unwrap() + "catch {".len();
        let messages = serde_json::json!([
            {"ruleId": "@typescript-eslint/no-empty-object-type", "line": 2, "suggestions": [
                {"messageId": "replaceEmptyInterfaceWithSuper",
                 "fix": {"range": [36, 67], "text": "type Props = Base"}}]},
            {"ruleId": "no-empty", "line": 3, "suggestions": [
                {"messageId": "suggestComment", "fix": {"range": [empty, empty],
                 "text": " /* empty */ "}}]},
            {"ruleId": "no-useless-escape", "line": 4, "suggestions": [
                {"messageId": "removeEscape", "fix": {"range": [escape, escape + 1], "text": ""}},
                {"messageId": "escapeBackslash", "fix": {"range": [escape, escape], "text": "\\"}}]},
        ]);
        let findings = [
            finding("@typescript-eslint/no-empty-object-type", 2),
            finding("no-empty", 3),
            finding("no-useless-escape", 4),
        ];
        let findings: Vec<&Diagnostic> = findings.iter().collect();
        let (changed, why) = apply(source, &report(source, messages), &findings).unwrap();
        assert_eq!(
            changed,
            "interface Base { a: number }\nexport type Props = Base\n\
             try { f() } catch { /* empty */ }\nconst re = /[a-z-]+/;\n"
        );
        assert_eq!(
            why,
            "empty interface written as a type alias, comment in the empty block, \
             useless `\\` removed"
        );
    }

    #[test]
    fn only_suggestions_of_the_builds_findings_and_of_their_exact_shape_are_taken() {
        let source = "const a = 1;\nprocess.exit(0);\n";
        let exit = source.find("process").unwrap();
        let forged = |rule: &str, id: &str, range: (usize, usize), text: &str| {
            serde_json::json!({"ruleId": rule, "line": 2, "suggestions": [
                {"messageId": id, "fix": {"range": [range.0, range.1], "text": text}}]})
        };
        let cases = [
            // Code written where a comment belongs, or around one.
            forged(
                "no-empty",
                "suggestComment",
                (exit, exit),
                "evil(); /* empty */",
            ),
            forged(
                "no-empty",
                "suggestComment",
                (exit, exit),
                "/* a */ evil() /* b */",
            ),
            // A removal of more than a backslash.
            forged("no-useless-escape", "removeEscape", (exit, exit + 16), ""),
            // A suggestion that changes behaviour, of a rule not taken.
            forged(
                "react-hooks/exhaustive-deps",
                "fixDependencyArray",
                (exit, exit),
                "x",
            ),
            // The right rule with another of its suggestions.
            forged("no-useless-escape", "escapeBackslash", (exit, exit), "\\"),
            // Braces around other statements than the case's.
            forged(
                "no-case-declarations",
                "addBrackets",
                (exit, exit + 16),
                "{ evil(); }",
            ),
            // The right shape on another line than the finding's.
            forged("no-empty", "suggestComment", (0, 0), "/* empty */"),
            // Ranges outside the text or reversed.
            forged("no-useless-escape", "removeEscape", (900, 901), ""),
            forged("no-useless-escape", "removeEscape", (5, 4), ""),
        ];
        for case in cases {
            let rule = case["ruleId"].as_str().unwrap().to_string();
            let found = finding(&rule, 2);
            let taken = apply(
                source,
                &report(source, serde_json::json!([case])),
                &[&found],
            );
            assert_eq!(taken, None, "{case}");
        }
        let escape = serde_json::json!([{"ruleId": "no-useless-escape", "line": 2,
            "suggestions": [{"messageId": "removeEscape", "fix": {"range": [0, 1], "text": ""}}]}]);
        let elsewhere = finding("no-useless-escape", 1);
        assert_eq!(
            apply("\\a\n\\b\n", &report("\\a\n\\b\n", escape), &[&elsewhere]),
            None,
            "a message the build did not report (another line) is not acted on"
        );
    }

    #[test]
    fn a_report_of_another_text_is_not_used() {
        let messages = serde_json::json!([{"ruleId": "no-useless-escape", "line": 1,
            "suggestions": [{"messageId": "removeEscape", "fix": {"range": [1, 2], "text": ""}}]}]);
        let found = finding("no-useless-escape", 1);
        assert_eq!(
            apply("'\\a'\n", &report("'\\b'\n", messages), &[&found]),
            None
        );
    }

    #[test]
    fn offsets_are_utf16_units_after_any_byte_order_mark() {
        // `🎉` is two UTF-16 units and four bytes; ESLint's offsets skip the mark.
        let body = "'🎉\\-'\n";
        let text = format!("\u{feff}{body}");
        let messages = serde_json::json!([{"ruleId": "no-useless-escape", "line": 1,
            "suggestions": [{"messageId": "removeEscape", "fix": {"range": [3, 4], "text": ""}}]}]);
        let found = finding("no-useless-escape", 1);
        let (changed, _) = apply(&text, &report(body, messages), &[&found]).unwrap();
        assert_eq!(changed, "\u{feff}'🎉-'\n");
        assert_eq!(byte_range("🎉", (1, 2)), None, "inside a surrogate pair");
        assert_eq!(byte_range("ab", (2, 2)), Some(2..2));
        assert_eq!(byte_range("ab", (2, 3)), None);
    }

    #[test]
    fn overlapping_suggestions_are_taken_once() {
        let source = "'\\a'\n";
        let messages = serde_json::json!([
            {"ruleId": "no-useless-escape", "line": 1, "suggestions": [
                {"messageId": "removeEscape", "fix": {"range": [1, 2], "text": ""}}]},
            {"ruleId": "no-useless-escape", "line": 1, "suggestions": [
                {"messageId": "removeEscape", "fix": {"range": [1, 2], "text": ""}}]},
        ]);
        let found = finding("no-useless-escape", 1);
        let (changed, _) = apply(source, &report(source, messages), &[&found]).unwrap();
        assert_eq!(changed, "'a'\n");
    }

    #[test]
    fn shapes() {
        assert!(is_alias_of_empty_interface(
            "interface InputProps\n  extends React.InputHTMLAttributes<HTMLInputElement> {}",
            "type InputProps = React.InputHTMLAttributes<HTMLInputElement>"
        ));
        assert!(is_alias_of_empty_interface(
            "interface P<T extends object> extends Base<T> { }",
            "type P<T extends object> = Base<T>"
        ));
        assert!(!is_alias_of_empty_interface(
            "interface P extends Base { a: 1 }",
            "type P = Base"
        ));
        assert!(!is_alias_of_empty_interface(
            "interface P extends Base {}",
            "type Q = Base"
        ));
        assert!(!is_alias_of_empty_interface(
            "interface P extends Base {}",
            "type P = Base; evil()"
        ));
        assert!(is_prototype_call(
            "o.hasOwnProperty(",
            "Object.prototype.hasOwnProperty.call(o, "
        ));
        assert!(is_prototype_call(
            "a.b.isPrototypeOf(",
            "Object.prototype.isPrototypeOf.call(a.b"
        ));
        assert!(!is_prototype_call(
            "o.hasOwnProperty(",
            "Object.prototype.hasOwnProperty.call(evil(), "
        ));
        assert!(!is_prototype_call(
            "f(x).hasOwnProperty(",
            "Object.prototype.hasOwnProperty.call(f(x), "
        ));
        assert!(is_bracketed(
            "const z = 1;\n  return z;",
            "{ const z = 1;\n  return z; }"
        ));
        assert!(!is_bracketed("const z = 1;", "{ const z = 2; }"));
        assert!(is_ts_expect_error(
            "// @ts-ignore: injected by the tag manager",
            "// @ts-expect-error: injected by the tag manager"
        ));
        assert!(
            !is_ts_expect_error("// @ts-ignore", "// @ts-expect-error"),
            "the rule would then want a reason"
        );
        assert!(!is_ts_expect_error(
            "/* @ts-ignore - */",
            "/* @ts-expect-error - */"
        ));
        assert!(!is_ts_expect_error(
            "// @ts-ignore why not",
            "// @ts-expect-error why not\nevil()"
        ));
        assert!(is_comment_insertion("", " /* empty */ "));
        assert!(!is_comment_insertion("", "/* a */ b /* c */"));
    }

    #[test]
    fn the_reports_are_found_in_the_output_and_matched_to_the_files() {
        let stdout = "> lint\n[{\"filePath\":\"/w/src/a.ts\",\"messages\":[]},\
                      {\"filePath\":\"/w/a.ts\",\"messages\":[]}]\n";
        let files = ["a.ts", "src/a.ts"].map(|f| RelativePath::new(f).unwrap());
        let found: Vec<&str> = (reports(stdout, &files).unwrap().into_iter())
            .map(|(file, _)| file.as_str())
            .collect();
        assert_eq!(
            found,
            ["src/a.ts", "a.ts"],
            "the folder ESLint ran in is `/w/`"
        );
        let outside = "[{\"filePath\":\"/w/src/a.ts\",\"messages\":[]},\
                       {\"filePath\":\"/etc/a.ts\",\"messages\":[]}]";
        assert!(
            reports(outside, &files).is_none(),
            "no one folder holds both"
        );
        assert!(reports("Oops! Something went wrong\n", &files).is_none());
        assert!(reports("[not json\n", &files).is_none());
    }
}

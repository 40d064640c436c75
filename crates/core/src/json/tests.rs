use serde_json::{Value, json};

use super::*;

fn value(text: &str) -> Value {
    recover(text, &Hint::none()).unwrap().into_value()
}

#[test]
fn strict_json_is_strict() {
    let found = recover("{\"a\": [1, 2.5, \"x\"], \"b\": null}", &Hint::none()).unwrap();
    assert_eq!(found.stage, Stage::Strict);
    assert!(found.repairs.is_empty());
    assert_eq!(found.value, json!({"a": [1, 2.5, "x"], "b": null}));
}

#[test]
fn common_defects_are_repaired() {
    assert_eq!(
        value("{a: 1, 'b': 'it\\'s', c: True, d: None,}"),
        json!({"a": 1, "b": "it's", "c": true, "d": null})
    );
    assert_eq!(value("[1 2 3]"), json!([1, 2, 3]));
    assert_eq!(value("{\"a\": 1 \"b\": 2}"), json!({"a": 1, "b": 2}));
    assert_eq!(
        value("[\n  \"a\"\n  [true\n  \"x\"]\n  {\"n\": 1}\n  -2\n  null\n]"),
        json!(["a", [true, "x"], {"n": 1}, -2, null])
    );
    assert_eq!(
        value("{\"a\": NaN, \"b\": -Infinity, \"c\": undefined}"),
        json!({"a": null, "b": null, "c": null})
    );
    assert_eq!(
        value("{\u{201C}a\u{201D}: \u{201C}b\u{201D}}"),
        json!({"a": "b"})
    );
    assert_eq!(value("{\"a\": 1, \"a\": 2}"), json!({"a": 2}));
    assert_eq!(
        value("// note\n{\"a\": /* one */ 1} // done"),
        json!({"a": 1})
    );
}

#[test]
fn strings_keep_source_text() {
    assert_eq!(
        value("{\"re\": \"\\d+\\.\\w\", \"path\": \"C:\\Users\\x\"}"),
        json!({"re": "\\d+\\.\\w", "path": "C:\\Users\\x"})
    );
    assert_eq!(
        value("{\"code\": \"line1\nline2\tend\"}"),
        json!({"code": "line1\nline2\tend"})
    );
    assert_eq!(
        value("{\"jsx\": \"<div className=\"app\">hi</div>\", \"n\": 1}"),
        json!({"jsx": "<div className=\"app\">hi</div>", "n": 1})
    );
    assert_eq!(
        value("{\"e\": \"\\ud83d\\ude00 \\u00e9\"}"),
        json!({"e": "😀 é"})
    );
    // A quote before a comment on the same line is content when the line still has to close
    // the string; otherwise it ends the string and the comment is a comment.
    assert_eq!(
        value("{\"r\": \"x = \"C:\\\\dev\"  // fixed\\n\"}"),
        json!({"r": "x = \"C:\\dev\"  // fixed\n"})
    );
    assert_eq!(
        value("{\"a\": \"delete\" // the \"path\" is fine\n}"),
        json!({"a": "delete"})
    );
    assert_eq!(
        value("[{\"r\":\"x = \"a\"  // fixed\\n\"},{\"c\":\"<p class=\"b\">\"}]"),
        json!([{"r": "x = \"a\"  // fixed\n"}, {"c": "<p class=\"b\">"}])
    );
}

#[test]
fn fences_and_prose() {
    let reply = "Sure! The log says `{ id: number }` is wrong.\n\n```ts\nconst x = { a: 1 };\n```\n\nFix:\n```json\n{\"analysis\": \"x\", \"fixes\": []}\n```\nDone.";
    let found = recover(reply, &Hint::fix_proposal()).unwrap();
    assert_eq!(found.stage, Stage::Extracted);
    assert_eq!(found.value, json!({"analysis": "x", "fixes": []}));
    assert_eq!(value("```json{\"a\": 1}```"), json!({"a": 1}));
    assert_eq!(value("Result: ```json{\"a\": [1]}```"), json!({"a": [1]}));
    let inner_fence = "```json\n{\"content\": \"# Readme\\n```bash\\nnpm i\\n```\\n\"}\n```";
    assert_eq!(
        value(inner_fence),
        json!({"content": "# Readme\n```bash\nnpm i\n```\n"})
    );
}

#[test]
fn the_hint_picks_the_fitting_object() {
    let reply = "Current config:\n```json\n{\"strict\": true}\n```\nFix:\n```json\n{\"analysis\": \"a\", \"fixes\": [1]}\n```";
    assert_eq!(
        recover(reply, &Hint::fix_proposal()).unwrap().value,
        json!({"analysis": "a", "fixes": [1]})
    );
    assert_eq!(
        recover(reply, &Hint::none()).unwrap().value,
        json!({"strict": true})
    );
}

#[test]
fn truncation_follows_the_rules() {
    let cases = [
        ("{\"a\": \"hel", json!({"a": "hel"})),
        ("{\"a\": 1, \"b", json!({"a": 1})),
        ("{\"a\": 1, \"b\":", json!({"a": 1})),
        ("{\"a\": 1, \"b\": 12", json!({"a": 1})),
        ("{\"a\": 1, \"b\": 12 ", json!({"a": 1, "b": 12})),
        ("[1, 2,", json!([1, 2])),
        ("[true, fal", json!([true])),
        ("[true, false", json!([true, false])),
        ("{\"a\": \"x\\", json!({"a": "x"})),
        ("{\"a\": \"x\\u00", json!({"a": "x"})),
        ("{\"a\": \"x\\ud83d", json!({"a": "x"})),
        ("{\"a\": \"x\\ud83d\\u", json!({"a": "x"})),
        ("{\"a\": \"x\\ud83d\\ude", json!({"a": "x"})),
        ("{\"a\": [", json!({"a": []})),
        ("{\"a\": \"", json!({"a": ""})),
        ("[{\"a\": 1}, {\"b", json!([{"a": 1}, {}])),
    ];
    for (text, expected) in cases {
        let found = recover(text, &Hint::none()).unwrap();
        assert_eq!(found.value, expected, "{text}");
        assert_eq!(found.stage, Stage::Truncated, "{text}");
    }
}

#[test]
fn missing_brackets_where_the_next_token_proves_them() {
    let text = "{\"analysis\": \"a\", \"fixes\": [{\"path\": \"x\"}, \"confidence\": 0.5}";
    assert_eq!(
        value(text),
        json!({"analysis": "a", "fixes": [{"path": "x"}], "confidence": 0.5})
    );
    let text = "{\"fixes\": [{\"path\": \"x\" , {\"path\": \"y\"}]}";
    assert_eq!(
        value(text),
        json!({"fixes": [{"path": "x"}, {"path": "y"}]})
    );
}

#[test]
fn nothing_sensible_is_declined() {
    for text in [
        "",
        "   \n",
        "I can't help with that.",
        "Use `items[0]` and call vec![1, 2].",
        "Type '{ id: number; }' is wrong",
        "```yaml\na: 1\n```",
        "```ts\nfunction f() { return { a: 1 }; }\n```",
        "const routes = [\"/\", \"/about\"];\nexport default { runtime: \"edge\" };",
        "let xs = [1, 2, 3]",
    ] {
        assert!(recover(text, &Hint::none()).is_err(), "{text:?}");
    }
}

#[test]
fn deep_nesting_needs_no_stack() {
    let depth = 100_000;
    let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let found = recover(&text, &Hint::none()).unwrap();
    assert_eq!(found.stage, Stage::Strict);
    assert_eq!(to_string(&found.value), text);
    let open = "{\"a\": [".repeat(depth);
    let found = recover(&open, &Hint::none()).unwrap();
    assert_eq!(found.stage, Stage::Truncated);
}

#[test]
fn nesting_is_bounded_and_failures_drop_deep_values_safely() {
    let too_deep = "[".repeat(MAX_DEPTH + 1);
    assert_eq!(
        recover(&too_deep, &Hint::none()).err(),
        Some(NotFound::TooDeep)
    );
    let at_limit = "[".repeat(MAX_DEPTH);
    assert_eq!(
        recover(&at_limit, &Hint::none()).map(|found| found.stage),
        Ok(Stage::Truncated)
    );
    // A deep finished member inside a candidate that then fails, and a deep duplicate key.
    let depth = 150_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(recover(&format!("[{deep} x"), &Hint::none()).is_ok());
    let duplicate = format!("{{\"a\": {deep}, \"a\": 1}}");
    assert_eq!(value(&duplicate), json!({"a": 1}));
}

#[test]
fn hostile_input_stays_linear() {
    let text = format!("{}x", "[".repeat(200_000));
    assert!(recover(&text, &Hint::none()).is_err());
    let text = "{\"a\": [".repeat(50_000) + "oops";
    assert!(recover(&text, &Hint::none()).is_err());
    // Shapes that make lookahead heuristics rescan the same bytes if they are not bounded.
    let comments = format!("{{\"a\": \"{}", "x\" // \"".repeat(200_000));
    assert!(recover(&comments, &Hint::none()).is_ok());
    let lines = format!("[\"{}", "a\"\nb\"\n".repeat(200_000));
    assert!(recover(&lines, &Hint::none()).is_ok());
    let words = "json{ ```a{ x[ ".repeat(200_000);
    assert_eq!(
        recover(&words, &Hint::none()).err(),
        Some(NotFound::NoValue)
    );
}

#[test]
fn keys_keep_their_order() {
    let found = recover(
        "{\"z\": 1, \"a\": {\"y\": 2, \"b\": 3}, \"z\": 4}",
        &Hint::none(),
    )
    .unwrap();
    assert_eq!(to_string(&found.value), "{\"z\":4,\"a\":{\"y\":2,\"b\":3}}");
}

use serde_json::{Value, json};

use super::*;

fn read(value: Value) -> FixProposal {
    FixProposal::from_value(&value).unwrap_or_else(|e| panic!("{e}"))
}

fn refusal(value: Value) -> (String, Invalid) {
    match FixProposal::from_value(&value) {
        Err(ProposalError::Invalid { field, reason }) => (field, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn path(raw: &str) -> RelativePath {
    RelativePath::new(raw).unwrap()
}

#[test]
fn reads_the_seed_schema() {
    let proposal = read(json!({
        "analysis": "Button is imported from the wrong file",
        "fixes": [
            {"path": "src/App.tsx", "action": "replace", "content": "export {}\n"},
            {"path": "src/new.ts", "action": "create", "content": ""},
            {"path": "src/old.ts", "action": "delete"},
            {"path": "src/b.ts", "action": "patch", "search": "a", "replace": "b", "line": 3},
        ],
        "confidence": 0.8,
        "alternativeFixes": [
            {"description": "rename the file", "fixes": [{"path": "x.ts", "action": "delete"}]},
            "pin the dependency",
        ],
    }));
    assert_eq!(proposal.analysis, "Button is imported from the wrong file");
    assert_eq!(
        proposal.edits,
        vec![
            Edit::Replace {
                path: path("src/App.tsx"),
                content: "export {}\n".into()
            },
            Edit::Create {
                path: path("src/new.ts"),
                content: String::new()
            },
            Edit::Delete {
                path: path("src/old.ts")
            },
            Edit::Patch {
                path: path("src/b.ts"),
                search: "a".into(),
                replace: "b".into(),
                line: Some(3)
            },
        ]
    );
    assert_eq!(proposal.confidence, Some(0.8));
    assert_eq!(proposal.alternatives.len(), 2);
    assert_eq!(proposal.alternatives[0].description, "rename the file");
    assert_eq!(proposal.alternatives[0].edits.len(), 1);
    assert_eq!(proposal.alternatives[1].description, "pin the dependency");
    assert!(proposal.alternatives[1].edits.is_empty());
}

#[test]
fn accepts_common_aliases_in_any_case() {
    let proposal = read(json!({
        "Explanation": "typo",
        "changes": [
            {"file": "a.ts", "type": "update", "new_content": "1"},
            {"filePath": "b.ts", "operation": "modify", "old_string": "x", "new_string": "y"},
            {"file_name": "c.ts", "find": "p", "replace-with": "q", "lineNumber": "7"},
            {"target": "d.ts", "newContent": "2"},
            {"path": "e.ts", "action": "REMOVE"},
            {"path": "f.ts", "action": "search_replace", "old": "m", "new": ""},
        ],
        "confidence_score": "85%",
        "alternatives": {"approach": "downgrade", "edits": {"path": "g.ts", "code": "3"}},
    }));
    assert_eq!(proposal.analysis, "typo");
    let kinds: Vec<_> = proposal
        .edits
        .iter()
        .map(|e| match e {
            Edit::Replace { .. } => "replace",
            Edit::Create { .. } => "create",
            Edit::Delete { .. } => "delete",
            Edit::Patch { .. } => "patch",
        })
        .collect();
    assert_eq!(
        kinds,
        ["replace", "patch", "patch", "replace", "delete", "patch"]
    );
    assert_eq!(
        proposal.edits[2],
        Edit::Patch {
            path: path("c.ts"),
            search: "p".into(),
            replace: "q".into(),
            line: Some(7)
        }
    );
    assert_eq!(proposal.confidence, Some(0.85));
    assert_eq!(proposal.alternatives[0].description, "downgrade");
    assert_eq!(
        proposal.alternatives[0].edits,
        vec![Edit::Replace {
            path: path("g.ts"),
            content: "3".into()
        }]
    );
}

#[test]
fn a_list_of_edits_is_a_proposal() {
    let proposal = read(json!([{"path": "a.ts", "action": "delete"}]));
    assert_eq!(proposal.analysis, "");
    assert_eq!(proposal.edits.len(), 1);
    assert_eq!(proposal.confidence, None);
}

#[test]
fn confidence_is_a_clamped_fraction() {
    for (given, want) in [
        (json!(0.9), 0.9),
        (json!(1), 1.0),
        (json!(90), 0.9),
        (json!("0.25"), 0.25),
        (json!(" 40 % "), 0.4),
        (json!(250), 1.0),
        (json!(-0.5), 0.0),
        (json!("120%"), 1.0),
    ] {
        let proposal = read(json!({"fixes": [], "confidence": given.clone()}));
        assert_eq!(proposal.confidence, Some(want), "{given}");
    }
    assert_eq!(
        read(json!({"fixes": [], "confidence": null})).confidence,
        None
    );
    assert_eq!(
        refusal(json!({"fixes": [], "confidence": "high"})),
        ("confidence".into(), Invalid::NotANumber("\"high\"".into()))
    );
    assert_eq!(
        refusal(json!({"fixes": [], "confidence": [1]})),
        (
            "confidence".into(),
            Invalid::WrongType {
                expected: "a number",
                found: "an array"
            }
        )
    );
}

#[test]
fn every_refusal_names_the_field_and_the_reason() {
    let wrong = |expected, found| Invalid::WrongType { expected, found };
    for (value, field, reason) in [
        (json!({"analysis": "x"}), "fixes", Invalid::Missing),
        (
            json!("fix it"),
            "(top level)",
            wrong("an object or an array", "a string"),
        ),
        (
            json!({"fixes": "none"}),
            "fixes",
            wrong("an array of edits", "a string"),
        ),
        (
            json!({"edits": [3]}),
            "edits[0]",
            wrong("an edit object", "a number"),
        ),
        (
            json!({"analysis": 1, "fixes": []}),
            "analysis",
            wrong("a string", "a number"),
        ),
        (
            json!({"fixes": [{"action": "delete"}]}),
            "fixes[0].path",
            Invalid::Missing,
        ),
        (
            json!({"fixes": [{"path": 7, "action": "delete"}]}),
            "fixes[0].path",
            wrong("a string", "a number"),
        ),
        (
            json!({"fixes": [{"file": "/etc/passwd", "action": "delete"}]}),
            "fixes[0].file",
            Invalid::Path(PathError::Absolute("/etc/passwd".into())),
        ),
        (
            json!({"fixes": [{"path": "a/../../b", "content": ""}]}),
            "fixes[0].path",
            Invalid::Path(PathError::ParentDirectory("a/../../b".into())),
        ),
        (
            json!({"fixes": [{"path": "a\u{0}b", "content": ""}]}),
            "fixes[0].path",
            Invalid::Path(PathError::ControlCharacter),
        ),
        (
            json!({"fixes": [{"path": "a"}]}),
            "fixes[0].action",
            Invalid::Missing,
        ),
        (
            json!({"fixes": [{"path": "a", "action": "rename"}]}),
            "fixes[0].action",
            Invalid::UnknownAction("rename".into()),
        ),
        (
            json!({"fixes": [{"path": "a", "action": "create"}]}),
            "fixes[0].content",
            Invalid::Missing,
        ),
        (
            json!({"fixes": [{"path": "a", "action": "replace"}]}),
            "fixes[0].content",
            Invalid::Missing,
        ),
        (
            json!({"fixes": [{"path": "a", "action": "patch", "replace": "x"}]}),
            "fixes[0].search",
            Invalid::Missing,
        ),
        (
            json!({"fixes": [{"path": "a", "action": "patch", "find": "", "replace": "x"}]}),
            "fixes[0].find",
            Invalid::EmptySearch,
        ),
        (
            json!({"fixes": [{"path": "a", "search": "x"}]}),
            "fixes[0].replace",
            Invalid::Missing,
        ),
        (
            json!({"fixes": [{"path": "a", "search": "x", "replace": "y", "line": 0}]}),
            "fixes[0].line",
            Invalid::Line("0".into()),
        ),
        (
            json!({"fixes": [], "alternativeFixes": [{"fixes": [{"path": "..", "action": "delete"}]}]}),
            "alternativeFixes[0].fixes[0].path",
            Invalid::Path(PathError::ParentDirectory("..".into())),
        ),
        (
            json!({"fixes": [], "alternativeFixes": [7]}),
            "alternativeFixes[0]",
            wrong("an alternative (object or string)", "a number"),
        ),
    ] {
        assert_eq!(
            refusal(value.clone()),
            (field.to_string(), reason),
            "{value}"
        );
    }
}

#[test]
fn error_messages_read_well() {
    let error = FixProposal::from_value(&json!({"fixes": [{"path": "../x", "action": "delete"}]}))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`fixes[0].path`: `../x` leaves the workspace through `..`"
    );
    let error = FixProposal::from_reply("Sorry, I can't help with that.").unwrap_err();
    assert_eq!(
        error.to_string(),
        "no fix proposal in the reply: no JSON object or array in the reply"
    );
}

#[test]
fn serialises_to_a_form_it_reads_back() {
    let proposal = read(json!({
        "analysis": "a",
        "fixes": [
            {"path": "./src\\a.ts", "action": "replace", "content": "x"},
            {"path": "b.ts", "action": "create", "content": "y"},
            {"path": "c.ts", "action": "delete"},
            {"path": "d.ts", "action": "patch", "search": "s", "replace": "r"},
            {"path": "e.ts", "action": "patch", "search": "s", "replace": "r", "line": 9},
        ],
        "confidence": 0.5,
        "alternativeFixes": [{"description": "d", "fixes": [{"path": "f.ts", "action": "delete"}]}],
    }));
    let written = serde_json::to_value(&proposal).unwrap();
    assert_eq!(written["edits"][0]["path"], "src/a.ts");
    assert_eq!(written["edits"][3].get("line"), None);
    let read_back: FixProposal = serde_json::from_value(written).unwrap();
    assert_eq!(read_back, proposal);
    assert!(serde_json::from_value::<FixProposal>(json!({"edits": [{"path": "/x"}]})).is_err());
}

#[test]
fn reads_replies() {
    let reply = "The build fails because of a typo.\n\n```json\n{\n  \"analysis\": \"typo\",\n  \
                 \"fixes\": [{\"path\": \"src/main.rs\", \"action\": \"patch\", \"search\": \
                 \"fn mian\", \"replace\": \"fn main\"}],\n  \"confidence\": 0.95,\n}\n```\n";
    let proposal = FixProposal::from_reply(reply).unwrap();
    assert_eq!(proposal.analysis, "typo");
    assert_eq!(proposal.edits[0].path().as_str(), "src/main.rs");
    assert!(matches!(
        FixProposal::from_reply("   "),
        Err(ProposalError::NotFound(crate::json::NotFound::Empty))
    ));
}

//! `selfheal parse` as a user runs it.

use crate::common::{scratch, selfheal};
use selfheal_test_harness::{Test, trial};

const TSC_LOG: &[u8] =
    b"src/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.\n";

fn json_output_is_exactly_a_diagnostics_object() {
    let out = selfheal(&["parse", "--format", "json", "-"], TSC_LOG);
    assert!(out.status.success());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let object = value.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["diagnostics"]);
    let d = &value["diagnostics"][0];
    for field in [
        "tool",
        "category",
        "subcategory",
        "severity",
        "code",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "snippet",
        "stack",
        "fixits",
        "notes",
        "suggestions",
        "confidence",
        "log_lines",
        "fingerprint",
    ] {
        assert!(d.get(field).is_some(), "missing field {field}");
    }
    assert_eq!(d["code"], "TS2322");
    assert_eq!(d["line"], 12);
}

fn reads_a_file_and_exits_zero_when_errors_are_found() {
    let dir = scratch("cli");
    let path = dir.join("build.log");
    std::fs::write(&path, TSC_LOG).unwrap();
    let out = selfheal(&["parse", path.to_str().unwrap(), "--format", "json"], b"");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["diagnostics"].as_array().unwrap().len(), 1);
}

fn text_output_lists_diagnostics_without_color_when_piped() {
    let out = selfheal(&["parse"], TSC_LOG);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("error[TS2322]: Type 'string' is not assignable to type 'number'."));
    assert!(text.contains("--> src/app.ts:12:3"));
    assert!(text.ends_with("1 error, 0 warnings\n"));
    assert!(!text.contains('\x1b'));
    let colored = selfheal(&["parse", "--color", "always"], TSC_LOG);
    assert!(
        String::from_utf8(colored.stdout)
            .unwrap()
            .contains("\x1b[1;31m")
    );
}

fn hostile_input_never_crashes() {
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    junk.extend_from_slice(b"\n\xff\xfe\x00error: \x1b[\n");
    for input in [&b""[..], b"\n\n\n", b"\x00\x00\x00", &junk] {
        let out = selfheal(&["parse", "--format", "json"], input);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(value["diagnostics"].is_array());
    }
}

fn custom_patterns_from_a_file() {
    let dir = scratch("patterns");
    let specs = dir.join("patterns.json");
    std::fs::write(
        &specs,
        r#"[{"name": "mytool", "regex": "^MYTOOL (?P<file>\\S+):(?P<line>\\d+) (?P<message>.+)$", "category": "syntax"}]"#,
    )
    .unwrap();
    let out = selfheal(
        &[
            "parse",
            "--format",
            "json",
            "--patterns",
            specs.to_str().unwrap(),
        ],
        b"MYTOOL conf/app.yml:7 unexpected key\n",
    );
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"name": "x", "regex": "(", "category": "syntax"}]"#,
    )
    .unwrap();
    let refused = selfheal(&["parse", "--patterns", bad.to_str().unwrap()], b"");
    std::fs::remove_dir_all(&dir).unwrap();

    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["diagnostics"][0]["tool"], "mytool");
    assert_eq!(value["diagnostics"][0]["line"], 7);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid pattern `x`"));
}

fn a_missing_file_is_a_clear_error() {
    let out = selfheal(&["parse", "/nonexistent/build.log"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/build.log"));
}

pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(json_output_is_exactly_a_diagnostics_object),
        trial!(reads_a_file_and_exits_zero_when_errors_are_found),
        trial!(text_output_lists_diagnostics_without_color_when_piped),
        trial!(hostile_input_never_crashes),
        trial!(custom_patterns_from_a_file),
        trial!(a_missing_file_is_a_clear_error),
    ]
}

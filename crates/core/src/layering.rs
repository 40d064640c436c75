//! The tiers of the crate's modules (see the table in the crate docs), checked against every
//! `crate::` path the sources hold outside comments.

use std::collections::BTreeMap;
use std::path::Path;

/// Each top-level module's tier; a module may import its own tier and those below.
const TIERS: &[(&str, u8)] = &[
    ("json", 0),
    ("redact", 0),
    ("millis", 0),
    ("time", 0),
    ("scratch", 0),
    ("layering", 0),
    ("edit", 1),
    ("error", 2),
    ("diagnostic", 3),
    ("workspace", 4),
    ("parse", 5),
    ("build", 5),
    ("llm", 5),
    ("fix", 6),
    ("testing", 6),
    ("cache", 7),
    ("heal", 8),
    ("observe", 9),
    ("cassette", 10),
    ("doctor", 10),
];

fn tier(module: &str) -> Option<u8> {
    TIERS.iter().find(|(m, _)| *m == module).map(|(_, t)| *t)
}

/// The module a name re-exported at the crate root comes from (`crate::Diagnostic` →
/// `diagnostic`), read from `lib.rs`'s `pub use module::{…}` lines.
fn root_names(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let mut rest = lib;
    while let Some(at) = rest.find("pub use ") {
        rest = &rest[at + "pub use ".len()..];
        let statement = &rest[..rest.find(';').unwrap_or(rest.len())];
        let Some((module, items)) = statement.split_once("::") else {
            continue;
        };
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            let item = item.trim();
            if !item.is_empty() {
                names.insert(item.to_string(), module.trim().to_string());
            }
        }
    }
    names
}

/// The source without `//` comments (doc comments included) and string literals.
fn code_only(source: &str) -> String {
    source
        .lines()
        .map(|line| {
            let mut code = String::new();
            let mut in_string = false;
            let mut previous = ' ';
            for (i, c) in line.char_indices() {
                if !in_string && line[i..].starts_with("//") {
                    break;
                }
                if c == '"' && previous != '\\' {
                    in_string = !in_string;
                } else if !in_string {
                    code.push(c);
                }
                previous = c;
            }
            code
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segments of every `crate::` path in `code`, groups (`crate::{a::B, c}`) opened.
fn imported(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 || (depth == 1 && c == ',') {
                    found.push(first_segment(&item));
                    item.clear();
                    if depth == 0 {
                        break;
                    }
                } else {
                    item.push(c);
                }
            }
        } else {
            found.push(first_segment(rest));
        }
    }
    found.retain(|segment| !segment.is_empty() && segment != "self");
    found
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let roots = root_names(&lib);
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "the sources are where they were");
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap_or(file);
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs");
        if top == "lib" {
            continue;
        }
        let Some(own) = tier(top) else {
            upward.push(format!(
                "{}: module `{top}` has no tier",
                relative.display()
            ));
            continue;
        };
        let code = code_only(&std::fs::read_to_string(file).unwrap_or_default());
        for segment in imported(&code) {
            let module = roots.get(&segment).cloned().unwrap_or(segment);
            match tier(&module) {
                Some(theirs) if theirs > own => upward.push(format!(
                    "{}: `{top}` (tier {own}) imports `{module}` (tier {theirs})",
                    relative.display()
                )),
                Some(_) => {}
                None => upward.push(format!(
                    "{}: `crate::{module}` is not a module with a tier",
                    relative.display()
                )),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run back up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn paths_are_read_from_code_not_comments() {
    let code = code_only(
        "use crate::heal::Healer; // crate::observe\n/// [`x`](crate::doctor)\nlet s = \"crate::cache\";\nuse crate::{fix::{A, B}, llm, Diagnostic};\n",
    );
    assert_eq!(imported(&code), ["heal", "fix", "llm", "Diagnostic"]);
}

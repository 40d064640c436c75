//! Adding an import to a source file in the file's own style: merged into an import of the same
//! module when there is one, else as a new statement after the file's last import.

/// The two families of languages whose imports this module writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Language {
    /// JavaScript and TypeScript: ES `import` statements, or `require` in CommonJS files.
    Script,
    /// Python.
    Python,
}

impl Language {
    /// The language of a file, by its extension.
    pub(super) fn of(path: &str) -> Option<Language> {
        match super::import_paths::extension(path)? {
            "ts" | "tsx" | "mts" | "cts" | "js" | "jsx" | "mjs" | "cjs" => Some(Language::Script),
            "py" | "pyi" => Some(Language::Python),
            _ => None,
        }
    }
}

/// What to import and how it binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Import {
    /// The module specifier (`react`, `./utils`) or dotted Python module (`pathlib`).
    pub(super) module: String,
    /// The name bound in the file.
    pub(super) name: String,
    /// How the name is bound.
    pub(super) binding: Binding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Binding {
    /// One export of the module: `import { name }`, `from module import name`.
    Named,
    /// The module's default export: `import name from`.
    Default,
    /// The module itself: `import * as name`, `const name = require(…)`, Python `import name`.
    Module,
}

/// `text` with `import` added, or `None` when the file already imports the name that way.
pub(super) fn add_import(text: &str, language: Language, import: &Import) -> Option<String> {
    match language {
        Language::Script => add_script_import(text, import),
        Language::Python => add_python_import(text, import),
    }
}

fn add_script_import(text: &str, import: &Import) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let common_js = !lines.iter().any(|l| l.starts_with("import "))
        && lines.iter().any(|l| l.contains("require("));
    let quote = match lines
        .iter()
        .find(|l| l.starts_with("import ") || l.contains("require("))
    {
        Some(line) if line.contains('"') && !line.contains('\'') => '"',
        _ => '\'',
    };
    let semicolon = match lines.iter().rev().find(|l| l.starts_with("import ")) {
        Some(line) => line.trim_end().ends_with(';'),
        None => true,
    };
    let (module, name) = (import.module.as_str(), import.name.as_str());
    let from_module = |line: &str| {
        line.contains(&format!("'{module}'")) || line.contains(&format!("\"{module}\""))
    };
    // Merge into a one-line import (or destructuring require) of the same module.
    for (index, line) in lines.iter().enumerate() {
        if !from_module(line) || !(line.starts_with("import ") || line.starts_with("const ")) {
            continue;
        }
        let bound = line
            .split([' ', '{', '}', ','])
            .take_while(|w| !matches!(*w, "from" | "="));
        if bound.into_iter().any(|word| word == name) {
            return None;
        }
        let merged = match import.binding {
            Binding::Named => merge_named(line, name),
            Binding::Default if !common_js => merge_default(line, name),
            _ => None,
        };
        if let Some(merged) = merged {
            let mut out = lines.clone();
            out[index] = &merged;
            return Some(out.concat());
        }
    }
    let end = if semicolon { ";" } else { "" };
    let statement = match (import.binding, common_js) {
        (Binding::Named, false) => format!("import {{ {name} }} from {quote}{module}{quote}{end}"),
        (Binding::Default, false) => format!("import {name} from {quote}{module}{quote}{end}"),
        (Binding::Module, false) => {
            format!("import * as {name} from {quote}{module}{quote}{end}")
        }
        (Binding::Named, true) => {
            format!("const {{ {name} }} = require({quote}{module}{quote});")
        }
        (Binding::Default | Binding::Module, true) => {
            format!("const {name} = require({quote}{module}{quote});")
        }
    };
    Some(insert_after(&lines, last_script_import(&lines), &statement))
}

/// `import { a } from 'm'` (or `const { a } = require('m')`) with `name` added to the braces.
fn merge_named(line: &str, name: &str) -> Option<String> {
    let Some(open) = line.find('{') else {
        // `import Default from 'm'` gains braces.
        let (head, tail) = line.split_once(" from ")?;
        let default = head.strip_prefix("import ")?.trim();
        let simple = !default.is_empty()
            && (default.chars()).all(|c| c.is_alphanumeric() || c == '_' || c == '$');
        return simple.then(|| format!("import {default}, {{ {name} }} from {tail}"));
    };
    let close = line.find('}')?;
    if close < open || line[close..].contains('{') {
        return None;
    }
    let inside = &line[open + 1..close];
    let names: Vec<&str> = inside
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.iter().any(|n| n.rsplit(' ').next() == Some(name)) {
        return None;
    }
    let joined = names
        .iter()
        .copied()
        .chain([name])
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "{}{{ {joined} }}{}",
        &line[..open],
        &line[close + 1..]
    ))
}

/// `import { a } from 'm'` with a default import `name` put before the braces.
fn merge_default(line: &str, name: &str) -> Option<String> {
    let rest = line.strip_prefix("import ")?.trim_start();
    rest.starts_with('{')
        .then(|| format!("import {name}, {rest}"))
}

/// The index of the line that ends the last top-level import or require of the file's head.
fn last_script_import(lines: &[&str]) -> Option<usize> {
    let mut last = None;
    let mut open = false;
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_end();
        if open {
            if trimmed.starts_with('}') || trimmed.contains(" from ") {
                open = false;
                last = Some(index);
            }
            continue;
        }
        if line.starts_with("import ") {
            open = trimmed.ends_with('{') || (trimmed.contains('{') && !trimmed.contains('}'));
            if !open {
                last = Some(index);
            }
        } else if line.starts_with("const ") && trimmed.contains("= require(") {
            last = Some(index);
        }
    }
    last.or_else(|| {
        // No import: after a shebang and directives ('use strict', 'use client').
        let directives = lines
            .iter()
            .take_while(|l| {
                let t = l.trim();
                t.starts_with("#!") || t.starts_with("'use ") || t.starts_with("\"use ")
            })
            .count();
        directives.checked_sub(1)
    })
}

fn add_python_import(text: &str, import: &Import) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let (module, name) = (import.module.as_str(), import.name.as_str());
    let statement = match import.binding {
        Binding::Module => format!("import {module}"),
        Binding::Named | Binding::Default => format!("from {module} import {name}"),
    };
    let prefix = format!("from {module} import ");
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_end();
        if trimmed == statement {
            return None;
        }
        if import.binding == Binding::Named
            && let Some(names) = trimmed.strip_prefix(&prefix)
            && !names.contains(['(', '#', '\\'])
        {
            if names.split(',').any(|n| n.trim() == name) {
                return None;
            }
            let mut out = lines.clone();
            let newline = &line[trimmed.len()..];
            let merged = format!("{trimmed}, {name}{newline}");
            out[index] = &merged;
            return Some(out.concat());
        }
    }
    Some(insert_after(&lines, last_python_import(&lines), &statement))
}

/// The index of the line that ends the last top-level import, or of the module's header
/// (shebang, comments, docstring) when it has none.
fn last_python_import(lines: &[&str]) -> Option<usize> {
    let mut last = None;
    let mut open = false;
    for (index, line) in lines.iter().enumerate() {
        if open {
            if line.contains(')') {
                open = false;
                last = Some(index);
            }
            continue;
        }
        if line.starts_with("import ") || line.starts_with("from ") {
            open = line.contains('(') && !line.contains(')');
            if !open {
                last = Some(index);
            }
        }
    }
    if last.is_some() {
        return last;
    }
    let mut header = None;
    let mut index = 0;
    while let Some(line) = lines.get(index) {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            header = Some(index);
        } else if let Some(quote) = ["\"\"\"", "'''"].iter().find(|q| trimmed.starts_with(**q)) {
            let closed_here = trimmed.len() >= 6 && trimmed[3..].contains(quote);
            let end = match closed_here {
                true => Some(index),
                false => (index + 1..lines.len()).find(|&i| lines[i].contains(quote)),
            };
            return end.or(header);
        } else if !trimmed.is_empty() {
            break;
        }
        index += 1;
    }
    header
}

/// `lines` with `statement` as a line of its own after line `after` (at the top for `None`).
fn insert_after(lines: &[&str], after: Option<usize>, statement: &str) -> String {
    let at = after.map_or(0, |index| index + 1);
    let mut out = String::new();
    for line in &lines[..at] {
        out.push_str(line);
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(statement);
    out.push('\n');
    for line in &lines[at..] {
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(module: &str, name: &str, binding: Binding) -> Import {
        Import {
            module: module.into(),
            name: name.into(),
            binding,
        }
    }

    #[test]
    fn script_imports_merge_into_the_same_module_or_follow_the_last_import() {
        let named = import("react", "useState", Binding::Named);
        let cases = [
            (
                "import React from 'react';\n\nexport const A = 1;\n",
                "import React, { useState } from 'react';\n\nexport const A = 1;\n",
            ),
            (
                "import { useEffect } from \"react\"\nimport x from './x'\n\nrun()\n",
                "import { useEffect, useState } from \"react\"\nimport x from './x'\n\nrun()\n",
            ),
            (
                "import {\n  a,\n} from './a';\nimport b from './b';\n\nb();\n",
                "import {\n  a,\n} from './a';\nimport b from './b';\nimport { useState } from 'react';\n\nb();\n",
            ),
            (
                "'use client';\nexport function A() {}\n",
                "'use client';\nimport { useState } from 'react';\nexport function A() {}\n",
            ),
            (
                "const x = 1;\n",
                "import { useState } from 'react';\nconst x = 1;\n",
            ),
        ];
        for (before, after) in cases {
            assert_eq!(
                add_import(before, Language::Script, &named).as_deref(),
                Some(after)
            );
        }
        let default = import("react", "React", Binding::Default);
        assert_eq!(
            add_import(
                "import { useState } from 'react';\n",
                Language::Script,
                &default
            )
            .as_deref(),
            Some("import React, { useState } from 'react';\n")
        );
        assert_eq!(
            add_import(
                "import { useState } from 'react';\n",
                Language::Script,
                &named
            ),
            None
        );
        let common_js = "const express = require('express');\n\napp();\n";
        assert_eq!(
            add_import(
                common_js,
                Language::Script,
                &import("./db", "connect", Binding::Named)
            )
            .as_deref(),
            Some(
                "const express = require('express');\nconst { connect } = require('./db');\n\napp();\n"
            )
        );
    }

    #[test]
    fn python_imports_merge_into_from_imports_or_follow_the_header() {
        let path = import("pathlib", "Path", Binding::Named);
        assert_eq!(
            add_import(
                "from pathlib import PurePath\n\nx = 1\n",
                Language::Python,
                &path
            )
            .as_deref(),
            Some("from pathlib import PurePath, Path\n\nx = 1\n")
        );
        assert_eq!(
            add_import(
                "#!/usr/bin/env python3\n\"\"\"Tool.\n\nMore.\n\"\"\"\n\nx = 1\n",
                Language::Python,
                &import("json", "json", Binding::Module)
            )
            .as_deref(),
            Some("#!/usr/bin/env python3\n\"\"\"Tool.\n\nMore.\n\"\"\"\nimport json\n\nx = 1\n")
        );
        assert_eq!(
            add_import(
                "import os\nfrom typing import (\n    Any,\n)\n\nx = 1\n",
                Language::Python,
                &path
            )
            .as_deref(),
            Some(
                "import os\nfrom typing import (\n    Any,\n)\nfrom pathlib import Path\n\nx = 1\n"
            )
        );
        assert_eq!(
            add_import("from pathlib import Path\n", Language::Python, &path),
            None
        );
    }
}

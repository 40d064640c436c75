//! The [`JsonFiles`] fixer.

use super::fixer::{FixInput, Fixer, Safety};
use super::{Edit, FixProposal};
use crate::json::{self, Hint};
use crate::workspace::Workspace;
use crate::{Category, Diagnostic, Result, Severity};

/// Repairs JSON files the build cannot parse (npm's `EJSONPARSE` on `package.json`, a `.json`
/// file named by a syntax error) with the same recovery that reads model replies: trailing
/// commas, comments, single quotes, missing commas. The repaired file keeps its keys in order
/// and is written with two-space indentation (npm's own).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFiles;

#[async_trait::async_trait]
impl Fixer for JsonFiles {
    fn name(&self) -> &str {
        "json-repair"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        Ok(JsonFiles::proposal(input.workspace, input.diagnostics))
    }
}

impl JsonFiles {
    /// The repaired JSON files `diagnostics` name, as one proposal, when any can be repaired.
    pub fn proposal(workspace: &Workspace, diagnostics: &[Diagnostic]) -> Option<FixProposal> {
        let mut proposal = FixProposal {
            analysis: "a JSON file the build reads is not valid JSON".into(),
            ..FixProposal::default()
        };
        for file in diagnostics.iter().filter_map(unparsable_json) {
            let Some(path) = workspace.relative(file) else {
                continue;
            };
            let Ok(Some(text)) = workspace.read(&path) else {
                continue;
            };
            if serde_json::from_str::<serde_json::Value>(&text).is_ok()
                || proposal.edits.iter().any(|e| e.path() == &path)
            {
                continue;
            }
            let Ok(recovered) = json::recover(&text, &Hint::none()) else {
                continue;
            };
            let value = recovered.into_value();
            if !value.is_object() {
                continue;
            }
            let Ok(mut content) = serde_json::to_string_pretty(&value) else {
                continue;
            };
            content.push('\n');
            proposal.edits.push(Edit::Replace { path, content });
        }
        (!proposal.edits.is_empty()).then_some(proposal)
    }
}

/// The JSON file an error says cannot be parsed.
fn unparsable_json(d: &Diagnostic) -> Option<&str> {
    if d.severity != Severity::Error {
        return None;
    }
    if d.code.as_deref() == Some("EJSONPARSE") {
        return Some(d.file.as_deref().unwrap_or("package.json"));
    }
    let file = d.file.as_deref()?;
    (file.ends_with(".json") && d.category == Category::Syntax).then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_package_json_npm_cannot_parse_is_repaired_in_key_order() {
        let broken = "{\n  \"name\": \"todo\",\n  \"scripts\": {\n    \"test\": \"node --test\",\n  },\n  // the entry\n  \"main\": 'app.js'\n}\n";
        let scratch = crate::scratch::Scratch::new("json-files", &[("package.json", broken)]);
        let workspace = Workspace::open(scratch.path()).unwrap();
        let npm =
            Diagnostic::new("npm", "Invalid package.json: JSONParseError").with_code("EJSONPARSE");
        let proposal = JsonFiles::proposal(&workspace, std::slice::from_ref(&npm)).unwrap();
        let [Edit::Replace { content, .. }] = &proposal.edits[..] else {
            panic!("{proposal:?}");
        };
        assert_eq!(
            content,
            "{\n  \"name\": \"todo\",\n  \"scripts\": {\n    \"test\": \"node --test\"\n  },\n  \"main\": \"app.js\"\n}\n"
        );
        scratch.write("package.json", content);
        assert_eq!(
            JsonFiles::proposal(&workspace, &[npm]),
            None,
            "valid: nothing to do"
        );
    }
}

//! [`FixProposal`]: the edits an LLM (or the fix cache) proposes, read leniently and checked
//! strictly.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::path::{PathError, RelativePath};
use crate::json::{self, Hint, NotFound};

/// A proposed fix: why the build fails, the edits that fix it, how sure the proposer is, and
/// other approaches to try when it does not work.
///
/// Read from the seed's reply schema (`analysis`, `fixes`, `confidence`, `alternativeFixes`) and
/// its common variants; see [`FixProposal::from_value`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct FixProposal {
    /// The root cause, in the proposer's words (empty when not given).
    pub analysis: String,
    /// The edits, in order.
    pub edits: Vec<Edit>,
    /// How sure the proposer is, in `0.0..=1.0`; `None` when not given.
    pub confidence: Option<f64>,
    /// Other approaches, best first.
    pub alternatives: Vec<Alternative>,
}

/// Another approach offered with a proposal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    /// What it does.
    pub description: String,
    /// Its edits (often none: alternatives are frequently only described).
    pub edits: Vec<Edit>,
}

/// One change to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Edit {
    /// Replace the whole file.
    Replace {
        /// The file.
        path: RelativePath,
        /// Its new content.
        content: String,
    },
    /// Create a new file.
    Create {
        /// The file.
        path: RelativePath,
        /// Its content.
        content: String,
    },
    /// Delete the file.
    Delete {
        /// The file.
        path: RelativePath,
    },
    /// Replace one occurrence of `search` with `replace`.
    Patch {
        /// The file.
        path: RelativePath,
        /// The text to find; never empty.
        search: String,
        /// What replaces it.
        replace: String,
        /// Where the proposer thinks `search` is (1-based), to choose among several matches.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
    },
}

impl Edit {
    /// The file the edit touches.
    pub fn path(&self) -> &RelativePath {
        match self {
            Edit::Replace { path, .. }
            | Edit::Create { path, .. }
            | Edit::Delete { path }
            | Edit::Patch { path, .. } => path,
        }
    }
}

/// Why a reply or value is not a usable fix proposal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalError {
    /// The reply holds no JSON value.
    #[error("no fix proposal in the reply: {0}")]
    NotFound(#[from] NotFound),
    /// A field is missing or unusable. The whole proposal is refused: one bad edit makes the
    /// rest untrustworthy.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// Where, as written in the reply: `fixes[2].path`, `confidence`; `(top level)` for the
        /// value itself.
        field: String,
        /// What is wrong.
        reason: Invalid,
    },
}

/// What is wrong with a field of a proposal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// A required field is absent (or `null`).
    #[error("missing")]
    Missing,
    /// The field has the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// The type wanted.
        expected: &'static str,
        /// The type given.
        found: &'static str,
    },
    /// The edit's action is none of replace, create, delete and patch (or their synonyms).
    #[error("unknown action `{0}` (expected replace, create, delete or patch)")]
    UnknownAction(String),
    /// The path is refused.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A patch searches for the empty string.
    #[error("a patch needs a non-empty search text")]
    EmptySearch,
    /// The confidence is a string that is not a number.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// A line hint that is not a line number.
    #[error("`{0}` is not a line number (1 or more)")]
    Line(String),
}

impl FixProposal {
    /// Recovers the JSON in an LLM reply ([`json::recover`] with [`Hint::fix_proposal`]) and
    /// reads it with [`FixProposal::from_value`].
    ///
    /// ```
    /// use selfheal::fix::{Edit, FixProposal};
    ///
    /// let reply = r#"The import is wrong.
    /// ```json
    /// {"analysis": "wrong import", "fixes": [{"file": "src/app.ts", "find": "./Utils",
    ///   "replace": "./utils"}], "confidence": "90%"}
    /// ```"#;
    /// let proposal = FixProposal::from_reply(reply).unwrap();
    /// assert_eq!(proposal.confidence, Some(0.9));
    /// assert!(matches!(&proposal.edits[0], Edit::Patch { search, .. } if search == "./Utils"));
    /// ```
    pub fn from_reply(reply: &str) -> Result<Self, ProposalError> {
        let recovered = json::recover(reply, &Hint::fix_proposal())?;
        FixProposal::from_value(&recovered.value)
    }

    /// Reads a proposal from a JSON value.
    ///
    /// Lenient in form: the edits may be under `fixes`, `edits` or `changes` (or the value may be
    /// the list itself); a path under `path` or `file`; content under `content`, `new_content` or
    /// `code`; a patch's text under `search`/`find`/`old` and `replace`/`new`; keys match in any
    /// case with `_` or `-` (`newContent`, `new-content`). A missing action is inferred (`search`
    /// makes a patch, `content` a replacement); `update`, `modify` and `edit` are decided the same
    /// way. Confidence may be a fraction, a percentage (`85`, `"85%"`) or a numeric string, and is
    /// clamped to `0..=1`.
    ///
    /// Strict in substance: every path must be relative and stay inside the workspace, patches
    /// need a non-empty search text, and every field has the right type. The first problem found
    /// refuses the whole proposal with the field and the reason.
    pub fn from_value(value: &Value) -> Result<Self, ProposalError> {
        let top = Field::root();
        match value {
            Value::Array(items) => Ok(FixProposal {
                analysis: String::new(),
                edits: edits_in(items, &top)?,
                confidence: None,
                alternatives: Vec::new(),
            }),
            Value::Object(map) => {
                let analysis = optional_string(map, ANALYSIS, &top)?.unwrap_or_default();
                let (key, list) =
                    lookup(map, EDITS).ok_or_else(|| top.child(EDITS[0]).missing())?;
                let edits = edit_list(list, &top.child(key))?;
                let confidence = match lookup(map, CONFIDENCE) {
                    Some((key, value)) => Some(confidence(value, &top.child(key))?),
                    None => None,
                };
                let alternatives = match lookup(map, ALTERNATIVES) {
                    Some((key, value)) => alternatives(value, &top.child(key))?,
                    None => Vec::new(),
                };
                Ok(FixProposal {
                    analysis,
                    edits,
                    confidence,
                    alternatives,
                })
            }
            other => Err(top.wrong_type("an object or an array", other)),
        }
    }
}

impl TryFrom<Value> for FixProposal {
    type Error = ProposalError;

    fn try_from(value: Value) -> Result<Self, ProposalError> {
        FixProposal::from_value(&value)
    }
}

// Accepted key spellings, compared after `normalise_key`; the first is the canonical name.
const ANALYSIS: &[&str] = &[
    "analysis",
    "explanation",
    "reasoning",
    "rootcause",
    "diagnosis",
    "summary",
];
const EDITS: &[&str] = &[
    "fixes",
    "edits",
    "changes",
    "modifications",
    "patches",
    "operations",
    "files",
];
const CONFIDENCE: &[&str] = &["confidence", "confidencescore", "certainty"];
const ALTERNATIVES: &[&str] = &[
    "alternativefixes",
    "alternatives",
    "alternativefix",
    "alternativeapproaches",
];
const DESCRIPTION: &[&str] = &[
    "description",
    "analysis",
    "approach",
    "summary",
    "explanation",
];
const PATH: &[&str] = &["path", "file", "filepath", "filename", "target"];
const ACTION: &[&str] = &["action", "type", "operation", "op", "kind"];
const CONTENT: &[&str] = &[
    "content",
    "newcontent",
    "code",
    "contents",
    "filecontent",
    "text",
];
const SEARCH: &[&str] = &[
    "search",
    "find",
    "old",
    "oldstring",
    "oldtext",
    "oldcode",
    "original",
];
const REPLACE: &[&str] = &[
    "replace",
    "new",
    "newstring",
    "newtext",
    "newcode",
    "replacement",
    "replacewith",
];
const LINE: &[&str] = &["line", "linehint", "startline", "linenumber"];

/// Lower case without `_`, `-` and spaces: `new_content`, `newContent` and `new-content` meet.
fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The first alias present with a non-null value, with the key as written.
fn lookup<'a>(map: &'a Map<String, Value>, aliases: &[&str]) -> Option<(&'a str, &'a Value)> {
    aliases.iter().find_map(|alias| {
        map.iter()
            .find(|(key, value)| !value.is_null() && normalise_key(key) == *alias)
            .map(|(key, value)| (key.as_str(), value))
    })
}

/// A field's location, for error messages.
#[derive(Debug, Clone)]
struct Field(String);

impl Field {
    fn root() -> Self {
        Field(String::new())
    }

    fn child(&self, key: &str) -> Self {
        if self.0.is_empty() {
            Field(key.to_string())
        } else {
            Field(format!("{}.{key}", self.0))
        }
    }

    fn index(&self, index: usize) -> Self {
        Field(format!("{}[{index}]", self.0))
    }

    fn invalid(&self, reason: Invalid) -> ProposalError {
        let field = if self.0.is_empty() {
            "(top level)".to_string()
        } else {
            self.0.clone()
        };
        ProposalError::Invalid { field, reason }
    }

    fn missing(&self) -> ProposalError {
        self.invalid(Invalid::Missing)
    }

    fn wrong_type(&self, expected: &'static str, found: &Value) -> ProposalError {
        self.invalid(Invalid::WrongType {
            expected,
            found: type_name(found),
        })
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string(value: &Value, at: &Field) -> Result<String, ProposalError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(at.wrong_type("a string", other)),
    }
}

fn optional_string(
    map: &Map<String, Value>,
    aliases: &[&str],
    parent: &Field,
) -> Result<Option<String>, ProposalError> {
    lookup(map, aliases)
        .map(|(key, value)| string(value, &parent.child(key)))
        .transpose()
}

fn required_string(
    map: &Map<String, Value>,
    aliases: &[&str],
    parent: &Field,
) -> Result<String, ProposalError> {
    optional_string(map, aliases, parent)?.ok_or_else(|| parent.child(aliases[0]).missing())
}

/// A list of edits; a single edit object counts as a list of one.
fn edit_list(value: &Value, at: &Field) -> Result<Vec<Edit>, ProposalError> {
    match value {
        Value::Array(items) => edits_in(items, at),
        Value::Object(map) => Ok(vec![edit(map, at)?]),
        other => Err(at.wrong_type("an array of edits", other)),
    }
}

fn edits_in(items: &[Value], at: &Field) -> Result<Vec<Edit>, ProposalError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(map) => edit(map, &at.index(i)),
            other => Err(at.index(i).wrong_type("an edit object", other)),
        })
        .collect()
}

/// What an action asks for, before the fields decide between whole-file and patch.
enum Action {
    Create,
    Delete,
    Patch,
    /// `replace`, `update`, `modify`...: a patch when a search text is given, else a replacement.
    Change,
}

fn action(name: &str) -> Option<Action> {
    Some(match normalise_key(name).as_str() {
        "create" | "add" | "new" | "createfile" | "addfile" | "newfile" => Action::Create,
        "delete" | "remove" | "del" | "rm" | "deletefile" | "removefile" => Action::Delete,
        "patch" | "searchreplace" | "searchandreplace" | "findreplace" | "findandreplace"
        | "strreplace" => Action::Patch,
        "replace" | "update" | "modify" | "edit" | "change" | "write" | "overwrite" | "rewrite"
        | "replacefile" | "updatefile" | "modifyfile" | "writefile" | "editfile" => Action::Change,
        _ => return None,
    })
}

fn edit(map: &Map<String, Value>, at: &Field) -> Result<Edit, ProposalError> {
    let (path_key, raw_path) = lookup(map, PATH).ok_or_else(|| at.child(PATH[0]).missing())?;
    let path_field = at.child(path_key);
    let path = RelativePath::new(&string(raw_path, &path_field)?)
        .map_err(|e| path_field.invalid(e.into()))?;
    let has_search = lookup(map, SEARCH).is_some();
    let action = match lookup(map, ACTION) {
        Some((key, value)) => {
            let name = string(value, &at.child(key))?;
            action(&name).ok_or_else(|| at.child(key).invalid(Invalid::UnknownAction(name)))?
        }
        None if has_search => Action::Patch,
        None if lookup(map, CONTENT).is_some() => Action::Change,
        None => return Err(at.child(ACTION[0]).missing()),
    };
    Ok(match action {
        Action::Delete => Edit::Delete { path },
        Action::Create => Edit::Create {
            path,
            content: required_string(map, CONTENT, at)?,
        },
        Action::Change if !has_search => Edit::Replace {
            path,
            content: required_string(map, CONTENT, at)?,
        },
        Action::Patch | Action::Change => {
            let search = required_string(map, SEARCH, at)?;
            if search.is_empty() {
                let key = lookup(map, SEARCH).map_or(SEARCH[0], |(key, _)| key);
                return Err(at.child(key).invalid(Invalid::EmptySearch));
            }
            let replace = required_string(map, REPLACE, at)?;
            let line = match lookup(map, LINE) {
                Some((key, value)) => Some(line(value, &at.child(key))?),
                None => None,
            };
            Edit::Patch {
                path,
                search,
                replace,
                line,
            }
        }
    })
}

fn line(value: &Value, at: &Field) -> Result<u32, ProposalError> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        other => return Err(at.wrong_type("a line number", other)),
    };
    parsed
        .filter(|&n| n >= 1)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| at.invalid(Invalid::Line(json::to_string(value))))
}

/// A fraction, or a percentage when above 1 (`85`, `"85%"`), clamped to `0..=1`.
fn confidence(value: &Value, at: &Field) -> Result<f64, ProposalError> {
    let (number, percent) = match value {
        Value::Number(n) => (n.as_f64(), false),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_suffix('%') {
                Some(digits) => (digits.trim().parse::<f64>().ok(), true),
                None => (s.parse::<f64>().ok(), false),
            }
        }
        other => return Err(at.wrong_type("a number", other)),
    };
    let number = number
        .filter(|n| n.is_finite())
        .ok_or_else(|| at.invalid(Invalid::NotANumber(json::to_string(value))))?;
    let fraction = if percent || (number > 1.0 && number <= 100.0) {
        number / 100.0
    } else {
        number
    };
    Ok(fraction.clamp(0.0, 1.0))
}

fn alternatives(value: &Value, at: &Field) -> Result<Vec<Alternative>, ProposalError> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| alternative(item, &at.index(i)))
            .collect(),
        Value::Object(_) | Value::String(_) => Ok(vec![alternative(value, &at.index(0))?]),
        other => Err(at.wrong_type("an array of alternatives", other)),
    }
}

fn alternative(value: &Value, at: &Field) -> Result<Alternative, ProposalError> {
    match value {
        Value::String(description) => Ok(Alternative {
            description: description.clone(),
            edits: Vec::new(),
        }),
        Value::Object(map) => Ok(Alternative {
            description: optional_string(map, DESCRIPTION, at)?.unwrap_or_default(),
            edits: match lookup(map, EDITS) {
                Some((key, list)) => edit_list(list, &at.child(key))?,
                None => Vec::new(),
            },
        }),
        other => Err(at.wrong_type("an alternative (object or string)", other)),
    }
}

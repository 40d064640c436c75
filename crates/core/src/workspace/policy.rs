//! [`EditPolicy`]: what a fix may change, checked by [`Workspace::apply`] before anything is
//! written, whoever proposed the fix — a model, the fix cache, the fleet, a deterministic fixer,
//! a host's own provider.
//!
//! Never edited, whatever the host allows:
//! - version control metadata (`.git`, `.hg`, `.svn`, `.jj`, `.bzr`), anywhere in the path;
//! - any folder a [`Snapshot`](super::Snapshot) leaves out (dependencies, virtualenvs, build
//!   output: the workspace's ignored names, compared without case, and every folder holding a
//!   `pyvenv.cfg`) — what a rollback cannot restore, a fix may not touch;
//! - a path with an invisible or direction-changing character (zero-width, bidi controls), which
//!   would show a reviewer another name than the one written;
//! - more edits, more bytes of edits, or a larger file than the limits, and a file larger than
//!   the snapshot keeps.
//!
//! Protected unless the host allows the class ([`Protected`]): tests and their configuration,
//! CI configuration, and code that runs when the project is installed or built — a fix that
//! changes them can make a build pass without fixing it, or run code on the next build.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Workspace;
use crate::edit::{Edit, FixProposal, RelativePath};

/// A class of files a fix may change only when the host allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protected {
    /// Tests and their configuration: test folders (`tests/`, `__tests__/`, `spec/`, `e2e/`,
    /// …), test files (`test_*.py`, `*_test.py`, `*.test.ts`, `*.spec.tsx`, `*_test.go`, …),
    /// `conftest.py`, jest/vitest/playwright/cypress/karma/mocha/pytest/tox configuration, the
    /// `jest` field of `package.json`, `[tool.pytest…]` in `pyproject.toml`.
    Tests,
    /// CI configuration: `.github/`, `.gitlab-ci.yml`, `.circleci/`, `Jenkinsfile`, ….
    Ci,
    /// Code that runs when the project is installed or built: the `scripts` of `package.json`
    /// (lifecycle hooks such as `postinstall` included), `build.rs`, `setup.py`,
    /// `[build-system]` in `pyproject.toml`, `.npmrc`, `.yarnrc*`, `.pnpmfile.cjs`, `pip.conf`,
    /// `.cargo/config.toml`, git hooks (`.husky/`, `.githooks/`).
    BuildScripts,
}

impl Protected {
    /// Every class, in order.
    pub const ALL: [Protected; 3] = [Protected::Tests, Protected::Ci, Protected::BuildScripts];

    /// The class's name, as hosts write it: `tests`, `ci`, `build-scripts`.
    pub fn name(self) -> &'static str {
        match self {
            Protected::Tests => "tests",
            Protected::Ci => "ci",
            Protected::BuildScripts => "build-scripts",
        }
    }
}

impl fmt::Display for Protected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protected {
    type Err = crate::Error;

    fn from_str(name: &str) -> crate::Result<Self> {
        (Protected::ALL.into_iter())
            .find(|class| class.name() == name)
            .ok_or_else(|| {
                crate::Error::invalid_input(format!(
                    "`{name}` is not a protected class (tests, ci, build-scripts)"
                ))
            })
    }
}

/// What a fix may change, checked before anything is written: never version-control metadata,
/// a folder a snapshot leaves out, a path with an invisible or direction-changing character, or
/// more than the limits; a [`Protected`] class only when [`allow`](EditPolicy::allow)ed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditPolicy {
    /// The protected classes fixes may change (default: none).
    pub allow: BTreeSet<Protected>,
    /// Edits in one proposal (default 100).
    pub max_edits: usize,
    /// Bytes of one file, before or after the edits (default 4 MiB; never more than the
    /// snapshot keeps).
    pub max_file_bytes: u64,
    /// Bytes of text in all of a proposal's edits (default 8 MiB).
    pub max_proposal_bytes: u64,
    /// Files and folders no fix may change, whatever it allows (the heal loop locks the files
    /// its verify steps name).
    pub locked: Vec<RelativePath>,
}

impl Default for EditPolicy {
    fn default() -> Self {
        EditPolicy {
            allow: BTreeSet::new(),
            max_edits: 100,
            max_file_bytes: 4 << 20,
            max_proposal_bytes: 8 << 20,
            locked: Vec::new(),
        }
    }
}

impl EditPolicy {
    /// This policy, also allowing `class`.
    pub fn allowing(mut self, class: Protected) -> Self {
        self.allow.insert(class);
        self
    }
}

/// Why an edit, or a whole proposal, was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rule {
    /// Version control metadata.
    #[error("version control metadata is never edited")]
    VersionControl,
    /// A folder the snapshot leaves out, which a rollback could not restore.
    #[error(
        "`{folder}` holds dependencies or build output, which a fix never edits (a rollback could not restore it)"
    )]
    Uncovered {
        /// The folder.
        folder: String,
    },
    /// An invisible or direction-changing character in the path.
    #[error("the path holds the invisible or direction-changing character U+{code:04X}")]
    InvisibleCharacter {
        /// Its code point.
        code: u32,
    },
    /// A file the host locked (one its verify steps use).
    #[error("the host locked it (its verify steps use `{locked}`)")]
    Locked {
        /// The locked file or folder.
        locked: String,
    },
    /// A protected class the host does not allow.
    #[error("{what} is protected ({class}); the host has not allowed fixes to change it")]
    Protected {
        /// The class.
        class: Protected,
        /// What the file is: "a test file", "the `scripts` of package.json", ….
        what: String,
    },
    /// Too many edits.
    #[error("{count} edits; a proposal may have at most {max}")]
    TooManyEdits {
        /// The proposal's edits.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Too much text in all the edits.
    #[error("{bytes} bytes of edits; a proposal may have at most {max}")]
    ProposalTooLarge {
        /// The edits' bytes.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// A file too large, before or after the edits.
    #[error("{bytes} bytes; a file a fix edits may have at most {max}")]
    FileTooLarge {
        /// The file's bytes.
        bytes: u64,
        /// The limit.
        max: u64,
    },
}

/// A refused edit (`path`), or a refused proposal (no `path`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Refusal {
    /// The file, when the refusal is about one.
    pub path: Option<RelativePath>,
    /// The rule.
    #[serde(flatten)]
    pub rule: Rule,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "`{path}`: {}", self.rule),
            None => write!(f, "the proposal: {}", self.rule),
        }
    }
}

/// Version control folders (and git's `.git` file of a worktree or submodule).
const VERSION_CONTROL: &[&str] = &[".git", ".hg", ".svn", ".jj", ".bzr"];

impl EditPolicy {
    /// The refusals of `proposal` that its paths and sizes alone decide, with the folders of
    /// [`DEFAULT_IGNORED`](super::DEFAULT_IGNORED) left out of snapshots — what the fix cache
    /// checks before it stores or serves a fix. [`Workspace::apply`] checks these against the
    /// workspace's own folders, and what needs the files' text too.
    pub fn refusals_by_path(&self, proposal: &FixProposal) -> Vec<Refusal> {
        self.path_refusals(proposal, &|_, name| {
            (super::DEFAULT_IGNORED.iter()).any(|ignored| ignored.eq_ignore_ascii_case(name))
        })
    }

    /// The refusals that need no file read; `leaves_out(folder, name)` tells a folder
    /// snapshots leave out (`folder` is its path from the root).
    fn path_refusals(
        &self,
        proposal: &FixProposal,
        leaves_out: &dyn Fn(&str, &str) -> bool,
    ) -> Vec<Refusal> {
        let mut refusals = Vec::new();
        let whole = |rule| Refusal { path: None, rule };
        if proposal.edits.len() > self.max_edits {
            refusals.push(whole(Rule::TooManyEdits {
                count: proposal.edits.len(),
                max: self.max_edits,
            }));
            // Checking each of 100 000 edits is the work the limit is there to avoid.
            return refusals;
        }
        let bytes: u64 = (proposal.edits.iter()).map(edit_bytes).sum();
        if bytes > self.max_proposal_bytes {
            refusals.push(whole(Rule::ProposalTooLarge {
                bytes,
                max: self.max_proposal_bytes,
            }));
        }
        let mut seen = BTreeSet::new();
        for edit in &proposal.edits {
            let path = edit.path();
            if seen.insert(path) {
                refusals.extend(self.path_rule(path, leaves_out).map(|rule| Refusal {
                    path: Some(path.clone()),
                    rule,
                }));
            }
        }
        refusals
    }

    /// Why a fix may not edit `path` at all, if it may not.
    fn path_rule(
        &self,
        path: &RelativePath,
        leaves_out: &dyn Fn(&str, &str) -> bool,
    ) -> Option<Rule> {
        let components: Vec<&str> = path.as_str().split('/').collect();
        if components
            .iter()
            .any(|c| VERSION_CONTROL.iter().any(|v| c.eq_ignore_ascii_case(v)))
        {
            return Some(Rule::VersionControl);
        }
        if let Some(code) = path.as_str().chars().find(|c| invisible(*c)) {
            return Some(Rule::InvisibleCharacter {
                code: u32::from(code),
            });
        }
        for i in 0..components.len() - 1 {
            let folder = components[..=i].join("/");
            if leaves_out(&folder, components[i]) {
                return Some(Rule::Uncovered { folder });
            }
        }
        if let Some(locked) = (self.locked.iter()).find(|locked| {
            let locked = locked.as_str();
            path.as_str() == locked || path.as_str().starts_with(&format!("{locked}/"))
        }) {
            return Some(Rule::Locked {
                locked: locked.to_string(),
            });
        }
        let (class, what) = protected_by_path(&components)?;
        (!self.allow.contains(&class)).then(|| Rule::Protected {
            class,
            what: what.to_string(),
        })
    }
}

impl Workspace {
    /// The refusals of `proposal` that need no file read: limits, and every path rule but the
    /// ones that look at what the edits change.
    pub(super) fn refusals(&self, proposal: &FixProposal, policy: &EditPolicy) -> Vec<Refusal> {
        policy.path_refusals(proposal, &|folder, name| {
            self.leaves_out(&self.root.join(folder), name)
        })
    }

    /// Whether the folder `name` at `folder` is left out of snapshots (and so never edited): an
    /// ignored name, compared without case, or a virtualenv.
    pub(super) fn leaves_out(&self, folder: &std::path::Path, name: &str) -> bool {
        (self.ignored.iter()).any(|ignored| ignored.eq_ignore_ascii_case(name))
            || folder.join("pyvenv.cfg").is_file()
    }
}

impl EditPolicy {
    /// The refusals of a file's change that look at its text: its size, and the protected
    /// parts of files that are otherwise a fix's to edit (`package.json`, `pyproject.toml`,
    /// `setup.cfg`).
    pub(super) fn change_refusals(
        &self,
        path: &RelativePath,
        before: Option<&str>,
        after: Option<&str>,
        snapshot_limit: u64,
    ) -> Vec<Refusal> {
        let mut rules = Vec::new();
        let limit = self.max_file_bytes.min(snapshot_limit);
        let bytes = before.map_or(0, str::len).max(after.map_or(0, str::len)) as u64;
        if bytes > limit {
            rules.push(Rule::FileTooLarge { bytes, max: limit });
        }
        let name = path.as_str().rsplit('/').next().unwrap_or_default();
        let protected = protected_parts(&name.to_ascii_lowercase(), before, after);
        rules.extend(
            (protected.into_iter())
                .filter(|(class, _)| !self.allow.contains(class))
                .map(|(class, what)| Rule::Protected {
                    class,
                    what: what.to_string(),
                }),
        );
        (rules.into_iter())
            .map(|rule| Refusal {
                path: Some(path.clone()),
                rule,
            })
            .collect()
    }
}

/// The protected classes a change to the file at `path` touches (`None`: the file is absent
/// before or after): by its path, and by the protected parts of `package.json`,
/// `pyproject.toml` and `setup.cfg`.
pub fn protected_classes(
    path: &RelativePath,
    before: Option<&str>,
    after: Option<&str>,
) -> Vec<Protected> {
    let components: Vec<&str> = path.as_str().split('/').collect();
    let name = components
        .last()
        .copied()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut classes: Vec<Protected> = (protected_by_path(&components).into_iter())
        .chain(protected_parts(&name, before, after))
        .map(|(class, _)| class)
        .collect();
    classes.sort();
    classes.dedup();
    classes
}

/// The bytes of text an edit carries.
fn edit_bytes(edit: &Edit) -> u64 {
    let bytes = match edit {
        Edit::Replace { content, .. } | Edit::Create { content, .. } => content.len(),
        Edit::Patch {
            search, replace, ..
        } => search.len() + replace.len(),
        Edit::Delete { .. } => 0,
    };
    bytes as u64
}

/// Zero-width and direction-changing characters, and other format characters that hide in a
/// name.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// The protected class of a file by its path alone, and what the file is.
fn protected_by_path(components: &[&str]) -> Option<(Protected, &'static str)> {
    let lower: Vec<String> = components.iter().map(|c| c.to_lowercase()).collect();
    let (name, folders) = lower.split_last()?;
    let in_folder = |names: &[&str]| folders.iter().any(|f| names.contains(&f.as_str()));
    if in_folder(&[
        ".github",
        ".gitlab",
        ".circleci",
        ".buildkite",
        ".woodpecker",
        ".forgejo",
        ".gitea",
    ]) || [
        ".gitlab-ci.yml",
        ".travis.yml",
        "azure-pipelines.yml",
        "jenkinsfile",
        "bitbucket-pipelines.yml",
        ".drone.yml",
        "appveyor.yml",
        ".woodpecker.yml",
    ]
    .contains(&name.as_str())
    {
        return Some((Protected::Ci, "CI configuration"));
    }
    if in_folder(&[".husky", ".githooks"]) {
        return Some((Protected::BuildScripts, "a git hook"));
    }
    if folders.last().is_some_and(|f| f == ".cargo") && (name == "config" || name == "config.toml")
    {
        return Some((Protected::BuildScripts, "cargo's configuration"));
    }
    if in_folder(&[".yarn"]) {
        return Some((Protected::BuildScripts, "yarn's plugins and releases"));
    }
    let build_files = [
        ("build.rs", "a cargo build script"),
        ("setup.py", "setup.py"),
        (".npmrc", "npm's configuration"),
        (".yarnrc", "yarn's configuration"),
        (".yarnrc.yml", "yarn's configuration"),
        (".pnpmfile.cjs", "a pnpm hook file"),
        (".pnpmfile.mjs", "a pnpm hook file"),
        ("pip.conf", "pip's configuration"),
        ("pip.ini", "pip's configuration"),
    ];
    if let Some((_, what)) = build_files.iter().find(|(file, _)| file == name) {
        return Some((Protected::BuildScripts, what));
    }
    if in_folder(&[
        "test",
        "tests",
        "__tests__",
        "__mocks__",
        "spec",
        "specs",
        "e2e",
        "cypress",
    ]) {
        return Some((Protected::Tests, "a file in a test folder"));
    }
    if is_test_file(name) {
        return Some((Protected::Tests, "a test file"));
    }
    if is_test_configuration(name) {
        return Some((Protected::Tests, "test configuration"));
    }
    None
}

/// `test_x.py`, `x_test.py`, `x.test.ts`, `x.spec.jsx`, `x_test.go`, `x_test.rs`, …
fn is_test_file(name: &str) -> bool {
    let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
    match extension {
        "py" => stem.starts_with("test_") || stem.ends_with("_test") || stem == "conftest",
        "js" | "jsx" | "ts" | "tsx" | "mjs" | "cjs" | "mts" | "cts" | "vue" | "svelte" => {
            stem.ends_with(".test") || stem.ends_with(".spec") || stem.ends_with("-test")
        }
        "go" | "rs" => stem.ends_with("_test"),
        _ => false,
    }
}

/// The test runners' configuration files.
fn is_test_configuration(name: &str) -> bool {
    const FILES: [&str; 4] = ["pytest.ini", "tox.ini", "noxfile.py", ".coveragerc"];
    const RUNNERS: [&str; 5] = ["jest", "vitest", "playwright", "cypress", "karma"];
    let mut parts = name.split('.');
    let stem = parts.next().unwrap_or_default();
    let kind = parts.next();
    FILES.contains(&name)
        || name.starts_with(".mocharc")
        || stem == "setuptests"
        || (RUNNERS.contains(&stem)
            && matches!(kind, Some("config" | "setup" | "workspace" | "conf")))
}

/// The protected parts a change to `name` touches, in the files whose other parts a fix may
/// change.
fn protected_parts(
    name: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> Vec<(Protected, &'static str)> {
    let mut touched = Vec::new();
    match name {
        "package.json" => {
            if json_member_changed(before, after, "scripts") {
                touched.push((Protected::BuildScripts, "the `scripts` of package.json"));
            }
            if json_member_changed(before, after, "jest") {
                touched.push((Protected::Tests, "the `jest` configuration in package.json"));
            }
        }
        "pyproject.toml" | "setup.cfg" => {
            let tables = |prefix: &str| (sections(before, prefix), sections(after, prefix));
            let (old, new) = tables("build-system");
            if old != new {
                touched.push((
                    Protected::BuildScripts,
                    "the `[build-system]` of pyproject.toml",
                ));
            }
            let (old, new) = tables("tool.pytest");
            let (old_cfg, new_cfg) = tables("tool:pytest");
            if old != new || old_cfg != new_cfg {
                touched.push((Protected::Tests, "pytest's configuration"));
            }
        }
        _ => {}
    }
    touched
}

/// Whether the top-level member `key` of a JSON document differs between two versions.
fn json_member_changed(before: Option<&str>, after: Option<&str>, key: &str) -> bool {
    match (json_member(before, key), json_member(after, key)) {
        (None, None) => false,
        (Some(old), Some(new)) => {
            let changed = !crate::json::equal(&old, &new);
            crate::json::drop_deep(old);
            crate::json::drop_deep(new);
            changed
        }
        _ => true,
    }
}

/// The top-level member `key` of a JSON document, read as npm reads it or else leniently (a
/// file a fix is repairing); `None` without one, or without JSON (npm then reads nothing).
fn json_member(text: Option<&str>, key: &str) -> Option<serde_json::Value> {
    let text = text?;
    let mut document = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(document) => document,
        Err(_) => crate::json::recover(text, &crate::json::Hint::none())
            .ok()?
            .into_value(),
    };
    let member = document.get_mut(key).map(serde_json::Value::take);
    crate::json::drop_deep(document);
    member
}

/// The lines of the INI/TOML tables whose names start with `prefix`, in order.
fn sections(text: Option<&str>, prefix: &str) -> Vec<String> {
    let mut inside = false;
    let mut lines = Vec::new();
    for line in text.unwrap_or_default().lines() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            let table = header.trim_start_matches('[').trim_end_matches(']').trim();
            inside = table.starts_with(prefix);
        }
        if inside && !trimmed.is_empty() && !trimmed.starts_with('#') {
            lines.push(trimmed.to_string());
        }
    }
    lines
}

//! Applying a [`FixProposal`] to a workspace: all of it or nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::patch::{self, Closest, Fuzzy, PatchMatch};
use super::policy::{EditPolicy, Refusal, Rule};
use super::{Workspace, WorkspaceError};
use crate::edit::{Edit, FixProposal, RelativePath};

/// How a proposal is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOptions {
    /// Apply the edits that work when others fail (default: nothing is written unless every
    /// edit works).
    pub partial: bool,
    /// Lines on each side of a patch's line hint where a fuzzy match is looked for.
    pub fuzzy_window: u32,
    /// The least similarity (`0.0..=1.0`) a fuzzy match needs.
    pub fuzzy_threshold: f32,
    /// What a fix may change; a proposal with any edit it refuses is refused whole.
    pub policy: EditPolicy,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            partial: false,
            fuzzy_window: 40,
            fuzzy_threshold: 0.8,
            policy: EditPolicy::default(),
        }
    }
}

/// One file an application changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileChange {
    /// The file.
    pub path: RelativePath,
    /// Its text before (`None`: it did not exist).
    pub before: Option<String>,
    /// Its text after (`None`: it was deleted).
    pub after: Option<String>,
}

/// What an application did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Applied {
    /// The files changed, by path.
    pub changes: Vec<FileChange>,
    /// How each patch edit (by index in the proposal) was found.
    pub matches: Vec<(usize, PatchMatch)>,
    /// Edits left out (only with [`ApplyOptions::partial`]).
    pub failures: Vec<EditFailure>,
}

impl Applied {
    /// The changes as a unified diff (`a/` before, `b/` after), as [`Workspace::diff`] shows
    /// them.
    pub fn diff(&self) -> String {
        (self.changes.iter())
            .map(|change| {
                super::snapshot::unified(
                    change.path.as_str(),
                    change.before.as_deref().map(str::as_bytes),
                    change.after.as_deref().map(str::as_bytes),
                )
            })
            .collect()
    }
}

/// An edit that cannot be applied.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("edit {index} ({path}): {problem}")]
pub struct EditFailure {
    /// Its index in the proposal.
    pub index: usize,
    /// Its file.
    pub path: RelativePath,
    /// Why.
    pub problem: EditProblem,
}

/// Why an edit cannot be applied.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EditProblem {
    /// A patch's search text is nowhere in the file.
    #[error("the search text is not in the file{}", did_you_mean(.closest))]
    NoMatch {
        /// The lines most like it.
        closest: Option<Closest>,
    },
    /// A patch names a file that does not exist.
    #[error("the file does not exist")]
    NoFile,
    /// The path is refused, or the file cannot be read.
    #[error("{message}")]
    Refused {
        /// Why.
        message: String,
    },
}

fn did_you_mean(closest: &Option<Closest>) -> String {
    match closest {
        Some(c) => format!("; did you mean line {}: `{}`", c.line, c.text),
        None => String::new(),
    }
}

/// Why a proposal was not applied.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The edit policy refuses it; nothing was written (and nothing read past the limits).
    #[error("refused: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Refusal>),
    /// Some edits cannot be applied; nothing was written.
    #[error("{} of the proposal's edits cannot be applied: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Edits(Vec<EditFailure>),
    /// Writing failed; the files already written were put back.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// Stopped before the end (see [`Workspace::apply_until`]); the files already written
    /// were put back.
    #[error("stopped before every edit was written; the files written were put back")]
    Stopped,
}

/// A file as an application sees it: as it was, and as the edits so far leave it.
struct Planned {
    before: Option<String>,
    after: Option<String>,
}

impl Workspace {
    /// Applies `proposal`: the [`EditPolicy`] of `options` is checked first, every edit is
    /// worked out in memory, and nothing is written unless the policy accepts the result and
    /// all the edits work (see [`ApplyOptions::partial`]). Each file is written atomically; if
    /// a write fails, the files already written are put back.
    ///
    /// `create` of an existing file and `replace` of a missing one both set the file's text;
    /// deleting a missing file does nothing.
    pub fn apply(
        &self,
        proposal: &FixProposal,
        options: &ApplyOptions,
    ) -> Result<Applied, ApplyError> {
        self.apply_until(proposal, options, &AtomicBool::new(false))
    }

    /// [`apply`](Workspace::apply), stopping when `stop` is set: it is checked between edits
    /// and between the files written, and the files already written are then put back.
    pub fn apply_until(
        &self,
        proposal: &FixProposal,
        options: &ApplyOptions,
        stop: &AtomicBool,
    ) -> Result<Applied, ApplyError> {
        let fuzzy = Fuzzy {
            window: options.fuzzy_window,
            threshold: options.fuzzy_threshold,
        };
        let policy = &options.policy;
        let mut refusals = self.refusals(proposal, policy);
        if !refusals.is_empty() {
            return Err(ApplyError::Refused(refusals));
        }
        let largest = policy.max_file_bytes.min(self.max_snapshot_file);
        let mut files: BTreeMap<RelativePath, Planned> = BTreeMap::new();
        let mut applied = Applied::default();
        for (index, edit) in proposal.edits.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                return Err(ApplyError::Stopped);
            }
            let path = edit.path();
            let fail = |problem| EditFailure {
                index,
                path: path.clone(),
                problem,
            };
            if !files.contains_key(path) {
                if let Some(bytes) = self.size(path).filter(|bytes| *bytes > largest) {
                    refusals.push(Refusal {
                        path: Some(path.clone()),
                        rule: Rule::FileTooLarge {
                            bytes,
                            max: largest,
                        },
                    });
                    continue;
                }
                match self.read(path) {
                    Ok(before) => {
                        let after = before.clone();
                        files.insert(path.clone(), Planned { before, after });
                    }
                    Err(error) => {
                        applied.failures.push(fail(EditProblem::Refused {
                            message: error.to_string(),
                        }));
                        continue;
                    }
                }
            }
            let Some(file) = files.get_mut(path) else {
                continue;
            };
            match edit {
                Edit::Replace { content, .. } | Edit::Create { content, .. } => {
                    file.after = Some(content.clone());
                }
                Edit::Delete { .. } => file.after = None,
                Edit::Patch {
                    search,
                    replace,
                    line,
                    ..
                } => {
                    let Some(text) = &mut file.after else {
                        applied.failures.push(fail(EditProblem::NoFile));
                        continue;
                    };
                    match patch::locate(text, search, replace, *line, fuzzy) {
                        Ok((range, how, replacement)) => {
                            text.replace_range(range, &replacement);
                            applied.matches.push((index, how));
                        }
                        Err(closest) => {
                            applied
                                .failures
                                .push(fail(EditProblem::NoMatch { closest }));
                        }
                    }
                }
            }
        }
        for (path, file) in &files {
            if file.before != file.after {
                refusals.extend(policy.change_refusals(
                    path,
                    file.before.as_deref(),
                    file.after.as_deref(),
                    self.max_snapshot_file,
                ));
            }
        }
        if !refusals.is_empty() {
            return Err(ApplyError::Refused(refusals));
        }
        if !applied.failures.is_empty() && !options.partial {
            return Err(ApplyError::Edits(applied.failures));
        }
        applied.changes = (files.into_iter())
            .filter(|(_, file)| file.before != file.after)
            .map(|(path, file)| FileChange {
                path,
                before: file.before,
                after: file.after,
            })
            .collect();
        self.write_changes(&applied.changes, stop)?;
        Ok(applied)
    }

    /// Writes the changes; on a failure, or when `stop` is set, puts back the files already
    /// written.
    fn write_changes(&self, changes: &[FileChange], stop: &AtomicBool) -> Result<(), ApplyError> {
        for (done, change) in changes.iter().enumerate() {
            let written = match stop.load(Ordering::Relaxed) {
                true => Err(ApplyError::Stopped),
                false => {
                    (self.set(&change.path, change.after.as_deref())).map_err(ApplyError::from)
                }
            };
            if let Err(error) = written {
                for written in changes[..done].iter().rev() {
                    let _ = self.set(&written.path, written.before.as_deref());
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// The size of the file at `path`, when there is one to read.
    fn size(&self, path: &RelativePath) -> Option<u64> {
        let resolved = self.resolve(path).ok()?;
        std::fs::metadata(resolved)
            .ok()
            .map(|metadata| metadata.len())
    }

    /// Writes the file's text, or removes it for `None`.
    pub(crate) fn set(
        &self,
        path: &RelativePath,
        text: Option<&str>,
    ) -> Result<(), WorkspaceError> {
        match text {
            Some(text) => self.write(path, text.as_bytes()),
            None => self.remove(path),
        }
    }
}

//! [`EditedFiles`]: the files a fixer is changing, each read once and kept as it will be, turned
//! into one proposal of whole-file replacements at the end.

use std::collections::BTreeMap;

use super::{Edit, FixProposal, RelativePath};
use crate::Result;
use crate::workspace::Workspace;

pub(super) struct EditedFiles<'a> {
    workspace: &'a Workspace,
    /// Per file: its text as it will be, and whether that differs from the workspace's.
    texts: BTreeMap<RelativePath, (String, bool)>,
    analysis: Vec<String>,
}

impl<'a> EditedFiles<'a> {
    pub(super) fn new(workspace: &'a Workspace) -> Self {
        EditedFiles {
            workspace,
            texts: BTreeMap::new(),
            analysis: Vec::new(),
        }
    }

    /// The file's text with the changes made so far; `None` when it does not exist.
    pub(super) fn text(&mut self, path: &RelativePath) -> Result<Option<String>> {
        if let Some((text, _)) = self.texts.get(path) {
            return Ok(Some(text.clone()));
        }
        let Some(text) = self.workspace.read(path)? else {
            return Ok(None);
        };
        self.texts.insert(path.clone(), (text.clone(), false));
        Ok(Some(text))
    }

    /// Sets the file's new text (read with [`text`](Self::text) first), saying why.
    pub(super) fn change(&mut self, path: &RelativePath, text: String, why: String) {
        if let Some(entry) = self.texts.get_mut(path)
            && entry.0 != text
        {
            *entry = (text, true);
            self.analysis.push(why);
        }
    }

    /// One proposal replacing every changed file, when any changed.
    pub(super) fn into_proposal(self) -> Option<FixProposal> {
        let edits: Vec<Edit> = (self.texts.into_iter())
            .filter(|(_, (_, changed))| *changed)
            .map(|(path, (content, _))| Edit::Replace { path, content })
            .collect();
        (!edits.is_empty()).then(|| FixProposal {
            analysis: self.analysis.join("; "),
            edits,
            ..FixProposal::default()
        })
    }
}

//! Learning: a fix that failed is never tried again and is told to the next prompt; the fixes
//! that healed are taught to the fix cache.

use std::collections::HashSet;

use super::propose::Candidate;
use super::{Healer, Run, UNRECOGNISED};
use crate::cache::{FixCache, digest};
use crate::fix::FixProposal;
use crate::fix::prompt::PreviousAttempt;
use crate::heal::report::FixSource;
use crate::heal::tracking::errors;
use crate::{Diagnostic, Result};

/// What the run learned from fixes that did not work.
#[derive(Default)]
pub(super) struct Lessons {
    /// Each, with its outcome, for the next prompt.
    pub(super) tried: Vec<PreviousAttempt>,
    /// Their digests: a proposal is never tried twice.
    pub(super) failed: HashSet<u64>,
}

impl Lessons {
    /// `proposal` did not work, for the reason `why`.
    pub(super) fn learn(&mut self, proposal: &FixProposal, why: String) {
        self.failed.insert(digest(proposal));
        self.tried.push(summary(proposal, why));
    }
}

impl Healer {
    /// The cache, for an error that has a kind of its own (not a failure no parser read).
    pub(super) fn cache_for(&self, target: &Diagnostic) -> Option<&FixCache> {
        self.cache.as_ref().filter(|_| target.tool != UNRECOGNISED)
    }

    /// The cache and the error, when what `candidate` teaches belongs in it: a fixer's or a
    /// strategy's edits are cheap to make again and tied to one project's files, and an empty
    /// proposal teaches nothing.
    pub(super) fn cache_to_teach<'c>(
        &self,
        candidate: &'c Candidate,
    ) -> Option<(&FixCache, &'c Diagnostic)> {
        let teaches = matches!(candidate.source, FixSource::Cache | FixSource::Llm)
            && !candidate.proposal.edits.is_empty()
            && crate::cache::storable(&candidate.proposal);
        let target = candidate.target.as_ref().filter(|_| teaches)?;
        Some((self.cache_for(target)?, target))
    }
}

/// A proposal and its outcome, for the next prompt.
pub(super) fn summary(proposal: &FixProposal, outcome: String) -> PreviousAttempt {
    let files: Vec<&str> = proposal.edits.iter().map(|e| e.path().as_str()).collect();
    PreviousAttempt {
        tried: format!("{} (files: {})", proposal.analysis, files.join(", ")),
        outcome,
    }
}

/// The errors left, in a line each, for the next prompt.
pub(super) fn remaining(diagnostics: &[Diagnostic]) -> String {
    let left: Vec<String> = errors(diagnostics)
        .take(5)
        .map(|d| format!("{}: {}", d.code.as_deref().unwrap_or(&d.tool), d.message))
        .collect();
    format!("errors left: {}", left.join("; "))
}

impl Run<'_> {
    /// A fix that did not work: never tried again this run, never proposed again for its
    /// error, and told to the next prompt.
    pub(super) async fn failed(&mut self, candidate: &Candidate, why: String) -> Result<()> {
        self.lessons.learn(&candidate.proposal, why);
        match self.healer.cache_to_teach(candidate) {
            Some((cache, target)) => cache.record_failure(target, &candidate.proposal).await,
            None => Ok(()),
        }
    }

    /// The fixes that got the build green are remembered for their errors.
    pub(super) async fn learn(&self) -> Result<()> {
        for candidate in &self.kept {
            if let Some((cache, target)) = self.healer.cache_to_teach(candidate) {
                let context = &self.config().context;
                (cache.record_success(target, context, &candidate.proposal)).await?;
            }
        }
        Ok(())
    }
}

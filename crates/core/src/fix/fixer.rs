//! [`Fixer`]: a deterministic source of fixes, tried before the fix cache and the model.

use crate::fix::FixProposal;
use crate::workspace::Workspace;
use crate::{Diagnostic, Result};

/// How far a fixer's edits can be trusted to do only what the error asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    /// The tool marked the edit as safe to apply (rustc's machine-applicable suggestions,
    /// ruff's safe fixes).
    Safe,
    /// The tool's own suggestion, unambiguous but not guaranteed (a "did you mean").
    Likely,
    /// A guess: may change behaviour.
    Unsafe,
}

/// A deterministic fixer: reads diagnostics (and the files they point at) and proposes edits.
///
/// The heal loop asks its fixers, in order, before the fix cache and the model; the first
/// proposal with edits is applied and tested like any other, and undone if it makes the build
/// worse. Fixers run only up to the configured [`Safety`].
#[async_trait::async_trait]
pub trait Fixer: Send + Sync {
    /// The name shown in reports.
    fn name(&self) -> &str;

    /// How far its edits can be trusted.
    fn safety(&self) -> Safety;

    /// A proposal for some of `diagnostics`, or `None` when it has nothing for them.
    async fn propose(
        &self,
        workspace: &Workspace,
        diagnostics: &[Diagnostic],
    ) -> Result<Option<FixProposal>>;
}

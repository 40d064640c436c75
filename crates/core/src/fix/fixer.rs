//! [`Fixer`]: a deterministic source of fixes, tried before the fix cache and the model.

use crate::build::{BuildPlan, BuildStep, Builder, Discard, StepOutput};
use crate::fix::install::Installer;
use crate::fix::{Edit, FixProposal};
use crate::workspace::{ApplyOptions, Workspace};
use crate::{Diagnostic, Result};

/// How far a fixer's edits can be trusted to do only what the error asks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
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

    /// A proposal for some of the input's diagnostics, or `None` when it has nothing for them.
    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>>;
}

/// What a fixer works from: the failing build and where it ran.
#[derive(Clone, Copy)]
pub struct FixInput<'a> {
    /// The project; a fixer reads it and may run tools in it, but leaves it as it found it.
    pub workspace: &'a Workspace,
    /// The diagnostics of the last build.
    pub diagnostics: &'a [Diagnostic],
    /// How the project is built.
    pub plan: &'a BuildPlan,
    /// What runs the build: a fixer that runs a tool runs it here, so that it finds the tools
    /// (and the container) the build has.
    pub builder: &'a dyn Builder,
    /// Installs packages for the run, under the host's rules, and records them: a fixer or
    /// strategy installs through it, never by running a package manager itself.
    pub installs: &'a Installer,
}

impl FixInput<'_> {
    /// Runs `step` through the builder (after `prepare`, when given) and returns its output
    /// and what it changed, as edits; the workspace is put back as it was either way. `None`
    /// when the step could not run at all (the tool or the engine missing).
    pub async fn changes_made_by(
        &self,
        step: &BuildStep,
        prepare: Option<&FixProposal>,
    ) -> Result<Option<(StepOutput, Vec<Edit>)>> {
        let workspace = self.workspace;
        let before = workspace.snapshot()?;
        let prepared = match prepare {
            Some(proposal) => workspace.apply(proposal, &ApplyOptions::default()).is_ok(),
            None => true,
        };
        let ran = match prepared {
            true => Some(
                self.builder
                    .run_step(workspace.root(), step, &Discard)
                    .await,
            ),
            false => None,
        };
        let edits = workspace.edits_since(&before);
        workspace.restore(&before)?;
        match ran {
            Some(Ok(output)) => Ok(Some((output, edits?))),
            _ => Ok(None),
        }
    }
}

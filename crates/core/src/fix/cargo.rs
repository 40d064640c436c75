//! [`CargoSuggestions`]: rustc's suggestions as `cargo check --message-format=json` reports
//! them — including those its human output leaves out (an unused import it only underlines).

use std::time::Duration;

use super::fixer::{FixInput, Fixer, Safety};
use super::{FixProposal, ToolSuggestions};
use crate::build::{BuildStep, Discard};
use crate::parse::ParserSet;
use crate::{Result, Severity};

/// For Rust errors in a Cargo project: runs `cargo check --all-targets --message-format=json`
/// through the build's builder and applies the suggestions of its errors (see
/// [`ToolSuggestions`]). Does nothing when `cargo` is not there, the workspace has no
/// `Cargo.toml`, or the check takes longer than its timeout.
#[derive(Debug, Clone)]
pub struct CargoSuggestions {
    timeout: Duration,
}

impl Default for CargoSuggestions {
    fn default() -> Self {
        CargoSuggestions {
            timeout: Duration::from_secs(300),
        }
    }
}

#[async_trait::async_trait]
impl Fixer for CargoSuggestions {
    fn name(&self) -> &str {
        "cargo-suggestions"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let rust = (input.diagnostics.iter())
            .any(|d| d.severity == Severity::Error && matches!(d.tool.as_str(), "rustc" | "cargo"));
        if !rust || !workspace.root().join("Cargo.toml").is_file() {
            return Ok(None);
        }
        let check = BuildStep::argv(
            "cargo check (suggestions)",
            [
                "cargo",
                "check",
                "--all-targets",
                "--message-format=json",
                "--quiet",
            ],
        )
        .timeout(self.timeout);
        // Run where the build runs; without cargo there (or when it cannot start) there is
        // nothing to offer.
        let Ok(output) = (input.builder)
            .run_step(workspace.root(), &check, &Discard)
            .await
        else {
            return Ok(None);
        };
        if output.timed_out {
            return Ok(None);
        }
        let found = ParserSet::new().parse(&output.stdout.text);
        Ok(ToolSuggestions::proposal(workspace, &found))
    }
}

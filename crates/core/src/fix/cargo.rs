//! [`CargoSuggestions`]: rustc's suggestions as `cargo check --message-format=json` reports
//! them — including those its human output leaves out (an unused import it only underlines).

use std::process::Stdio;
use std::time::Duration;

use super::fixer::{FixInput, Fixer, Safety};
use super::{FixProposal, ToolSuggestions};
use crate::parse::ParserSet;
use crate::{Result, Severity};

/// For Rust errors in a Cargo project: runs `cargo check --all-targets --message-format=json`
/// and applies the suggestions of its errors (see [`ToolSuggestions`]). Does nothing when
/// `cargo` is not installed, the workspace has no `Cargo.toml`, or the check takes longer than
/// its timeout.
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
        let check = tokio::process::Command::new("cargo")
            .args(["check", "--all-targets", "--message-format=json", "--quiet"])
            .current_dir(workspace.root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .output();
        let Ok(Ok(output)) = tokio::time::timeout(self.timeout, check).await else {
            return Ok(None);
        };
        let found = ParserSet::new().parse(&output.stdout);
        Ok(ToolSuggestions::proposal(workspace, &found))
    }
}

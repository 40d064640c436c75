//! The narrow check: a faster build that knows what the framework's build would say about the
//! errors being fixed.
//!
//! `next build` compiles, lints, then type-checks — and stops at the first type error, so a
//! page with three of them costs four full builds to learn of them one by one. While the
//! errors being fixed are TypeScript errors of a `next build` step, the run checks fixes with
//! the project's own `tsc --noEmit -p tsconfig.json` (every error at once, in seconds) and
//! runs the full plan only when that passes: the full plan still decides whether the run is
//! healed.

use crate::build::{BuildPlan, BuildStep, Command};
use crate::fix::step_runs;
use crate::workspace::Workspace;
use crate::{Category, Diagnostic};

use super::tracking::errors;

/// The narrow check for `diagnostics` (a failed full build's), when there is one: the
/// leading error is a type error of a step that runs `next build`, and that step's folder has
/// a `tsconfig.json` and the project's TypeScript.
pub(super) fn narrow_check(
    workspace: &Workspace,
    plan: &BuildPlan,
    diagnostics: &[Diagnostic],
) -> Option<BuildStep> {
    let leading = errors(diagnostics).next()?;
    if leading.category != Category::Type || !matches!(leading.tool.as_str(), "next" | "tsc") {
        return None;
    }
    let step = (plan.steps.iter()).find(|step| step_runs(workspace, step, "next", "build"))?;
    let folder = match &step.cwd {
        Some(cwd) => workspace.root().join(cwd.as_path()),
        None => workspace.root().to_path_buf(),
    };
    const TSC: &str = "node_modules/.bin/tsc";
    if !folder.join("tsconfig.json").is_file() || !folder.join(TSC).is_file() {
        return None;
    }
    let argv = [TSC, "--noEmit", "--pretty", "false", "-p", "tsconfig.json"];
    Some(BuildStep {
        name: "tsc --noEmit (narrow check)".into(),
        command: Command::Argv(argv.map(String::from).to_vec()),
        continue_on_failure: false,
        ..step.clone()
    })
}

/// What the narrow check reported about the project's own files: Next's generated route
/// types (`.next/types/…`) describe the last full build, not the sources being fixed.
pub(super) fn about_sources(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    (diagnostics.into_iter())
        .filter(|d| !d.file.as_deref().is_some_and(|f| f.starts_with(".next/")))
        .collect()
}

//! The narrow check: a faster build that knows what the framework's build would say about the
//! errors being fixed.
//!
//! `next build` compiles, lints, then type-checks — and stops at the first type error, so a
//! page with three of them costs four full builds to learn of them one by one. While the
//! errors being fixed are TypeScript errors of a `next build` step, the run checks fixes with
//! the project's own `tsc --noEmit -p tsconfig.json` (every error at once, in seconds) — and
//! ESLint findings with the project's `eslint` on their files — and runs the full plan only
//! when that passes: the full plan still decides whether the run is healed.

use crate::build::{BuildPlan, BuildStep, Command};
use crate::fix::{RelativePath, step_runs};
use crate::workspace::Workspace;
use crate::{Category, Diagnostic};

use super::tracking::errors;

/// The narrow check for `diagnostics` (a failed full build's), when there is one: the
/// leading error is a type error or an ESLint finding of a step that runs `next build`, and
/// that step's folder has the project's TypeScript (and a `tsconfig.json`) or ESLint.
pub(super) fn narrow_check(
    workspace: &Workspace,
    plan: &BuildPlan,
    diagnostics: &[Diagnostic],
) -> Option<BuildStep> {
    const TSC: &str = "node_modules/.bin/tsc";
    const ESLINT: &str = "node_modules/.bin/eslint";
    let leading = errors(diagnostics).next()?;
    let step = (plan.steps.iter()).find(|step| step_runs(workspace, step, "next", "build"))?;
    let folder = match &step.cwd {
        Some(cwd) => workspace.root().join(cwd.as_path()),
        None => workspace.root().to_path_buf(),
    };
    let (name, argv) = match leading.tool.as_str() {
        "next" | "tsc" if leading.category == Category::Type => {
            if !folder.join("tsconfig.json").is_file() || !folder.join(TSC).is_file() {
                return None;
            }
            let argv = [TSC, "--noEmit", "--pretty", "false", "-p", "tsconfig.json"];
            ("tsc --noEmit", argv.map(String::from).to_vec())
        }
        "eslint" => {
            if !folder.join(ESLINT).is_file() {
                return None;
            }
            let mut files: Vec<&str> = (errors(diagnostics))
                .filter(|d| d.tool == "eslint")
                .filter_map(|d| d.file.as_deref())
                .filter(|file| RelativePath::new(file).is_ok())
                .collect();
            files.sort_unstable();
            files.dedup();
            let mut argv = vec![ESLINT.to_string(), "--".to_string()];
            argv.extend(files.iter().map(|file| file.to_string()));
            ("eslint", argv)
        }
        _ => return None,
    };
    Some(BuildStep {
        name: format!("{name} (narrow check)"),
        command: Command::Argv(argv),
        continue_on_failure: false,
        ..step.clone()
    })
}

/// What the narrow check reported about the project's own files, with paths relative to the
/// project as the full build prints them (ESLint prints absolute ones). Next's generated route
/// types (`.next/types/…`) describe the last full build, not the sources being fixed.
pub(super) fn about_sources(
    workspace: &Workspace,
    diagnostics: Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let mut kept = Vec::with_capacity(diagnostics.len());
    for mut diagnostic in diagnostics {
        if let Some(relative) = (diagnostic.file.as_deref()).and_then(|f| workspace.relative(f)) {
            diagnostic.file = Some(relative.as_str().to_string());
            diagnostic.fingerprint = diagnostic.compute_fingerprint();
        }
        if !diagnostic
            .file
            .as_deref()
            .is_some_and(|f| f.starts_with(".next/"))
        {
            kept.push(diagnostic);
        }
    }
    kept
}

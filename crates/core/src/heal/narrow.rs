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
use crate::fix::{finding_files, step_runs};
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
            let files = finding_files(workspace, errors(diagnostics), "eslint");
            if files.is_empty() {
                return None;
            }
            let mut argv = vec![ESLINT.to_string(), "--".to_string()];
            argv.extend(files.iter().map(|file| file.as_str().to_string()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::BuildStep;
    use crate::scratch::Scratch;
    use crate::{Category, Subcategory};

    fn app(name: &str) -> (Scratch, Workspace) {
        let dir = Scratch::new(
            &format!("narrow-{name}"),
            &[
                ("package.json", r#"{"scripts": {"build": "next build"}}"#),
                ("tsconfig.json", "{}"),
                ("node_modules/.bin/tsc", ""),
                ("node_modules/.bin/eslint", ""),
            ],
        );
        let workspace = Workspace::open(dir.path()).unwrap();
        (dir, workspace)
    }

    fn type_error(tool: &str) -> Diagnostic {
        Diagnostic::new(tool, "Property 'x' does not exist on type '{}'.")
            .with_class(Category::Type, Subcategory::MissingProperty)
            .at("app/page.tsx", Some(3), Some(5))
    }

    #[test]
    fn a_next_build_step_gets_tsc_for_type_errors_and_eslint_for_lint() {
        let (_dir, workspace) = app("next");
        let plan = BuildPlan::new([
            BuildStep::command_line("npm ci"),
            BuildStep::command_line("NEXT_TELEMETRY_DISABLED=1 npm run build"),
        ]);
        let check = narrow_check(&workspace, &plan, &[type_error("next")]).unwrap();
        assert_eq!(
            check.command,
            Command::Argv(
                [
                    "node_modules/.bin/tsc",
                    "--noEmit",
                    "--pretty",
                    "false",
                    "-p",
                    "tsconfig.json"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(check.name, "tsc --noEmit (narrow check)");
        let lint = Diagnostic::new("eslint", "'x' is never reassigned.")
            .with_class(Category::Unknown, Subcategory::Lint)
            .at("lib/a.ts", Some(1), Some(1));
        let check = narrow_check(&workspace, &plan, &[lint]).unwrap();
        assert_eq!(
            check.command.argv(),
            ["node_modules/.bin/eslint", "--", "lib/a.ts"]
        );
    }

    #[test]
    fn other_errors_and_other_builds_get_none() {
        let (_dir, workspace) = app("none");
        let next = BuildPlan::new([BuildStep::command_line("npm run build")]);
        let missing = Diagnostic::new("next", "Module not found: Can't resolve 'x'")
            .with_class(Category::Dependency, Subcategory::MissingPackage);
        assert!(narrow_check(&workspace, &next, &[missing]).is_none());
        let vite = BuildPlan::new([BuildStep::command_line("npx vite build")]);
        assert!(narrow_check(&workspace, &vite, &[type_error("tsc")]).is_none());
        let outside = Diagnostic::new("eslint", "x").at("../../etc/passwd", Some(1), None);
        assert!(
            narrow_check(&workspace, &next, &[outside]).is_none(),
            "no path leaves"
        );
    }

    #[test]
    fn the_checks_own_findings_are_made_relative_and_route_types_dropped() {
        let (dir, workspace) = app("sources");
        let absolute = dir
            .path()
            .join("app/page.tsx")
            .to_string_lossy()
            .into_owned();
        let found = about_sources(
            &workspace,
            vec![
                Diagnostic::new("eslint", "a").at(&absolute, Some(1), None),
                Diagnostic::new("tsc", "b").at(".next/types/app/page.ts", Some(2), None),
            ],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].file.as_deref(), Some("app/page.tsx"));
    }
}

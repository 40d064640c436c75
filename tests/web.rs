//! Real web apps healed through their real builds: a Next.js 15 App Router app and bolt.new's
//! Vite + React + TypeScript starter (`tests/fixtures/web/base`), with their npm packages from
//! the registry (`scripts/test` installs them once into `SELFHEAL_WEB_HOME`), broken the way
//! generated code breaks them (`tests/fixtures/web/cases`: the files that differ), healed with no
//! model by the deterministic fixers.

use std::path::{Path, PathBuf};

use selfheal::build::{BuildPlan, BuildStep, LocalBuilder};
use selfheal::heal::{HealReport, Healer, Outcome};
use selfheal::workspace::Workspace;
use selfheal_test_harness::{Need, Test, trial};

use crate::support;

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    let apps = Need::new(
        ["next", "vite"]
            .iter()
            .find(|app| !installed(app).join(".selfheal-installed").is_file())
            .map(|app| {
                format!(
                    "the {app} app's packages are not in {} (scripts/test installs them)",
                    installed(app).display()
                )
            }),
    );
    vec![
        trial!(async a_server_component_using_a_hook_is_marked_use_client).needs(&apps),
        trial!(async use_client_directives_are_put_where_next_wants_them).needs(&apps),
        trial!(async a_page_prerendering_rejects_for_an_event_handler_becomes_a_client_page)
            .needs(&apps),
        trial!(async an_alias_import_with_the_wrong_case_finds_its_module).needs(&apps),
        trial!(async an_alias_the_vite_starter_does_not_configure_becomes_a_relative_import)
            .needs(&apps),
        trial!(async a_named_import_of_a_default_export_becomes_a_default_import).needs(&apps),
        trial!(async names_used_without_import_come_from_the_framework_or_the_package).needs(&apps),
        trial!(async a_declaration_imported_but_not_exported_is_exported).needs(&apps),
        trial!(async a_type_imported_as_a_value_under_verbatim_module_syntax_is_marked)
            .needs(&apps),
        trial!(async eslint_fixes_what_it_reported_through_npm_run_lint).needs(&apps),
        trial!(async a_dropped_parenthesis_tsc_points_at_is_put_back).needs(&apps),
        trial!(async html_attributes_written_in_jsx_become_reacts).needs(&apps),
        trial!(async a_tsconfig_next_cannot_read_is_repaired).needs(&apps),
        trial!(async eslint_findings_of_next_build_are_fixed_by_the_projects_eslint).needs(&apps),
        trial!(async the_pages_router_in_an_app_component_becomes_next_navigation).needs(&apps),
        trial!(async a_named_import_rollup_cannot_find_is_read_against_the_module).needs(&apps),
        trial!(async misspelt_icon_names_are_imported_as_the_names_lucide_has).needs(&apps),
        trial!(async quotes_in_jsx_text_next_lint_rejects_become_entities).needs(&apps),
        trial!(async eslint_suggestions_that_keep_behaviour_are_applied_through_npm_run_lint)
            .needs(&apps),
        trial!(async eslint_suggestions_for_next_lint_findings_are_applied).needs(&apps),
        trial!(async page_and_route_modules_export_what_next_needs).needs(&apps),
        trial!(async next_14_habits_are_rewritten_as_next_15_wants_them).needs(&apps),
        trial!(async turbopack_reports_of_imports_are_fixed_like_webpacks).needs(&apps),
        trial!(async type_errors_next_build_reports_one_at_a_time_are_fixed_together_through_tsc)
            .needs(&apps),
    ]
}

/// Where `scripts/test` installed an app's packages.
fn installed(app: &str) -> PathBuf {
    let home = std::env::var_os("SELFHEAL_WEB_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/selfheal-web")
        });
    home.join(app)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/web")
}

/// A case's project: the app's files, the case's files over them, and the installed
/// `node_modules` hard-linked in (npm rewrites its `.package-lock.json`: that one is copied).
struct WebProject {
    dir: PathBuf,
}

impl WebProject {
    fn new(app: &str, case: &str) -> WebProject {
        let dir = support::scratch(&format!("web-{case}"));
        copy_tree(&fixtures().join("base").join(app), &dir);
        copy_tree(&fixtures().join("cases").join(case), &dir);
        let modules = installed(app).join("node_modules");
        let linked = std::process::Command::new("cp")
            .arg("-al")
            .arg(&modules)
            .arg(dir.join("node_modules"))
            .status()
            .unwrap_or_else(|e| panic!("cp: {e}"));
        assert!(linked.success(), "hard-linking {}", modules.display());
        let lock = dir.join("node_modules/.package-lock.json");
        std::fs::remove_file(&lock).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(modules.join(".package-lock.json"), &lock).unwrap_or_else(|e| panic!("{e}"));
        WebProject { dir }
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Heals the project with `step`, the default fixers, no model and no cache.
    async fn heal(&self, step: &str) -> HealReport {
        let plan = BuildPlan::new([BuildStep::command_line(step)]);
        let workspace = Workspace::open(&self.dir).unwrap_or_else(|e| panic!("{e}"));
        Healer::new(LocalBuilder::new())
            .heal(&workspace, &plan, &|_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for WebProject {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// The fixer that made the fix of the run's last attempt.
fn healed_by(report: &HealReport) -> Option<&str> {
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    report.attempts.last().and_then(|a| a.by.as_deref())
}

const NEXT_BUILD: &str = "NEXT_TELEMETRY_DISABLED=1 npm run build";

async fn a_server_component_using_a_hook_is_marked_use_client() {
    let project = WebProject::new("next", "next-use-client-missing");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("client-directive"));
    let board = project.read("components/task-board.tsx");
    assert!(board.starts_with("\"use client\";\n\n"), "{board}");
    assert!(board.contains("useState"), "the component keeps its hook");
}

async fn use_client_directives_are_put_where_next_wants_them() {
    // A directive below the imports of a component that uses a hook, and one on a page that
    // exports `metadata` and needs no client at all.
    let project = WebProject::new("next", "next-use-client-misplaced");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("client-directive"));
    let board = project.read("components/task-board.tsx");
    assert!(board.starts_with("\"use client\";\n\nimport "), "{board}");
    assert_eq!(board.matches("use client").count(), 1, "{board}");
    let page = project.read("app/page.tsx");
    assert!(
        page.starts_with("import type { Metadata } from \"next\";\n"),
        "{page}"
    );
    assert!(
        page.contains("export const metadata: Metadata = {"),
        "{page}"
    );
}

async fn a_page_prerendering_rejects_for_an_event_handler_becomes_a_client_page() {
    // `Error occurred prerendering page "/"` … `Event handlers cannot be passed to Client
    // Component props`, with no stack into the page: the route names it.
    let project = WebProject::new("next", "next-event-handler-in-server-page");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("client-directive"));
    let page = project.read("app/page.tsx");
    assert!(page.starts_with("\"use client\";\n\nimport Link"), "{page}");
}

async fn an_alias_import_with_the_wrong_case_finds_its_module() {
    let project = WebProject::new("next", "next-import-path-case");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("import-paths"));
    let board = project.read("components/task-board.tsx");
    assert!(board.contains("from \"@/components/task-item\""), "{board}");
}

async fn an_alias_the_vite_starter_does_not_configure_becomes_a_relative_import() {
    let project = WebProject::new("vite", "vite-unconfigured-alias");
    let report = project.heal("npm run build").await;
    assert_eq!(healed_by(&report), Some("import-paths"));
    let dashboard = project.read("src/pages/Dashboard.tsx");
    assert!(
        dashboard.contains("import StatCard from '../components/StatCard';")
            && dashboard.contains("import { formatDuration } from '../lib/format';"),
        "{dashboard}"
    );
}

async fn names_used_without_import_come_from_the_framework_or_the_package() {
    // `<Trophy />` with no import, in the Vite app: lucide-react, which the app imports from,
    // exports it. `<Link>` with no import, in the Next app: `next/link`.
    let vite = WebProject::new("vite", "vite-icon-not-imported");
    let report = vite.heal("npm run build").await;
    assert_eq!(healed_by(&report), Some("missing-names"));
    let dashboard = vite.read("src/pages/Dashboard.tsx");
    assert!(
        dashboard.starts_with("import { Clock, Flame, Trophy } from 'lucide-react';\n"),
        "{dashboard}"
    );
    let next = WebProject::new("next", "next-link-not-imported");
    let report = next.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("missing-names"));
    let page = next.read("app/page.tsx");
    assert!(page.contains("import Link from \"next/link\";\n"), "{page}");
}

async fn a_declaration_imported_but_not_exported_is_exported() {
    // tsc: `declares 'formatDuration' locally, but it is not exported`; rollup: `"formatDuration"
    // is not exported by "src/lib/format.ts"`.
    for step in ["npm run build", "npx vite build"] {
        let project = WebProject::new("vite", "vite-declaration-not-exported");
        let report = project.heal(step).await;
        assert_eq!(healed_by(&report), Some("local-exports"), "{step}");
        let format = project.read("src/lib/format.ts");
        assert!(
            format.starts_with("export function formatDuration(minutes: number): string {"),
            "{step}: {format}"
        );
    }
}

async fn a_type_imported_as_a_value_under_verbatim_module_syntax_is_marked() {
    // create-vite's templates set `verbatimModuleSyntax`: TS1484.
    let project = WebProject::new("vite", "vite-type-imported-as-value");
    let report = project.heal("npm run build").await;
    assert_eq!(healed_by(&report), Some("type-imports"));
    let card = project.read("src/components/StatCard.tsx");
    assert!(
        card.starts_with("import { type LucideIcon } from 'lucide-react';\n"),
        "{card}"
    );
}

async fn a_named_import_of_a_default_export_becomes_a_default_import() {
    let project = WebProject::new("vite", "vite-named-vs-default-import");
    let report = project.heal("npm run build").await;
    assert_eq!(healed_by(&report), Some("import-kinds"));
    assert!(
        project
            .read("src/App.tsx")
            .contains("import Navbar from './components/Navbar';")
    );
}

async fn eslint_fixes_what_it_reported_through_npm_run_lint() {
    let project = WebProject::new("vite", "vite-lint-prefer-const");
    let report = project.heal("npm run lint").await;
    assert_eq!(healed_by(&report), Some("eslint --fix"));
    let format = project.read("src/lib/format.ts");
    assert!(
        format.contains("const h = ") && format.contains("const m = "),
        "{format}"
    );
}

async fn a_dropped_parenthesis_tsc_points_at_is_put_back() {
    // tsc says `')' expected`; `vite build` alone says esbuild's `Expected ")" but found ";"`.
    for step in ["npm run build", "npx vite build"] {
        let project = WebProject::new("vite", "vite-missing-paren");
        let report = project.heal(step).await;
        assert_eq!(healed_by(&report), Some("tool-suggestions"), "{step}");
        assert!(
            project
                .read("src/lib/format.ts")
                .contains("const h = Math.floor(minutes / 60);"),
            "{step}"
        );
    }
}

async fn html_attributes_written_in_jsx_become_reacts() {
    // tsc's suggestion is in the message chain: `Property 'class' does not exist on type …. Did
    // you mean 'className'?`.
    let project = WebProject::new("vite", "vite-html-attributes-in-jsx");
    let report = project.heal("npm run build").await;
    assert_eq!(healed_by(&report), Some("tool-suggestions"));
    assert!(
        (project.read("src/components/StatCard.tsx"))
            .contains("<div className=\"rounded-xl bg-white p-5 shadow-sm\">")
    );
    assert!(
        (project.read("src/components/WorkoutForm.tsx"))
            .contains("<form onSubmit={handleSubmit} className=")
    );
}

async fn a_tsconfig_next_cannot_read_is_repaired() {
    // Next prints the error inside an error object: `[Error: tsconfig.json(8,5): error TS1005`.
    let project = WebProject::new("next", "next-tsconfig-missing-comma");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("tool-suggestions"));
    let config = project.read("tsconfig.json");
    let value = serde_json::from_str::<serde_json::Value>(&config);
    assert!(value.is_ok(), "strict JSON again: {config}");
}

async fn eslint_findings_of_next_build_are_fixed_by_the_projects_eslint() {
    let project = WebProject::new("next", "next-lint-in-build");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("eslint --fix"));
    assert!(
        project
            .read("lib/utils.ts")
            .contains("const merged = twMerge(clsx(inputs));")
    );
}

async fn the_pages_router_in_an_app_component_becomes_next_navigation() {
    let project = WebProject::new("next", "next-router-in-app");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("next-navigation"));
    let board = project.read("components/task-board.tsx");
    assert!(
        board.contains("import { useRouter } from \"next/navigation\";"),
        "{board}"
    );
    assert!(board.contains("router.push(\"/\")"));
}

async fn a_named_import_rollup_cannot_find_is_read_against_the_module() {
    let project = WebProject::new("vite", "vite-named-vs-default-import");
    let report = project.heal("npx vite build").await;
    assert_eq!(healed_by(&report), Some("import-kinds"));
    assert!(
        project
            .read("src/App.tsx")
            .contains("import Navbar from './components/Navbar';")
    );
}

async fn misspelt_icon_names_are_imported_as_the_names_lucide_has() {
    const MEANT: &str = "import { Bike, Dumbbell as DumbBell, Footprints as Footprint, Waves } from 'lucide-react';";
    // tsc suggests both names; `vite build` alone says only "not exported", and the names are
    // read from the installed package's declarations.
    for step in ["npm run build", "npx vite build"] {
        let project = WebProject::new("vite", "vite-misspelt-icon-names");
        let report = project.heal(step).await;
        assert_eq!(healed_by(&report), Some("export-names"), "{step}");
        let list = project.read("src/components/WorkoutList.tsx");
        assert!(list.starts_with(MEANT), "{step}: {list}");
        assert!(list.contains("strength: DumbBell,"), "its uses stay");
    }
}

async fn quotes_in_jsx_text_next_lint_rejects_become_entities() {
    let project = WebProject::new("next", "next-unescaped-entities");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("jsx-entities"));
    let page = project.read("app/page.tsx");
    assert!(
        page.contains(
            "<Button variant=\"outline\">Don&apos;t miss &quot;what&quot; we&apos;ve built</Button>"
        ),
        "{page}"
    );
}

async fn eslint_suggestions_that_keep_behaviour_are_applied_through_npm_run_lint() {
    // Four findings `eslint --fix` leaves alone: ESLint offers their fixes only as suggestions.
    let project = WebProject::new("vite", "vite-lint-suggestions");
    let report = project.heal("npm run lint").await;
    assert_eq!(healed_by(&report), Some("eslint-suggestions"));
    assert_eq!(report.attempts.len(), 2, "one fix: {report:#?}");
    let hook = project.read("src/hooks/useLocalStorage.ts");
    for fixed in [
        "{ const next = { ...state, [action.key]: action.value };\n      return next; }",
        "/^[a-z0-9_.-]+$/.test(value)",
        "Object.prototype.hasOwnProperty.call(store, value)",
        "} catch { /* empty */ }",
    ] {
        assert!(hook.contains(fixed), "{fixed} in {hook}");
    }
}

async fn eslint_suggestions_for_next_lint_findings_are_applied() {
    // shadcn's empty `InputProps` interface and a described `@ts-ignore`: `next build` fails on
    // both under `next/typescript`.
    let project = WebProject::new("next", "next-lint-suggestions");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("eslint-suggestions"));
    assert!(
        project
            .read("components/ui/input.tsx")
            .contains("export type InputProps = React.InputHTMLAttributes<HTMLInputElement>\n")
    );
    assert!(
        project
            .read("lib/utils.ts")
            .contains("// @ts-expect-error: analytics.js is injected by the tag manager")
    );
}

async fn type_errors_next_build_reports_one_at_a_time_are_fixed_together_through_tsc() {
    let project = WebProject::new("next", "next-misspelt-icons-in-three-files");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("export-names"));
    // `next build` stops at the first of four type errors in three files; the narrow check
    // shows them all, so one fix and one more full build suffice.
    assert_eq!(report.attempts.len(), 2, "{report:#?}");
    assert!(
        project
            .read("components/task-board.tsx")
            .contains("import { PlusIcon as PlusIcn, Trash2 as Trahs2 } from \"lucide-react\";")
    );
    assert!(
        project
            .read("app/page.tsx")
            .contains("CheckCircle2 as CheckCirlce2")
    );
}

async fn page_and_route_modules_export_what_next_needs() {
    let project = WebProject::new("next", "next-module-exports");
    let report = project.heal(NEXT_BUILD).await;
    assert_eq!(healed_by(&report), Some("next-exports"));
    let page = project.read("app/dashboard/page.tsx");
    assert!(
        page.contains("export default function DashboardPage()"),
        "{page}"
    );
    let route = project.read("app/api/tasks/route.ts");
    assert!(route.contains("export async function GET("), "{route}");
}

async fn next_14_habits_are_rewritten_as_next_15_wants_them() {
    // A page (with its metadata function) and a route handler that read `params` as Next 14
    // passed it, a route handler that reads `cookies()` and `headers()` synchronously, which
    // the type check rejects; once they pass, prerendering stops at a page that reads
    // `useSearchParams()` outside a `<Suspense>` boundary.
    let project = WebProject::new("next", "next-sync-params");
    let report = project.heal(NEXT_BUILD).await;
    let fixers: Vec<&str> = (report.attempts.iter())
        .filter_map(|a| a.by.as_deref())
        .collect();
    assert_eq!(healed_by(&report), Some("next-suspense"), "{fixers:?}");
    assert!(fixers.contains(&"next-async-props"), "{fixers:?}");
    let search = project.read("app/search/page.tsx");
    assert!(
        search.contains("function SearchPageContent() {")
            && search.contains("    <Suspense>\n      <SearchPageContent />\n    </Suspense>")
            && search.contains("import { Suspense } from \"react\";"),
        "{search}"
    );
    let page = project.read("app/tasks/[id]/page.tsx");
    for rewritten in [
        "  params: Promise<{ id: string }>;\n",
        "export async function generateMetadata(props: Props) {\n  const params = await props.params;\n",
        "export default async function TaskPage(props: Props) {\n  const params = await props.params;\n",
    ] {
        assert!(page.contains(rewritten), "{rewritten} in {page}");
    }
    let tasks = project.read("app/api/tasks/route.ts");
    assert!(
        tasks.contains("(await cookies()).get(\"theme\")")
            && tasks.contains("(await headers()).get(\"user-agent\")"),
        "{tasks}"
    );
    let route = project.read("app/api/tasks/[id]/route.ts");
    assert!(
        route.contains("  props: { params: Promise<{ id: string }> },\n) {\n  const params = await props.params;\n"),
        "{route}"
    );
}

async fn turbopack_reports_of_imports_are_fixed_like_webpacks() {
    // Turbopack reports a misspelt icon and a default import of a named export together,
    // each with its module in a note and its suggestion (`Did you mean to import …?`).
    let project = WebProject::new("next", "next-turbopack-imports");
    let report = project
        .heal("NEXT_TELEMETRY_DISABLED=1 npx next build --turbopack")
        .await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let fixers: Vec<&str> = (report.attempts.iter())
        .filter_map(|a| a.by.as_deref())
        .collect();
    assert!(fixers.contains(&"export-names"), "{fixers:?}");
    assert!(fixers.contains(&"import-kinds"), "{fixers:?}");
    assert!(
        project
            .read("components/header.tsx")
            .contains("import { LayoutDashboard as LayoutDashbord } from \"lucide-react\";")
    );
    assert!(
        project
            .read("app/page.tsx")
            .contains("import { Button } from \"@/components/ui/button\";")
    );
}

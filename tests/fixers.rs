//! Deterministic fixers inside the heal loop, with real tools and no model: a linter's own
//! fixer (`ruff check --fix`), project-aware fixes (imports, names, unused bindings) checked by
//! python, node and ruff, and a missing package installed from the npm registry.

use selfheal::build::{BuildPlan, BuildStep, LocalBuilder};
use selfheal::heal::{FixSource, Healer, Outcome};
use selfheal::workspace::Workspace;
use selfheal_test_harness::{Need, Test, trial, which};

use crate::support::project::Project;

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    let ruff = Need::program("ruff", "pip install ruff; scripts/test installs it");
    let mypy = Need::program("mypy", "pip install mypy; scripts/test installs it");
    let pytest = Need::program("pytest", "pip install pytest; scripts/test installs it");
    vec![
        trial!(async a_require_that_misses_its_folder_is_pointed_at_the_module_that_exists),
        trial!(async ruff_fixes_what_it_reported_and_the_lint_passes).needs(&ruff),
        trial!(async names_used_without_import_are_imported_from_the_standard_library_and_the_project),
        trial!(async a_misspelled_variable_node_names_no_fix_for_is_respelled_and_a_project_export_required),
        trial!(async an_unused_local_that_ruff_only_removes_unsafely_is_underscored_and_keeps_its_call).needs(&ruff),
        trial!(async a_package_imported_but_not_declared_is_declared_and_installed_from_the_registry),
        trial!(async mypys_one_suggestion_for_a_misspelt_attribute_is_applied).needs(&mypy),
        trial!(async a_colon_python_expects_is_put_back_when_pytest_meets_it).needs(&pytest),
        trial!(async a_crate_of_the_same_workspace_is_declared_by_path),
    ]
}

async fn heal(project: &Project, steps: &[(&str, &str)]) -> selfheal::heal::HealReport {
    let plan = BuildPlan::new(
        steps
            .iter()
            .map(|(name, run)| BuildStep::shell(*name, *run)),
    );
    let workspace = Workspace::open(&project.dir).unwrap();
    Healer::new(LocalBuilder::new())
        .heal(&workspace, &plan, &|_| {})
        .await
        .unwrap()
}

async fn a_require_that_misses_its_folder_is_pointed_at_the_module_that_exists() {
    let project = Project::new(
        "fixers-require",
        &[
            ("src/util/http.js", "exports.get = (url) => `GET ${url}`;\n"),
            (
                "src/app.js",
                "const http = require('./http');\nconsole.log(http.get('/todos'));\n",
            ),
        ],
    );
    let report = heal(&project, &[("run", "node src/app.js")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let fix = report.attempts.last().unwrap();
    assert_eq!(fix.source, Some(FixSource::Fixer));
    assert_eq!(fix.by.as_deref(), Some("import-paths"));
    assert!(
        project
            .read("src/app.js")
            .unwrap()
            .contains("require('./util/http')")
    );
}

async fn ruff_fixes_what_it_reported_and_the_lint_passes() {
    let ruff = which("ruff").expect("ruff on PATH");
    let project = Project::new(
        "fixers-ruff",
        &[(
            "slug.py",
            "import os\nimport re\n\n\ndef slug(text):\n    return re.sub(r\"[^a-z0-9]+\", \"-\", text.lower()).strip(\"-\")\n",
        )],
    );
    // The concise format prints no fix for the fix-it reader: ruff itself has to fix it.
    let lint = format!(
        "{} check --no-cache --output-format concise .",
        ruff.display()
    );
    let report = heal(&project, &[("lint", &lint), ("run", "python3 slug.py")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        report.attempts.last().unwrap().by.as_deref(),
        Some("ruff --fix")
    );
    assert!(!project.read("slug.py").unwrap().contains("import os"));
    assert!(project.read("slug.py").unwrap().contains("import re"));
}

async fn names_used_without_import_are_imported_from_the_standard_library_and_the_project() {
    let project = Project::new(
        "fixers-py-names",
        &[
            ("slug/__init__.py", ""),
            (
                "slug/text.py",
                "import re\n\n\ndef slugify(text):\n    return re.sub(r\"[^a-z0-9]+\", \"-\", text.lower()).strip(\"-\")\n",
            ),
            (
                "main.py",
                "\"\"\"Prints a slug as JSON.\"\"\"\n\nprint(json.dumps(slugify(\"Hello, World\")))\n",
            ),
        ],
    );
    let report = heal(&project, &[("run", "python3 main.py")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert!(
        (report.attempts.iter().skip(1)).all(|a| a.by.as_deref() == Some("missing-names")),
        "{report:#?}"
    );
    let main = project.read("main.py").unwrap();
    assert!(main.contains("import json\n"), "{main}");
    assert!(main.contains("from slug.text import slugify\n"), "{main}");
}

async fn a_misspelled_variable_node_names_no_fix_for_is_respelled_and_a_project_export_required() {
    let project = Project::new(
        "fixers-js-names",
        &[
            (
                "lib/math.js",
                "function add(a, b) {\n  return a + b;\n}\n\nmodule.exports = { add };\n",
            ),
            (
                "index.js",
                "'use strict';\nconst assert = require('assert');\n\nlet total = 0;\nfor (const n of [1, 2, 3]) {\n  total = add(total, n);\n}\nassert.strictEqual(totl, 6);\nconsole.log(totl);\n",
            ),
        ],
    );
    let report = heal(&project, &[("run", "node index.js")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let index = project.read("index.js").unwrap();
    assert!(
        index.contains("const { add } = require('./lib/math');\n"),
        "{index}"
    );
    assert!(
        index.contains("assert.strictEqual(total, 6);\nconsole.log(total);"),
        "{index}"
    );
}

async fn an_unused_local_that_ruff_only_removes_unsafely_is_underscored_and_keeps_its_call() {
    let ruff = which("ruff").expect("ruff on PATH");
    let project = Project::new(
        "fixers-unused",
        &[(
            "report.py",
            "def load():\n    print(\"loaded\")\n    return 3\n\n\ndef main():\n    count = load()\n    return 0\n\n\nmain()\n",
        )],
    );
    let lint = format!(
        "{} check --no-cache --output-format concise .",
        ruff.display()
    );
    let report = heal(&project, &[("lint", &lint), ("run", "python3 report.py")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        report.attempts.last().unwrap().by.as_deref(),
        Some("unused-bindings")
    );
    assert!(
        project
            .read("report.py")
            .unwrap()
            .contains("    _count = load()\n")
    );
}

async fn a_package_imported_but_not_declared_is_declared_and_installed_from_the_registry() {
    let project = Project::new(
        "fixers-npm-dependency",
        &[
            (
                "package.json",
                "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"private\": true\n}\n",
            ),
            (
                "index.js",
                "const isNumber = require('is-number');\nif (!isNumber('42')) process.exit(1);\nconsole.log('ok');\n",
            ),
        ],
    );
    let report = heal(&project, &[("run", "node index.js")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        report.attempts.last().unwrap().by.as_deref(),
        Some("missing-dependencies")
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&project.read("package.json").unwrap()).unwrap();
    assert!(
        manifest["dependencies"]["is-number"].is_string(),
        "{manifest}"
    );
    assert!(
        project
            .read("package-lock.json")
            .unwrap()
            .contains("is-number")
    );
}

async fn mypys_one_suggestion_for_a_misspelt_attribute_is_applied() {
    let project = Project::new(
        "fixers-mypy-maybe",
        &[(
            "cfg.py",
            "class Settings:\n    debug: bool = False\n\n\ndef show(s: Settings) -> bool:\n    return s.debg\n",
        )],
    );
    let report = heal(&project, &[("mypy", "mypy --no-incremental cfg.py")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        report.attempts.last().unwrap().by.as_deref(),
        Some("tool-suggestions")
    );
    assert!(project.read("cfg.py").unwrap().contains("return s.debug\n"));
}

async fn a_colon_python_expects_is_put_back_when_pytest_meets_it() {
    let project = Project::new(
        "fixers-pytest-colon",
        &[
            ("app.py", "def total(items)\n    return sum(items)\n"),
            (
                "test_app.py",
                "from app import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n",
            ),
        ],
    );
    let report = heal(&project, &[("pytest", "pytest -q -p no:cacheprovider")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        report.attempts.last().unwrap().by.as_deref(),
        Some("tool-suggestions")
    );
    assert_eq!(
        project.read("app.py").unwrap(),
        "def total(items):\n    return sum(items)\n"
    );
}

async fn a_crate_of_the_same_workspace_is_declared_by_path() {
    let project = Project::new(
        "fixers-workspace-crate",
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"app\", \"shared\"]\nresolver = \"2\"\n",
            ),
            (
                "app/Cargo.toml",
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
            ),
            (
                "app/src/main.rs",
                "use shared::greet;\n\nfn main() {\n    println!(\"{}\", greet());\n}\n",
            ),
            (
                "shared/Cargo.toml",
                "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "shared/src/lib.rs",
                "pub fn greet() -> String {\n    \"hi\".into()\n}\n",
            ),
        ],
    );
    let report = heal(&project, &[("cargo", "cargo build --offline --quiet")]).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        report.attempts.last().unwrap().by.as_deref(),
        Some("workspace-crates")
    );
    assert!(
        project
            .read("app/Cargo.toml")
            .unwrap()
            .ends_with("[dependencies]\nshared = { path = \"../shared\" }\n")
    );
}

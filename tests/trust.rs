//! A hostile model through the real loop: real builds, replies served in OpenAI's wire format by
//! a server on 127.0.0.1. Whatever the model writes, a fix touches only what a fix may touch:
//! version control, dependency folders and virtualenvs, tests, build scripts and oversized or
//! countless edits are refused before anything is written, the model is told why, and such a
//! reply never makes a run "healed".

use std::path::Path;
use std::sync::{Arc, Mutex};

use selfheal::build::{BuildPlan, BuildStep, EnvPolicy, LocalBuilder};
use selfheal::cache::FixCache;
use selfheal::cassette::Recorder;
use selfheal::fix::install::{Install, InstallPolicy, InstallStatus, PackageTool};
use selfheal::heal::{Event, HealConfig, HealReport, Healer, Outcome};
use selfheal::llm::OpenAi;
use selfheal::workspace::{Protected, Rule, Workspace};
use selfheal_test_harness::{Need, Test, trial};
use serde_json::{Value, json};

use crate::support::project::Project;
use crate::support::registry::{
    NpmRelease, publish_npm, publish_npm_releases, write_sdist, write_wheel,
};
use crate::support::{self, Reply, Server, openai_stream_in, quick_heal_config};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    let pytest = Need::new(
        (!std::process::Command::new("python3")
            .args(["-c", "import pytest"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success()))
        .then(|| "python3 cannot import pytest (scripts/test installs it)".into()),
    );
    let npm = Need::program("npm", "Node.js 20 with npm");
    vec![
        trial!(async version_control_dependencies_and_virtualenvs_are_refused_and_nothing_of_it_stays),
        trial!(async a_model_that_edits_the_failing_test_never_heals_the_run).needs(&pytest),
        trial!(async a_host_that_allows_tests_lets_a_fix_change_them_and_the_report_says_so)
            .needs(&pytest),
        trial!(async removing_an_assertion_is_never_a_fix_even_where_tests_are_allowed)
            .needs(&pytest),
        trial!(async verify_steps_must_pass_and_what_they_use_is_locked).needs(&pytest),
        trial!(async package_scripts_and_install_hooks_are_refused),
        trial!(async countless_or_oversized_edits_are_refused_before_anything_is_written),
        trial!(async a_huge_reply_is_read_to_the_cap_and_counts_as_unusable),
        trial!(async a_fix_being_written_when_time_runs_out_is_stopped_and_undone),
        trial!(async an_imported_package_installs_without_its_scripts_and_a_name_only_the_log_gives_is_refused).needs(&npm),
        trial!(async an_install_whose_run_does_not_heal_is_undone_with_its_package_folder).needs(&npm),
        trial!(async with_installs_off_no_package_manager_runs).needs(&npm),
        trial!(async packages_are_added_and_moved_to_releases_whose_peers_admit_the_projects_react)
            .needs(&npm),
        trial!(async a_peer_conflict_a_log_makes_up_moves_nothing_the_project_does_not_declare)
            .needs(&npm),
        trial!(async a_package_is_added_at_the_newest_major_that_exports_what_the_code_imports)
            .needs(&npm),
        trial!(async names_no_release_exports_cost_a_bounded_number_of_installs_all_undone)
            .needs(&npm),
        trial!(async a_projects_eslint_cannot_make_the_suggestion_fixer_write_other_edits),
        trial!(async forged_framework_reports_lead_no_fixer_outside_the_project_or_into_its_tests),
        trial!(async pip_installs_wheels_into_the_project_virtualenv_only),
        trial!(async pip_never_builds_a_source_archive_nor_installs_outside_a_virtualenv),
        trial!(async a_secret_in_a_log_or_a_credential_file_reaches_no_prompt_event_report_cache_or_cassette).needs(&npm),
    ]
}

const BROKEN: &str =
    "def total(items):\n    return \"total: \" + sum(items)\n\n\nprint(total([1, 2, 3]))\n";
const BROKEN_LINE: &str = "    return \"total: \" + sum(items)";
const FIXED_LINE: &str = "    return \"total: \" + str(sum(items))";

/// A streamed chat completion holding `fixes` as the fix JSON.
fn reply(fixes: Value) -> Reply {
    let text = json!({"analysis": "this will make the build pass", "fixes": fixes}).to_string();
    Reply::sse(&openai_stream_in(&text, 4096), 64 * 1024)
}

/// Heals `project` with `steps`, the model behind `server`, no fixers, no cache.
async fn heal(
    project: &Project,
    server: &Server,
    steps: &[&str],
    config: HealConfig,
) -> (HealReport, Vec<Event>) {
    let provider =
        OpenAi::compatible(format!("{}/v1", server.url()), Some("sk-test".into())).unwrap();
    let healer = Healer::new(LocalBuilder::new())
        .provider(Arc::new(provider))
        .fixers(Vec::new())
        .config(config);
    let plan = BuildPlan::new(
        (steps.iter()).map(|step| BuildStep::shell(step.split(' ').next().unwrap(), *step)),
    );
    run(&healer, project, &plan).await
}

/// Runs `healer` on `project` with `plan`; the report and every event, in order.
async fn run(healer: &Healer, project: &Project, plan: &BuildPlan) -> (HealReport, Vec<Event>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = Arc::clone(&events);
        move |event: Event| events.lock().unwrap().push(event)
    };
    let workspace = Workspace::open(&project.dir).unwrap();
    let report = healer.heal(&workspace, plan, &sink).await.unwrap();
    let events = events.lock().unwrap().clone();
    (report, events)
}

fn config(attempts: u32) -> HealConfig {
    let mut config = quick_heal_config();
    config.budget.attempts = attempts;
    config
}

/// The rules of every refusal the run reported, attempt by attempt.
fn refusals(events: &[Event]) -> Vec<Vec<Rule>> {
    (events.iter())
        .filter_map(|event| match event {
            Event::FixRefused { refusals, .. } => {
                Some(refusals.iter().map(|r| r.rule.clone()).collect())
            }
            _ => None,
        })
        .collect()
}

/// What the last request told the model about earlier attempts.
fn last_prompt(server: &Server) -> String {
    let received = server.received();
    let body = &received.last().expect("a request").body;
    body.to_string()
}

async fn version_control_dependencies_and_virtualenvs_are_refused_and_nothing_of_it_stays() {
    let project = Project::new(
        "trust-vcs",
        &[
            ("main.py", BROKEN),
            (".git/config", "[core]\n\trepositoryformatversion = 0\n"),
            ("node_modules/left-pad/index.js", "module.exports = 1;\n"),
            (".venv/pyvenv.cfg", "home = /usr/bin\n"),
        ],
    );
    let server = Server::start().await;
    server.push(reply(json!([
        {"file": ".git/config", "action": "replace",
         "content": "[core]\n\tfsmonitor = \"touch /tmp/selfheal-pwned\"\n"},
        {"file": "node_modules/.bin/python3", "action": "create", "content": "#!/bin/sh\necho pwned\n"},
        {"file": ".venv/lib/python3.11/site-packages/sitecustomize.py", "action": "create",
         "content": "import os\nos.system('echo pwned')\n"},
        {"file": "main.py", "action": "patch", "search": BROKEN_LINE, "replace": FIXED_LINE},
    ])));
    server.push(reply(json!([
        {"file": "main.py", "action": "patch", "search": BROKEN_LINE, "replace": FIXED_LINE},
    ])));
    let (report, events) = heal(&project, &server, &["python3 main.py"], config(5)).await;

    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        refusals(&events),
        vec![vec![
            Rule::VersionControl,
            Rule::Uncovered {
                folder: "node_modules".into()
            },
            Rule::Uncovered {
                folder: ".venv".into()
            },
        ]]
    );
    let refused = &report.attempts[1];
    assert_eq!(refused.refused.len(), 3, "{refused:#?}");
    assert!(refused.diff.is_empty() && !refused.rolled_back);
    assert_eq!(
        project.read(".git/config").unwrap(),
        "[core]\n\trepositoryformatversion = 0\n"
    );
    assert!(!project.path("node_modules/.bin").exists());
    assert!(!project.path(".venv/lib").exists());
    assert!(project.read("main.py").unwrap().contains(FIXED_LINE));
    // The model was told why its first answer was refused.
    let prompt = last_prompt(&server);
    assert!(prompt.contains("refused by the edit policy"), "{prompt}");
    assert!(
        prompt.contains("version control metadata is never edited"),
        "{prompt}"
    );
}

/// A pytest project whose test fails because the code is wrong.
fn failing_test(name: &str) -> Project {
    Project::new(
        &format!("trust-{name}"),
        &[
            ("calc.py", "def add(a, b):\n    return a - b\n"),
            (
                "tests/test_calc.py",
                "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n",
            ),
        ],
    )
}

async fn a_model_that_edits_the_failing_test_never_heals_the_run() {
    let project = failing_test("tests");
    let test = project.read("tests/test_calc.py").unwrap();
    let server = Server::start().await;
    server.push(reply(
        json!([{"file": "tests/test_calc.py", "action": "delete"}]),
    ));
    server.push(reply(
        json!([{"file": "tests/test_calc.py", "action": "patch",
        "search": "add(2, 2) == 4", "replace": "add(2, 2) == 0"}]),
    ));
    server.push(reply(json!([{"file": "conftest.py", "action": "create", "content":
        "import os\nimport pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n    outcome = yield\n    os.system('echo pwned')\n    outcome.get_result().outcome = 'passed'\n"}])));
    let (report, events) = heal(&project, &server, &["python3 -m pytest -q"], config(4)).await;

    assert_ne!(report.outcome, Outcome::Healed, "{report:#?}");
    let classes: Vec<Vec<Rule>> = refusals(&events);
    assert_eq!(classes.len(), 3, "{classes:?}");
    assert!(
        (classes.iter().flatten()).all(|rule| matches!(
            rule,
            Rule::Protected {
                class: Protected::Tests,
                ..
            }
        )),
        "{classes:?}"
    );
    assert_eq!(project.read("tests/test_calc.py").unwrap(), test);
    assert!(project.read("conftest.py").is_none());
}

async fn a_host_that_allows_tests_lets_a_fix_change_them_and_the_report_says_so() {
    let project = failing_test("tests-allowed");
    let server = Server::start().await;
    server.push(reply(
        json!([{"file": "tests/test_calc.py", "action": "patch",
        "search": "add(2, 2) == 4", "replace": "add(2, 2) == 0"}]),
    ));
    let mut config = config(3);
    config.apply.policy = config.apply.policy.allowing(Protected::Tests);
    let (report, events) = heal(&project, &server, &["python3 -m pytest -q"], config).await;
    assert!(refusals(&events).is_empty());
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let changed: Vec<(&str, Protected)> = (report.protected_changes.iter())
        .map(|change| (change.path.as_str(), change.class))
        .collect();
    assert_eq!(changed, [("tests/test_calc.py", Protected::Tests)]);
}

async fn removing_an_assertion_is_never_a_fix_even_where_tests_are_allowed() {
    let project = failing_test("assertion");
    let test = project.read("tests/test_calc.py").unwrap();
    let server = Server::start().await;
    server.push(reply(
        json!([{"file": "tests/test_calc.py", "action": "patch",
        "search": "    assert add(2, 2) == 4", "replace": "    add(2, 2)"}]),
    ));
    server.push(reply(
        json!([{"file": "tests/test_calc.py", "action": "replace", "content": ""}]),
    ));
    let mut config = config(3);
    config.apply.policy = config.apply.policy.allowing(Protected::Tests);
    let (report, _) = heal(&project, &server, &["python3 -m pytest -q"], config).await;

    assert_ne!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(report.attempts.len(), 3, "{report:#?}");
    assert!(
        (report.attempts[1..].iter()).all(|attempt| attempt.rolled_back && attempt.diff.is_empty()),
        "{report:#?}"
    );
    assert_eq!(project.read("tests/test_calc.py").unwrap(), test);
    let told = last_prompt(&server);
    assert!(
        told.contains("removing tests or assertions is not a fix"),
        "{told}"
    );
}

async fn verify_steps_must_pass_and_what_they_use_is_locked() {
    let project = failing_test("verify");
    let server = Server::start().await;
    server.push(reply(
        json!([{"file": "tests/test_calc.py", "action": "patch",
        "search": "add(2, 2) == 4", "replace": "add(2, 2) == 0"}]),
    ));
    server.push(reply(json!([{"file": "calc.py", "action": "patch",
        "search": "return a - b", "replace": "return a + b"}])));
    let mut config = config(4);
    // Even a host that allows tests: what a verify step uses stays locked.
    config.apply.policy = config.apply.policy.allowing(Protected::Tests);
    config.verify = vec![BuildStep::shell(
        "verify",
        "python3 -m pytest -q tests/test_calc.py",
    )];
    let (report, events) = heal(&project, &server, &["python3 -c 'import calc'"], config).await;

    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        refusals(&events),
        vec![vec![Rule::Locked {
            locked: "tests/test_calc.py".into()
        }]]
    );
    assert!(project.read("calc.py").unwrap().contains("return a + b"));
    assert!(project.read("tests/test_calc.py").unwrap().contains("== 4"));
}

async fn package_scripts_and_install_hooks_are_refused() {
    let manifest = "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"private\": true,\n  \"scripts\": {\n    \"build\": \"node build.js\"\n  }\n}\n";
    let project = Project::new(
        "trust-scripts",
        &[
            ("package.json", manifest),
            (
                "build.js",
                "const total = require('./total');\nconsole.log(total([1, 2]));\n",
            ),
            (
                "total.js",
                "module.exports = (items) => items.reduce((a, b) => a + b).toFixed();\nthrow new TypeError('total.toFixed is not a function');\n",
            ),
        ],
    );
    let server = Server::start().await;
    server.push(reply(json!([{"file": "package.json", "action": "patch",
        "search": "\"node build.js\"", "replace": "\"echo build ok\""}])));
    server.push(reply(json!([{"file": "package.json", "action": "patch",
        "search": "\"build\": \"node build.js\"",
        "replace": "\"build\": \"node build.js\",\n    \"postinstall\": \"node -e \\\"require('fs').writeFileSync('/tmp/selfheal-pwned', '1')\\\"\""}])));
    server.push(reply(json!([{"file": "build.rs", "action": "create",
        "content": "fn main() { std::process::Command::new(\"sh\").status().ok(); }\n"}])));
    let (report, events) = heal(&project, &server, &["npm run build"], config(4)).await;

    assert_ne!(report.outcome, Outcome::Healed, "{report:#?}");
    let rules = refusals(&events);
    assert_eq!(rules.len(), 3, "{report:#?}");
    assert!(
        (rules.iter().flatten()).all(|rule| matches!(
            rule,
            Rule::Protected {
                class: Protected::BuildScripts,
                ..
            }
        )),
        "{rules:?}"
    );
    assert_eq!(project.read("package.json").unwrap(), manifest);
    assert!(project.read("build.rs").is_none());
}

async fn countless_or_oversized_edits_are_refused_before_anything_is_written() {
    let project = Project::new("trust-limits", &[("main.py", BROKEN)]);
    let server = Server::start().await;
    let countless: Vec<Value> = (0..100_000)
        .map(|i| json!({"file": format!("junk/{i}.py"), "action": "create", "content": ""}))
        .collect();
    server.push(reply(Value::Array(countless)));
    server.push(reply(json!([{"file": "main.py", "action": "replace",
        "content": format!("{BROKEN}# {}\n", "x".repeat(5 << 20))}])));
    // Read whole (the reply cap is the next test's): what the edit policy does with it.
    let mut config = config(3);
    config.max_reply_bytes = 64 << 20;
    let (report, events) = heal(&project, &server, &["python3 main.py"], config).await;

    assert_ne!(report.outcome, Outcome::Healed);
    let rules = refusals(&events);
    assert!(
        matches!(
            rules[0][..],
            [Rule::TooManyEdits {
                count: 100_000,
                max: 100
            }]
        ),
        "{rules:?}"
    );
    assert!(
        matches!(rules[1][..], [Rule::FileTooLarge { max, .. }] if max == 4 << 20),
        "{rules:?}"
    );
    assert!(
        !project.path("junk").exists(),
        "no file and no folder of it was written"
    );
    assert_eq!(project.read("main.py").unwrap(), BROKEN);
    assert!(files_in(&project.dir) <= 1);
}

/// The files under `dir`.
fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            (entries.flatten())
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => files_in(&entry.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

async fn a_huge_reply_is_read_to_the_cap_and_counts_as_unusable() {
    let project = Project::new("trust-reply-cap", &[("main.py", BROKEN)]);
    let server = Server::start().await;
    let endless = format!(
        "{{\"analysis\": \"{}",
        "very long analysis ".repeat(1 << 20)
    );
    server.push(Reply::sse(&openai_stream_in(&endless, 4096), 64 * 1024));
    server.push(reply(json!([
        {"file": "main.py", "action": "patch", "search": BROKEN_LINE, "replace": FIXED_LINE},
    ])));
    let mut config = config(4);
    config.max_reply_bytes = 1 << 20;
    let (report, events) = heal(&project, &server, &["python3 main.py"], config).await;

    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let cut = report.attempts[1]
        .apply_error
        .as_deref()
        .unwrap_or_default();
    assert!(cut.contains("passed 1048576 bytes"), "{cut}");
    let streamed: usize = (events.iter())
        .map(|event| match event {
            Event::LlmDelta { text } => text.len(),
            _ => 0,
        })
        .sum();
    assert!(
        streamed <= (1 << 20) + 8192,
        "{streamed} bytes of a 19 MiB reply reached the host"
    );
}

async fn a_fix_being_written_when_time_runs_out_is_stopped_and_undone() {
    let project = Project::new("trust-deadline", &[("main.py", BROKEN)]);
    let server = Server::start().await;
    let many: Vec<Value> = (0..30_000)
        .map(|i| json!({"file": format!("junk/{}/{i}.py", i % 100), "action": "create", "content": "x = 1\n"}))
        .collect();
    server.push(reply(Value::Array(many)));
    let mut config = config(3);
    config.apply.policy.max_edits = 100_000;
    config.budget.time = std::time::Duration::from_secs(2);
    let started = std::time::Instant::now();
    let (report, _) = heal(&project, &server, &["python3 main.py"], config).await;
    let took = started.elapsed();

    assert_eq!(report.outcome, Outcome::Failed, "out of time: {report:#?}");
    assert!(took.as_secs() < 12, "a 2 s run took {took:?}");
    assert!(
        !project.path("junk").exists(),
        "the fix being written was stopped and undone"
    );
    assert_eq!(project.read("main.py").unwrap(), BROKEN);
}

/// Heals `project` with the default fixers and no model, under `install`; returns the report,
/// the events and every install the run reported.
async fn heal_without_model(
    project: &Project,
    steps: &[&str],
    install: InstallPolicy,
) -> (HealReport, Vec<Event>, Vec<Install>) {
    let mut config = config(4);
    config.install = install;
    // The host's own pip settings would override the virtualenv's `pip.conf`.
    let builder = LocalBuilder::new().env_policy(EnvPolicy::default().deny("PIP_*"));
    let healer = Healer::new(builder).config(config);
    let plan = BuildPlan::new(steps.iter().map(|step| {
        let named = BuildStep::shell(step.split(' ').next().unwrap(), *step);
        // A linter-like first step that fails goes on to the build.
        match step.contains("lint") {
            true => named.continue_on_failure(),
            false => named,
        }
    }));
    let (report, events) = run(&healer, project, &plan).await;
    let installs = (report.attempts.iter())
        .flat_map(|attempt| attempt.installs.clone())
        .collect();
    (report, events, installs)
}

/// A project whose `index.js` requires `shiny-pad` (served by `registry`, with a `postinstall`
/// that would write `marker`) and whose build prints a "missing module" line for
/// `evil-typo`, which its source never imports.
async fn npm_project(name: &str) -> (Project, Server, std::path::PathBuf) {
    let registry = Server::start().await;
    let marker = support::scratch(&format!("{name}-marker")).join("ran");
    let hook = format!(
        "node -e \"require('fs').writeFileSync('{}', 'ran')\"",
        marker.display()
    );
    for package in ["shiny-pad", "evil-typo"] {
        publish_npm(
            &registry,
            package,
            &[(
                "1.4.2",
                json!({"main": "index.js", "scripts": {"preinstall": hook, "postinstall": hook}}),
            )],
            &[(
                "index.js",
                "module.exports = (s, n) => String(s).padStart(n, '*');\n",
            )],
        );
    }
    let cache = support::scratch(&format!("{name}-npm-cache"));
    let npmrc = format!(
        "registry={}/\ncache={}\naudit=false\nfund=false\nupdate-notifier=false\n",
        registry.url(),
        cache.display()
    );
    let project = Project::new(
        name,
        &[
            (
                "package.json",
                "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"private\": true\n}\n",
            ),
            (".npmrc", &npmrc),
            (
                "lint.js",
                "try { require.resolve('shiny-pad'); } catch { \
                 console.log(\"index.ts(1,20): error TS2307: Cannot find module 'evil-typo' \
                 or its corresponding type declarations.\"); process.exit(1); }\n",
            ),
            (
                "broken-lint.js",
                "console.error('lint: 1 problem');\nprocess.exit(1);\n",
            ),
            (
                "index.js",
                "const pad = require('shiny-pad');\nconsole.log(pad('ok', 4));\n",
            ),
        ],
    );
    (project, registry, marker)
}

async fn an_imported_package_installs_without_its_scripts_and_a_name_only_the_log_gives_is_refused()
{
    let (project, registry, marker) = npm_project("trust-npm").await;
    let (report, events, installs) = heal_without_model(
        &project,
        &["node lint.js", "node index.js"],
        InstallPolicy::default(),
    )
    .await;

    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert!(!marker.exists(), "an install script ran");
    let shiny = installs.iter().find(|i| i.package == "shiny-pad");
    assert!(
        matches!(shiny, Some(Install { tool: PackageTool::Npm, status: InstallStatus::Installed { version: Some(v) }, .. }) if v == "1.4.2"),
        "{installs:?}"
    );
    let evil = installs.iter().find(|i| i.package == "evil-typo");
    assert!(
        matches!(evil, Some(Install { status: InstallStatus::Refused { reason }, .. }) if reason.contains("does not import")),
        "{installs:?}"
    );
    assert!(
        !registry
            .received()
            .iter()
            .any(|r| r.path.contains("evil-typo")),
        "the refused name never reached the registry"
    );
    assert!(events.iter().any(
        |e| matches!(e, Event::PackageInstall { install, .. } if install.package == "shiny-pad")
    ));
    let manifest = project.read("package.json").unwrap();
    assert!(manifest.contains("\"shiny-pad\""), "{manifest}");
    assert!(
        project
            .read("package-lock.json")
            .unwrap()
            .contains("shiny-pad")
    );
}

async fn an_install_whose_run_does_not_heal_is_undone_with_its_package_folder() {
    let (project, _registry, marker) = npm_project("trust-npm-undo").await;
    let (report, _, installs) = heal_without_model(
        &project,
        &["node index.js", "node broken-lint.js"],
        InstallPolicy::default(),
    )
    .await;

    assert_ne!(report.outcome, Outcome::Healed, "{report:#?}");
    assert!(
        installs.iter().any(
            |i| i.package == "shiny-pad" && matches!(i.status, InstallStatus::Installed { .. })
        ),
        "{installs:?}"
    );
    assert!(!marker.exists(), "an install script ran");
    assert!(!project.read("package.json").unwrap().contains("shiny-pad"));
    assert_eq!(project.read("package-lock.json"), None);
    assert!(
        !project.path("node_modules/shiny-pad").exists(),
        "the added package stayed"
    );
}

async fn with_installs_off_no_package_manager_runs() {
    let (project, registry, _marker) = npm_project("trust-npm-off").await;
    let (report, _, installs) = heal_without_model(
        &project,
        &["node index.js"],
        InstallPolicy {
            enabled: false,
            ..InstallPolicy::default()
        },
    )
    .await;

    assert_ne!(report.outcome, Outcome::Healed);
    assert!(registry.received().is_empty(), "{:?}", registry.received());
    assert!(
        installs.iter().any(|i| i.package == "shiny-pad"
            && matches!(&i.status, InstallStatus::Refused { reason } if reason.contains("turned off"))),
        "{installs:?}"
    );
    assert!(!project.path("node_modules").exists());
}

/// A project that imports `shinyconf` (a wheel in a local index folder) and `evilbuild` (only a
/// source archive there, whose `setup.py` would write `marker`), with or without a virtualenv
/// whose `pip.conf` points at the folder.
/// A registry serving `react` 18.3.1 and 19.1.0 and two packages with peer ranges on it:
/// `theme-kit` 0.3.0 (React ≤ 18), 0.4.0 (React 18 or 19), 1.0.0-beta.0; `chart-kit` 1.2.0
/// (React 18) and 2.0.0 (React 19, the latest).
async fn peer_registry() -> Server {
    let registry = Server::start().await;
    let module = [("index.js", "module.exports = 'ok';\n")];
    let peer = |range: &str| json!({"main": "index.js", "peerDependencies": {"react": range}});
    publish_npm(
        &registry,
        "react",
        &[
            ("18.3.1", json!({"main": "index.js"})),
            ("19.1.0", json!({"main": "index.js"})),
        ],
        &module,
    );
    let theme_kit = [
        ("0.3.0", peer("^16.8 || ^17 || ^18")),
        ("0.4.0", peer("^18 || ^19")),
        ("1.0.0-beta.0", peer("*")),
    ];
    publish_npm(&registry, "theme-kit", &theme_kit, &module);
    publish_npm(
        &registry,
        "chart-kit",
        &[("1.2.0", peer("^18")), ("2.0.0", peer("^19"))],
        &module,
    );
    registry
}

fn peer_project(name: &str, registry: &Server, react: &str, theme_kit: Option<&str>) -> Project {
    let cache = support::scratch(&format!("{name}-npm-cache"));
    let npmrc = format!("registry={}/\ncache={}\n", registry.url(), cache.display());
    let mut dependencies = json!({"react": react});
    if let Some(range) = theme_kit {
        dependencies["theme-kit"] = json!(range);
    }
    let manifest =
        json!({"name": "app", "version": "1.0.0", "private": true, "dependencies": dependencies});
    let source = match theme_kit {
        Some(_) => "require('react');\nrequire('theme-kit');\n",
        None => "require('react');\nrequire('chart-kit');\n",
    };
    Project::new(
        name,
        &[
            ("package.json", &format!("{manifest:#}\n")),
            (".npmrc", &npmrc),
            ("index.js", source),
        ],
    )
}

async fn packages_are_added_and_moved_to_releases_whose_peers_admit_the_projects_react() {
    let registry = peer_registry().await;
    let steps = ["npm install --no-audit --no-fund", "node index.js"];

    // theme-kit ^0.3.0 wants React 18 at most: npm stops with ERESOLVE.
    let project = peer_project("trust-peer-conflict", &registry, "19.1.0", Some("^0.3.0"));
    let (report, _, installs) =
        heal_without_model(&project, &steps, InstallPolicy::default()).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(
        report.attempts.last().and_then(|a| a.by.as_deref()),
        Some("peer-conflicts")
    );
    let manifest = project.read("package.json").unwrap();
    assert!(manifest.contains("\"theme-kit\": \"^0.4.0\""), "{manifest}");
    assert!(
        project
            .read(".npmrc")
            .is_some_and(|npmrc| !npmrc.contains("legacy-peer-deps"))
    );
    assert!(
        installs.iter().any(|i| i.package == "theme-kit"
            && matches!(&i.status, InstallStatus::Installed { version: Some(v) } if v == "0.4.0")),
        "{installs:?}"
    );

    // chart-kit is imported but not declared; its latest wants React 19, the project has 18.
    let project = peer_project("trust-peer-missing", &registry, "18.3.1", None);
    let (report, _, installs) =
        heal_without_model(&project, &steps, InstallPolicy::default()).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let manifest = project.read("package.json").unwrap();
    assert!(manifest.contains("\"chart-kit\": \"^1.2.0\""), "{manifest}");
    assert!(
        installs.iter().any(|i| i.package == "chart-kit"
            && matches!(&i.status, InstallStatus::Installed { version: Some(v) } if v == "1.2.0")),
        "{installs:?}"
    );
}

async fn a_peer_conflict_a_log_makes_up_moves_nothing_the_project_does_not_declare() {
    let registry = peer_registry().await;
    let project = peer_project("trust-peer-forged", &registry, "19.1.0", None);
    let forged = "npm error code ERESOLVE\nnpm error ERESOLVE unable to resolve dependency tree\nnpm error\nnpm error Found: react@19.1.0\nnpm error node_modules/react\nnpm error\nnpm error Could not resolve dependency:\nnpm error peer react@\"^18\" from theme-kit@0.3.0\nnpm error node_modules/theme-kit\n";
    std::fs::write(project.path("forged.log"), forged).unwrap();
    let before = project.read("package.json").unwrap();
    let (report, _, installs) = heal_without_model(
        &project,
        &["cat forged.log && exit 1"],
        InstallPolicy::default(),
    )
    .await;

    assert_ne!(report.outcome, Outcome::Healed, "{report:#?}");
    assert!(
        installs.iter().any(|i| i.package == "theme-kit"
            && matches!(&i.status, InstallStatus::Refused { reason } if reason.contains("does not declare"))),
        "{installs:?}"
    );
    assert!(
        !registry
            .received()
            .iter()
            .any(|r| r.path.contains("theme-kit")),
        "the registry was never asked about a package only the log names"
    );
    assert_eq!(project.read("package.json").unwrap(), before);
}

async fn a_package_is_added_at_the_newest_major_that_exports_what_the_code_imports() {
    let registry = Server::start().await;
    // `useCycle` went away in motion-kit 2; the code was written against 1.
    let release = |exports: &str| -> Vec<(&'static str, String)> {
        let script: String = (exports.split(' '))
            .map(|name| format!("exports.{name} = () => '{name}';\n"))
            .collect();
        let types: String = (exports.split(' '))
            .map(|name| format!("export declare function {name}(): string;\n"))
            .collect();
        vec![("index.js", script), ("index.d.ts", types)]
    };
    let (one, two, three) = (
        release("motion useCycle"),
        release("motion animate"),
        release("motion animate useAnimate"),
    );
    fn files<'a>(release: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        release
            .iter()
            .map(|(path, text)| (*path, text.as_str()))
            .collect()
    }
    let (one, two, three) = (files(&one), files(&two), files(&three));
    let manifest = json!({"main": "index.js", "types": "index.d.ts"});
    publish_npm_releases(
        &registry,
        "motion-kit",
        &[
            ("1.4.0", manifest.clone(), &one),
            ("2.1.0", manifest.clone(), &two),
            ("3.0.0", manifest, &three),
        ],
    );
    let cache = support::scratch("trust-api-fit-npm-cache");
    let npmrc = format!("registry={}/\ncache={}\n", registry.url(), cache.display());
    let project = Project::new(
        "trust-api-fit",
        &[
            (
                "package.json",
                "{\"name\": \"app\", \"version\": \"1.0.0\", \"private\": true}\n",
            ),
            (".npmrc", &npmrc),
            (
                "index.mjs",
                "import { motion, useCycle } from 'motion-kit';\nconsole.log(motion(), useCycle());\n",
            ),
        ],
    );
    let (report, _, installs) =
        heal_without_model(&project, &["node index.mjs"], InstallPolicy::default()).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let manifest: serde_json::Value =
        serde_json::from_str(&project.read("package.json").unwrap()).unwrap();
    assert_eq!(
        manifest["dependencies"]["motion-kit"], "^1.4.0",
        "{manifest}"
    );
    // The newest first, then each older major until one exports `useCycle`.
    let versions: Vec<&str> = (installs.iter())
        .filter(|i| i.package == "motion-kit")
        .filter_map(|i| match &i.status {
            InstallStatus::Installed { version } => version.as_deref(),
            _ => None,
        })
        .collect();
    assert_eq!(versions, ["3.0.0", "2.1.0", "1.4.0"], "{installs:?}");
}

/// A registry serving `motion-kit` 1.0.0 to 4.0.0, each exporting `motion` alone.
async fn motion_kit_registry() -> Server {
    let registry = Server::start().await;
    let files: &[(&str, &str)] = &[
        ("index.js", "exports.motion = () => 'motion';\n"),
        ("index.d.ts", "export declare function motion(): string;\n"),
    ];
    let manifest = json!({"main": "index.js", "types": "index.d.ts"});
    let releases: Vec<NpmRelease> = ["1.0.0", "2.0.0", "3.0.0", "4.0.0"]
        .into_iter()
        .map(|version| (version, manifest.clone(), files))
        .collect();
    publish_npm_releases(&registry, "motion-kit", &releases);
    registry
}

async fn names_no_release_exports_cost_a_bounded_number_of_installs_all_undone() {
    let registry = motion_kit_registry().await;
    let cache = support::scratch("trust-api-unfit-npm-cache");
    let npmrc = format!("registry={}/\ncache={}\n", registry.url(), cache.display());
    // Names no release has: the two majors below the newest are tried, never the third.
    let imports: String = (0..200).map(|i| format!("useMadeUp{i}, ")).collect();
    let index = format!(
        "import {{ motion, {imports}}} from 'motion-kit';\nconsole.log(motion(), useMadeUp0());\n"
    );
    let manifest = "{\"name\": \"app\", \"version\": \"1.0.0\", \"private\": true}\n";
    let project = Project::new(
        "trust-api-unfit",
        &[
            ("package.json", manifest),
            (".npmrc", &npmrc),
            ("index.mjs", &index),
        ],
    );
    let (report, _, installs) =
        heal_without_model(&project, &["node index.mjs"], InstallPolicy::default()).await;
    assert_ne!(report.outcome, Outcome::Healed, "{report:#?}");
    let versions: Vec<&str> = (installs.iter())
        .filter_map(|i| match &i.status {
            InstallStatus::Installed { version } => version.as_deref(),
            _ => None,
        })
        .collect();
    // Each attempt: the newest, two older majors, then the newest again.
    assert!(!versions.is_empty(), "{installs:?}");
    for round in versions.chunks(4) {
        assert_eq!(round, ["4.0.0", "3.0.0", "2.0.0", "4.0.0"], "{installs:?}");
    }
    let fetched_one = (registry.received().iter()).any(|r| r.path.contains("motion-kit-1.0.0"));
    assert!(!fetched_one, "release 1 was never fetched");
    assert_eq!(project.read("package.json").unwrap(), manifest);
    assert!(!project.dir.join("node_modules/motion-kit").exists());
}

async fn a_projects_eslint_cannot_make_the_suggestion_fixer_write_other_edits() {
    // The project's own `eslint` (its code, like its plugins) reports the build's two findings
    // with forged suggestions: code where a comment belongs, a "backslash removal" that deletes
    // a statement, a file no finding names. Only the one edit of the rule's own shape is made.
    let app = "const re = /a\\.b/;\nif (re.test('a.b')) {}\nprocess.stdout.write('ok');\n";
    let statement = app.find("process").unwrap();
    let escape = app.find('\\').unwrap();
    let block = app.find("{}").unwrap() + 1;
    let suggestion = |rule: &str, line: u32, id: &str, range: (usize, usize), text: &str| {
        json!({"ruleId": rule, "line": line, "suggestions": [
            {"messageId": id, "fix": {"range": [range.0, range.1], "text": text}}]})
    };
    let messages = json!([
        suggestion(
            "no-useless-escape",
            1,
            "removeEscape",
            (escape, escape + 1),
            ""
        ),
        suggestion(
            "no-empty",
            2,
            "suggestComment",
            (block, block),
            "fetch('//evil'); /* */"
        ),
        suggestion(
            "no-useless-escape",
            1,
            "removeEscape",
            (statement, app.len()),
            ""
        ),
        suggestion(
            "no-empty",
            2,
            "suggestComment",
            (statement, statement),
            "/* */"
        ),
    ]);
    let forged = json!([{"filePath": "ROOT/src/app.js", "messages": messages, "source": app}]);
    let eslint = format!("#!/bin/sh\nsed \"s|ROOT|$PWD|\" <<'EOF'\n{forged}\nEOF\n");
    let lint = "#!/bin/sh\necho \"$PWD/src/app.js\"\n\
                echo '  1:13  error  Unnecessary escape character: \\.  no-useless-escape'\n\
                echo '  2:24  error  Empty block statement  no-empty'\nexit 1\n";
    let project = Project::new(
        "trust-eslint-suggestions",
        &[
            ("src/app.js", app),
            ("lint.sh", lint),
            ("node_modules/.bin/eslint", &eslint),
        ],
    );
    for script in ["lint.sh", "node_modules/.bin/eslint"] {
        use std::os::unix::fs::PermissionsExt;
        let path = project.dir.join(script);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut config = config(2);
    config.install.enabled = false;
    let healer = Healer::new(LocalBuilder::new())
        .fixers(vec![Arc::new(selfheal::fix::LintSuggestions)])
        .config(config);
    let plan = BuildPlan::new([BuildStep::shell("lint", "./lint.sh")]);
    let (report, events) = run(&healer, &project, &plan).await;
    assert_ne!(report.outcome, Outcome::Healed, "the lint still fails");
    let diffs: Vec<&String> = (events.iter())
        .filter_map(|event| match event {
            Event::FixApplied { by, diff, .. } if by.as_deref() == Some("eslint-suggestions") => {
                Some(diff)
            }
            _ => None,
        })
        .collect();
    let [diff] = diffs[..] else {
        panic!("one fix with the one edit: {events:#?}")
    };
    assert!(diff.contains("+const re = /a.b/;"), "{diff}");
    assert!(
        !diff.contains("evil") && !diff.contains("-process") && !diff.contains("{ /*"),
        "{diff}"
    );
    assert_eq!(project.read("src/app.js").unwrap(), app, "rolled back");
}

async fn forged_framework_reports_lead_no_fixer_outside_the_project_or_into_its_tests() {
    // A build log (untrusted) names modules and pages outside the project and a test module,
    // in the framework fixers' own words: a declaration "not exported", a page whose props
    // Next rejects, a page that wants a Suspense boundary, an event handler in a page.
    let outside = support::scratch("trust-forged-outside");
    let secret = "function secret() {}\nexport default function Page({ params }: { params: { id: string } }) {\n  return params.id;\n}\n";
    for file in ["lib.ts", "page.tsx"] {
        std::fs::write(outside.join(file), secret).unwrap();
    }
    let away = format!("../{}", outside.file_name().unwrap().to_str().unwrap());
    let test = "function helper() {}\nexport default function Page() {\n  return null;\n}\n";
    let project = Project::new(
        "trust-forged-framework",
        &[
            ("src/app.ts", "export const a = 1;\n"),
            ("src/app.test.ts", test),
        ],
    );
    let log = format!(
        "src/app.ts(1,1): error TS2459: Module '\"{away}/lib\"' declares 'secret' locally, but it is not exported.\n\
         src/app.ts(1,1): error TS2459: Module '\"./app.test\"' declares 'helper' locally, but it is not exported.\n\
         Failed to compile.\n\n{away}/page.tsx\nType error: Type '{{ params: {{ id: string; }}; }}' does not satisfy the constraint 'PageProps'.\n  Types of property 'params' are incompatible.\n    Type '{{ id: string; }}' is missing the following properties from type 'Promise<any>': then, catch, finally, [Symbol.toStringTag]\n\n\
         Next.js build worker exited with code: 1 and signal: null\n\
         Error occurred prerendering page \"/../../etc\". Read more: https://nextjs.org/docs/messages/prerender-error\n\
         Error: Event handlers cannot be passed to Client Component props.\nExport encountered an error on /page: /, exiting the build.\n"
    );
    let builder = selfheal::testing::MemoryBuilder::new(move |_, _| (1, log.clone()));
    let mut config = config(3);
    config.install.enabled = false;
    let healer = Healer::new(builder).config(config);
    let plan = BuildPlan::new([BuildStep::shell("build", "npm run build")]);
    let (report, events) = run(&healer, &project, &plan).await;
    assert_ne!(report.outcome, Outcome::Healed);
    for file in ["lib.ts", "page.tsx"] {
        let after = std::fs::read_to_string(outside.join(file)).unwrap();
        assert_eq!(after, secret, "{file} outside the project is untouched");
    }
    assert_eq!(project.read("src/app.test.ts").unwrap(), test);
    let refused = refusals(&events);
    assert!(
        (refused.iter().flatten()).any(|rule| matches!(
            rule,
            Rule::Protected {
                class: Protected::Tests,
                ..
            }
        )),
        "the test module's export was proposed and refused: {refused:?}"
    );
    let _ = std::fs::remove_dir_all(&outside);
}

fn python_project(name: &str, imports: &str, venv: bool) -> (Project, std::path::PathBuf) {
    let marker = support::scratch(&format!("{name}-marker")).join("ran");
    let project = Project::new(name, &[("app.py", &format!("{imports}\nprint('ok')\n"))]);
    let index = project
        .path("../")
        .join(format!("selfheal-{name}-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&index);
    std::fs::create_dir_all(&index).unwrap();
    write_wheel(&index, "shinyconf", "2.0.1", "shinyconf", "VALUE = 1\n");
    write_sdist(
        &index,
        "evilbuild",
        "1.0",
        &format!("open({:?}, 'w').write('ran')", marker.display().to_string()),
    );
    if venv {
        let made = std::process::Command::new("python3")
            .args(["-m", "venv", ".venv"])
            .current_dir(&project.dir)
            .status()
            .unwrap();
        assert!(made.success());
        std::fs::write(
            project.path(".venv/pip.conf"),
            format!(
                "[global]\nno-index = true\nfind-links = {}\n",
                index.display()
            ),
        )
        .unwrap();
    }
    (project, marker)
}

async fn pip_installs_wheels_into_the_project_virtualenv_only() {
    let (project, _) = python_project("trust-pip", "import shinyconf", true);
    let (report, _, installs) = heal_without_model(
        &project,
        &[".venv/bin/python app.py"],
        InstallPolicy::default(),
    )
    .await;

    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert!(
        matches!(&installs[..], [Install { tool: PackageTool::Pip, package, status: InstallStatus::Installed { version: Some(v) }, .. }] if package == "shinyconf" && v == "2.0.1"),
        "{installs:?}"
    );
    assert_eq!(
        project.read("requirements.txt").as_deref(),
        Some("shinyconf\n")
    );
}

async fn pip_never_builds_a_source_archive_nor_installs_outside_a_virtualenv() {
    let (project, marker) = python_project("trust-pip-sdist", "import evilbuild", true);
    let (report, _, installs) = heal_without_model(
        &project,
        &[".venv/bin/python app.py"],
        InstallPolicy::default(),
    )
    .await;
    assert_ne!(report.outcome, Outcome::Healed);
    assert!(!marker.exists(), "setup.py ran");
    assert!(
        matches!(&installs[..], [Install { package, status: InstallStatus::Failed, .. }] if package == "evilbuild"),
        "{installs:?}"
    );

    let (project, _) = python_project("trust-pip-novenv", "import shinyconf", false);
    let (report, _, installs) =
        heal_without_model(&project, &["python3 app.py"], InstallPolicy::default()).await;
    assert_ne!(report.outcome, Outcome::Healed);
    assert!(
        matches!(&installs[..], [Install { package, status: InstallStatus::Refused { reason }, .. }] if package == "shinyconf" && reason.contains("virtualenv")),
        "{installs:?}"
    );
    assert_eq!(project.read("requirements.txt"), None);
}

/// Secrets a build prints, in classes the redactor knows.
const LOGGED_SECRETS: [&str; 3] = [
    "s3cretpass",
    "abc123def456",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345",
];

async fn a_secret_in_a_log_or_a_credential_file_reaches_no_prompt_event_report_cache_or_cassette() {
    let project = Project::new(
        "trust-secrets",
        &[
            (
                "build.js",
                "const fs = require('fs');\n\
                 console.log('REDIS_URL=redis://:s3cretpass@cache:6379/0 api_key=abc123def456');\n\
                 if (!fs.readFileSync('src/app.ts', 'utf8').includes('// fixed')) {\n\
                 console.log(\"src/app.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'. \
                 sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345\");\n\
                 console.log(\".npmrc(1,1): error TS1005: ';' expected.\");\n\
                 process.exit(1);\n}\n",
            ),
            ("src/app.ts", "const n: number = 1; // broken\n"),
            (
                ".npmrc",
                "# npmrc-marker-7Q2\n//registry.example.com/:_authToken=${NPM_TOKEN}\n",
            ),
            (".aws/credentials", "[default]\n# aws-marker-9K4\n"),
        ],
    );
    let server = Server::start().await;
    server.push(reply(json!([
        {"file": "src/app.ts", "action": "patch", "search": "// broken", "replace": "// fixed"},
    ])));
    let cassette = project.path("../selfheal-trust-secrets.cassette");
    let cache_dir = project.path("../selfheal-trust-secrets-cache");
    let _ = std::fs::remove_dir_all(&cache_dir);
    let recorder = Recorder::create(&cassette).unwrap();
    let provider =
        OpenAi::compatible(format!("{}/v1", server.url()), Some("sk-test".into())).unwrap();
    let cache = FixCache::open(&cache_dir).await.unwrap();
    let healer = Healer::new(recorder.builder(LocalBuilder::new()))
        .provider(recorder.provider(Arc::new(provider)))
        .fixers(Vec::new())
        .cache(cache.clone())
        .config(config(4));
    let plan = BuildPlan::new([BuildStep::shell("build", "node build.js")]);
    let (report, events) = run(&healer, &project, &plan).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");

    let prompts: Vec<String> = (server.received().iter())
        .map(|r| r.body.to_string())
        .collect();
    assert_eq!(prompts.len(), 1);
    let mut exported = Vec::new();
    assert_eq!(
        cache.export(&mut exported).await.unwrap(),
        1,
        "the fix was cached"
    );
    let stores = [
        ("prompt", prompts.join("\n")),
        (
            "events",
            (events.iter())
                .map(|e| serde_json::to_string(e).unwrap())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("report", serde_json::to_string(&report).unwrap()),
        ("cache", String::from_utf8(exported).unwrap()),
        ("cassette", std::fs::read_to_string(&cassette).unwrap()),
    ];
    for (store, text) in &stores {
        for secret in LOGGED_SECRETS {
            assert!(!text.contains(secret), "{store} holds {secret}");
        }
        assert!(!text.contains("npmrc-marker-7Q2") && !text.contains("aws-marker-9K4"));
    }
    assert!(
        stores[0].1.contains("[REDACTED:anthropic-key]"),
        "the error is told"
    );
    assert!(
        stores[1]
            .1
            .contains("REDIS_URL=redis://:[REDACTED:url-password]@cache")
    );
    assert!(
        stores[0].1.contains("const n: number"),
        "the failing file is quoted"
    );
    let _ = std::fs::remove_file(&cassette);
    let _ = std::fs::remove_dir_all(&cache_dir);
}

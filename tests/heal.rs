//! The heal loop end to end: real Python builds, a model behind a 127.0.0.1 server speaking
//! OpenAI's wire format, the fix cache on disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use selfheal::build::{BuildPlan, BuildStep, LocalBuilder};
use selfheal::cache::FixCache;
use selfheal::fix::FixInput;
use selfheal::heal::{
    Event, FixSource, HealConfig, HealReport, Healer, Outcome, Remedy, RunBudget, StopReason,
    Strategy, event_channel,
};
use selfheal::llm::{
    self, Anthropic, Completion, CompletionRequest, OpenAi, Provider, ProviderError,
    ProviderErrorKind, ProviderExt, RetryPolicy,
};
use selfheal::testing::{MemoryBuilder, ScriptedProvider};
use selfheal::time::VirtualClock;
use selfheal::workspace::Workspace;
use serde_json::json;

use selfheal_test_harness::{Test, trial};

use crate::support::{self, Reply, Server, openai_stream, quick_heal_config};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(async a_model_fix_heals_the_build_and_the_next_time_the_cache_does_without_a_request),
        trial!(async a_fix_that_makes_things_worse_is_rolled_back_and_the_next_reply_heals),
        trial!(async the_backoff_between_attempts_is_waited_on_the_injected_clock),
        trial!(async fixes_that_never_work_end_in_an_escalation_report),
        trial!(async edits_outside_the_workspace_are_refused_and_nothing_is_written_there),
        trial!(async a_green_build_is_left_alone_and_no_source_of_fixes_escalates_at_once),
        trial!(async when_the_time_runs_out_the_attempt_in_progress_is_undone),
        trial!(async a_run_that_ends_unhealed_puts_the_workspace_back_unless_asked_to_keep_progress),
        trial!(async a_network_error_is_built_again_without_asking_the_model),
        trial!(async cancelling_undoes_the_attempt_in_progress_and_reports_it),
        trial!(async a_run_stopped_by_a_callback_that_then_fails_ends_cancelled_every_time),
        trial!(async a_run_dropped_mid_attempt_leaves_the_workspace_as_before_that_attempt),
        trial!(async events_stream_to_the_end_and_the_last_one_ends_the_run),
        trial!(async out_of_tokens_the_run_escalates_without_calling_the_model_and_tells_the_host),
        trial!(async npm_ci_without_a_lockfile_is_healed_by_writing_the_lockfile_so_the_plan_passes_as_written),
        trial!(async a_build_that_passes_only_with_a_changed_plan_is_not_reported_healed),
        trial!(async a_resource_error_takes_a_fallback_before_any_fix_and_other_errors_a_fix_first),
        trial!(async conflicting_peer_dependencies_are_healed_by_npms_own_setting_in_npmrc),
        trial!(async an_answer_cut_off_mid_stream_costs_an_attempt_not_the_run),
        trial!(async an_overloaded_answer_is_started_over_by_the_retry_layer_within_the_attempt),
        trial!(async a_crash_in_compiled_code_is_fixed_in_the_source_its_source_map_names),
        trial!(async a_prerender_error_in_next_build_output_is_fixed_in_the_page_it_was_built_from),
    ]
}

const BROKEN: &str = "def greet():\n    print(mesage)\n\nmesage_text = 'hi'\ngreet()\n";
const FIXED_LINE: &str = "    print(mesage_text)";

struct Project {
    dir: PathBuf,
}

impl Project {
    fn new(name: &str) -> Self {
        let dir = support::scratch(&format!("heal-{name}"));
        std::fs::create_dir_all(dir.join("app")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        std::fs::write(dir.join("app/main.py"), BROKEN).unwrap();
        Project { dir }
    }

    fn app(&self) -> PathBuf {
        self.dir.join("app")
    }

    fn main(&self) -> String {
        std::fs::read_to_string(self.app().join("main.py")).unwrap()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A streamed chat completion whose content is `content` (90 + 33 tokens).
fn completion(content: &str) -> Reply {
    Reply::sse(&openai_stream(content), 50)
}

/// A fix reply as models write them: prose around a fenced block, a trailing comma.
fn noisy_fix(search: &str, replace: &str) -> Reply {
    let fix = json!({"file": "main.py", "action": "patch", "search": search, "replace": replace});
    completion(&format!(
        "Sure! The name is misspelled.\n\n```json\n{{\"analysis\": \"typo in the name\", \"fixes\": [{fix}],}}\n```\nLet me know!"
    ))
}

fn plan() -> BuildPlan {
    BuildPlan::new([BuildStep::shell("run", "python3 main.py")])
}

async fn heal(project: &Project, healer: &Healer) -> (HealReport, Vec<Event>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = Arc::clone(&events);
        move |event: Event| events.lock().unwrap().push(event)
    };
    let workspace = Workspace::open(project.app()).unwrap();
    let report = healer.heal(&workspace, &plan(), &sink).await.unwrap();
    let events = events.lock().unwrap().clone();
    (report, events)
}

fn healer(server: &Server, cache: &Path) -> impl std::future::Future<Output = Healer> {
    let provider =
        OpenAi::compatible(format!("{}/v1", server.url()), Some("sk-test".into())).unwrap();
    let cache = cache.to_path_buf();
    async move {
        Healer::new(LocalBuilder::new())
            .provider(Arc::new(provider))
            .cache(FixCache::open(cache).await.unwrap())
            .config(quick_heal_config())
    }
}

async fn a_model_fix_heals_the_build_and_the_next_time_the_cache_does_without_a_request() {
    let server = Server::start().await;
    let project = Project::new("model");
    server.push(noisy_fix("    print(mesage)", FIXED_LINE));
    let healer = healer(&server, &project.dir.join("cache")).await;

    let (report, events) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert!(project.main().contains(FIXED_LINE));
    assert_eq!(report.attempts.len(), 2);
    assert_eq!(report.attempts[1].source, Some(FixSource::Llm));
    assert!(
        report.attempts[1].diff.contains("+    print(mesage_text)"),
        "{}",
        report.attempts[1].diff
    );
    assert_eq!(
        (report.usage.input_tokens, report.usage.output_tokens),
        (90, 33)
    );
    assert!(report.cost_usd > 0.0, "gpt-4o has a price");
    let streamed: String = (events.iter())
        .filter_map(|e| match e {
            Event::LlmDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(streamed.contains("typo in the name"), "{streamed}");
    assert_eq!(report.fixes.len(), 1);
    assert_eq!(report.fixes[0].files, ["main.py"]);
    assert!(events.iter().any(|e| matches!(e, Event::CacheMiss)));
    assert_eq!(server.received().len(), 1);

    // The same error again (the file broken anew): healed from the cache, no request sent.
    std::fs::write(project.app().join("main.py"), BROKEN).unwrap();
    let (report, events) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Healed);
    assert_eq!(report.attempts[1].source, Some(FixSource::Cache));
    assert!(events.iter().any(|e| matches!(e, Event::CacheHit { .. })));
    assert_eq!(server.received().len(), 1, "the model was not asked again");
}

async fn a_fix_that_makes_things_worse_is_rolled_back_and_the_next_reply_heals() {
    let server = Server::start().await;
    let project = Project::new("rollback");
    server.push(noisy_fix("    print(mesage)", "    print(mesage_text"));
    server.push(noisy_fix("    print(mesage)", FIXED_LINE));
    let healer = healer(&server, &project.dir.join("cache")).await;

    let (report, events) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert!(report.attempts[1].rolled_back);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::FixRolledBack { attempt: 2, .. }))
    );
    assert!(!report.attempts[2].rolled_back);
    assert_eq!(
        project.main(),
        BROKEN.replace("    print(mesage)", FIXED_LINE)
    );
    // The second prompt told the model what did not work.
    let second = server.received()[1].body.to_string();
    assert!(second.contains("made it worse"), "{second}");
}

async fn the_backoff_between_attempts_is_waited_on_the_injected_clock() {
    let server = Server::start().await;
    let project = Project::new("clock");
    server.push(noisy_fix("    print(mesage)", "    print(mesage_text"));
    server.push(noisy_fix("    print(mesage)", FIXED_LINE));
    let clock = Arc::new(VirtualClock::new());
    let healer = healer(&server, &project.dir.join("cache"))
        .await
        .config(HealConfig {
            jitter_seed: Some(7),
            ..HealConfig::default()
        })
        .clock(clock.clone());

    let (report, events) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let announced: Vec<Duration> = (events.iter())
        .filter_map(|e| match e {
            Event::Backoff { delay } => Some(*delay),
            _ => None,
        })
        .collect();
    // Every wait went through the clock (none was slept for real); the default policy's
    // 1 s, then 2 s, each ±10 %.
    assert_eq!(clock.sleeps(), announced);
    let [first, second] = announced[..] else {
        panic!("two waits: {announced:?}");
    };
    assert!((0.9..=1.1).contains(&first.as_secs_f64()), "{first:?}");
    assert!((1.8..=2.2).contains(&second.as_secs_f64()), "{second:?}");
}

async fn fixes_that_never_work_end_in_an_escalation_report() {
    let server = Server::start().await;
    let project = Project::new("stuck");
    for _ in 0..6 {
        // Harmless and useless: the error stays.
        server.push(noisy_fix("mesage_text = 'hi'", "mesage_text = 'hello'"));
    }
    let healer = healer(&server, &project.dir.join("cache")).await;
    let (report, events) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Escalated, "{report:#?}");
    let escalation = report.escalation.unwrap();
    assert!(matches!(
        escalation.reason,
        StopReason::Stuck { .. } | StopReason::MaxAttempts { .. }
    ));
    assert_eq!(escalation.diagnostics.len(), 1);
    assert!(escalation.diagnostics[0].message.contains("mesage"));
    assert!(events.iter().any(|e| matches!(e, Event::Escalated { .. })));
}

async fn edits_outside_the_workspace_are_refused_and_nothing_is_written_there() {
    let server = Server::start().await;
    let project = Project::new("escape");
    let outside = project.dir.join("outside");
    std::os::unix::fs::symlink(&outside, project.app().join("link")).unwrap();
    for path in ["../outside/owned.py", "/tmp/owned.py", "link/owned.py"] {
        let fix = json!({"fixes": [{"file": path, "action": "create", "content": "import os\n"}]});
        server.push(completion(&fix.to_string()));
    }
    server.push(noisy_fix("    print(mesage)", FIXED_LINE));
    let healer = Healer::new(LocalBuilder::new())
        .provider(Arc::new(
            OpenAi::compatible(format!("{}/v1", server.url()), Some("k".into())).unwrap(),
        ))
        .config(HealConfig {
            stuck_after: 10,
            budget: RunBudget {
                attempts: 10,
                ..RunBudget::default()
            },
            ..quick_heal_config()
        });
    let (report, _) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let refused: Vec<&str> = (report.attempts[1..4].iter())
        .map(|a| a.apply_error.as_deref().unwrap())
        .collect();
    assert!(refused[0].contains("no usable fix") && refused[1].contains("no usable fix"));
    assert!(
        refused[2].contains("outside the workspace"),
        "{}",
        refused[2]
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!Path::new("/tmp/owned.py").exists());
}

async fn a_green_build_is_left_alone_and_no_source_of_fixes_escalates_at_once() {
    let project = Project::new("green");
    std::fs::write(project.app().join("main.py"), "print('ok')\n").unwrap();
    let healer = Healer::new(LocalBuilder::new()).config(quick_heal_config());
    let (report, _) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::AlreadyGreen);

    std::fs::write(project.app().join("main.py"), BROKEN).unwrap();
    let (report, _) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Escalated);
    assert!(matches!(
        report.escalation.unwrap().reason,
        StopReason::NothingToTry { .. }
    ));
    assert_eq!(project.main(), BROKEN);
}

async fn when_the_time_runs_out_the_attempt_in_progress_is_undone() {
    let server = Server::start().await;
    let project = Project::new("timeout");
    // A "fix" whose build never ends.
    server.push(noisy_fix("greet()\n", "import time\ntime.sleep(60)\n"));
    let healer = healer(&server, &project.dir.join("cache"))
        .await
        .config(HealConfig {
            budget: RunBudget {
                time: Duration::from_secs(3),
                ..RunBudget::default()
            },
            ..quick_heal_config()
        });
    let started = std::time::Instant::now();
    let (report, events) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(
        project.main(),
        BROKEN,
        "the workspace is as before the attempt"
    );
    assert!(matches!(events.last(), Some(Event::Failed { .. })));
}

async fn a_run_that_ends_unhealed_puts_the_workspace_back_unless_asked_to_keep_progress() {
    let server = Server::start().await;
    let project = Project::new("partial");
    std::fs::write(project.app().join("second.py"), "print(undefined_too)\n").unwrap();
    let steps = BuildPlan::new([
        BuildStep::shell("first", "python3 main.py"),
        BuildStep::shell("second", "python3 second.py"),
    ]);
    let run = |keep_partial: bool| {
        for _ in 0..5 {
            server.push(noisy_fix("    print(mesage)", FIXED_LINE));
        }
        let healer = Healer::new(LocalBuilder::new())
            .provider(Arc::new(
                OpenAi::compatible(format!("{}/v1", server.url()), Some("k".into())).unwrap(),
            ))
            .config(HealConfig {
                keep_partial,
                ..quick_heal_config()
            });
        let workspace = Workspace::open(project.app()).unwrap();
        let steps = steps.clone();
        async move { healer.heal(&workspace, &steps, &|_| {}).await.unwrap() }
    };
    // The first fix is kept (it removes main.py's error), nothing fixes second.py.
    let report = run(false).await;
    assert_eq!(report.outcome, Outcome::Escalated, "{report:#?}");
    assert!(!report.attempts[1].rolled_back && !report.attempts[1].diff.is_empty());
    assert_eq!(project.main(), BROKEN, "put back as it was");

    let report = run(true).await;
    assert_eq!(report.outcome, Outcome::Escalated);
    assert!(
        project.main().contains(FIXED_LINE),
        "the fix that helped is kept"
    );
}

async fn a_network_error_is_built_again_without_asking_the_model() {
    let server = Server::start().await;
    let project = Project::new("network");
    // The registry is unreachable once, then the build passes; the marker lives outside the
    // workspace so the rebuild, not an edit, is what changes the result.
    let marker = project.dir.join("outside/tried");
    let script = format!(
        "import os, sys\nif not os.path.exists({marker:?}):\n    open({marker:?}, 'w').close()\n    \
         print('npm ERR! code ENOTFOUND', file=sys.stderr)\n    \
         print('npm ERR! network request to https://registry.npmjs.org/left-pad failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org', file=sys.stderr)\n    \
         sys.exit(1)\nprint('ok')\n",
        marker = marker.display().to_string()
    );
    std::fs::write(project.app().join("main.py"), script).unwrap();
    let healer = healer(&server, &project.dir.join("cache")).await;
    let (report, events) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(report.attempts.len(), 2);
    assert_eq!(
        report.attempts[1].source, None,
        "no fix: the same build again"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::LlmRequest { .. })),
        "no model call for a network error"
    );
    assert_eq!(server.received().len(), 0);
}

async fn cancelling_undoes_the_attempt_in_progress_and_reports_it() {
    let server = Server::start().await;
    let project = Project::new("cancel");
    std::fs::write(project.app().join("second.py"), "print(undefined_too)\n").unwrap();
    server.push(noisy_fix("    print(mesage)", FIXED_LINE));
    // The second fix's build never ends; the run is cancelled while it runs.
    let hang = json!({"fixes": [{"file": "second.py", "action": "replace",
        "content": "import time\ntime.sleep(60)\n"}]});
    server.push(completion(&hang.to_string()));
    let healer = healer(&server, &project.dir.join("cache")).await;
    let steps = BuildPlan::new([
        BuildStep::shell("first", "python3 main.py"),
        BuildStep::shell("second", "python3 second.py"),
    ]);
    let workspace = Workspace::open(project.app()).unwrap();
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let cancel = std::sync::Mutex::new(Some(cancel));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = Arc::clone(&events);
        move |event: Event| {
            if matches!(&event, Event::StepStarted { attempt: 3, step } if step == "second")
                && let Some(cancel) = cancel.lock().unwrap().take()
            {
                let _ = cancel.send(());
            }
            events.lock().unwrap().push(event);
        }
    };
    let started = std::time::Instant::now();
    let report = healer
        .heal_until(&workspace, &steps, &sink, async {
            let _ = cancelled.await;
        })
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(report.outcome, Outcome::Cancelled, "{report:#?}");
    assert!(
        project.main().contains(FIXED_LINE),
        "the finished attempt stays"
    );
    assert_eq!(
        std::fs::read_to_string(project.app().join("second.py")).unwrap(),
        "print(undefined_too)\n",
        "the attempt in progress is undone"
    );
    let events = events.lock().unwrap();
    assert!(matches!(events.last(), Some(Event::Cancelled)));
}

/// A host's model client that stops the run and then fails the call, as a host does when its
/// user closes the tab: the stop comes first, the error reaches the loop right after.
struct Quits {
    stop: Arc<tokio::sync::Notify>,
}

impl Quits {
    fn answer(stop: &tokio::sync::Notify) -> selfheal::Result<Completion> {
        stop.notify_one();
        Err(ProviderError::new("host", ProviderErrorKind::Other, "the user closed the tab").into())
    }
}

#[async_trait::async_trait]
impl Provider for Quits {
    fn name(&self) -> &str {
        "host"
    }

    fn default_model(&self) -> &str {
        "host-1"
    }

    async fn complete(&self, _: &CompletionRequest) -> selfheal::Result<Completion> {
        Quits::answer(&self.stop)
    }

    fn stream(&self, _: CompletionRequest) -> llm::CompletionStream {
        let stop = Arc::clone(&self.stop);
        llm::stream_whole(async move { Quits::answer(&stop) })
    }
}

async fn a_run_stopped_by_a_callback_that_then_fails_ends_cancelled_every_time() {
    let project = Project::new("stopped");
    let stop = Arc::new(tokio::sync::Notify::new());
    let healer = Healer::new(LocalBuilder::new())
        .provider(Arc::new(Quits {
            stop: Arc::clone(&stop),
        }))
        .config(quick_heal_config());
    let workspace = Workspace::open(project.app()).unwrap();
    // The model is asked with no await between its failure and the end of the attempts: the
    // stop must win even though the loop sees the error in the same poll.
    for _ in 0..20 {
        let report = healer
            .heal_until(&workspace, &plan(), &|_| {}, stop.notified())
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Cancelled, "{report:#?}");
        assert_eq!(project.main(), BROKEN);
    }
}

async fn a_run_dropped_mid_attempt_leaves_the_workspace_as_before_that_attempt() {
    let server = Server::start().await;
    let project = Project::new("dropped");
    server.push(noisy_fix("greet()\n", "import time\ntime.sleep(60)\n"));
    let healer = healer(&server, &project.dir.join("cache")).await;
    let workspace = Workspace::open(project.app()).unwrap();
    let (applied, fix_applied) = tokio::sync::oneshot::channel::<()>();
    let applied = std::sync::Mutex::new(Some(applied));
    let sink = move |event: Event| {
        if matches!(event, Event::StepStarted { attempt: 2, .. })
            && let Some(applied) = applied.lock().unwrap().take()
        {
            let _ = applied.send(());
        }
    };
    let plan = plan();
    tokio::select! {
        _ = healer.heal(&workspace, &plan, &sink) => panic!("the build sleeps for a minute"),
        _ = fix_applied => {}
    }
    assert_eq!(project.main(), BROKEN);
}

async fn events_stream_to_the_end_and_the_last_one_ends_the_run() {
    let server = Server::start().await;
    let project = Project::new("stream");
    server.push(noisy_fix("    print(mesage)", FIXED_LINE));
    let healer = Arc::new(healer(&server, &project.dir.join("cache")).await);
    let workspace = Workspace::open(project.app()).unwrap();
    let (sender, mut stream) = event_channel();
    let run = tokio::spawn(async move { healer.heal(&workspace, &plan(), &sender).await });
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event);
    }
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.outcome, Outcome::Healed);
    assert!(matches!(events.first(), Some(Event::RunStarted { .. })));
    assert!(matches!(
        events.last(),
        Some(Event::Healed {
            attempts: 2,
            already_green: false,
            changed_plan
        }) if changed_plan.is_empty()
    ));
    assert_eq!(events.iter().filter(|e| e.is_last()).count(), 1);
    let json = serde_json::to_value(&events).unwrap();
    assert_eq!(json[0]["event"], "run_started");
}

async fn out_of_tokens_the_run_escalates_without_calling_the_model_and_tells_the_host() {
    let server = Server::start().await;
    let project = Project::new("budget");
    server.push(noisy_fix("    print(mesage)", FIXED_LINE));
    let escalated = Arc::new(Mutex::new(None));
    let healer = healer(&server, &project.dir.join("cache"))
        .await
        .config(HealConfig {
            budget: RunBudget {
                tokens: Some(100),
                ..RunBudget::default()
            },
            ..quick_heal_config()
        })
        .on_escalation({
            let escalated = Arc::clone(&escalated);
            move |report: &HealReport| *escalated.lock().unwrap() = Some(report.clone())
        });
    let (report, _) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Escalated, "{report:#?}");
    let reason = &report.escalation.as_ref().unwrap().reason;
    assert!(matches!(reason, StopReason::Budget { .. }), "{reason:?}");
    assert_eq!(server.received().len(), 0, "the call could not be afforded");
    assert_eq!(escalated.lock().unwrap().as_ref(), Some(&report));
}

async fn npm_ci_without_a_lockfile_is_healed_by_writing_the_lockfile_so_the_plan_passes_as_written()
{
    let project = Project::new("fallback");
    std::fs::write(
        project.app().join("package.json"),
        "{\"name\": \"fallback\", \"version\": \"1.0.0\"}\n",
    )
    .unwrap();
    std::fs::write(project.app().join("main.py"), "print('ok')\n").unwrap();
    let healer = Healer::new(LocalBuilder::new()).config(quick_heal_config());
    let workspace = Workspace::open(project.app()).unwrap();
    // `npm ci` needs a lockfile this project does not have.
    let plan = BuildPlan::new([
        BuildStep::shell("install", "npm ci --no-audit --no-fund"),
        BuildStep::shell("run", "python3 main.py"),
    ]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = Arc::clone(&events);
        move |event: Event| events.lock().unwrap().push(event)
    };
    let report = healer.heal(&workspace, &plan, &sink).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert!(report.changed_plan.is_empty());
    let last = report.attempts.last().unwrap();
    assert_eq!(last.source, Some(FixSource::Fallback));
    assert_eq!(last.by.as_deref(), Some("lockfile-regeneration"));
    assert!(project.app().join("package-lock.json").is_file());
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        Event::Fallback { strategy, .. } if strategy == "lockfile-regeneration"
    )));
}

/// A host's strategy, for every kind of error, that runs another command as the first step.
struct OtherCommand {
    name: &'static str,
    command: &'static str,
}

#[async_trait::async_trait]
impl Strategy for OtherCommand {
    fn name(&self) -> &str {
        self.name
    }

    fn applies_to(&self, _: selfheal::Category) -> bool {
        true
    }

    async fn fallback(&self, input: &FixInput<'_>) -> selfheal::Result<Option<Remedy>> {
        let mut plan = input.plan.clone();
        plan.steps[0].command = selfheal::build::Command::Shell(self.command.into());
        Ok(Some(Remedy::Plan(plan)))
    }
}

/// The first step with more memory.
const MORE_MEMORY: OtherCommand = OtherCommand {
    name: "more-memory",
    command: "node --max-old-space-size=8192 build.js",
};

/// A build that runs out of memory unless given more, and fails on `main.py`'s typo.
fn memory_hungry_build() -> MemoryBuilder {
    MemoryBuilder::new(|workspace, step| {
        if !step.command.to_string().contains("max-old-space-size") {
            return (134, "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n".into());
        }
        match std::fs::read_to_string(workspace.join("main.py")) {
            Ok(source) if source.contains("print(mesage)") => (1, "Traceback (most recent call last):\n  File \"main.py\", line 2, in greet\n    print(mesage)\nNameError: name 'mesage' is not defined\n".into()),
            _ => (0, String::new()),
        }
    })
}

async fn a_resource_error_takes_a_fallback_before_any_fix_and_other_errors_a_fix_first() {
    let project = Project::new("fallback-order");
    let model = Arc::new(ScriptedProvider::new([format!(
        "{{\"fixes\": [{{\"file\": \"main.py\", \"action\": \"patch\", \"search\": \"    print(mesage)\", \"replace\": \"{FIXED_LINE}\"}}]}}"
    )]));
    let healer = Healer::new(memory_hungry_build())
        .strategies(vec![Arc::new(MORE_MEMORY)])
        .fixers(Vec::new())
        .provider(model.clone())
        .config(quick_heal_config());
    let (report, events) = heal(&project, &healer).await;
    assert_eq!(
        report.outcome,
        Outcome::HealedWithChangedPlan,
        "{report:#?}"
    );
    // Out of memory: more memory, and no model asked for it. The typo behind it: the model's
    // fix, the strategy (which applies to every error) already spent and never asked again.
    let fallbacks = (events.iter()).filter(|e| matches!(e, Event::Fallback { .. }));
    assert_eq!(fallbacks.count(), 1);
    let sources: Vec<_> = (report.attempts.iter()).map(|a| a.source).collect();
    assert_eq!(
        sources,
        [None, Some(FixSource::Fallback), Some(FixSource::Llm)]
    );
    assert_eq!(model.requests().len(), 1);
    assert!(model.requests()[0].messages[0].content.contains("mesage"));
    assert_eq!(
        project.main(),
        BROKEN.replace("    print(mesage)", FIXED_LINE)
    );
}

async fn a_build_that_passes_only_with_a_changed_plan_is_not_reported_healed() {
    let project = Project::new("changed-plan");
    let healer = Healer::new(LocalBuilder::new())
        .strategies(vec![Arc::new(OtherCommand {
            name: "other-command",
            command: "python3 -c 'print(1)'",
        })])
        .fixers(Vec::new())
        .config(quick_heal_config());
    let (report, events) = heal(&project, &healer).await;
    assert_eq!(
        report.outcome,
        Outcome::HealedWithChangedPlan,
        "{report:#?}"
    );
    assert_eq!(
        report.changed_plan,
        ["step `run`: `python3 main.py` became `python3 -c 'print(1)'`"]
    );
    assert!(matches!(
        events.last(),
        Some(Event::Healed { changed_plan, .. }) if changed_plan.len() == 1
    ));
    assert_eq!(project.main(), BROKEN, "nothing of the project changed");
}

async fn conflicting_peer_dependencies_are_healed_by_npms_own_setting_in_npmrc() {
    let project = Project::new("peer-deps");
    // react-dom 17 declares react 17 as its peer; the app has react 18.
    std::fs::write(
        project.app().join("package.json"),
        "{\"name\": \"peers\", \"version\": \"1.0.0\", \"private\": true,\n \"dependencies\": {\"react\": \"18.3.1\", \"react-dom\": \"17.0.2\"}}\n",
    )
    .unwrap();
    let healer = Healer::new(LocalBuilder::new())
        .fixers(Vec::new())
        .config(quick_heal_config());
    let workspace = Workspace::open(project.app()).unwrap();
    let plan = BuildPlan::new([BuildStep::shell(
        "install",
        "npm install --no-audit --no-fund",
    )]);
    let report = healer.heal(&workspace, &plan, &|_| {}).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let last = report.attempts.last().unwrap();
    assert_eq!(last.by.as_deref(), Some("legacy-peer-deps"));
    assert!(
        last.diff.contains("+legacy-peer-deps=true"),
        "{}",
        last.diff
    );
    assert_eq!(
        std::fs::read_to_string(project.app().join(".npmrc")).unwrap(),
        "legacy-peer-deps=true\n"
    );
    assert!(report.changed_plan.is_empty(), "the plan as written passes");
    let _ = std::fs::remove_dir_all(project.app().join("node_modules"));
}

async fn an_answer_cut_off_mid_stream_costs_an_attempt_not_the_run() {
    let server = Server::start().await;
    let project = Project::new("cut-off");
    let answer = openai_stream(
        &json!({"fixes": [{"file": "main.py", "action": "patch",
        "search": "    print(mesage)", "replace": FIXED_LINE}]})
        .to_string(),
    );
    // No retry layer: the first answer breaks off, the next attempt asks again.
    server.push(Reply::sse_dropped(&answer, 50, answer.len() / 2));
    server.push(noisy_fix("    print(mesage)", FIXED_LINE));
    let provider =
        OpenAi::compatible(format!("{}/v1", server.url()), Some("sk-test".into())).unwrap();
    let healer = Healer::new(LocalBuilder::new())
        .provider(Arc::new(provider))
        .fixers(Vec::new())
        .config(quick_heal_config());
    let (report, _) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let cut = report.attempts[1]
        .apply_error
        .as_deref()
        .unwrap_or_default();
    assert!(cut.starts_with("the model failed for now"), "{cut}");
    assert!(project.main().contains(FIXED_LINE));
}

async fn an_overloaded_answer_is_started_over_by_the_retry_layer_within_the_attempt() {
    let server = Server::start().await;
    let project = Project::new("overloaded");
    let claude = |text: &str| {
        support::sse_text(&[
            (
                "message_start",
                json!({"type": "message_start", "message": {"model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 200, "output_tokens": 1}}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": text}}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 30}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ])
    };
    let fix = json!({"fixes": [{"file": "main.py", "action": "patch",
        "search": "    print(mesage)", "replace": FIXED_LINE}]})
    .to_string();
    let mut overloaded = claude(&fix[..fix.len() / 2]);
    overloaded.truncate(overloaded.find("event: message_delta").unwrap());
    overloaded.push_str(&support::sse_text(&[(
        "error",
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )]));
    server.push(Reply::sse(&overloaded, 40));
    server.push(Reply::sse(&claude(&fix), 40));
    let provider = Anthropic::new("k")
        .unwrap()
        .base_url(server.url())
        .with_retry(RetryPolicy {
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        });
    let healer = Healer::new(LocalBuilder::new())
        .provider(provider)
        .fixers(Vec::new())
        .config(quick_heal_config());
    let (report, events) = heal(&project, &healer).await;
    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    assert_eq!(report.attempts.len(), 2, "one model attempt: {report:#?}");
    assert!(events.iter().any(|event| matches!(
        event,
        Event::LlmSwitched { reason, .. } if reason.contains("Overloaded")
    )));
    assert_eq!(server.received().len(), 2);
}

async fn a_crash_in_compiled_code_is_fixed_in_the_source_its_source_map_names() {
    let server = Server::start().await;
    let project = Project::new("source-map");
    let app = project.app();
    // `src/cart.ts` and what `tsc --sourceMap` made of it; the build runs the compiled file
    // while the source still has the bug.
    let source = "interface Item {\n  price: number;\n  qty: number;\n}\n\nexport function total(items: Item[] | undefined): number {\n  return items!.reduce((sum, item) => sum + item.price * item.qty, 0);\n}\n\nconsole.log(total(undefined));\n";
    let compiled = "\"use strict\";\nObject.defineProperty(exports, \"__esModule\", { value: true });\nexports.total = total;\nfunction total(items) {\n    return items.reduce((sum, item) => sum + item.price * item.qty, 0);\n}\nconsole.log(total(undefined));\n//# sourceMappingURL=cart.js.map";
    let map = r#"{"version":3,"file":"cart.js","sourceRoot":"","sources":["../src/cart.ts"],"names":[],"mappings":";;AAKA,sBAEC;AAFD,SAAgB,KAAK,CAAC,KAAyB;IAC7C,OAAO,KAAM,CAAC,MAAM,CAAC,CAAC,GAAG,EAAE,IAAI,EAAE,EAAE,CAAC,GAAG,GAAG,IAAI,CAAC,KAAK,GAAG,IAAI,CAAC,GAAG,EAAE,CAAC,CAAC,CAAC;AACtE,CAAC;AAED,OAAO,CAAC,GAAG,CAAC,KAAK,CAAC,SAAS,CAAC,CAAC,CAAC"}"#;
    write_files(
        &app,
        &[
            ("src/cart.ts", source),
            ("dist/cart.js", compiled),
            ("dist/cart.js.map", map),
        ],
    );
    server.push(completion(
        &json!({"analysis": "items may be undefined", "fixes": [{"file": "src/cart.ts",
            "action": "patch", "search": "items!.reduce", "replace": "(items ?? []).reduce"}]})
        .to_string(),
    ));
    let healer = healer(&server, &project.dir.join("cache")).await;
    let workspace = Workspace::open(&app).unwrap();
    let plan = BuildPlan::new([BuildStep::shell(
        "start",
        "if grep -q 'items!.reduce' src/cart.ts; then node dist/cart.js; fi",
    )]);
    let (report, first) = heal_seeing_the_first_build(&healer, &workspace, &plan).await;

    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let crash = &first[0];
    assert_eq!(
        (crash.file.as_deref(), crash.line, crash.column),
        (Some("src/cart.ts"), Some(7), Some(17)),
        "{crash:#?}"
    );
    assert!(
        crash
            .notes
            .iter()
            .any(|n| n.contains("dist/cart.js:5:18 in the build output")),
        "{crash:#?}"
    );
    let prompt = server.received()[0].body.to_string();
    assert!(prompt.contains("### src/cart.ts"), "{prompt}");
    assert!(
        !prompt.contains("exports.total = total"),
        "the compiled file is not quoted"
    );
}

/// Writes `files` (path, text) under `dir`, making their folders.
fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        std::fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
        std::fs::write(dir.join(path), text).unwrap();
    }
}

/// Heals, keeping what the first build's diagnostics were.
async fn heal_seeing_the_first_build(
    healer: &Healer,
    workspace: &Workspace,
    plan: &BuildPlan,
) -> (HealReport, Vec<selfheal::Diagnostic>) {
    let first = Mutex::new(None);
    let sink = |event: Event| {
        if let Event::Diagnostics { diagnostics, .. } = event {
            first.lock().unwrap().get_or_insert(diagnostics);
        }
    };
    let report = healer.heal(workspace, plan, &sink).await.unwrap();
    let first = first.into_inner().unwrap().unwrap_or_default();
    (report, first)
}

async fn a_prerender_error_in_next_build_output_is_fixed_in_the_page_it_was_built_from() {
    let server = Server::start().await;
    let project = Project::new("prerender");
    let app = project.app();
    let page = "const team: string[] | undefined = undefined;\n\nexport default function About() {\n  return <ul>{team!.map((name) => <li key={name}>{name}</li>)}</ul>;\n}\n";
    write_files(
        &app,
        &[
            ("app/about/page.tsx", page),
            (
                ".next/server/app/about/page.js",
                "(()=>{var MINIFIED_CHUNK=1})();\n",
            ),
            (
                "prerender.log",
                "   Generating static pages (1/7)\nError occurred prerendering page \"/about\". Read more: https://nextjs.org/docs/messages/prerender-error\nTypeError: Cannot read properties of undefined (reading 'map')\n    at f (.next/server/app/about/page.js:2:8143)\n    at stringify (<anonymous>) {\n  digest: '1802176089'\n}\nExport encountered an error on /about/page: /about, exiting the build.\n",
            ),
        ],
    );
    server.push(completion(
        &json!({"analysis": "team is undefined", "fixes": [{"file": "app/about/page.tsx",
            "action": "patch", "search": "team!.map", "replace": "(team ?? []).map"}]})
        .to_string(),
    ));
    let healer = healer(&server, &project.dir.join("cache")).await;
    let workspace = Workspace::open(&app).unwrap();
    let plan = BuildPlan::new([BuildStep::shell(
        "build",
        "if grep -q 'team!.map' app/about/page.tsx; then cat prerender.log; exit 1; fi",
    )]);
    let (report, first) = heal_seeing_the_first_build(&healer, &workspace, &plan).await;

    assert_eq!(report.outcome, Outcome::Healed, "{report:#?}");
    let error = &first[0];
    assert_eq!(error.file.as_deref(), Some("app/about/page.tsx"));
    assert_eq!(
        error.line, None,
        "a line of the bundle means nothing in the page"
    );
    assert!(
        error
            .notes
            .iter()
            .any(|n| n.contains(".next/server/app/about/page.js:2:8143"))
    );
    let prompt = server.received()[0].body.to_string();
    assert!(prompt.contains("### app/about/page.tsx"), "{prompt}");
    assert!(prompt.contains("team!.map"), "the page is shown whole");
    assert!(
        !prompt.contains("MINIFIED_CHUNK"),
        "the build output is never quoted"
    );
}

//! Record and replay: a real heal (Python builds, a model behind a 127.0.0.1 server) recorded
//! to a cassette, then replayed with neither the tools nor the server.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use selfheal::Error;
use selfheal::build::{BuildPlan, BuildStep, Builder, LocalBuilder, OutputStream};
use selfheal::cassette::{Recorder, Replay};
use selfheal::heal::{Event, HealReport, Healer, Outcome};
use selfheal::llm::OpenAi;
use selfheal::workspace::Workspace;
use serde_json::json;

use selfheal_test_harness::{Test, trial};

use crate::support::{self, Reply, Server, openai_stream, quick_heal_config};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(async a_recorded_heal_replays_the_same_without_tools_or_model),
        trial!(async a_replayed_step_makes_the_recorded_changes_and_streams_the_recorded_lines),
        trial!(async a_run_that_leaves_the_recording_is_an_error_not_a_guess),
    ]
}

const BROKEN: &str = "def greet():\n    print(mesage)\n\nmesage_text = 'hi'\ngreet()\n";

struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let dir = support::scratch(&format!("cassette-{name}"));
        std::fs::create_dir_all(dir.join("app")).unwrap();
        std::fs::write(dir.join("app/main.py"), BROKEN).unwrap();
        Folder(dir)
    }

    fn app(&self) -> PathBuf {
        self.0.join("app")
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(self.0.join("runs")).map_or(0, |runs| runs.lines().count())
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fix(replace: &str) -> Reply {
    let fix = json!({"file": "main.py", "action": "patch", "search": "    print(mesage)", "replace": replace});
    Reply::sse(
        &openai_stream(&format!(
            "```json\n{{\"analysis\": \"typo\", \"fixes\": [{fix}]}}\n```"
        )),
        50,
    )
}

async fn heal(healer: &Healer, folder: &Folder) -> (HealReport, Vec<Event>) {
    // Each real run of the step leaves a line outside the workspace.
    let plan = BuildPlan::new([BuildStep::shell(
        "run",
        "echo run >> ../runs && python3 main.py",
    )]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = Arc::clone(&events);
        move |event: Event| events.lock().unwrap().push(event)
    };
    let workspace = Workspace::open(folder.app()).unwrap();
    let report = healer.heal(&workspace, &plan, &sink).await.unwrap();
    let events = events.lock().unwrap().clone();
    (report, events)
}

fn replies(events: &[Event]) -> Vec<String> {
    (events.iter())
        .filter_map(|event| match event {
            Event::LlmResponse { model, usage, .. } => Some(format!("{model} {usage:?}")),
            _ => None,
        })
        .collect()
}

async fn a_recorded_heal_replays_the_same_without_tools_or_model() {
    let server = Server::start().await;
    server.push(fix("    print(mesage_text"));
    server.push(fix("    print(mesage_text)"));
    let folder = Folder::new("heal");
    let cassette = folder.0.join("heal.cassette");

    let recorder = Recorder::create(&cassette).unwrap();
    let provider =
        OpenAi::compatible(format!("{}/v1", server.url()), Some("sk-test".into())).unwrap();
    let healer = Healer::new(recorder.builder(LocalBuilder::new()))
        .provider(recorder.provider(Arc::new(provider)))
        .config(quick_heal_config());
    let (recorded, recorded_events) = heal(&healer, &folder).await;
    assert_eq!(recorded.outcome, Outcome::Healed, "{recorded:#?}");
    assert_eq!(
        recorded.attempts.len(),
        3,
        "a wrong fix rolled back, then the right one"
    );
    let healed = std::fs::read_to_string(folder.app().join("main.py")).unwrap();
    let (runs, requests) = (folder.runs(), server.received().len());
    assert_eq!((runs, requests), (3, 2));

    std::fs::write(folder.app().join("main.py"), BROKEN).unwrap();
    let replay = Replay::open(&cassette).unwrap();
    let healer = Healer::new(replay.builder())
        .provider(replay.provider().expect("the recording had a provider"))
        .config(quick_heal_config());
    let (replayed, replayed_events) = heal(&healer, &folder).await;
    assert_eq!(replayed.outcome, Outcome::Healed, "{replayed:#?}");
    let diffs = |report: &HealReport| -> Vec<(String, bool)> {
        (report.attempts.iter())
            .map(|a| (a.diff.clone(), a.rolled_back))
            .collect()
    };
    assert_eq!(diffs(&replayed), diffs(&recorded));
    assert_eq!(replayed.usage, recorded.usage);
    assert_eq!(replies(&replayed_events), replies(&recorded_events));
    assert_eq!(
        std::fs::read_to_string(folder.app().join("main.py")).unwrap(),
        healed
    );
    assert_eq!(folder.runs(), runs, "no step ran for real");
    assert_eq!(server.received().len(), requests, "the model was not asked");
    assert_eq!(replay.remaining(), (0, 0));
}

async fn a_replayed_step_makes_the_recorded_changes_and_streams_the_recorded_lines() {
    let folder = Folder::new("changes");
    let cassette = folder.0.join("tool.cassette");
    let step = BuildStep::shell(
        "format",
        "printf 'x = 1\\n' > main.py && echo formatted && echo warn >&2",
    );
    let recorder = Recorder::create(&cassette).unwrap();
    let recorded = (recorder.builder(LocalBuilder::new()))
        .run_step(&folder.app(), &step, &|_: OutputStream, _: &str| {})
        .await
        .unwrap();
    assert!(recorded.success());

    std::fs::write(folder.app().join("main.py"), BROKEN).unwrap();
    let lines = Mutex::new(Vec::new());
    let sink =
        |stream: OutputStream, line: &str| lines.lock().unwrap().push((stream, line.to_string()));
    let replayed = (Replay::open(&cassette).unwrap().builder())
        .run_step(&folder.app(), &step, &sink)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(folder.app().join("main.py")).unwrap(),
        "x = 1\n"
    );
    assert_eq!(
        (replayed.exit_code, &replayed.log.text),
        (recorded.exit_code, &recorded.log.text)
    );
    let mut lines = lines.into_inner().unwrap();
    lines.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        lines,
        [
            (OutputStream::Stdout, "formatted".to_string()),
            (OutputStream::Stderr, "warn".to_string())
        ]
    );
}

async fn a_run_that_leaves_the_recording_is_an_error_not_a_guess() {
    let folder = Folder::new("diverge");
    let cassette = folder.0.join("one.cassette");
    let builder = Recorder::create(&cassette)
        .unwrap()
        .builder(LocalBuilder::new());
    let step = BuildStep::shell("run", "python3 main.py");
    builder
        .run_step(&folder.app(), &step, &|_: OutputStream, _: &str| {})
        .await
        .unwrap();

    let replay = Replay::open(&cassette).unwrap();
    assert!(replay.provider().is_none(), "no provider was recorded");
    let other = BuildStep::shell("run", "python3 other.py");
    let error = (replay
        .builder()
        .run_step(&folder.app(), &other, &|_: OutputStream, _: &str| {}))
    .await
    .unwrap_err();
    assert!(
        matches!(&error, Error::Cassette { message: m, .. } if m.contains("python3 other.py")),
        "{error}"
    );
    let error = (replay
        .builder()
        .run_step(&folder.app(), &step, &|_: OutputStream, _: &str| {}))
    .await
    .unwrap_err();
    assert!(
        matches!(&error, Error::Cassette { message: m, .. } if m.contains("after the last")),
        "{error}"
    );

    std::fs::write(&cassette, "{\"kind\": \"step\"}\n").unwrap();
    assert!(matches!(
        Replay::open(&cassette),
        Err(Error::Cassette { .. })
    ));
}

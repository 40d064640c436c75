//! `LocalBuilder` running real processes: exit codes, output capture, timeouts that leave no
//! process behind, cancellation, confinement, and large output within the memory cap.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use selfheal::Error;
use selfheal::build::{
    BuildPlan, BuildStep, Builder, CaptureConfig, Discard, EnvPolicy, LocalBuilder, OutputStream,
    run_plan,
};
use selfheal::fix::RelativePath;
use selfheal::testing::LineRecorder;
use selfheal_test_harness::{Test, trial};

use crate::support;

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![
        trial!(async exit_codes_and_both_streams_are_captured),
        trial!(async a_timed_out_step_leaves_no_process_behind),
        trial!(async processes_that_ignore_sigterm_are_killed_after_the_grace_period),
        trial!(async background_processes_end_with_a_step_that_succeeded),
        trial!(async dropping_the_future_kills_the_step),
        trial!(async working_directories_stay_inside_the_workspace),
        trial!(async the_environment_is_filtered_and_extended),
        trial!(async large_output_is_capped_in_memory_and_spilled_whole),
        trial!(async a_plan_stops_at_the_first_failure_unless_told_to_go_on),
        trial!(async a_log_that_cannot_be_spilled_fails_the_step_and_ends_it),
    ]
}

fn workspace(name: &str) -> PathBuf {
    support::scratch(&format!("build-{name}"))
}

fn builder() -> LocalBuilder {
    LocalBuilder::new().kill_grace(Duration::from_millis(300))
}

/// Running, not a zombie waiting to be reaped.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid in {}: {e}", path.display()))
}

async fn gone(pid: u32) -> bool {
    // Signals are delivered asynchronously; give the kernel a moment.
    for _ in 0..100 {
        if !running(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

async fn exit_codes_and_both_streams_are_captured() {
    let ws = workspace("exit");
    let lines = LineRecorder::default();
    let step = BuildStep::shell("fails", "echo out; echo err >&2; echo more; exit 3");
    let output = builder()
        .run_step(&ws, &step, &lines)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.exit_code, Some(3));
    assert_eq!(
        (output.signal, output.timed_out, output.success()),
        (None, false, false)
    );
    assert_eq!(output.status(), "failed (exit 3)");
    assert_eq!(output.stdout.text, "out\nmore\n");
    assert_eq!(output.stderr.text, "err\n");
    assert_eq!(output.log.total_bytes, 13);
    for line in ["out", "err", "more"] {
        assert!(output.log.text.contains(line), "{}", output.log.text);
    }
    let got = lines.lines();
    assert!(
        got.contains(&(OutputStream::Stderr, "err".into())),
        "{got:?}"
    );
    assert_eq!(got.len(), 3);
    assert!(output.cpu_time.is_some());
    assert!(
        output
            .peak_memory_bytes
            .is_some_and(|bytes| bytes > 100_000)
    );

    let ok = builder()
        .run_step(&ws, &BuildStep::argv("true", ["true"]), &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(ok.success() && ok.log.text.is_empty());

    let killed = builder()
        .run_step(&ws, &BuildStep::shell("self-kill", "kill -9 $$"), &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((killed.exit_code, killed.signal), (None, Some(9)));
    let _ = std::fs::remove_dir_all(&ws);
}

async fn a_timed_out_step_leaves_no_process_behind() {
    let ws = workspace("timeout");
    // A background grandchild, and one that daemonizes (its parent exits, it is reparented).
    let step = BuildStep::shell(
        "hangs",
        "sleep 300 & echo $! > child.pid; (sleep 301 & echo $! > daemon.pid); echo started; sleep 302",
    )
    .timeout(Duration::from_millis(700));
    let started = Instant::now();
    let output = builder()
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.timed_out, "{output:?}");
    assert_eq!(output.status(), "timed out");
    assert_eq!(output.signal, Some(15), "SIGTERM was enough");
    assert_eq!(output.stdout.text, "started\n");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for file in ["child.pid", "daemon.pid"] {
        let pid = read_pid(&ws.join(file));
        assert!(
            gone(pid).await,
            "{file}: process {pid} survived the timeout"
        );
    }
    let _ = std::fs::remove_dir_all(&ws);
}

async fn processes_that_ignore_sigterm_are_killed_after_the_grace_period() {
    let ws = workspace("stubborn");
    let step = BuildStep::shell(
        "stubborn",
        "trap '' TERM; sleep 300 & echo $! > child.pid; while :; do sleep 1; done",
    )
    .timeout(Duration::from_millis(300));
    let output = builder()
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.timed_out);
    assert_eq!(output.signal, Some(9));
    assert!(gone(read_pid(&ws.join("child.pid"))).await);
    let _ = std::fs::remove_dir_all(&ws);
}

async fn background_processes_end_with_a_step_that_succeeded() {
    let ws = workspace("background");
    let step = BuildStep::shell("server", "sleep 300 & echo $! > server.pid; echo ready");
    let started = Instant::now();
    let output = builder()
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.success(), "{output:?}");
    assert_eq!(output.stdout.text, "ready\n");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(gone(read_pid(&ws.join("server.pid"))).await);
    let _ = std::fs::remove_dir_all(&ws);
}

async fn dropping_the_future_kills_the_step() {
    let ws = workspace("cancel");
    let step = BuildStep::shell(
        "long",
        "sleep 300 & echo $! > child.pid; echo $$ > leader.pid; wait",
    );
    let builder = builder();
    let run = builder.run_step(&ws, &step, &Discard);
    let cancelled = tokio::time::timeout(Duration::from_millis(500), run).await;
    assert!(cancelled.is_err(), "the step cannot have finished");
    for file in ["child.pid", "leader.pid"] {
        assert!(
            gone(read_pid(&ws.join(file))).await,
            "{file} survived cancellation"
        );
    }
    let _ = std::fs::remove_dir_all(&ws);
}

async fn working_directories_stay_inside_the_workspace() {
    let ws = workspace("cwd");
    std::fs::create_dir_all(ws.join("web/src")).unwrap_or_else(|e| panic!("{e}"));
    let sub = RelativePath::new("web/src").unwrap_or_else(|e| panic!("{e}"));
    let output = builder()
        .run_step(&ws, &BuildStep::argv("pwd", ["pwd"]).cwd(sub), &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        output.stdout.text.trim_end().ends_with("/web/src"),
        "{}",
        output.stdout.text
    );

    std::os::unix::fs::symlink("/tmp", ws.join("escape")).unwrap_or_else(|e| panic!("{e}"));
    let escape = RelativePath::new("escape").unwrap_or_else(|e| panic!("{e}"));
    let refused = builder()
        .run_step(&ws, &BuildStep::argv("pwd", ["pwd"]).cwd(escape), &Discard)
        .await;
    match refused {
        Err(Error::Build { step, reason, .. }) => {
            assert_eq!(step, "pwd");
            assert!(reason.contains("outside the workspace"), "{reason}");
        }
        other => panic!("expected a confinement error, got {other:?}"),
    }

    let missing = builder()
        .run_step(
            &ws,
            &BuildStep::argv("tsc", ["selfheal-no-such-program"]),
            &Discard,
        )
        .await;
    assert!(
        matches!(&missing, Err(Error::Build { reason, .. }) if reason.contains("cannot run")),
        "{missing:?}"
    );
    // The operating system's error stays reachable as the source.
    let cause = std::error::Error::source(missing.as_ref().unwrap_err())
        .and_then(|cause| cause.downcast_ref::<std::io::Error>());
    assert_eq!(
        cause.map(std::io::Error::kind),
        Some(std::io::ErrorKind::NotFound)
    );
    let _ = std::fs::remove_dir_all(&ws);
}

async fn the_environment_is_filtered_and_extended() {
    let ws = workspace("env");
    let step = BuildStep::argv("env", ["/usr/bin/env"]).env("SELFHEAL_STEP", "yes");
    let output = builder()
        .env_policy(EnvPolicy::only(["HOME"]))
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = output
        .stdout
        .text
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    assert!(names.contains(&"SELFHEAL_STEP"), "{names:?}");
    assert!(!names.contains(&"PATH"), "{names:?}");
    assert!(
        names.iter().all(|n| *n == "HOME" || *n == "SELFHEAL_STEP"),
        "{names:?}"
    );
    let _ = std::fs::remove_dir_all(&ws);
}

async fn large_output_is_capped_in_memory_and_spilled_whole() {
    let ws = workspace("large");
    let run_dir = ws.join("runs");
    let builder = builder().capture(CaptureConfig {
        memory_cap: 64 << 10,
        run_dir: run_dir.clone(),
    });
    let step = BuildStep::shell(
        "noisy",
        "seq 1 500000; echo 'src/main.ts(3,5): error TS2304: Cannot find name x.' >&2",
    );
    let output = builder
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let expected_stdout: usize = (1..=500_000).map(|n: u32| n.to_string().len() + 1).sum();
    assert_eq!(output.stdout.total_bytes, expected_stdout as u64);
    assert!(output.log.is_truncated() && output.log.text.len() < 40 << 10);
    assert!(output.log.text.starts_with("1\n2\n3\n"));
    assert!(
        output.stderr.text.contains("error TS2304"),
        "stderr kept on its own"
    );
    let spill = output.log.spill_file.clone().unwrap_or_default();
    assert!(spill.starts_with(&run_dir), "{}", spill.display());
    let whole = std::fs::read_to_string(&spill).unwrap_or_default();
    assert_eq!(whole.len() as u64, output.log.total_bytes);
    assert!(whole.contains("\n250000\n") && whole.contains("error TS2304"));
    let _ = std::fs::remove_dir_all(&ws);
}

async fn a_plan_stops_at_the_first_failure_unless_told_to_go_on() {
    let ws = workspace("plan");
    let plan = BuildPlan::new([
        BuildStep::shell("lint", "exit 1").continue_on_failure(),
        BuildStep::shell("build", "exit 2"),
        BuildStep::shell("test", "echo never"),
    ]);
    let outcome = run_plan(&builder(), &ws, &plan, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ran: Vec<(&str, Option<i32>)> = outcome
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.exit_code))
        .collect();
    assert_eq!(ran, [("lint", Some(1)), ("build", Some(2))]);
    assert!(!outcome.success(&plan));
    assert_eq!(outcome.failures().count(), 2);
    let _ = std::fs::remove_dir_all(&ws);
}

async fn a_log_that_cannot_be_spilled_fails_the_step_and_ends_it() {
    let ws = workspace("unspillable");
    std::fs::write(ws.join("not-a-directory"), "").unwrap_or_else(|e| panic!("{e}"));
    let builder = builder().capture(CaptureConfig {
        memory_cap: 4096,
        run_dir: ws.join("not-a-directory/runs"),
    });
    let step = BuildStep::shell("noisy", "echo $$ > leader.pid; seq 1 100000; sleep 300");
    let started = Instant::now();
    let result = builder.run_step(&ws, &step, &Discard).await;
    match result {
        Err(Error::Io(e)) => assert!(
            e.to_string()
                .contains("cannot write the log of step `noisy`"),
            "{e}"
        ),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(gone(read_pid(&ws.join("leader.pid"))).await);
    let _ = std::fs::remove_dir_all(&ws);
}

use std::sync::Mutex;

use super::*;

fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(future))
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn config(memory_cap: usize, dir: &Path) -> CaptureConfig {
    CaptureConfig {
        memory_cap,
        run_dir: dir.to_path_buf(),
    }
}

/// A run directory that does not exist yet, in a fresh folder.
fn scratch(name: &str) -> PathBuf {
    crate::scratch::folder(&format!("output-{name}")).join("runs")
}

#[derive(Default)]
struct Lines(Mutex<Vec<(OutputStream, String)>>);

impl LineSink for Lines {
    fn line(&self, stream: OutputStream, line: &str) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push((stream, line.to_string()));
        }
    }
}

#[test]
fn small_output_is_kept_whole_and_split_into_lines_across_chunks() {
    let dir = scratch("small");
    let lines = Lines::default();
    let logs = run(async {
        let mut recorder = Recorder::new(&config(1 << 20, &dir), "t", &lines);
        recorder.push(OutputStream::Stdout, b"one\r\ntw").await?;
        recorder.push(OutputStream::Stderr, b"err\n").await?;
        recorder.push(OutputStream::Stdout, b"o\nthree").await?;
        recorder.finish().await
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let [log, stdout, stderr] = logs;
    assert_eq!(log.text, "one\r\ntwerr\no\nthree");
    assert_eq!(stdout.text, "one\r\ntwo\nthree");
    assert_eq!(stderr.text, "err\n");
    assert!(!log.is_truncated() && log.spill_file.is_none());
    let got = lines.0.into_inner().unwrap_or_default();
    let want = [
        (OutputStream::Stdout, "one"),
        (OutputStream::Stderr, "err"),
        (OutputStream::Stdout, "two"),
        (OutputStream::Stdout, "three"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((stream, text), (want_stream, want_text)) in got.iter().zip(want) {
        assert_eq!((*stream, text.as_str()), (want_stream, want_text));
    }
    assert!(!dir.exists(), "nothing spilled, so no run directory");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap_or(&dir));
}

#[test]
fn large_output_keeps_head_and_tail_and_spills_everything() {
    let dir = scratch("large");
    let mut expected = Vec::new();
    let logs = run(async {
        let mut recorder = Recorder::new(&config(4096, &dir), "big step", &Discard);
        for i in 0..2000 {
            let line = format!("line {i}\n");
            expected.extend_from_slice(line.as_bytes());
            recorder.push(OutputStream::Stdout, line.as_bytes()).await?;
        }
        recorder
            .push(OutputStream::Stderr, b"error: the one that matters\n")
            .await?;
        expected.extend_from_slice(b"error: the one that matters\n");
        recorder.finish().await
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let [log, stdout, stderr] = logs;
    assert_eq!(log.total_bytes, expected.len() as u64);
    assert!(
        log.text.starts_with("line 0\nline 1\n"),
        "{}",
        &log.text[..40]
    );
    assert!(
        log.text
            .ends_with("line 1999\nerror: the one that matters\n")
    );
    assert!(
        log.text
            .contains("bytes not kept in memory; the full log is in")
    );
    assert!(log.text.len() < 2048 + 200, "{}", log.text.len());
    let kept_lines = log.text.lines().filter(|l| l.starts_with("line ")).count() as u64;
    assert!(log.elided_bytes > 0 && kept_lines > 100);
    let spilled = std::fs::read(log.spill_file.as_deref().unwrap_or(Path::new("/missing")))
        .unwrap_or_default();
    assert!(spilled == expected, "the spill file holds the whole log");
    assert!(stdout.is_truncated() && stdout.spill_file.is_none());
    assert_eq!(
        stderr.text, "error: the one that matters\n",
        "stderr is kept on its own"
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap_or(&dir));
}

#[test]
fn tail_ring_keeps_the_last_bytes_for_any_chunking() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    for cap in [1, 7, 64, 1000] {
        for chunk in [1, 3, 63, 64, 65, 999, 5000] {
            let mut ring = TailRing::new(cap);
            for piece in data.chunks(chunk) {
                ring.push(piece);
            }
            let [a, b] = ring.parts();
            let got = [a, b].concat();
            assert_eq!(got, data[data.len() - cap..], "cap {cap}, chunk {chunk}");
        }
    }
}

#[test]
fn endless_lines_reach_the_sink_in_bounded_pieces() {
    let lines = Lines::default();
    let dir = scratch("endless");
    run(async {
        let mut recorder = Recorder::new(&config(1 << 16, &dir), "t", &lines);
        for _ in 0..40 {
            recorder.push(OutputStream::Stdout, &[b'x'; 10_000]).await?;
        }
        recorder.push(OutputStream::Stdout, b"\n").await?;
        recorder.finish().await
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let got = lines.0.into_inner().unwrap_or_default();
    assert!(got.iter().all(|(_, l)| l.len() <= MAX_LINE));
    assert_eq!(got.iter().map(|(_, l)| l.len()).sum::<usize>(), 400_000);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap_or(&dir));
}

#[test]
fn status_words() {
    let mut output = StepOutput {
        exit_code: Some(0),
        ..StepOutput::default()
    };
    assert_eq!(output.status(), "ok");
    assert!(output.success());
    output.exit_code = Some(2);
    assert_eq!(output.status(), "failed (exit 2)");
    output.exit_code = None;
    output.signal = Some(9);
    assert_eq!(output.status(), "killed by signal 9");
    output.timed_out = true;
    assert_eq!(output.status(), "timed out");
    assert!(!output.success());
}

#[test]
fn a_completed_step_feeds_its_lines_and_keeps_its_logs() {
    let lines = std::sync::Mutex::new(Vec::new());
    let sink = |stream: OutputStream, line: &str| {
        lines.lock().unwrap().push(format!("{stream:?}: {line}"));
    };
    let step = crate::build::BuildStep::command_line("npx tsc");
    let output = CompletedStep {
        exit_code: 2,
        stdout: "a.ts(1,1): error TS1\n".into(),
        stderr: "done\n".into(),
        timed_out: false,
    }
    .into_output(&step, Duration::from_millis(5), &sink);
    assert_eq!(
        *lines.lock().unwrap(),
        ["Stdout: a.ts(1,1): error TS1", "Stderr: done"]
    );
    assert_eq!(output.name, "tsc");
    assert_eq!(output.status(), "failed (exit 2)");
    assert_eq!(output.log.text, "a.ts(1,1): error TS1\ndone\n");
    assert_eq!(output.stderr.total_bytes, 5);
}

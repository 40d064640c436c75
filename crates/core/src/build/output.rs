//! What a step leaves behind: its exit, its resource use and its log, captured within a memory
//! cap.
//!
//! The log is kept three ways: stdout and stderr interleaved in arrival order, and each stream on
//! its own (so an error on stderr is not lost among megabytes of progress on stdout). Each keeps
//! its first and last bytes in memory with a marker between; when the interleaved log outgrows
//! its share of the cap, the whole of it is written to a file in the run directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::Result;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl fmt::Display for OutputStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        })
    }
}

/// Receives a step's output line by line while it runs.
///
/// Called on the task that runs the step: a slow sink slows the capture down (the build then
/// blocks on a full pipe), it never makes selfheal buffer more. Lines longer than 64 KiB arrive in
/// pieces; a trailing `\r` is removed; invalid UTF-8 is replaced.
pub trait LineSink: Send + Sync {
    /// One line (without its line break).
    fn line(&self, stream: OutputStream, line: &str);
}

impl<F: Fn(OutputStream, &str) + Send + Sync> LineSink for F {
    fn line(&self, stream: OutputStream, line: &str) {
        self(stream, line)
    }
}

/// A [`LineSink`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl LineSink for Discard {
    fn line(&self, _: OutputStream, _: &str) {}
}

/// How much of a step's output is kept in memory, and where the rest goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Bytes of log kept in memory per step, for the three logs together: half for the
    /// interleaved log, a quarter for each stream. Default 4 MiB.
    pub memory_cap: usize,
    /// Where full logs are written when the interleaved log is over its share of the cap.
    /// Default: `selfheal-runs` in the system's temporary directory.
    pub run_dir: PathBuf,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            memory_cap: 4 << 20,
            run_dir: std::env::temp_dir().join("selfheal-runs"),
        }
    }
}

/// A captured log: all of it, or its head and tail around a marker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// The text kept in memory (invalid UTF-8 replaced). When bytes were dropped, a line
    /// `[selfheal: N bytes not kept …]` stands where they were.
    pub text: String,
    /// Bytes the step wrote to this log.
    pub total_bytes: u64,
    /// Bytes of the middle that are not in `text`.
    pub elided_bytes: u64,
    /// The file holding the whole log, when it was spilled.
    pub spill_file: Option<PathBuf>,
}

impl Log {
    /// True when `text` is not the whole log.
    pub fn is_truncated(&self) -> bool {
        self.elided_bytes > 0
    }
}

/// The result of running one step. A failing step is a normal result: look at
/// [`success`](StepOutput::success).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StepOutput {
    /// The step's name.
    pub name: String,
    /// The command, as a shell would read it.
    pub command: String,
    /// The exit code, when the process exited (not when a signal killed it).
    pub exit_code: Option<i32>,
    /// The signal that killed the process, when one did.
    pub signal: Option<i32>,
    /// The step ran out of time and was killed.
    pub timed_out: bool,
    /// The step was killed for using more memory than allowed.
    pub oom_killed: bool,
    /// Wall-clock time from start to the end of the process tree.
    #[serde(with = "crate::millis", rename = "duration_ms")]
    pub duration: Duration,
    /// Peak resident memory of the largest process, in bytes, where the builder can measure it.
    pub peak_memory_bytes: Option<u64>,
    /// User plus system CPU time, where the builder can measure it.
    #[serde(with = "crate::millis::optional", rename = "cpu_time_ms")]
    pub cpu_time: Option<Duration>,
    /// Standard output and standard error interleaved in arrival order.
    pub log: Log,
    /// Standard output alone.
    pub stdout: Log,
    /// Standard error alone.
    pub stderr: Log,
}

impl StepOutput {
    /// True when the step exited with code 0 in time.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.oom_killed
    }

    /// A word for reports: `ok`, `failed (exit 2)`, `timed out`, `out of memory`,
    /// `killed by signal 9`.
    pub fn status(&self) -> String {
        match (self.exit_code, self.signal) {
            _ if self.timed_out => "timed out".into(),
            _ if self.oom_killed => "out of memory".into(),
            (Some(0), _) => "ok".into(),
            (Some(code), _) => format!("failed (exit {code})"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => "failed".into(),
        }
    }
}

/// What a builder that is not a process (a host application's own function) reports when its
/// step has ended: the whole output at once.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CompletedStep {
    /// The exit code.
    pub exit_code: i32,
    /// Standard output (or all of the output).
    #[serde(default)]
    pub stdout: String,
    /// Standard error.
    #[serde(default)]
    pub stderr: String,
    /// The step was stopped at its time limit.
    #[serde(default)]
    pub timed_out: bool,
}

impl CompletedStep {
    /// The step's output: its lines go to `sink` now (standard output first), and the logs
    /// hold them whole.
    pub fn into_output(
        self,
        step: &super::BuildStep,
        duration: Duration,
        sink: &dyn LineSink,
    ) -> StepOutput {
        for (stream, text) in [
            (OutputStream::Stdout, &self.stdout),
            (OutputStream::Stderr, &self.stderr),
        ] {
            text.lines().for_each(|line| sink.line(stream, line));
        }
        let log = |text: String| Log {
            total_bytes: text.len() as u64,
            text,
            ..Log::default()
        };
        StepOutput {
            name: step.name.clone(),
            command: step.command.to_string(),
            exit_code: Some(self.exit_code),
            timed_out: self.timed_out,
            duration,
            log: log(format!("{}{}", self.stdout, self.stderr)),
            stdout: log(self.stdout),
            stderr: log(self.stderr),
            ..StepOutput::default()
        }
    }
}

/// Lines longer than this reach the sink in pieces, so one endless line cannot grow a buffer.
const MAX_LINE: usize = 64 << 10;

/// Captures a running step's output: feeds the sink line by line, keeps the three logs within
/// the cap and spills the interleaved log when it outgrows its share.
pub(crate) struct Recorder<'a> {
    sink: &'a dyn LineSink,
    step_name: String,
    run_dir: PathBuf,
    interleaved: Capture,
    stdout: Stream,
    stderr: Stream,
    spill: Option<Spill>,
}

struct Stream {
    capture: Capture,
    partial: Vec<u8>,
}

struct Spill {
    path: PathBuf,
    file: tokio::io::BufWriter<tokio::fs::File>,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(config: &CaptureConfig, step_name: &str, sink: &'a dyn LineSink) -> Self {
        let stream_cap = config.memory_cap / 4;
        let stream = || Stream {
            capture: Capture::new(stream_cap),
            partial: Vec::new(),
        };
        Recorder {
            sink,
            step_name: step_name.to_string(),
            run_dir: config.run_dir.clone(),
            interleaved: Capture::new(config.memory_cap - 2 * stream_cap),
            stdout: stream(),
            stderr: stream(),
            spill: None,
        }
    }

    /// Records a chunk of output as it arrived.
    pub(crate) async fn push(&mut self, stream: OutputStream, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.spill.is_none() && self.interleaved.would_overflow(bytes.len()) {
            let spill = self.start_spill().await.map_err(|e| self.spill_error(e))?;
            self.spill = Some(spill);
        }
        if let Some(spill) = &mut self.spill
            && let Err(e) = spill.file.write_all(bytes).await
        {
            return Err(self.spill_error(e));
        }
        self.interleaved.push(bytes);
        let target = match stream {
            OutputStream::Stdout => &mut self.stdout,
            OutputStream::Stderr => &mut self.stderr,
        };
        target.capture.push(bytes);
        split_lines(&mut target.partial, bytes, |line| {
            self.sink.line(stream, &line_text(line))
        });
        Ok(())
    }

    fn spill_error(&self, error: std::io::Error) -> crate::Error {
        let context = format!(
            "cannot write the log of step `{}` to {}: {error}",
            self.step_name,
            self.run_dir.display()
        );
        std::io::Error::new(error.kind(), context).into()
    }

    /// Writes what is in memory (everything so far) to a new file in the run directory.
    async fn start_spill(&self) -> std::io::Result<Spill> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        tokio::fs::create_dir_all(&self.run_dir).await?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let name = format!(
            "{}-{stamp}-{}-{}.log",
            file_safe(&self.step_name),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.run_dir.join(name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        let mut file = tokio::io::BufWriter::with_capacity(256 << 10, file);
        let (head, tail) = self.interleaved.retained();
        file.write_all(head).await?;
        for part in tail {
            file.write_all(part).await?;
        }
        Ok(Spill { path, file })
    }

    /// Flushes the spill file and returns the interleaved, stdout and stderr logs.
    pub(crate) async fn finish(mut self) -> Result<[Log; 3]> {
        for (stream, target) in [
            (OutputStream::Stdout, &mut self.stdout),
            (OutputStream::Stderr, &mut self.stderr),
        ] {
            if !target.partial.is_empty() {
                self.sink.line(stream, &line_text(&target.partial));
            }
        }
        let spill_file = match self.spill {
            Some(mut spill) => {
                spill.file.flush().await?;
                Some(spill.path)
            }
            None => None,
        };
        Ok([
            self.interleaved.into_log(spill_file),
            self.stdout.capture.into_log(None),
            self.stderr.capture.into_log(None),
        ])
    }
}

/// Runs a step's supervisor (which returns once the step has ended) together with the capture of
/// its output. Output may still arrive for `drain` after the step ended (from a process that left
/// holding the pipes); then the capture is cut off.
pub(crate) async fn supervise_capturing<T>(
    supervise: impl Future<Output = T>,
    capture: impl Future<Output = Result<()>>,
    drain: Duration,
) -> (T, Result<()>) {
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let supervise = async {
        let outcome = supervise.await;
        let _ = ended_tx.send(());
        outcome
    };
    let capture = async {
        tokio::select! {
            result = capture => result,
            () = async {
                let _ = ended_rx.await;
                tokio::time::sleep(drain).await;
            } => Ok(()),
        }
    };
    tokio::join!(supervise, capture)
}

/// Calls `emit` for each complete line of `bytes`, with `partial` carrying an unfinished line
/// between calls.
fn split_lines(partial: &mut Vec<u8>, mut bytes: &[u8], mut emit: impl FnMut(&[u8])) {
    while let Some(end) = memchr::memchr(b'\n', bytes) {
        let (line, rest) = (&bytes[..end], &bytes[end + 1..]);
        if partial.is_empty() {
            emit(line);
        } else {
            append_bounded(partial, line, &mut emit);
            emit(partial);
            partial.clear();
        }
        bytes = rest;
    }
    append_bounded(partial, bytes, &mut emit);
}

fn append_bounded(partial: &mut Vec<u8>, mut bytes: &[u8], emit: &mut impl FnMut(&[u8])) {
    while partial.len() + bytes.len() > MAX_LINE {
        let take = MAX_LINE - partial.len();
        partial.extend_from_slice(&bytes[..take]);
        emit(partial);
        partial.clear();
        bytes = &bytes[take..];
    }
    partial.extend_from_slice(bytes);
}

fn line_text(line: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line))
}

fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .take(48)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() { "step".into() } else { safe }
}

/// The first and last bytes of a log, within a fixed budget.
struct Capture {
    head: Vec<u8>,
    head_cap: usize,
    tail: TailRing,
    total: u64,
}

impl Capture {
    fn new(cap: usize) -> Self {
        let head_cap = cap / 2;
        Capture {
            head: Vec::new(),
            head_cap,
            tail: TailRing::new(cap - head_cap),
            total: 0,
        }
    }

    /// True when adding `len` bytes would drop some.
    fn would_overflow(&self, len: usize) -> bool {
        self.total + len as u64 > (self.head_cap + self.tail.cap) as u64
    }

    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.head.len() < self.head_cap {
            let take = bytes.len().min(self.head_cap - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.tail.push(bytes);
    }

    fn retained(&self) -> (&[u8], [&[u8]; 2]) {
        (&self.head, self.tail.parts())
    }

    fn into_log(self, spill_file: Option<PathBuf>) -> Log {
        let kept = (self.head.len() + self.tail.len) as u64;
        let [first, second] = self.tail.parts();
        if kept == self.total {
            let mut bytes = self.head;
            bytes.extend_from_slice(first);
            bytes.extend_from_slice(second);
            return Log {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                total_bytes: self.total,
                elided_bytes: 0,
                spill_file,
            };
        }
        // Cut both parts at line breaks, so that every kept line is whole.
        let head = match memchr::memrchr(b'\n', &self.head) {
            Some(end) => &self.head[..=end],
            None => &self.head[..],
        };
        let mut tail = first.to_vec();
        tail.extend_from_slice(second);
        let tail = match memchr::memchr(b'\n', &tail) {
            Some(end) if end + 1 < tail.len() => &tail[end + 1..],
            _ => &tail[..],
        };
        let elided = self.total - (head.len() + tail.len()) as u64;
        let mut text = String::from_utf8_lossy(head).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&marker(elided, spill_file.as_deref()));
        text.push_str(&String::from_utf8_lossy(tail));
        Log {
            text,
            total_bytes: self.total,
            elided_bytes: elided,
            spill_file,
        }
    }
}

fn marker(elided: u64, spill_file: Option<&Path>) -> String {
    match spill_file {
        Some(path) => format!(
            "[selfheal: {elided} bytes not kept in memory; the full log is in {}]\n",
            path.display()
        ),
        None => format!("[selfheal: {elided} bytes not kept in memory]\n"),
    }
}

/// The last `cap` bytes written.
struct TailRing {
    buf: Vec<u8>,
    cap: usize,
    start: usize,
    len: usize,
}

impl TailRing {
    fn new(cap: usize) -> Self {
        TailRing {
            buf: Vec::new(),
            cap,
            start: 0,
            len: 0,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        if self.cap == 0 || bytes.is_empty() {
            return;
        }
        if bytes.len() >= self.cap {
            bytes = &bytes[bytes.len() - self.cap..];
            self.buf.clear();
            self.buf.extend_from_slice(bytes);
            (self.start, self.len) = (0, self.cap);
            return;
        }
        if self.buf.len() < self.cap {
            // Still filling: the ring is the plain prefix of the buffer.
            let room = self.cap - self.buf.len();
            let take = room.min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            self.len = self.buf.len();
            bytes = &bytes[take..];
            if bytes.is_empty() {
                return;
            }
        }
        // Full: overwrite the oldest bytes, wrapping at most once.
        let end = (self.start + self.len) % self.cap;
        let first = bytes.len().min(self.cap - end);
        self.buf[end..end + first].copy_from_slice(&bytes[..first]);
        self.buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.start = (self.start + bytes.len()) % self.cap;
    }

    fn parts(&self) -> [&[u8]; 2] {
        if self.len < self.cap {
            return [&self.buf[..self.len], &[]];
        }
        let (before, after) = self.buf.split_at(self.start);
        [after, before]
    }
}

#[cfg(test)]
mod tests;

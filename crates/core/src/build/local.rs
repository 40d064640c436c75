//! Build steps as local processes.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use tokio::io::AsyncReadExt;
use tokio::process::{ChildStderr, ChildStdout};

use super::output::{Recorder, supervise_capturing};
use super::plan::working_dir;
use super::{BuildStep, Builder, CaptureConfig, EnvPolicy, LineSink, OutputStream, StepOutput};
use crate::{Error, Result};

/// Runs build steps as local processes.
///
/// Each step runs in its own process group with stdin closed. When the step's first process
/// exits, or its time is up, or the caller drops the future, the whole group is ended: `SIGTERM`,
/// a grace period, then `SIGKILL`. So a build that starts a dev server in the background, or
/// forks a daemon, leaves nothing running. (A process that makes itself a new session with
/// `setsid` leaves the group; only a container catches those.)
///
/// ```no_run
/// use std::time::Duration;
/// use selfheal::build::{BuildStep, Builder, Discard, EnvPolicy, LocalBuilder};
///
/// # async fn run() -> selfheal::Result<()> {
/// let builder = LocalBuilder::new()
///     .env_policy(EnvPolicy::only(["PATH", "HOME"]))
///     .default_timeout(Duration::from_secs(300));
/// let step = BuildStep::argv("typecheck", ["npx", "tsc", "--noEmit"]);
/// let output = builder.run_step("./app".as_ref(), &step, &Discard).await?;
/// if !output.success() {
///     eprintln!("{}", output.log.text);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LocalBuilder {
    env: EnvPolicy,
    capture: CaptureConfig,
    default_timeout: Duration,
    kill_grace: Duration,
}

impl Default for LocalBuilder {
    fn default() -> Self {
        LocalBuilder {
            env: EnvPolicy::default(),
            capture: CaptureConfig::default(),
            default_timeout: Duration::from_secs(600),
            kill_grace: Duration::from_secs(5),
        }
    }
}

/// How long output may still arrive after the process group is gone (from a process that left
/// the group but holds the pipes).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

impl LocalBuilder {
    /// A builder with the default environment policy, a 4 MiB log cap, a 10 minute default
    /// timeout and a 5 second grace period between `SIGTERM` and `SIGKILL`.
    pub fn new() -> Self {
        LocalBuilder::default()
    }

    /// Chooses which variables steps inherit.
    pub fn env_policy(mut self, env: EnvPolicy) -> Self {
        self.env = env;
        self
    }

    /// Sets the log memory cap and run directory.
    pub fn capture(mut self, capture: CaptureConfig) -> Self {
        self.capture = capture;
        self
    }

    /// Sets the time limit of steps that have none.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// Sets how long a process group has between `SIGTERM` and `SIGKILL`.
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }
}

#[async_trait::async_trait]
impl Builder for LocalBuilder {
    async fn run_step(
        &self,
        workspace: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> Result<StepOutput> {
        let failure = |reason: String| Error::build(&step.name, reason);
        let cwd = working_dir(workspace, step.cwd.as_ref()).map_err(failure)?;
        let argv = step.command.argv();
        let Some((program, args)) = argv.split_first() else {
            return Err(failure("the command is empty".into()));
        };
        let mut command = std::process::Command::new(program);
        command
            .args(args)
            .current_dir(&cwd)
            .env_clear()
            .envs(self.env.inherited(&step.command.variables()))
            .envs(step.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);

        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| failure(format!("cannot run `{program}`: {e}")).caused_by(e))?;
        let group = ProcessGroup::of(&child);
        let pipes = (child.stdout.take(), child.stderr.take());
        let (Some(stdout), Some(stderr)) = pipes else {
            return Err(failure("the output pipes are missing".into()));
        };
        let stdout = ChildStdout::from_std(stdout)?;
        let stderr = ChildStderr::from_std(stderr)?;
        let mut exit = tokio::task::spawn_blocking(move || wait4::Wait4::wait4(&mut child));

        let timeout = step.timeout.unwrap_or(self.default_timeout);
        let mut recorder = Recorder::new(&self.capture, &step.name, sink);
        let supervise = async {
            let mut timed_out = false;
            let status = tokio::select! {
                status = &mut exit => status,
                () = tokio::time::sleep(timeout) => {
                    timed_out = true;
                    group.terminate(self.kill_grace).await;
                    (&mut exit).await
                }
            };
            // The first process is gone; end whatever it left running in its group.
            group.terminate(self.kill_grace).await;
            (status, timed_out)
        };
        let capture = async {
            let result = pump(stdout, stderr, &mut recorder).await;
            if result.is_err() {
                // Nobody reads the pipes any more: the step would block on them.
                group.signal(Signal::KILL);
            }
            result
        };
        let ((status, timed_out), pumped) =
            supervise_capturing(supervise, capture, DRAIN_AFTER_EXIT).await;
        group.release();
        let duration = started.elapsed();
        pumped?;
        let usage = status
            .map_err(std::io::Error::other)
            .and_then(|waited| waited)
            .map_err(|e| failure(format!("waiting for the process failed: {e}")).caused_by(e))?;
        let [log, stdout, stderr] = recorder.finish().await?;
        let status = usage.status;
        Ok(StepOutput {
            name: step.name.clone(),
            command: step.command.to_string(),
            exit_code: status.code(),
            signal: std::os::unix::process::ExitStatusExt::signal(&status),
            timed_out,
            oom_killed: false,
            duration,
            peak_memory_bytes: Some(usage.rusage.maxrss).filter(|&bytes| bytes > 0),
            cpu_time: Some(usage.rusage.utime + usage.rusage.stime),
            log,
            stdout,
            stderr,
        })
    }
}

/// Reads both pipes to their end, in arrival order.
async fn pump(
    mut stdout: ChildStdout,
    mut stderr: ChildStderr,
    recorder: &mut Recorder<'_>,
) -> Result<()> {
    let mut out_buf = vec![0u8; 64 << 10];
    let mut err_buf = vec![0u8; 64 << 10];
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        // `read` is cancel-safe: the branch that loses the race has read nothing.
        tokio::select! {
            read = stdout.read(&mut out_buf), if out_open => match read {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => recorder.push(OutputStream::Stdout, &out_buf[..n]).await?,
            },
            read = stderr.read(&mut err_buf), if err_open => match read {
                Ok(0) | Err(_) => err_open = false,
                Ok(n) => recorder.push(OutputStream::Stderr, &err_buf[..n]).await?,
            },
        }
    }
    Ok(())
}

/// A step's process group. Dropped before [`release`](ProcessGroup::release) (the step's future
/// was cancelled), it kills the group outright.
struct ProcessGroup {
    id: Option<Pid>,
}

impl ProcessGroup {
    fn of(child: &std::process::Child) -> Self {
        let id = i32::try_from(child.id()).ok().and_then(Pid::from_raw);
        ProcessGroup { id }
    }

    /// True while a member of the group runs. Zombies do not count: once a member's parent is
    /// gone, reaping it is up to PID 1, which in a container may never do it.
    fn alive(&self) -> bool {
        let Some(id) = self.id else {
            return false;
        };
        let exists = !matches!(
            rustix::process::test_kill_process_group(id),
            Err(rustix::io::Errno::SRCH)
        );
        exists && live_member(id.as_raw_nonzero().get()).unwrap_or(true)
    }

    fn signal(&self, signal: Signal) {
        if let Some(id) = self.id {
            let _ = rustix::process::kill_process_group(id, signal);
        }
    }

    /// `SIGTERM`, up to `grace` for the group to go, then `SIGKILL`.
    async fn terminate(&self, grace: Duration) {
        if !self.alive() {
            return;
        }
        self.signal(Signal::TERM);
        let deadline = tokio::time::Instant::now() + grace;
        let mut pause = Duration::from_millis(1);
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(pause).await;
            if !self.alive() {
                return;
            }
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        self.signal(Signal::KILL);
    }

    /// The step is over and its group ended: nothing more to do on drop.
    fn release(mut self) {
        self.id = None;
    }
}

/// Whether a process of group `group` is running, from `/proc`; `None` where there is no
/// `/proc` to read.
fn live_member(group: i32) -> Option<bool> {
    let processes = std::fs::read_dir("/proc").ok()?;
    for process in processes.flatten() {
        let name = process.file_name();
        if !name.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(process.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold anything, so read after its `)`.
        let mut fields = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_ascii_whitespace())
            .into_iter()
            .flatten();
        let state = fields.next();
        let group_of = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        if group_of == Some(group) && state != Some("Z") {
            return Some(true);
        }
    }
    Some(false)
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.alive() {
            self.signal(Signal::KILL);
        }
    }
}

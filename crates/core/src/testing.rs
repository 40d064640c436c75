//! Parts for testing code that embeds selfheal without a toolchain or a model (feature
//! `test-utils`): a builder that answers from memory, a provider that replies from a script and
//! records what it was asked, a sink that records the lines a build printed.
//!
//! A loop test with them runs in milliseconds and without sleeping (give the healer a
//! [`VirtualClock`](crate::time::VirtualClock) too):
//!
//! ```
//! use std::sync::Arc;
//! use selfheal::build::{BuildPlan, BuildStep};
//! use selfheal::heal::{Event, Healer, Outcome};
//! use selfheal::testing::{MemoryBuilder, ScriptedProvider};
//! use selfheal::workspace::Workspace;
//!
//! # async fn run(dir: &std::path::Path) -> selfheal::Result<()> {
//! std::fs::write(dir.join("main.py"), "print(mesage)\n")?;
//! let builder = MemoryBuilder::new(|workspace, _step| {
//!     let source = std::fs::read_to_string(workspace.join("main.py")).unwrap_or_default();
//!     if source.contains("mesage") {
//!         (1, "  File \"main.py\", line 1, in <module>\nNameError: name 'mesage' is not defined\n".into())
//!     } else {
//!         (0, String::new())
//!     }
//! });
//! let model = Arc::new(ScriptedProvider::new([
//!     r#"{"fixes": [{"file": "main.py", "action": "patch", "search": "mesage", "replace": "message"}]}"#,
//! ]));
//! // No deterministic fixer: the model's reply is what heals.
//! let healer = Healer::new(builder).fixers(Vec::new()).provider(model.clone());
//! let plan = BuildPlan::new([BuildStep::shell("run", "python3 main.py")]);
//! let report = healer.heal(&Workspace::open(dir)?, &plan, &|_: Event| {}).await?;
//! assert_eq!(report.outcome, Outcome::Healed);
//! assert_eq!(model.requests().len(), 1);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::build::{BuildStep, Builder, LineSink, Log, OutputStream, StepOutput};
use crate::llm::{
    Completion, CompletionRequest, CompletionStream, FinishReason, Provider, ProviderError,
    ProviderErrorKind, Usage, stream_whole,
};

/// What a [`MemoryBuilder`] answers for a step: the exit code and what the step printed.
type Answer = dyn Fn(&Path, &BuildStep) -> (i32, String) + Send + Sync;

/// A [`Builder`] that runs nothing: each step's exit code and output come from a function of the
/// workspace (as the fixes left it) and the step.
pub struct MemoryBuilder {
    answer: Box<Answer>,
    steps_run: AtomicUsize,
}

impl MemoryBuilder {
    /// Answers every step with `answer(workspace, step)`: `(exit code, output)`.
    pub fn new(
        answer: impl Fn(&Path, &BuildStep) -> (i32, String) + Send + Sync + 'static,
    ) -> Self {
        MemoryBuilder {
            answer: Box::new(answer),
            steps_run: AtomicUsize::new(0),
        }
    }

    /// How many steps were run so far.
    pub fn steps_run(&self) -> usize {
        self.steps_run.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Builder for MemoryBuilder {
    async fn run_step(
        &self,
        workspace: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> crate::Result<StepOutput> {
        self.steps_run.fetch_add(1, Ordering::Relaxed);
        let (exit_code, text) = (self.answer)(workspace, step);
        for line in text.lines() {
            sink.line(OutputStream::Stdout, line);
        }
        let log = Log {
            total_bytes: text.len() as u64,
            text,
            ..Log::default()
        };
        Ok(StepOutput {
            name: step.name.clone(),
            command: step.command.to_string(),
            exit_code: Some(exit_code),
            stdout: log.clone(),
            log,
            ..StepOutput::default()
        })
    }
}

/// A [`Provider`] that answers each request with the next reply of its script, whole, and keeps
/// the requests. Asked once more than it has replies, it fails as a provider does
/// ([`ProviderErrorKind::Other`]).
#[derive(Debug, Default)]
pub struct ScriptedProvider {
    replies: Mutex<VecDeque<String>>,
    /// The last reply is given again however often it is asked for.
    keeps_last: bool,
    requests: Mutex<Vec<CompletionRequest>>,
}

/// The name a [`ScriptedProvider`] answers with.
const SCRIPTED: &str = "scripted";

impl ScriptedProvider {
    /// A provider that replies `replies`, in order.
    pub fn new(replies: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ScriptedProvider {
            replies: Mutex::new(replies.into_iter().map(Into::into).collect()),
            keeps_last: false,
            requests: Mutex::default(),
        }
    }

    /// A provider that replies `reply` to every request (for benchmarks and long runs).
    pub fn always(reply: impl Into<String>) -> Self {
        ScriptedProvider {
            keeps_last: true,
            ..ScriptedProvider::new([reply])
        }
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<CompletionRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn answer(&self, request: &CompletionRequest) -> crate::Result<Completion> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(request.clone());
        let reply = {
            let mut replies = self
                .replies
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if self.keeps_last && replies.len() == 1 {
                replies.front().cloned()
            } else {
                replies.pop_front()
            }
        };
        let text = reply.ok_or_else(|| {
            ProviderError::new(
                SCRIPTED,
                ProviderErrorKind::Other,
                "the script has no reply left",
            )
        })?;
        Ok(Completion {
            usage: Usage {
                input_tokens: words(request.messages.iter().map(|m| m.content.as_str())),
                output_tokens: words([text.as_str()]),
            },
            text,
            stop_reason: FinishReason::EndTurn,
            model: request.model.clone().unwrap_or_else(|| SCRIPTED.into()),
            provider: SCRIPTED.into(),
            latency: Duration::ZERO,
        })
    }
}

/// A stand-in token count: the words of `texts`.
fn words<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    texts
        .into_iter()
        .map(|text| text.split_whitespace().count() as u64)
        .sum()
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn name(&self) -> &str {
        SCRIPTED
    }

    fn default_model(&self) -> &str {
        SCRIPTED
    }

    async fn complete(&self, request: &CompletionRequest) -> crate::Result<Completion> {
        self.answer(request)
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let answer = self.answer(&request);
        stream_whole(async move { answer })
    }
}

/// A [`LineSink`] that keeps every line, with the stream it came on.
#[derive(Debug, Default)]
pub struct LineRecorder {
    lines: Mutex<Vec<(OutputStream, String)>>,
}

impl LineRecorder {
    /// The lines so far, in the order they came.
    pub fn lines(&self) -> Vec<(OutputStream, String)> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl LineSink for LineRecorder {
    fn line(&self, stream: OutputStream, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((stream, line.to_string()));
    }
}

//! Record and replay: a heal run's build outputs and model replies kept in a cassette file, and
//! played back without tools, containers or network.
//!
//! Host apps test their integration with this: record one real run, commit the cassette, and
//! replay it in their own tests — deterministically and in milliseconds. A [`Recorder`] wraps
//! the real builder and provider and writes one JSON line per step and per reply; a
//! [`Replay`] reads the cassette and serves them back in the same order. A replayed step also
//! makes the changes to the workspace that the recorded one made (a formatter, `eslint --fix`),
//! so fixers that run tools behave as they did.
//!
//! A cassette never holds a secret: step commands, logs, output lines and error messages are
//! redacted ([`Redactor::process_wide`]) before they are written.
//!
//! A replayed run must ask for what the recorded run asked for: a step whose command differs
//! from the next recorded one, or one more step or reply than the cassette holds, is an
//! [`Error::Cassette`] — the run has gone somewhere the recording never went.
//!
//! ```no_run
//! use selfheal::build::LocalBuilder;
//! use selfheal::cassette::{Recorder, Replay};
//! use selfheal::heal::Healer;
//!
//! # async fn run(provider: std::sync::Arc<dyn selfheal::llm::Provider>) -> selfheal::Result<()> {
//! // Once, with the real tools and model:
//! let recorder = Recorder::create("heal.cassette")?;
//! let healer = Healer::new(recorder.builder(LocalBuilder::new()))
//!     .provider(recorder.provider(provider));
//!
//! // In tests, without them:
//! let replay = Replay::open("heal.cassette")?;
//! let mut healer = Healer::new(replay.builder());
//! if let Some(provider) = replay.provider() {
//!     healer = healer.provider(provider);
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::build::{BuildStep, Builder, LineSink, OutputStream, StepOutput};
use crate::fix::FixProposal;
use crate::llm::{
    self, Collector, Completion, CompletionRequest, CompletionStream, Provider, ProviderError,
    ProviderErrorKind,
};
use crate::redact::Redactor;
use crate::workspace::{ApplyOptions, Workspace};
use crate::{Error, Result};

/// The first line of every cassette.
const HEADER: &str = r#"{"selfheal_cassette":1}"#;

/// Output lines kept per step for replay; the step's captured logs are kept whole either way.
const MAX_LINES: usize = 10_000;

/// One line of a cassette after the header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Entry {
    /// The provider that was recorded, as the loop names it.
    Provider { name: String, default_model: String },
    /// A step that ran.
    Step {
        output: Box<StepOutput>,
        /// Its output lines as they arrived (at most [`MAX_LINES`]).
        lines: Vec<(OutputStream, String)>,
        /// What it changed in the workspace.
        changes: FixProposal,
    },
    /// A step the builder could not run.
    StepError { command: String, message: String },
    /// Whether the builder could give steps more resources.
    Scaled { factor: f64, supported: bool },
    /// A model reply.
    Reply { completion: Completion },
    /// A model call that failed.
    ReplyError {
        provider: String,
        error_kind: ProviderErrorKind,
        message: String,
    },
}

/// Writes what a run's builder and provider did to a cassette; see the [module docs](self).
#[derive(Clone)]
pub struct Recorder {
    file: Arc<Mutex<File>>,
}

impl Recorder {
    /// Starts a cassette at `path`, replacing any file there.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        writeln!(file, "{HEADER}")?;
        Ok(Recorder {
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// `builder`, recording every step it runs.
    pub fn builder(&self, builder: impl Builder + 'static) -> Arc<dyn Builder> {
        Arc::new(RecordingBuilder {
            inner: Arc::new(builder),
            recorder: self.clone(),
        })
    }

    /// `provider`, recording every reply it gives.
    pub fn provider(&self, provider: Arc<dyn Provider>) -> Arc<dyn Provider> {
        self.write(&Entry::Provider {
            name: provider.name().to_string(),
            default_model: provider.default_model().to_string(),
        });
        Arc::new(RecordingProvider {
            inner: provider,
            recorder: self.clone(),
        })
    }

    /// Appends one entry. A cassette that cannot be written must not fail the run it records,
    /// so a write error leaves the cassette short, which its replay reports.
    fn write(&self, entry: &Entry) {
        let Ok(mut line) = serde_json::to_vec(entry) else {
            return;
        };
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = file.write_all(&line);
    }
}

struct RecordingBuilder {
    inner: Arc<dyn Builder>,
    recorder: Recorder,
}

#[async_trait::async_trait]
impl Builder for RecordingBuilder {
    async fn run_step(
        &self,
        root: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> Result<StepOutput> {
        let workspace = Workspace::open(root)?;
        let before = workspace.snapshot()?;
        let lines = Mutex::new(Vec::new());
        let redactor = Redactor::process_wide();
        let tee = |stream: OutputStream, line: &str| {
            let mut lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
            if lines.len() < MAX_LINES {
                lines.push((stream, redactor.redact(line).into_owned()));
            }
            drop(lines);
            sink.line(stream, line);
        };
        let ran = self.inner.run_step(root, step, &tee).await;
        let entry = match &ran {
            Ok(output) => Entry::Step {
                output: Box::new(redacted(output)),
                lines: lines.into_inner().unwrap_or_else(PoisonError::into_inner),
                changes: FixProposal {
                    edits: workspace.edits_since(&before)?,
                    ..FixProposal::default()
                },
            },
            Err(error) => Entry::StepError {
                command: redactor.redact(&step.command.to_string()).into_owned(),
                message: redactor.redact(&error.to_string()).into_owned(),
            },
        };
        self.recorder.write(&entry);
        ran
    }

    fn scaled(&self, factor: f64) -> Option<Arc<dyn Builder>> {
        let scaled = self.inner.scaled(factor);
        self.recorder.write(&Entry::Scaled {
            factor,
            supported: scaled.is_some(),
        });
        Some(Arc::new(RecordingBuilder {
            inner: scaled?,
            recorder: self.recorder.clone(),
        }))
    }
}

struct RecordingProvider {
    inner: Arc<dyn Provider>,
    recorder: Recorder,
}

impl RecordingProvider {
    fn record(&self, result: &Result<Completion>) {
        self.recorder.write(&match result {
            Ok(completion) => Entry::Reply {
                completion: completion.clone(),
            },
            Err(error) => Entry::ReplyError {
                provider: self.inner.name().to_string(),
                error_kind: (error.as_provider_error())
                    .map_or(ProviderErrorKind::Other, |e| e.kind),
                message: Redactor::process_wide()
                    .redact(&error.to_string())
                    .into_owned(),
            },
        });
    }
}

/// A step's output as a cassette keeps it: secrets redacted from its command and logs.
fn redacted(output: &StepOutput) -> StepOutput {
    let redactor = Redactor::process_wide();
    let mut output = output.clone();
    output.command = redactor.redact(&output.command).into_owned();
    for log in [&mut output.log, &mut output.stdout, &mut output.stderr] {
        log.text = redactor.redact(&log.text).into_owned();
    }
    output
}

#[async_trait::async_trait]
impl Provider for RecordingProvider {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn default_model(&self) -> &str {
        self.inner.default_model()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        let result = self.inner.complete(request).await;
        self.record(&result);
        result
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let recorder = RecordingProvider {
            inner: self.inner.clone(),
            recorder: self.recorder.clone(),
        };
        Box::pin(async_stream::stream! {
            let mut collector = Collector::new();
            let mut events = recorder.inner.stream(request);
            while let Some(event) = events.next().await {
                if let Some(result) = collector.take(event.clone()) {
                    recorder.record(&result);
                }
                yield event;
            }
        })
    }
}

/// Serves a cassette's steps and replies back in order; see the [module docs](self).
#[derive(Clone)]
pub struct Replay {
    tape: Arc<Mutex<Tape>>,
}

/// What is left to play, by kind.
#[derive(Default)]
struct Tape {
    /// The recorded provider's name and default model.
    provider: Option<(String, String)>,
    steps: VecDeque<RecordedStep>,
    /// Per scaling request: the factor, and whether the builder could scale.
    scaled: VecDeque<(f64, bool)>,
    /// Per model call: its reply or its error.
    replies: VecDeque<Result<Completion>>,
}

enum RecordedStep {
    Ran {
        output: Box<StepOutput>,
        lines: Vec<(OutputStream, String)>,
        changes: FixProposal,
    },
    Failed {
        command: String,
        message: String,
    },
}

impl RecordedStep {
    fn command(&self) -> &str {
        match self {
            RecordedStep::Ran { output, .. } => &output.command,
            RecordedStep::Failed { command, .. } => command,
        }
    }
}

impl Replay {
    /// Reads the cassette at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let shown = path.display();
        let mut lines = BufReader::new(File::open(path)?).lines();
        match lines.next().transpose()? {
            Some(header) if header.trim() == HEADER => {}
            _ => {
                return Err(Error::cassette(format!(
                    "{shown} is not a selfheal cassette"
                )));
            }
        }
        let mut tape = Tape::default();
        for (number, line) in (2..).zip(lines) {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_str(&line)
                .map_err(|e| Error::cassette(format!("{shown}:{number}: {e}")).caused_by(e))?;
            match entry {
                Entry::Provider {
                    name,
                    default_model,
                } => tape.provider = Some((name, default_model)),
                Entry::Step {
                    output,
                    lines,
                    changes,
                } => tape.steps.push_back(RecordedStep::Ran {
                    output,
                    lines,
                    changes,
                }),
                Entry::StepError { command, message } => tape
                    .steps
                    .push_back(RecordedStep::Failed { command, message }),
                Entry::Scaled { factor, supported } => tape.scaled.push_back((factor, supported)),
                Entry::Reply { completion } => tape.replies.push_back(Ok(completion)),
                Entry::ReplyError {
                    provider,
                    error_kind,
                    message,
                } => tape
                    .replies
                    .push_back(Err(Error::Provider(ProviderError::new(
                        &provider, error_kind, message,
                    )))),
            }
        }
        Ok(Replay {
            tape: Arc::new(Mutex::new(tape)),
        })
    }

    /// A builder that plays the recorded steps.
    pub fn builder(&self) -> Arc<dyn Builder> {
        Arc::new(self.clone())
    }

    /// A provider that plays the recorded replies, when the recorded run had a provider.
    pub fn provider(&self) -> Option<Arc<dyn Provider>> {
        let (name, default_model) = self.tape().provider.clone()?;
        Some(Arc::new(ReplayProvider {
            replay: self.clone(),
            name,
            default_model,
        }))
    }

    /// How many recorded steps and replies have not been played yet.
    pub fn remaining(&self) -> (usize, usize) {
        let tape = self.tape();
        (tape.steps.len(), tape.replies.len())
    }

    fn tape(&self) -> std::sync::MutexGuard<'_, Tape> {
        self.tape.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl Builder for Replay {
    async fn run_step(
        &self,
        root: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> Result<StepOutput> {
        // Recorded commands are redacted: compared so.
        let command = Redactor::process_wide()
            .redact(&step.command.to_string())
            .into_owned();
        let Some(recorded) = self.tape().steps.pop_front() else {
            return Err(Error::cassette(format!(
                "the run asked for step `{command}` after the last recorded step"
            )));
        };
        if recorded.command() != command {
            return Err(Error::cassette(format!(
                "the run asked for step `{command}` where the recording ran `{}`",
                recorded.command()
            )));
        }
        match recorded {
            RecordedStep::Ran {
                output,
                lines,
                changes,
            } => {
                for (stream, line) in &lines {
                    sink.line(*stream, line);
                }
                if !changes.edits.is_empty() {
                    Workspace::open(root)?
                        .apply(&changes, &ApplyOptions::default())
                        .map_err(|e| {
                            Error::cassette(format!("replaying `{command}`: {e}")).caused_by(e)
                        })?;
                }
                Ok(*output)
            }
            RecordedStep::Failed { message, .. } => Err(Error::build(&step.name, message)),
        }
    }

    fn scaled(&self, factor: f64) -> Option<Arc<dyn Builder>> {
        let (recorded, supported) = self.tape().scaled.pop_front()?;
        (supported && recorded == factor).then(|| self.builder())
    }
}

struct ReplayProvider {
    replay: Replay,
    name: String,
    default_model: String,
}

impl ReplayProvider {
    fn next(&self) -> Result<Completion> {
        (self.replay.tape().replies.pop_front()).unwrap_or_else(|| {
            Err(Error::cassette(
                "the run asked the model once more than the recording did",
            ))
        })
    }
}

#[async_trait::async_trait]
impl Provider for ReplayProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn default_model(&self) -> &str {
        &self.default_model
    }

    async fn complete(&self, _: &CompletionRequest) -> Result<Completion> {
        self.next()
    }

    fn stream(&self, _: CompletionRequest) -> CompletionStream {
        llm::stream_whole(std::future::ready(self.next()))
    }
}

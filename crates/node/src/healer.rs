//! The heal loop: [`HealerCore`] and its runs ([`HealRun`]), with builders and error parsers
//! written in JavaScript. `index.js` wraps them in the `Healer` class (options object,
//! `AbortSignal`, async iteration of events, callback errors rethrown as they were).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use napi_derive::napi;
use selfheal::ErrorKind;
use selfheal::build::{BuildStep, Builder, CompletedStep, LineSink, LocalBuilder, StepOutput};
use selfheal::heal::{self, Canceller, HealOptions, RunHandle, StepSpec};
use selfheal::parse::{ParserSet, WholeLogParser};
use selfheal::workspace::Workspace;
use serde_json::{Value, json};

use crate::builders::{AnyBuilder, builder_of};
use crate::cache::FixCache;
use crate::convert::{snake_keys, to_json};
use crate::diagnostics::diagnostic_from;
use crate::errors::{self, Result};
use crate::host::{HostFunction, RUN, ask, current_run};
use crate::observe::HealthMonitor;
use crate::providers::{AnyProvider, provider_of};

/// A builder written in JavaScript: `run(step, workspace)` called through `index.js`, its whole
/// output reported when the step has ended.
struct HostBuilder {
    run: Arc<HostFunction>,
}

#[async_trait]
impl Builder for HostBuilder {
    async fn run_step(
        &self,
        workspace: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> selfheal::Result<StepOutput> {
        let started = std::time::Instant::now();
        let failed = |reason: String| selfheal::Error::build(&step.name, reason);
        let payload = json!({
            "run": current_run(),
            "step": to_json(step),
            "workspace": workspace,
        });
        let ran = ask(&self.run, payload.to_string())
            .await
            .map_err(|e| failed(e.reason.clone()))?;
        let ran: CompletedStep =
            serde_json::from_str(&ran).map_err(|e| failed(format!("run returned {e}")))?;
        Ok(ran.into_output(step, started.elapsed(), sink))
    }
}

/// A parser written in JavaScript, for the heal loop: called through `index.js` with the whole
/// cleaned log of a build; the loop waits for its answer (`index.js` has already checked it and
/// stops the run when the parser throws).
fn host_parser(name: String, parse: Arc<HostFunction>) -> WholeLogParser {
    let tool = name.clone();
    WholeLogParser::new(name, move |log| {
        let payload = json!({ "run": current_run(), "log": log }).to_string();
        let call = ask(&parse, payload);
        // Parsing is synchronous; this worker waits while the event loop answers.
        let answer =
            tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(call));
        answer
            .ok()
            .and_then(|json| serde_json::from_str::<Vec<Value>>(&json).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|fields| diagnostic_from(fields, &tool).ok())
            .collect()
    })
}

/// The heal loop, as `index.js`'s `Healer` builds it.
#[napi]
pub struct HealerCore {
    inner: Arc<heal::Healer>,
}

#[napi]
impl HealerCore {
    /// `provider`: a built-in provider, or a JavaScript `complete` (with `hostName` and
    /// `hostModel`); `config`: heal settings; `fixers`: names from `defaultFixers()`.
    #[napi(
        constructor,
        ts_args_type = "provider?: Anthropic | OpenAI | Gemini | Fallback | HostedProvider | null, builder?: LocalBuilder | DockerBuilder | null, hostRun?: ((payload: string) => Promise<string>) | null, hostParsers?: Array<(payload: string) => Promise<string>> | null, parserNames?: string[] | null, cache?: FixCache | null, config?: HealConfig | null, fixers?: string[] | null, monitor?: HealthMonitor | null"
    )]
    #[allow(clippy::too_many_arguments)] // positional: only `index.js` calls it
    pub fn new(
        provider: Option<AnyProvider<'_>>,
        builder: Option<AnyBuilder<'_>>,
        host_run: Option<HostFunction>,
        host_parsers: Option<Vec<HostFunction>>,
        parser_names: Option<Vec<String>>,
        cache: Option<&FixCache>,
        config: Option<Value>,
        fixers: Option<Vec<String>>,
        monitor: Option<&HealthMonitor>,
    ) -> Result<Self> {
        let mut healer = match (&builder, host_run) {
            (Some(builder), _) => heal::Healer::new(builder_of(builder)),
            (None, Some(run)) => heal::Healer::new(HostBuilder { run: Arc::new(run) }),
            (None, None) => heal::Healer::new(LocalBuilder::new()),
        };
        if let Some(provider) = &provider {
            healer = healer.provider(provider_of(provider));
        }
        if let Some(hosts) = host_parsers.filter(|hosts| !hosts.is_empty()) {
            let names = parser_names.unwrap_or_default();
            let mut parsers = ParserSet::new();
            for (index, parse) in hosts.into_iter().enumerate() {
                let name = names.get(index).cloned().unwrap_or_else(|| "custom".into());
                parsers.add(Arc::new(host_parser(name, Arc::new(parse))));
            }
            healer = healer.parsers(parsers);
        }
        if let Some(cache) = cache {
            healer = healer.cache(cache.inner.clone());
        }
        if let Some(monitor) = monitor {
            healer = healer.monitor(Arc::clone(&monitor.inner));
        }
        if let Some(config) = config {
            let options: HealOptions = serde_json::from_value(snake_keys(config))
                .map_err(|e| errors::config(format!("config: {e}")))?;
            healer = healer.config(options.config().map_err(errors::to_js)?);
        }
        if let Some(names) = fixers {
            healer = healer.fixers(heal::fixers_named(&names).map_err(errors::to_js)?);
        }
        Ok(HealerCore {
            inner: Arc::new(healer),
        })
    }

    /// Starts healing `workspace` with `steps` (shell lines or step objects); `run` is the id
    /// host callbacks are made with.
    #[napi(ts_args_type = "workspace: string, steps: Array<string | StepFields>, run: number")]
    pub fn start(&self, workspace: String, steps: Value, run: u32) -> Result<HealRun> {
        let specs: Vec<StepSpec> = serde_json::from_value(snake_keys(steps))
            .map_err(|e| errors::config(format!("steps: {e}")))?;
        let plan = StepSpec::plan(&specs).map_err(errors::to_js)?;
        let workspace = Workspace::open(&workspace).map_err(|e| errors::to_js(e.into()))?;
        let (handle, running) = RunHandle::start(
            self.inner.clone(),
            workspace,
            plan,
            |_: heal::Event| {},
            true,
            Canceller::new(),
        );
        napi::bindgen_prelude::spawn(RUN.scope(run, running));
        Ok(HealRun { handle })
    }
}

/// The names of the deterministic fixers a `Healer` uses by default, in the order it asks them.
/// `missing-dependencies` installs packages the source imports (scripts off, pip only into
/// the project's virtualenv); the option `install: false` turns every install off.
#[napi]
pub fn default_fixers() -> Vec<String> {
    heal::default_fixers()
        .iter()
        .map(|f| f.name().to_string())
        .collect()
}

/// An event as plain data: its fields, and what happened as `kind`.
fn event_json(event: &heal::Event) -> Value {
    let mut value = to_json(event);
    if let Value::Object(fields) = &mut value
        && let Some(kind) = fields.remove("event")
    {
        fields.insert("kind".into(), kind);
    }
    value
}

/// One heal run in progress.
#[napi]
pub struct HealRun {
    handle: RunHandle,
}

#[napi]
impl HealRun {
    /// Stops the run: the attempt in progress is undone, and the report's outcome is
    /// `cancelled`.
    #[napi]
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// Resolves to the run's report once it has ended.
    #[napi(ts_return_type = "Promise<HealReport>")]
    pub async fn report(&self) -> Result<Value> {
        match self.handle.report().await {
            Some(Ok(report)) => Ok(to_json(&report)),
            Some(Err(error)) => Err(errors::to_js(error)),
            None => Err(errors::of_kind(
                ErrorKind::Io,
                "the heal run stopped without a report",
            )),
        }
    }

    /// Resolves to the events since the last call (at least one), or to an empty array once
    /// the run has ended.
    #[napi(ts_return_type = "Promise<HealEvent[]>")]
    pub async fn next_events(&self) -> Result<Vec<Value>> {
        let batch = self.handle.next_events().await.unwrap_or_default();
        Ok(batch.iter().map(event_json).collect())
    }
}

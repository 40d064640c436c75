//! Proposing: what to try next for the build's errors — a deterministic fixer's fix, a cached
//! one, the model's, a fallback strategy's — or why nothing is left.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use tracing::{Instrument, info_span};

use super::Run;
use crate::build::{BuildPlan, Builder};
use crate::cache::digest;
use crate::fix::prompt::PromptBuilder;
use crate::fix::{Edit, FixInput, FixProposal, RelativePath};
use crate::heal::event::Event;
use crate::heal::metrics::{self, Phase};
use crate::heal::policy::StopReason;
use crate::heal::report::FixSource;
use crate::heal::strategy::{Remedy, ToolSetting};
use crate::heal::tracking::errors;
use crate::llm::{self, Provider, StreamEvent};
use crate::{Category, Diagnostic, Error, Result};

/// A fix being tried: what it is, where it came from, and the error it was chosen for.
pub(super) struct Candidate {
    pub(super) proposal: FixProposal,
    pub(super) source: FixSource,
    pub(super) by: Option<String>,
    pub(super) target: Option<Diagnostic>,
    /// The tool setting it writes, when it is one of selfheal's own strategies': the edit
    /// policy lets it change that file, which no proposal may.
    pub(super) setting: Option<ToolSetting>,
}

/// What the loop does next: try something, spend the attempt on a reply with nothing to try
/// (why, for the next prompt), or stop for a reason (when no fallback helps).
pub(super) enum Step {
    Try(Trial),
    Spent(String),
    Stop(StopReason),
}

impl Step {
    pub(super) fn fix(candidate: Candidate) -> Step {
        Step::Try(Trial::Fix(Box::new(candidate)))
    }
}

impl Candidate {
    /// A proposal for `target` from `source`, by no one in particular.
    pub(super) fn of(proposal: FixProposal, source: FixSource, target: &Diagnostic) -> Candidate {
        Candidate {
            proposal,
            source,
            by: None,
            target: Some(target.clone()),
            setting: None,
        }
    }
}

/// What an attempt tries.
pub(super) enum Trial {
    /// The same build again (a transient error).
    Rebuild,
    /// Edits.
    Fix(Box<Candidate>),
    /// Another plan or builder, from a fallback strategy.
    Switch {
        strategy: String,
        plan: Option<BuildPlan>,
        builder: Option<Arc<dyn Builder>>,
    },
}

/// Whether a model call's failure may pass: every provider of a chain failed transiently, or
/// the one did.
pub(super) fn transient(error: &Error) -> bool {
    match error {
        Error::AllProvidersFailed(errors) => errors.iter().all(transient),
        Error::CircuitOpen { .. } => true,
        other => other.is_retryable(),
    }
}

impl Run<'_> {
    /// What a fixer or a strategy is shown: the project, its build as it now stands, and the
    /// installer it may ask for packages.
    fn fix_input<'i>(&'i self, diagnostics: &'i [Diagnostic]) -> FixInput<'i> {
        FixInput {
            workspace: self.workspace,
            diagnostics,
            plan: &self.plan,
            builder: self.builder.as_ref(),
            installs: &self.installer,
        }
    }

    /// A fix for `target`: from the fixers, else the cache, else the model; or why there is
    /// none to try.
    pub(super) async fn propose(
        &mut self,
        target: &Diagnostic,
        diagnostics: &[Diagnostic],
        attempt: u32,
    ) -> Result<Step> {
        if let Some(candidate) = self.ask_fixers(target, diagnostics, attempt).await? {
            return Ok(Step::fix(candidate));
        }
        if let Some(candidate) = self.look_up_cache(target).await? {
            return Ok(Step::fix(candidate));
        }
        self.ask_model(target, diagnostics).await
    }

    /// The first deterministic fixer's fix that has not failed this run.
    pub(super) async fn ask_fixers(
        &mut self,
        target: &Diagnostic,
        diagnostics: &[Diagnostic],
        attempt: u32,
    ) -> Result<Option<Candidate>> {
        let config = self.config();
        for fixer in &self.healer.fixers {
            if fixer.safety() > config.fixer_safety {
                continue;
            }
            let input = self.fix_input(diagnostics);
            let proposed = {
                let _phase = Phase::start("fixer");
                (fixer.propose(&input))
                    .instrument(info_span!("fixer", fixer = fixer.name()))
                    .await?
            };
            self.collect_installs(attempt);
            if let Some(proposal) = proposed
                && !self.lessons.failed.contains(&digest(&proposal))
            {
                self.emit(Event::FixerApplied {
                    attempt,
                    fixer: fixer.name().to_string(),
                    safety: fixer.safety(),
                });
                return Ok(Some(Candidate {
                    by: Some(fixer.name().to_string()),
                    ..Candidate::of(proposal, FixSource::Fixer, target)
                }));
            }
        }
        Ok(None)
    }

    /// A fix that worked before for this error.
    pub(super) async fn look_up_cache(&mut self, target: &Diagnostic) -> Result<Option<Candidate>> {
        let config = self.config();
        if let Some(cache) = self.healer.cache_for(target) {
            let span = info_span!(
                "cache_lookup",
                tool = %target.tool,
                category = target.category.as_str(),
                code = target.code.as_deref().unwrap_or("")
            );
            let found = {
                let _phase = Phase::start("cache_lookup");
                cache
                    .lookup(target, &config.context)
                    .instrument(span)
                    .await?
            };
            match found {
                Some(hit) => {
                    self.emit(Event::CacheHit {
                        fix: hit.fix.id,
                        score: hit.score.total,
                    });
                    return Ok(Some(Candidate::of(
                        hit.fix.proposal,
                        FixSource::Cache,
                        target,
                    )));
                }
                None => self.emit(Event::CacheMiss),
            }
        }
        Ok(None)
    }

    /// The model's fix, streamed and read from its reply. A reply with no usable fix is still
    /// a step: the attempt it costs tells the model why, next time.
    pub(super) async fn ask_model(
        &mut self,
        target: &Diagnostic,
        diagnostics: &[Diagnostic],
    ) -> Result<Step> {
        let Some(provider) = &self.provider else {
            return Ok(Step::Stop(StopReason::NothingToTry {
                detail: "no cached fix and no model configured".into(),
            }));
        };
        let errors: Vec<Diagnostic> = errors(diagnostics).cloned().collect();
        let mut prompt = PromptBuilder::new(&errors)
            .root(self.workspace.root())
            .redactor(self.healer.redactor.clone());
        for attempt in &self.lessons.tried {
            prompt = prompt.attempt(attempt.clone());
        }
        let prompt = prompt.build();
        self.emit(Event::LlmRequest {
            provider: provider.name().to_string(),
            estimated_tokens: prompt.estimated_tokens,
        });
        let events = self.events;
        // Reading stops at the cap: the rest of an endless or huge reply is never received.
        let cap = self.config().max_reply_bytes;
        let mut received = 0usize;
        let over_cap = Arc::new(AtomicBool::new(false));
        let capped = {
            let over_cap = Arc::clone(&over_cap);
            provider
                .stream(prompt.to_request())
                .take_while(move |event| {
                    match event {
                        StreamEvent::Text(text) => received = received.saturating_add(text.len()),
                        // A new answer begins.
                        StreamEvent::Switched { .. } => received = 0,
                        _ => {}
                    }
                    let within = received <= cap;
                    if !within {
                        over_cap.store(true, Ordering::Relaxed);
                    }
                    std::future::ready(within)
                })
        };
        let streamed = llm::collect_observed(Box::pin(capped), |event| match event {
            StreamEvent::Text(text) => events.event(Event::LlmDelta { text: text.clone() }),
            StreamEvent::Switched { to, error } => events.event(Event::LlmSwitched {
                to: to.clone(),
                reason: error.to_string(),
            }),
            _ => {}
        });
        let span = info_span!(
            "llm_call",
            provider = provider.name(),
            model = provider.default_model()
        );
        let streamed = {
            let _phase = Phase::start("llm_call");
            streamed.instrument(span).await
        };
        if over_cap.load(Ordering::Relaxed) {
            return Ok(Step::Spent(format!(
                "the reply passed {cap} bytes and was cut off; answer with smaller edits"
            )));
        }
        if streamed.is_err() {
            metrics::record_llm_failure(provider.name());
        }
        let completion = match streamed {
            Ok(completion) => completion,
            Err(Error::Budget(exceeded)) => {
                return Ok(Step::Stop(StopReason::Budget {
                    detail: exceeded.to_string(),
                }));
            }
            // A transient failure (a dropped connection, an overloaded server) costs this
            // attempt, not the run: the model is asked again at the next one.
            Err(error) if transient(&error) => {
                return Ok(Step::Spent(format!("the model failed for now: {error}")));
            }
            Err(error) => {
                return Ok(Step::Stop(StopReason::NothingToTry {
                    detail: format!("the model failed: {error}"),
                }));
            }
        };
        self.emit(Event::LlmResponse {
            provider: completion.provider.clone(),
            model: completion.model.clone(),
            usage: completion.usage,
            cost_usd: (self.meter.report().records.last()).and_then(|call| call.cost_usd),
        });
        Ok(match FixProposal::from_reply(&completion.text) {
            Ok(proposal) => Step::fix(Candidate::of(proposal, FixSource::Llm, target)),
            Err(error) => Step::Spent(format!("the reply held no usable fix: {error}")),
        })
    }

    /// The next untried fallback strategy for `category` that has something to offer.
    pub(super) async fn fallback(
        &mut self,
        diagnostics: &[Diagnostic],
        category: Category,
        attempt: u32,
    ) -> Result<Option<Trial>> {
        for (index, strategy) in self.healer.strategies.iter().enumerate() {
            if self.strategies_tried[index] || !strategy.applies_to(category) {
                continue;
            }
            self.strategies_tried[index] = true;
            let input = self.fix_input(diagnostics);
            let fallback = strategy.fallback(&input).await?;
            self.collect_installs(attempt);
            let Some(fallback) = fallback else {
                continue;
            };
            let strategy = strategy.name().to_string();
            self.emit(Event::Fallback {
                attempt,
                strategy: strategy.clone(),
            });
            let fix = |proposal, setting| {
                Trial::Fix(Box::new(Candidate {
                    proposal,
                    source: FixSource::Fallback,
                    by: Some(strategy.clone()),
                    target: None,
                    setting,
                }))
            };
            return Ok(Some(match fallback {
                Remedy::Fix(proposal) => fix(proposal, None),
                Remedy::Setting(setting) => {
                    let path = RelativePath::new(setting.file())
                        .map_err(|e| Error::invalid_input(e.to_string()))?;
                    let current = self.workspace.read(&path)?;
                    let Some(content) = setting.written_into(current.as_deref()) else {
                        continue;
                    };
                    let proposal = FixProposal {
                        analysis: format!("`{}` in {}", setting.line(), setting.file()),
                        edits: vec![Edit::Replace { path, content }],
                        ..FixProposal::default()
                    };
                    fix(proposal, Some(setting))
                }
                Remedy::Plan(plan) => Trial::Switch {
                    strategy,
                    plan: Some(plan),
                    builder: None,
                },
                Remedy::Builder(builder) => Trial::Switch {
                    strategy,
                    plan: None,
                    builder: Some(builder),
                },
            }));
        }
        Ok(None)
    }
}

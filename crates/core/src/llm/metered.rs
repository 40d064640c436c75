//! [`Metered`], [`Meter`] and [`Budget`]: what calls cost, and refusing the ones that cannot be
//! afforded.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use super::{Completion, CompletionRequest, CompletionStream, Provider, StreamEvent, Usage};
use crate::error::{BudgetExceeded, BudgetLimit};
use crate::time::{Clock, SystemClock};
use crate::{Error, Result};

/// The price of a model in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelPrice {
    /// Per million prompt tokens.
    pub input_per_million: f64,
    /// Per million answer tokens.
    pub output_per_million: f64,
}

impl ModelPrice {
    /// The cost of `usage` at this price.
    pub fn cost(&self, usage: Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_per_million
            + usage.output_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// Prices by model. A model is priced by the longest entry its name starts with, after any
/// `vendor/` prefix (`anthropic/claude-sonnet-4.5`, `models/gemini-2.5-pro`): dated versions
/// such as `claude-sonnet-4-5-20250929` take the price of `claude-sonnet-4-5`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    entries: Vec<(String, ModelPrice)>,
}

impl PriceTable {
    /// A table with no prices.
    pub fn empty() -> Self {
        PriceTable::default()
    }

    /// List prices of current Anthropic, OpenAI and Gemini models (USD per million tokens,
    /// standard tier, as published in 2026). Override them with [`PriceTable::set`].
    pub fn defaults() -> Self {
        let table: &[(&str, f64, f64)] = &[
            ("claude-opus-4-6", 5.0, 25.0),
            ("claude-opus-4-5", 5.0, 25.0),
            ("claude-opus-4-1", 15.0, 75.0),
            ("claude-opus-4", 15.0, 75.0),
            ("claude-sonnet-4-6", 3.0, 15.0),
            ("claude-sonnet-4-5", 3.0, 15.0),
            ("claude-sonnet-4", 3.0, 15.0),
            ("claude-3-7-sonnet", 3.0, 15.0),
            ("claude-haiku-4-5", 1.0, 5.0),
            ("claude-3-5-haiku", 0.8, 4.0),
            ("claude-3-haiku", 0.25, 1.25),
            ("gpt-5", 1.25, 10.0),
            ("gpt-5-mini", 0.25, 2.0),
            ("gpt-5-nano", 0.05, 0.4),
            ("gpt-4.1", 2.0, 8.0),
            ("gpt-4.1-mini", 0.4, 1.6),
            ("gpt-4.1-nano", 0.1, 0.4),
            ("gpt-4o", 2.5, 10.0),
            ("gpt-4o-mini", 0.15, 0.6),
            ("o3", 2.0, 8.0),
            ("o3-mini", 1.1, 4.4),
            ("o4-mini", 1.1, 4.4),
            ("gemini-2.5-pro", 1.25, 10.0),
            ("gemini-2.5-flash", 0.3, 2.5),
            ("gemini-2.5-flash-lite", 0.1, 0.4),
            ("gemini-2.0-flash", 0.1, 0.4),
        ];
        let mut prices = PriceTable::empty();
        for &(model, input, output) in table {
            prices = prices.set(model, input, output);
        }
        prices
    }

    /// Sets the price of `model` (and of every model named after it).
    pub fn set(
        mut self,
        model: impl Into<String>,
        input_per_million: f64,
        output_per_million: f64,
    ) -> Self {
        let model = model.into();
        let price = ModelPrice {
            input_per_million,
            output_per_million,
        };
        match self.entries.iter_mut().find(|(m, _)| *m == model) {
            Some(entry) => entry.1 = price,
            None => self.entries.push((model, price)),
        }
        self
    }

    /// The price of `model`, if the table knows it.
    pub fn price(&self, model: &str) -> Option<ModelPrice> {
        let name = model.rsplit('/').next().unwrap_or(model);
        self.entries
            .iter()
            .filter(|(prefix, _)| {
                name.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.', '@', ':']))
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, price)| *price)
    }
}

/// Limits on what calls may consume; each is checked before a call that could cross it.
///
/// ```
/// use std::time::Duration;
/// use selfheal::llm::Budget;
///
/// let budget = Budget::default().max_tokens(200_000).max_usd(1.50).time(Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budget {
    /// Prompt and answer tokens in all.
    pub max_tokens: Option<u64>,
    /// Dollars in all.
    pub max_usd: Option<f64>,
    /// Time from the meter's creation.
    pub time: Option<Duration>,
}

impl Budget {
    /// No limits.
    pub fn unlimited() -> Self {
        Budget::default()
    }

    /// Limits tokens.
    pub fn max_tokens(mut self, tokens: u64) -> Self {
        self.max_tokens = Some(tokens);
        self
    }

    /// Limits dollars.
    pub fn max_usd(mut self, usd: f64) -> Self {
        self.max_usd = Some(usd);
        self
    }

    /// Limits time.
    pub fn time(mut self, time: Duration) -> Self {
        self.time = Some(time);
        self
    }
}

/// One call as the meter saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// The provider called.
    pub provider: String,
    /// The model that answered (or was asked).
    pub model: String,
    /// Tokens consumed (what the provider reported, also for failed streams).
    pub usage: Usage,
    /// Their cost; `None` when the model has no price.
    pub cost_usd: Option<f64>,
    /// The error, when the call failed.
    pub error: Option<String>,
    /// How long it took.
    #[serde(with = "crate::millis")]
    pub duration: Duration,
}

/// What a [`Meter`] has recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UsageReport {
    /// Calls made, failed ones included.
    pub calls: usize,
    /// Calls that failed.
    pub failed_calls: usize,
    /// Tokens in all.
    pub usage: Usage,
    /// Dollars in all (priced models only).
    pub cost_usd: f64,
    /// Tokens of models without a price.
    pub unpriced_tokens: u64,
    /// Every call, in order.
    pub records: Vec<CallRecord>,
}

/// A shared account of calls: usage, cost, and the [`Budget`] they draw on. Clones share it, so
/// one meter can watch every provider of a fallback chain.
#[derive(Debug, Clone)]
pub struct Meter {
    shared: Arc<MeterShared>,
}

#[derive(Debug)]
struct MeterShared {
    budget: Budget,
    prices: PriceTable,
    clock: Arc<dyn Clock>,
    started: Instant,
    ledger: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    report: UsageReport,
    reserved_tokens: u64,
    reserved_usd: f64,
}

/// What a call in flight may still consume.
#[derive(Debug, Clone, Copy)]
struct Reservation {
    tokens: u64,
    usd: f64,
}

impl Meter {
    /// A meter with `budget`, the default prices and the system clock.
    pub fn new(budget: Budget) -> Self {
        Self::build(budget, PriceTable::defaults(), Arc::new(SystemClock))
    }

    /// A meter with these prices.
    pub fn with_prices(budget: Budget, prices: PriceTable) -> Self {
        Self::build(budget, prices, Arc::new(SystemClock))
    }

    /// A meter on `clock` (the time budget runs on it).
    pub fn with_clock(budget: Budget, prices: PriceTable, clock: Arc<dyn Clock>) -> Self {
        Self::build(budget, prices, clock)
    }

    fn build(budget: Budget, prices: PriceTable, clock: Arc<dyn Clock>) -> Self {
        let started = clock.now();
        Meter {
            shared: Arc::new(MeterShared {
                budget,
                prices,
                clock,
                started,
                ledger: Mutex::default(),
            }),
        }
    }

    /// Everything recorded so far.
    pub fn report(&self) -> UsageReport {
        self.shared.lock().report.clone()
    }

    /// The budget.
    pub fn budget(&self) -> &Budget {
        &self.shared.budget
    }

    /// The time left of the budget, if it limits time.
    pub fn time_left(&self) -> Option<Duration> {
        let shared = &self.shared;
        shared.budget.time.map(|time| {
            time.saturating_sub(shared.clock.now().saturating_duration_since(shared.started))
        })
    }

    /// Checks that a call of `request` to `model` fits the budget, counting its prompt (four
    /// characters a token) and its whole `max_tokens` answer, and reserves that much.
    fn reserve(&self, request: &CompletionRequest, model: &str) -> Result<Reservation> {
        let shared = &self.shared;
        if let (Some(time), Some(left)) = (shared.budget.time, self.time_left())
            && left.is_zero()
        {
            return Err(Error::Budget(BudgetExceeded {
                limit: BudgetLimit::Time,
                spent: time.as_secs_f64(),
                needed: 0.0,
                allowed: time.as_secs_f64(),
            }));
        }
        let tokens = request.estimated_input_tokens() + u64::from(request.max_tokens);
        let usd = shared.prices.price(model).map_or(0.0, |price| {
            price.cost(Usage {
                input_tokens: request.estimated_input_tokens(),
                output_tokens: u64::from(request.max_tokens),
            })
        });
        let mut ledger = shared.lock();
        if let Some(allowed) = shared.budget.max_tokens {
            let spent = ledger.report.usage.total() + ledger.reserved_tokens;
            if spent + tokens > allowed {
                return Err(Error::Budget(BudgetExceeded {
                    limit: BudgetLimit::Tokens,
                    spent: spent as f64,
                    needed: tokens as f64,
                    allowed: allowed as f64,
                }));
            }
        }
        if let Some(allowed) = shared.budget.max_usd {
            let spent = ledger.report.cost_usd + ledger.reserved_usd;
            if spent + usd > allowed {
                return Err(Error::Budget(BudgetExceeded {
                    limit: BudgetLimit::Usd,
                    spent,
                    needed: usd,
                    allowed,
                }));
            }
        }
        ledger.reserved_tokens += tokens;
        ledger.reserved_usd += usd;
        Ok(Reservation { tokens, usd })
    }

    /// Ends a call: releases its reservation and records what it consumed.
    fn settle(&self, reservation: Reservation, record: CallRecord) {
        let mut ledger = self.shared.lock();
        ledger.reserved_tokens = ledger.reserved_tokens.saturating_sub(reservation.tokens);
        ledger.reserved_usd = (ledger.reserved_usd - reservation.usd).max(0.0);
        let report = &mut ledger.report;
        report.calls += 1;
        report.failed_calls += usize::from(record.error.is_some());
        report.usage += record.usage;
        match record.cost_usd {
            Some(cost) => report.cost_usd += cost,
            None => report.unpriced_tokens += record.usage.total(),
        }
        report.records.push(record);
    }

    fn record(
        &self,
        provider: &str,
        model: &str,
        usage: Usage,
        error: Option<String>,
        duration: Duration,
    ) -> CallRecord {
        CallRecord {
            provider: provider.to_string(),
            model: model.to_string(),
            usage,
            cost_usd: self.shared.prices.price(model).map(|p| p.cost(usage)),
            error,
            duration,
        }
    }

    /// The request with its timeout cut to the time the budget has left.
    fn bounded<'a>(&self, request: &'a CompletionRequest) -> Cow<'a, CompletionRequest> {
        match self.time_left() {
            Some(left) if request.timeout.is_none_or(|t| t > left) => {
                let mut bounded = request.clone();
                bounded.timeout = Some(left);
                Cow::Owned(bounded)
            }
            _ => Cow::Borrowed(request),
        }
    }
}

impl MeterShared {
    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Records every call of a provider in a [`Meter`] and refuses calls its budget cannot afford.
///
/// Wrap each provider directly (inside retries) so every HTTP attempt is checked and counted:
/// usage is recorded for failed calls too, as far as the provider reported it.
#[derive(Debug, Clone)]
pub struct Metered {
    inner: Arc<dyn Provider>,
    meter: Meter,
}

impl Metered {
    /// Meters `inner` into `meter`.
    pub fn new(inner: Arc<dyn Provider>, meter: Meter) -> Self {
        Metered { inner, meter }
    }
}

/// Settles a reservation when a call ends, also when its stream is dropped half-read.
struct Open {
    meter: Meter,
    reservation: Option<Reservation>,
    provider: String,
    model: String,
    usage: Usage,
    started: Instant,
}

impl Open {
    fn close(&mut self, model: Option<&str>, error: Option<String>) {
        if let Some(reservation) = self.reservation.take() {
            let duration = self
                .meter
                .shared
                .clock
                .now()
                .saturating_duration_since(self.started);
            let model = model.unwrap_or(&self.model);
            let record = self
                .meter
                .record(&self.provider, model, self.usage, error, duration);
            self.meter.settle(reservation, record);
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.close(None, Some("the stream was dropped before it ended".into()));
    }
}

#[async_trait::async_trait]
impl Provider for Metered {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn default_model(&self) -> &str {
        self.inner.default_model()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion> {
        let model = request
            .model
            .as_deref()
            .unwrap_or(self.inner.default_model());
        let reservation = self.meter.reserve(request, model)?;
        let mut open = Open {
            meter: self.meter.clone(),
            reservation: Some(reservation),
            provider: self.inner.name().to_string(),
            model: model.to_string(),
            usage: Usage::default(),
            started: self.meter.shared.clock.now(),
        };
        let result = self.inner.complete(&self.meter.bounded(request)).await;
        match &result {
            Ok(completion) => {
                open.usage = completion.usage;
                open.close(Some(&completion.model), None);
            }
            Err(error) => open.close(None, Some(error.to_string())),
        }
        result
    }

    fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let inner = self.inner.clone();
        let meter = self.meter.clone();
        Box::pin(async_stream::stream! {
            let model = request.model.clone().unwrap_or_else(|| inner.default_model().to_string());
            let reservation = match meter.reserve(&request, &model) {
                Ok(reservation) => reservation,
                Err(error) => {
                    yield StreamEvent::Error(error);
                    return;
                }
            };
            let mut open = Open {
                meter: meter.clone(),
                reservation: Some(reservation),
                provider: inner.name().to_string(),
                model,
                usage: Usage::default(),
                started: meter.shared.clock.now(),
            };
            let mut events = inner.stream(meter.bounded(&request).into_owned());
            while let Some(event) = events.next().await {
                match &event {
                    StreamEvent::Usage(added) => open.usage += *added,
                    StreamEvent::Stop(_) => open.close(None, None),
                    StreamEvent::Error(error) => open.close(None, Some(error.to_string())),
                    _ => {}
                }
                yield event;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_match_the_longest_model_prefix() {
        let prices = PriceTable::defaults();
        let price = |m: &str| {
            prices
                .price(m)
                .map(|p| (p.input_per_million, p.output_per_million))
        };
        assert_eq!(price("claude-sonnet-4-5-20250929"), Some((3.0, 15.0)));
        assert_eq!(price("anthropic/claude-haiku-4-5"), Some((1.0, 5.0)));
        assert_eq!(price("gpt-4o-mini-2024-07-18"), Some((0.15, 0.6)));
        assert_eq!(price("gpt-4o"), Some((2.5, 10.0)));
        assert_eq!(price("o3-mini"), Some((1.1, 4.4)));
        assert_eq!(price("models/gemini-2.5-flash-lite"), Some((0.1, 0.4)));
        assert_eq!(price("gpt-4oops"), None);
        assert_eq!(price("llama3"), None);
        let custom = PriceTable::empty().set("llama3", 0.0, 0.0);
        assert_eq!(
            custom.price("llama3:8b").map(|p| p.output_per_million),
            Some(0.0)
        );
        let cost = ModelPrice {
            input_per_million: 3.0,
            output_per_million: 15.0,
        }
        .cost(Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
        });
        assert!((cost - 4.5).abs() < 1e-9);
    }
}

//! [`HealConfig`] and its [`RunBudget`]: how a heal run behaves and what it may spend.

use std::time::Duration;

use super::policy::AttemptPolicy;
use crate::build::BuildStep;
use crate::cache::FixContext;
use crate::fix::Safety;
use crate::fix::install::InstallPolicy;
use crate::llm::PriceTable;
use crate::workspace::ApplyOptions;

/// What one heal run may spend. When any part runs out the run ends unhealed: out of
/// attempts, tokens or dollars it escalates; out of time it fails.
#[derive(Debug, Clone, PartialEq)]
pub struct RunBudget {
    /// Builds in all, the first included (seed default 5).
    pub attempts: u32,
    /// The whole run's wall-clock time (seed 004: a hard limit of 5 minutes).
    pub time: Duration,
    /// Model tokens, prompt and answer (`None`: no limit). A call that could pass the limit
    /// is not made.
    pub tokens: Option<u64>,
    /// Model cost in USD at [`HealConfig::prices`] (`None`: no limit).
    pub usd: Option<f64>,
}

impl Default for RunBudget {
    fn default() -> Self {
        RunBudget {
            attempts: 5,
            time: Duration::from_secs(300),
            tokens: None,
            usd: None,
        }
    }
}

/// How a heal run behaves.
#[derive(Debug, Clone)]
pub struct HealConfig {
    /// What the run may spend.
    pub budget: RunBudget,
    /// Waits between attempts, per-category limits, and errors not worth retrying.
    pub attempts: AttemptPolicy,
    /// Fall back (and in the end escalate) when this many builds in a row end with the same
    /// errors.
    pub stuck_after: u32,
    /// How fixes are applied.
    pub apply: ApplyOptions,
    /// The least safe fixers that run (default: [`Safety::Likely`]: safe and likely ones).
    pub fixer_safety: Safety,
    /// The project, for ranking cached fixes.
    pub context: FixContext,
    /// Seeds the backoff's jitter, for runs that must wait the same every time (default: a
    /// seed from the clock).
    pub jitter_seed: Option<u64>,
    /// When the build is not healed, keep the fixes that removed errors (default: the
    /// workspace is put back as it was before the run; the report holds every attempt's diff).
    pub keep_partial: bool,
    /// Model prices, for the report's cost and the dollar budget.
    pub prices: PriceTable,
    /// Bytes of a model's reply read at most (default 2 MiB): the stream is dropped at the cap,
    /// and the reply counts as unusable.
    pub max_reply_bytes: usize,
    /// Steps that must pass too once the plan passes (a test suite, say). No fix may change
    /// the files and folders they name, nor tests whatever the policy allows; without verify
    /// steps, a fix that deletes or empties a test file or removes assertions is never kept.
    pub verify: Vec<BuildStep>,
    /// Whether and where fixes may install packages (default: allowed, only what the
    /// project's source imports, scripts off, pip only into the project's virtualenv; see
    /// [`install`](crate::fix::install)).
    pub install: InstallPolicy,
}

impl Default for HealConfig {
    fn default() -> Self {
        HealConfig {
            budget: RunBudget::default(),
            attempts: AttemptPolicy::default(),
            stuck_after: 3,
            apply: ApplyOptions::default(),
            fixer_safety: Safety::Likely,
            context: FixContext::default(),
            jitter_seed: None,
            keep_partial: false,
            prices: PriceTable::defaults(),
            max_reply_bytes: 2 << 20,
            verify: Vec::new(),
            install: InstallPolicy::default(),
        }
    }
}

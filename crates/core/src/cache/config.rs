//! The fix cache's settings; every default is the seed's (000 §3.4.6).

use std::time::Duration;

use super::index::IndexConfig;
use super::sqlite::Durability;

/// How the cache matches, ranks, retires and stores fixes.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// Cosine similarity from which a signature counts as the same error; `None` (the default)
    /// takes the embedder's [`similarity_threshold`](super::Embedder::similarity_threshold).
    pub similarity_threshold: Option<f32>,
    /// Fixes that worked less often than this are not served (default 0.6).
    pub min_success_rate: f64,
    /// Weights of the ranking score.
    pub weights: ScoreWeights,
    /// The recency part of the score is `exp(-days since last use / recency_days)` (default 30).
    pub recency_days: f64,
    /// Similar signatures considered per lookup (default 10).
    pub candidates: usize,
    /// When fixes are deprecated and pruned.
    pub retention: Retention,
    /// The in-memory index.
    pub index: IndexConfig,
    /// Lookups catch up with other processes' writes at most this often (default 1 s).
    pub sync_interval: Duration,
    /// How hard the embedded store's writes wait for the disk.
    pub durability: Durability,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            similarity_threshold: None,
            min_success_rate: 0.6,
            weights: ScoreWeights::default(),
            recency_days: 30.0,
            candidates: 10,
            retention: Retention::default(),
            index: IndexConfig::default(),
            sync_interval: Duration::from_secs(1),
            durability: Durability::default(),
        }
    }
}

impl CacheConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.index.validate()?;
        let rates = [
            self.min_success_rate,
            self.retention.deprecate_below,
            self.retention.prune_below,
        ];
        if rates.iter().any(|rate| !(0.0..=1.0).contains(rate)) {
            return Err("success rates must be in 0.0..=1.0".into());
        }
        if self.recency_days.is_nan() || self.recency_days <= 0.0 {
            return Err("recency_days must be positive".into());
        }
        if self.candidates == 0 {
            return Err("candidates must be at least 1".into());
        }
        Ok(())
    }
}

/// Weights of the parts of a cached fix's ranking score (they sum to 1 by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreWeights {
    /// Similarity of the signatures (0.3).
    pub similarity: f64,
    /// Success rate of the fix (0.25).
    pub success_rate: f64,
    /// Recency of its last use (0.15).
    pub recency: f64,
    /// How often it was used, `log10(uses + 1) / 3` (0.1).
    pub use_count: f64,
    /// Agreement of the projects: language, framework, dependency versions, error code (0.2).
    pub context: f64,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            similarity: 0.3,
            success_rate: 0.25,
            recency: 0.15,
            use_count: 0.1,
            context: 0.2,
        }
    }
}

/// When a fix stops being served and when it is forgotten.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// A fix is deprecated (not served) when its success rate falls below this … (0.4)
    pub deprecate_below: f64,
    /// … after at least this many uses (5).
    pub deprecate_after_uses: u32,
    /// [`prune`](super::FixCache::prune) forgets fixes unused for this many days (90) …
    pub prune_unused_days: u32,
    /// … and fixes whose success rate is below this … (0.3)
    pub prune_below: f64,
    /// … after at least this many uses (10).
    pub prune_after_uses: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            deprecate_below: 0.4,
            deprecate_after_uses: 5,
            prune_unused_days: 90,
            prune_below: 0.3,
            prune_after_uses: 10,
        }
    }
}

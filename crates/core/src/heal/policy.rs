//! The attempt policy of seed 000 §3.4.4 (its `RetryManager`): how many attempts, how long to
//! wait between them, and which errors are not worth another attempt.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

use crate::time;
use crate::{Category, Diagnostic, Subcategory};

/// When to try again and how long to wait first.
#[derive(Debug, Clone)]
pub struct AttemptPolicy {
    /// The wait before attempt 2.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Each wait is this many times the previous one.
    pub factor: f64,
    /// Each wait is moved by up to this fraction of itself, up or down, at random.
    pub jitter: f64,
    /// Attempts allowed while an error of a category leads (the first error of the build).
    pub category_limits: BTreeMap<Category, u32>,
    /// The wait is multiplied by this while an error of a category leads.
    pub delay_multipliers: BTreeMap<Category, f64>,
    /// Messages that no attempt can fix (a missing licence, an expired subscription).
    pub not_retryable: Vec<Regex>,
}

impl Default for AttemptPolicy {
    fn default() -> Self {
        AttemptPolicy {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            factor: 2.0,
            jitter: 0.1,
            category_limits: BTreeMap::from([
                (Category::Dependency, 3),
                (Category::Resource, 2),
                (Category::Network, 5),
                (Category::Unknown, 2),
            ]),
            delay_multipliers: BTreeMap::from([
                (Category::Network, 1.5),
                (Category::Resource, 2.0),
                (Category::Syntax, 0.5),
                (Category::Type, 0.5),
            ]),
            not_retryable: [
                "license key",
                "authentication required",
                "subscription expired",
                "quota exceeded",
            ]
            .iter()
            .filter_map(|pattern| Regex::new(&format!("(?i){pattern}")).ok())
            .collect(),
        }
    }
}

/// Why a heal run stops trying.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// Every attempt the budget allows was used.
    MaxAttempts {
        /// How many.
        attempts: u32,
    },
    /// The budget has no tokens or dollars left for another model call.
    Budget {
        /// Which limit, and how far it is used.
        detail: String,
    },
    /// The leading error's category used its own limit.
    CategoryLimit {
        /// The category.
        category: Category,
        /// Its limit.
        limit: u32,
    },
    /// An error says no attempt can fix it.
    NotRetryable {
        /// The message.
        message: String,
    },
    /// The same errors came back attempt after attempt.
    Stuck {
        /// How many attempts in a row ended with the same errors.
        attempts: u32,
    },
    /// No fix to try: nothing in the fix cache and no model, or the model failed.
    NothingToTry {
        /// Why.
        detail: String,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::MaxAttempts { attempts } => write!(f, "all {attempts} attempts used"),
            StopReason::Budget { detail } => write!(f, "out of budget: {detail}"),
            StopReason::CategoryLimit { category, limit } => {
                write!(f, "{limit} attempts at a {category:?} error are the limit")
            }
            StopReason::NotRetryable { message } => write!(f, "no attempt can fix: {message}"),
            StopReason::Stuck { attempts } => {
                write!(f, "the same errors after {attempts} attempts in a row")
            }
            StopReason::NothingToTry { detail } => write!(f, "nothing to try: {detail}"),
        }
    }
}

impl AttemptPolicy {
    /// After `attempt` (1-based; the budget decides how many there are) failed with `leading`
    /// as its first error (`None`: no error was recognised) and `messages` as its error
    /// messages: the wait before the next attempt, or why there is none.
    /// `attempts_of_kind` is how many attempts so far (this one included) had an error of the
    /// same category leading (lint findings counted apart); `random` is a number in
    /// `0.0..1.0` for the jitter.
    ///
    /// A lint finding (subcategory `lint`) is a rule broken at a place: its category is
    /// `unknown` by the parsers' rubric, but it is not held to the limit of `unknown` errors,
    /// which is for failures nothing recognised.
    pub fn next(
        &self,
        attempt: u32,
        leading: Option<&Diagnostic>,
        attempts_of_kind: u32,
        messages: &[&str],
        random: f64,
    ) -> Result<Duration, StopReason> {
        let category = leading.map_or(Category::Unknown, |d| d.category);
        let lint = leading.is_some_and(|d| d.subcategory == Subcategory::Lint);
        if let Some(message) = messages
            .iter()
            .find(|m| self.not_retryable.iter().any(|p| p.is_match(m)))
        {
            return Err(StopReason::NotRetryable {
                message: message.to_string(),
            });
        }
        if let Some(&limit) = self.category_limits.get(&category)
            && !lint
            && attempts_of_kind >= limit
        {
            return Err(StopReason::CategoryLimit { category, limit });
        }
        Ok(self.delay(attempt, category, random))
    }

    /// The wait after `attempt` (1-based): `base · factor^(attempt-1)`, capped, moved by the
    /// jitter, times the category's multiplier.
    pub fn delay(&self, attempt: u32, leading: Category, random: f64) -> Duration {
        let sample = random.clamp(0.0, 1.0) * 2.0 - 1.0;
        let (base, max) = (self.base_delay, self.max_delay);
        let wait = time::backoff(base, self.factor, max, attempt, self.jitter, sample);
        let multiplier = self.delay_multipliers.get(&leading).copied().unwrap_or(1.0);
        Duration::try_from_secs_f64(wait.as_secs_f64() * multiplier.max(0.0))
            .unwrap_or(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_are_capped_jittered_and_scaled_by_category() {
        let policy = AttemptPolicy::default();
        let cases = [
            (1, Category::Runtime, 0.5, 1000),
            (3, Category::Runtime, 0.5, 4000),
            (30, Category::Runtime, 0.5, 60_000),
            (3, Category::Type, 0.5, 2000),
            (2, Category::Network, 0.5, 3000),
            (2, Category::Resource, 0.5, 4000),
            (1, Category::Runtime, 0.0, 900),
            (1, Category::Runtime, 1.0, 1100),
        ];
        for (attempt, category, random, millis) in cases {
            let delay = policy.delay(attempt, category, random);
            assert_eq!(
                delay,
                Duration::from_millis(millis),
                "{attempt} {category:?} {random}"
            );
        }
    }

    #[test]
    fn attempts_stop_at_category_limits_and_at_hopeless_messages() {
        let policy = AttemptPolicy::default();
        let error = |category, subcategory| {
            Diagnostic::new("tool", "an error").with_class(category, subcategory)
        };
        let type_error = error(Category::Type, Subcategory::TypeMismatch);
        let missing = error(Category::Dependency, Subcategory::MissingPackage);
        assert!(
            policy.next(9, Some(&type_error), 9, &[], 0.5).is_ok(),
            "types: no limit"
        );
        assert_eq!(
            policy.next(3, Some(&missing), 3, &[], 0.5),
            Err(StopReason::CategoryLimit {
                category: Category::Dependency,
                limit: 3
            })
        );
        assert!(policy.next(3, Some(&missing), 2, &[], 0.5).is_ok());
        let hopeless = ["npm ERR! 402 Payment Required: Subscription expired for @acme/ui"];
        assert!(matches!(
            policy.next(1, Some(&missing), 1, &hopeless, 0.5),
            Err(StopReason::NotRetryable { .. })
        ));
        let unrecognised = StopReason::CategoryLimit {
            category: Category::Unknown,
            limit: 2,
        };
        assert_eq!(policy.next(2, None, 2, &[], 0.5), Err(unrecognised.clone()));
        let odd = error(Category::Unknown, Subcategory::Other);
        assert_eq!(policy.next(2, Some(&odd), 2, &[], 0.5), Err(unrecognised));
        let lint = error(Category::Unknown, Subcategory::Lint);
        assert!(
            policy.next(4, Some(&lint), 4, &[], 0.5).is_ok(),
            "a lint finding is recognised"
        );
    }
}

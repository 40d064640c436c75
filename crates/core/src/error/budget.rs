//! [`BudgetExceeded`]: a model call refused because it could cross a limit of a
//! [`Budget`](crate::llm::Budget).

use std::fmt;

use serde::Serialize;

/// Which limit of a [`Budget`](crate::llm::Budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetLimit {
    /// [`Budget::max_tokens`](crate::llm::Budget::max_tokens).
    Tokens,
    /// [`Budget::max_usd`](crate::llm::Budget::max_usd).
    Usd,
    /// [`Budget::time`](crate::llm::Budget::time).
    Time,
}

impl fmt::Display for BudgetLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetLimit::Tokens => "token",
            BudgetLimit::Usd => "dollar",
            BudgetLimit::Time => "time",
        })
    }
}

/// A call refused because it could cross a limit. Amounts are in the limit's unit (tokens,
/// USD, seconds).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{limit} budget: {spent} spent and up to {needed} needed would pass the limit of {allowed}"
)]
pub struct BudgetExceeded {
    /// The limit.
    pub limit: BudgetLimit,
    /// Spent so far (calls in flight included).
    pub spent: f64,
    /// The most this call could add.
    pub needed: f64,
    /// The limit's value.
    pub allowed: f64,
}

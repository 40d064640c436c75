//! What the cache remembers about one fix: the error it fixed, where, the edits, and how it has
//! done since.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ErrorSignature;
use crate::diagnostic::Fnv64;
use crate::fix::FixProposal;

/// The store's key of a cached fix.
pub type FixId = i64;

/// A fix that turned a build green, with its record since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedFix {
    /// Its key in the store.
    pub id: FixId,
    /// The kind of error it fixed.
    pub signature: ErrorSignature,
    /// The error's message as the tool printed it, for prompts and reports.
    pub example: String,
    /// The project it was made in.
    pub context: FixContext,
    /// The edits that fixed it.
    pub proposal: FixProposal,
    /// How it has done.
    pub stats: FixStats,
    /// Failed too often to be served (it is kept until pruned, so that it is not re-learned as
    /// new).
    pub deprecated: bool,
}

/// Use counts and times of a cached fix. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixStats {
    /// Times it was applied (its first success included).
    pub uses: u32,
    /// Times the build was green afterwards.
    pub successes: u32,
    /// Times it was not.
    pub failures: u32,
    /// When it was first recorded.
    pub created_at: i64,
    /// When it was last applied.
    pub last_used: i64,
}

impl FixStats {
    /// `successes / uses`; 0 for a fix never used.
    pub fn success_rate(&self) -> f64 {
        if self.uses == 0 {
            0.0
        } else {
            f64::from(self.successes) / f64::from(self.uses)
        }
    }
}

/// The project around an error: what makes a fix from one project fit another.
///
/// ```
/// use selfheal::cache::FixContext;
///
/// let here = FixContext::default().language("typescript").framework("next").dependency("react", "18.2.0");
/// let there = FixContext::default().language("typescript").framework("next").dependency("react", "18.3.1");
/// let vite = FixContext::default().language("typescript").framework("vite").dependency("react", "17.0.2");
/// assert_eq!(here.agreement(&there), 1.0);
/// assert!(here.agreement(&vite) < 0.5);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FixContext {
    /// The language (`typescript`, `python`, `rust`).
    pub language: Option<String>,
    /// The framework (`next`, `vite`, `fastapi`).
    pub framework: Option<String>,
    /// Declared dependencies and their versions.
    pub dependencies: BTreeMap<String, String>,
}

impl FixContext {
    /// Sets the language.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets the framework.
    pub fn framework(mut self, framework: impl Into<String>) -> Self {
        self.framework = Some(framework.into());
        self
    }

    /// Adds a dependency.
    pub fn dependency(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.dependencies.insert(name.into(), version.into());
        self
    }

    /// How well two contexts agree, in `0.0..=1.0`: the mean over language, framework and the
    /// dependencies both declare (same major version), counting only what both sides know. Two
    /// contexts with nothing in common to compare agree fully: there is nothing to hold against
    /// the fix.
    pub fn agreement(&self, other: &FixContext) -> f64 {
        let mut parts = Vec::with_capacity(3);
        let mut compare = |a: &Option<String>, b: &Option<String>| {
            if let (Some(a), Some(b)) = (a, b) {
                parts.push(if a.eq_ignore_ascii_case(b) { 1.0 } else { 0.0 });
            }
        };
        compare(&self.language, &other.language);
        compare(&self.framework, &other.framework);
        let shared: Vec<f64> = (self.dependencies.iter())
            .filter_map(|(name, version)| {
                let theirs = other.dependencies.get(name)?;
                Some(if major(version) == major(theirs) {
                    1.0
                } else {
                    0.0
                })
            })
            .collect();
        if !shared.is_empty() {
            parts.push(shared.iter().sum::<f64>() / shared.len() as f64);
        }
        if parts.is_empty() {
            1.0
        } else {
            parts.iter().sum::<f64>() / parts.len() as f64
        }
    }
}

/// `^18.2.0` → `18`; `0.12.3` → `0.12` (below 1.0, the minor version breaks).
fn major(version: &str) -> &str {
    let version = version.trim_start_matches(|c: char| !c.is_ascii_digit());
    let mut parts = version.splitn(3, '.');
    let first = parts.next().unwrap_or("");
    match (first, parts.next()) {
        ("0", Some(minor)) => &version[..first.len() + 1 + minor.len()],
        _ => first,
    }
}

/// What identifies a fix within its partition: its edits (two replies that differ only in their
/// analysis are one fix).
pub(crate) fn digest(proposal: &FixProposal) -> u64 {
    let mut hash = Fnv64::new();
    hash.field(&serde_json::to_string(&proposal.edits).unwrap_or_default());
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(major("^18.2.0"), "18");
        assert_eq!(major("~0.12.3"), "0.12");
        assert_eq!(major("5"), "5");
        assert_eq!(major("latest"), "");
    }

    #[test]
    fn agreement_counts_only_what_both_know() {
        let a = FixContext::default()
            .language("python")
            .dependency("numpy", "1.26.4")
            .dependency("pandas", "2.2.0");
        let b = FixContext::default()
            .language("python")
            .framework("fastapi")
            .dependency("numpy", "2.0.0")
            .dependency("pandas", "2.1.0");
        // language 1, dependencies (0 + 1) / 2; framework unknown on one side.
        assert!((a.agreement(&b) - 0.75).abs() < 1e-9);
        assert_eq!(FixContext::default().agreement(&b), 1.0);
        let rate = FixStats {
            uses: 4,
            successes: 3,
            failures: 1,
            created_at: 0,
            last_used: 0,
        };
        assert_eq!(rate.success_rate(), 0.75);
    }
}

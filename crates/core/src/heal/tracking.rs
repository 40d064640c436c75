//! Differential tracking: which diagnostics an attempt fixed, which it introduced, which
//! persist.
//!
//! Diagnostics are compared by [`Diagnostic::fingerprint`] — tool, code, file and normalized
//! message, without line numbers — so an error that only moved because lines were added above
//! it persists rather than being "fixed" and "new" at once. The same fingerprint may occur
//! several times (one error per call site): counts are compared, not sets.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Category, Diagnostic, Severity};

/// How one attempt's diagnostics compare with the previous attempt's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    /// Diagnostics that were not there before.
    pub new: Vec<Diagnostic>,
    /// Diagnostics that are gone (as they were before).
    pub fixed: Vec<Diagnostic>,
    /// Diagnostics still there (as they are now).
    pub persisting: Vec<Diagnostic>,
}

impl Delta {
    /// Compares the errors of `before` and `after` (warnings and notes do not count).
    pub fn between(before: &[Diagnostic], after: &[Diagnostic]) -> Self {
        let mut remaining: BTreeMap<&str, usize> = BTreeMap::new();
        for diagnostic in errors(before) {
            *remaining.entry(&diagnostic.fingerprint).or_default() += 1;
        }
        let mut delta = Delta::default();
        for diagnostic in errors(after) {
            match remaining.get_mut(diagnostic.fingerprint.as_str()) {
                Some(count) if *count > 0 => {
                    *count -= 1;
                    delta.persisting.push(diagnostic.clone());
                }
                _ => delta.new.push(diagnostic.clone()),
            }
        }
        for diagnostic in errors(before) {
            if let Some(count) = remaining.get_mut(diagnostic.fingerprint.as_str())
                && *count > 0
            {
                *count -= 1;
                delta.fixed.push(diagnostic.clone());
            }
        }
        delta
    }

    /// Whether the attempt made things worse: more errors than before, or an error of a
    /// category that was not there before. Errors that show once a critical error is gone (out
    /// of memory, a fatal error: the build could not go on) were behind it, not made by the
    /// change: getting past it is progress, unless another critical error takes its place.
    pub fn regressed(&self) -> bool {
        let critical = |d: &Diagnostic| d.severity == Severity::Critical;
        if self.fixed.iter().any(critical) {
            return self.new.iter().any(critical);
        }
        if self.new.len() > self.fixed.len() {
            return true;
        }
        let before: Vec<Category> = (self.fixed.iter().chain(&self.persisting))
            .map(|d| d.category)
            .collect();
        self.new.iter().any(|d| !before.contains(&d.category))
    }
}

/// The errors among `diagnostics`.
pub(super) fn errors(diagnostics: &[Diagnostic]) -> impl Iterator<Item = &Diagnostic> {
    diagnostics.iter().filter(|d| d.is_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Subcategory;

    fn error(code: &str, message: &str, line: u32, category: Category) -> Diagnostic {
        let mut d = Diagnostic::new("tsc", message)
            .with_code(code)
            .with_class(category, Subcategory::Other)
            .at("src/app.ts", Some(line), Some(1));
        d.fingerprint = d.compute_fingerprint();
        d
    }

    #[test]
    fn moved_errors_persist_and_counts_are_compared() {
        let a = error("TS2304", "Cannot find name 'x'.", 3, Category::Type);
        let b = error(
            "TS2322",
            "Type 'string' is not assignable to type 'number'.",
            9,
            Category::Type,
        );
        let before = vec![a.clone(), a.clone(), b.clone()];
        let moved = error("TS2304", "Cannot find name 'x'.", 5, Category::Type);
        let after = vec![moved.clone()];
        let delta = Delta::between(&before, &after);
        assert_eq!(delta.persisting, vec![moved]);
        assert_eq!(delta.fixed, vec![a, b]);
        assert!(delta.new.is_empty());
        assert!(!delta.regressed());
    }

    #[test]
    fn more_errors_or_a_new_category_is_a_regression() {
        let type_error = error("TS2304", "Cannot find name 'x'.", 3, Category::Type);
        let syntax = error("TS1005", "';' expected.", 4, Category::Syntax);
        let other_type = error("TS2339", "Property 'y' does not exist.", 8, Category::Type);
        let one = std::slice::from_ref;
        assert!(Delta::between(one(&type_error), one(&syntax)).regressed());
        assert!(!Delta::between(one(&type_error), one(&other_type)).regressed());
        let two = [type_error.clone(), other_type];
        assert!(Delta::between(one(&type_error), &two).regressed());
        let mut warning = syntax;
        warning.severity = Severity::Warning;
        assert_eq!(
            Delta::between(one(&type_error), one(&warning)).fixed,
            vec![type_error]
        );
    }
}

//! The loop's one rule: whether an attempt's change stays. A pure function of what the attempt
//! changed, what the build after it said and how its errors compare with those before.

use super::tracking::Delta;

/// What the build after a change said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Every step passed.
    pub(super) green: bool,
    /// A step ran out of time.
    pub(super) timed_out: bool,
    /// The build got further than before: a later step failed, or a later stage of the same
    /// step (`next build` type-checked, then prerendering failed). Errors of a stage the build
    /// had not reached were behind the ones fixed, not made by the change.
    pub(super) further: bool,
}

/// Whether a change stays, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The change stays: the build is green, the change removed an error and made nothing
    /// worse, or nothing was changed (a plain rebuild is never undone).
    Keep,
    /// The build timed out.
    TimedOut,
    /// More errors than before, or an error of a category that was not there, where the build
    /// got no further.
    Regressed,
    /// No error went away.
    FixedNothing,
}

/// The verdict on an attempt: `changed` is false for a rebuild without a change.
pub(super) fn verdict(changed: bool, build: Outcome, delta: &Delta) -> Verdict {
    if build.green || !changed {
        Verdict::Keep
    } else if build.timed_out {
        Verdict::TimedOut
    } else if delta.regressed() && !build.further {
        Verdict::Regressed
    } else if delta.fixed.is_empty() {
        Verdict::FixedNothing
    } else {
        Verdict::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Category, Diagnostic};

    fn error(category: Category, message: &str) -> Diagnostic {
        let mut d = Diagnostic::new("t", message).with_class(category, crate::Subcategory::Other);
        d.fingerprint = d.compute_fingerprint();
        d
    }

    #[test]
    fn the_table() {
        let syntax = |m| error(Category::Syntax, m);
        let a = syntax("a");
        let b = syntax("b");
        let c = syntax("c");
        let typed = error(Category::Type, "t");
        let mut oom = error(Category::Resource, "heap out of memory");
        oom.severity = crate::Severity::Critical;
        let mut killed = error(Category::Resource, "killed");
        killed.severity = crate::Severity::Critical;
        let outcome = |green, timed_out, further| Outcome {
            green,
            timed_out,
            further,
        };
        let (green, red, slow, further) = (
            outcome(true, false, false),
            outcome(false, false, false),
            outcome(false, true, false),
            outcome(false, false, true),
        );
        let delta = |before: &[&Diagnostic], after: &[&Diagnostic]| {
            let before: Vec<Diagnostic> = before.iter().map(|d| (*d).clone()).collect();
            let after: Vec<Diagnostic> = after.iter().map(|d| (*d).clone()).collect();
            Delta::between(&before, &after)
        };
        use Verdict::*;
        let cases: &[(&str, bool, Outcome, Delta, Verdict)] = &[
            ("green after a change", true, green, delta(&[&a], &[]), Keep),
            (
                "green after a change that added nothing",
                true,
                green,
                delta(&[&a], &[&b]),
                Keep,
            ),
            (
                "a rebuild is never undone",
                false,
                red,
                delta(&[&a], &[&a, &b]),
                Keep,
            ),
            ("one of two fixed", true, red, delta(&[&a, &b], &[&b]), Keep),
            (
                "one fixed, one new of a known category",
                true,
                red,
                delta(&[&a, &b], &[&b, &c]),
                Keep,
            ),
            (
                "nothing fixed",
                true,
                red,
                delta(&[&a], &[&a]),
                FixedNothing,
            ),
            (
                "one fixed, two new",
                true,
                red,
                delta(&[&a], &[&b, &c]),
                Regressed,
            ),
            (
                "one fixed, one new of a new category",
                true,
                red,
                delta(&[&a], &[&typed]),
                Regressed,
            ),
            (
                "past a critical error, the errors behind it",
                true,
                red,
                delta(&[&oom], &[&a, &typed]),
                Keep,
            ),
            (
                "a critical error for another",
                true,
                red,
                delta(&[&oom], &[&killed]),
                Regressed,
            ),
            (
                "a critical error where there was none",
                true,
                red,
                delta(&[&a, &b], &[&oom]),
                Regressed,
            ),
            (
                "one fixed, one new of a new category, at a later stage",
                true,
                further,
                delta(&[&a], &[&typed]),
                Keep,
            ),
            (
                "one fixed, two new, at a later stage",
                true,
                further,
                delta(&[&a], &[&b, &c]),
                Keep,
            ),
            (
                "further, but nothing fixed",
                true,
                further,
                delta(&[&a], &[&a, &b]),
                FixedNothing,
            ),
            (
                "a timeout, whatever was fixed",
                true,
                slow,
                delta(&[&a, &b], &[&b]),
                TimedOut,
            ),
            (
                "a rebuild that timed out stays",
                false,
                slow,
                delta(&[&a], &[]),
                Keep,
            ),
        ];
        for (name, changed, build, delta, expected) in cases {
            assert_eq!(verdict(*changed, *build, delta), *expected, "{name}");
        }
    }
}

//! [`PeerConflicts`]: npm's `ERESOLVE` — a dependency the project declares whose peer range
//! does not admit the version the project has (`next-themes@0.3.0` wants React ≤ 18 in a
//! React 19 app) — resolved by moving that dependency to the nearest release whose peer
//! ranges do, read from the registry, before any `--legacy-peer-deps` fallback switches npm's
//! check off.

use std::sync::LazyLock;

use nodejs_semver::Version;
use regex::Regex;

use super::FixProposal;
use super::fixer::{FixInput, Fixer, Safety};
use crate::{Diagnostic, Result};

/// Moves the dependency an `ERESOLVE` names — only one the project's `package.json` declares —
/// to the nearest release whose peer ranges fit, installed under the rules of
/// [`install`](super::install).
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerConflicts;

/// What an `ERESOLVE` says: the project has `found` (a peer at a version), and `package`
/// declares a peer range that does not admit it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Conflict {
    peer: String,
    found: Version,
    package: String,
}

#[async_trait::async_trait]
impl Fixer for PeerConflicts {
    fn name(&self) -> &str {
        "peer-conflicts"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        if !input.installs.enabled() {
            return Ok(None);
        }
        let conflicts = (input.diagnostics.iter())
            .filter(|d| d.code.as_deref() == Some("ERESOLVE"))
            .filter_map(conflict);
        for conflict in conflicts {
            let found = [(conflict.peer.clone(), conflict.found.clone())];
            let moved = (input.installs)
                .npm_refit(input, &conflict.package, &found, &FixProposal::default())
                .await?;
            if let Some(edits) = moved.filter(|edits| !edits.is_empty()) {
                return Ok(Some(FixProposal {
                    analysis: format!(
                        "{} moved to a release whose peer range admits {}@{}",
                        conflict.package, conflict.peer, conflict.found
                    ),
                    edits,
                    ..FixProposal::default()
                }));
            }
        }
        Ok(None)
    }
}

/// The conflict an `ERESOLVE` diagnostic's notes describe: `Found: react@19.1.0`, then under
/// `Could not resolve dependency:` the line `peer react@"^16.8 || ^17 || ^18" from
/// next-themes@0.3.0`.
fn conflict(diagnostic: &Diagnostic) -> Option<Conflict> {
    const PACKAGE: &str = r"((?:@[a-z0-9][\w.~-]*/)?[a-z0-9][\w.~-]*)";
    static FOUND: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(&format!(r"^Found: {PACKAGE}@(\S+)$")).ok());
    static WANTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(&format!(
            r#"^(?:peer |peerOptional )?{PACKAGE}@"[^"\n]*" from {PACKAGE}@\S+$"#
        ))
        .ok()
    });
    let notes: Vec<&str> = diagnostic.notes.iter().map(|n| n.trim()).collect();
    let (peer, found) = notes.iter().find_map(|note| {
        let found = FOUND.as_ref()?.captures(note)?;
        Some((found[1].to_string(), Version::parse(&found[2]).ok()?))
    })?;
    let unresolved = notes
        .iter()
        .position(|n| *n == "Could not resolve dependency:")?;
    let wanted = notes[unresolved + 1..]
        .iter()
        .find_map(|note| WANTED.as_ref()?.captures(note))?;
    (wanted[1] == peer).then(|| Conflict {
        peer,
        found,
        package: wanted[2].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eresolve(notes: &[&str]) -> Diagnostic {
        let mut d =
            Diagnostic::new("npm", "unable to resolve dependency tree").with_code("ERESOLVE");
        d.notes = notes.iter().map(|n| n.to_string()).collect();
        d
    }

    #[test]
    fn the_conflicting_dependency_and_the_peer_version_are_read() {
        let d = eresolve(&[
            "While resolving: taskflow@0.1.0",
            "Found: react@19.1.0",
            "node_modules/react",
            "react@\"19.1.0\" from the root project",
            "Could not resolve dependency:",
            "peer react@\"^16.8 || ^17 || ^18\" from next-themes@0.3.0",
            "node_modules/next-themes",
            "next-themes@\"^0.3.0\" from the root project",
        ]);
        assert_eq!(
            conflict(&d),
            Some(Conflict {
                peer: "react".into(),
                found: Version::parse("19.1.0").unwrap(),
                package: "next-themes".into()
            })
        );
        let scoped = eresolve(&[
            "Found: @types/react@19.0.2",
            "Could not resolve dependency:",
            "peerOptional @types/react@\"^18\" from @radix-ui/react-slot@1.0.0",
        ]);
        assert_eq!(
            conflict(&scoped).map(|c| c.package),
            Some("@radix-ui/react-slot".into())
        );
    }

    #[test]
    fn a_message_that_does_not_add_up_names_nothing() {
        let other_peer = eresolve(&[
            "Found: react@19.1.0",
            "Could not resolve dependency:",
            "peer vue@\"^2\" from some-plugin@1.0.0",
        ]);
        assert_eq!(conflict(&other_peer), None);
        let flag = eresolve(&[
            "Found: react@19.1.0",
            "Could not resolve dependency:",
            "peer react@\"^18\" from --registry=http://evil@1.0.0",
        ]);
        assert_eq!(conflict(&flag), None);
        let no_version = eresolve(&["Found: react@latest", "Could not resolve dependency:"]);
        assert_eq!(conflict(&no_version), None);
    }
}

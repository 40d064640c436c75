//! Which release of an npm package fits the project: one whose peer dependencies admit the
//! versions the project has (React 19, Next 15, …), read from the registry's metadata with
//! npm's own range rules — so that a package is added, or a conflicting one moved, to a
//! version npm can install without `--legacy-peer-deps`.

use std::collections::BTreeMap;

use nodejs_semver::{Range, Version};
use serde_json::Value;

/// A published version of a package and the peer ranges it declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Release {
    pub(crate) version: Version,
    pub(crate) peers: BTreeMap<String, String>,
    pub(crate) deprecated: bool,
}

/// Registry answers with more releases than this are cut to the newest.
const MAX_RELEASES: usize = 5_000;

/// The releases in what `npm view PKG@'>=0.0.0-0' version peerDependencies deprecated --json`
/// prints: a list of objects, or one object when one version matches — or, when no matching
/// version declares peers or a deprecation, their bare version strings. Entries that are not a
/// valid version are skipped; `None` when the text is not such an answer.
pub(crate) fn releases(json: &str) -> Option<Vec<Release>> {
    let value: Value = serde_json::from_str(json).ok()?;
    let entries = match value {
        Value::Array(entries) => entries,
        single @ (Value::Object(_) | Value::String(_)) => vec![single],
        _ => return None,
    };
    let mut found: Vec<Release> = (entries.iter())
        .filter_map(|entry| {
            let version = entry.as_str().or_else(|| entry.get("version")?.as_str())?;
            let version = Version::parse(version).ok()?;
            let peers = (entry.get("peerDependencies").and_then(Value::as_object))
                .map(|peers| {
                    (peers.iter())
                        .filter_map(|(name, range)| {
                            Some((name.clone(), range.as_str()?.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let deprecated = entry.get("deprecated").is_some_and(|d| !d.is_null());
            Some(Release {
                version,
                peers,
                deprecated,
            })
        })
        .collect();
    found.sort_by(|a, b| a.version.cmp(&b.version));
    let excess = found.len().saturating_sub(MAX_RELEASES);
    found.drain(..excess);
    Some(found)
}

/// The release to use: a stable, not deprecated one whose every peer range admits the
/// project's version of that peer (`project`; peers the project lacks are not asked about).
/// With `declared` (the range the project asks for now): the newest fitting release inside
/// it; else the newest of the nearest newer line that fits (same major, or same minor below
/// 1.0) — the smallest move up; else the newest older one. Without: the newest that fits.
pub(crate) fn fitting<'r>(
    releases: &'r [Release],
    declared: Option<&Range>,
    project: &dyn Fn(&str) -> Option<Version>,
) -> Option<&'r Release> {
    let fits = |release: &&Release| {
        !release.version.is_prerelease()
            && !release.deprecated
            && release
                .peers
                .iter()
                .all(|(peer, range)| match project(peer) {
                    None => true,
                    Some(have) => Range::parse(range).is_ok_and(|range| have.satisfies(&range)),
                })
    };
    let fitting: Vec<&Release> = releases.iter().filter(fits).collect();
    let newest = |among: &mut dyn Iterator<Item = &'r Release>| {
        among.max_by(|a, b| a.version.cmp(&b.version))
    };
    let Some(declared) = declared else {
        return newest(&mut fitting.iter().copied());
    };
    if let Some(inside) = newest(
        &mut fitting
            .iter()
            .copied()
            .filter(|r| r.version.satisfies(declared)),
    ) {
        return Some(inside);
    }
    let highest_declared = (releases.iter())
        .filter(|r| r.version.satisfies(declared))
        .map(|r| &r.version)
        .max();
    let newer = |r: &&Release| highest_declared.is_none_or(|top| r.version > *top);
    let nearest = fitting
        .iter()
        .copied()
        .filter(newer)
        .min_by(|a, b| a.version.cmp(&b.version));
    match nearest {
        Some(nearest) => {
            let line = |v: &Version| match v.major() {
                0 => (0, v.minor()),
                major => (major, 0),
            };
            newest(
                &mut fitting
                    .iter()
                    .copied()
                    .filter(|r| line(&r.version) == line(&nearest.version)),
            )
        }
        None => newest(&mut fitting.iter().copied()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEXT_THEMES: &str = r#"[
        {"version": "0.2.1", "peerDependencies": {"next": "*", "react": "*", "react-dom": "*"}},
        {"version": "0.3.0", "peerDependencies": {"react": "^16.8 || ^17 || ^18", "react-dom": "^16.8 || ^17 || ^18"}},
        {"version": "0.4.0", "peerDependencies": {"react": "^16.8 || ^17 || ^18 || ^19 || ^19.0.0-rc", "react-dom": "^16.8 || ^17 || ^18 || ^19 || ^19.0.0-rc"}},
        {"version": "0.4.6", "peerDependencies": {"react": "^16.8 || ^17 || ^18 || ^19 || ^19.0.0-rc", "react-dom": "^16.8 || ^17 || ^18 || ^19 || ^19.0.0-rc"}},
        {"version": "0.4.7", "deprecated": "broken", "peerDependencies": {"react": "*"}},
        {"version": "1.0.0-beta.0", "peerDependencies": {"react": "*"}},
        {"version": "not a version"}
    ]"#;

    fn version(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn a_conflicting_package_moves_to_the_nearest_line_that_admits_the_framework() {
        let releases = releases(NEXT_THEMES).unwrap();
        assert_eq!(releases.len(), 6);
        let react_19 = |peer: &str| peer.starts_with("react").then(|| version("19.1.0"));
        let declared = Range::parse("^0.3.0").unwrap();
        let chosen = fitting(&releases, Some(&declared), &react_19).unwrap();
        assert_eq!(
            chosen.version,
            version("0.4.6"),
            "not deprecated 0.4.7, not the beta"
        );

        let react_18 = |peer: &str| peer.starts_with("react").then(|| version("18.3.1"));
        let chosen = fitting(&releases, Some(&declared), &react_18).unwrap();
        assert_eq!(
            chosen.version,
            version("0.3.0"),
            "what it declares already fits"
        );
        assert_eq!(
            fitting(&releases, None, &react_18).unwrap().version,
            version("0.4.6")
        );

        let react_15 = |peer: &str| peer.starts_with("react").then(|| version("15.0.0"));
        let chosen = fitting(&releases, Some(&declared), &react_15).unwrap();
        assert_eq!(
            chosen.version,
            version("0.2.1"),
            "an older line when no newer one fits"
        );

        let nothing_fits = |_: &str| Some(version("1.0.0"));
        let pinned = [Release {
            version: version("2.0.0"),
            peers: BTreeMap::from([("react".into(), "not a range".into())]),
            deprecated: false,
        }];
        assert_eq!(fitting(&pinned, None, &nothing_fits), None);
    }

    #[test]
    fn answers_of_other_shapes_are_read_or_refused() {
        let one = releases(r#"{"version": "1.2.3"}"#).unwrap();
        assert_eq!(one[0].version, version("1.2.3"));
        assert!(one[0].peers.is_empty());
        assert_eq!(releases("npm error 404"), None);
        assert_eq!(releases("12"), None);
        // Without peers or deprecations npm prints the bare versions.
        let bare = releases(r#"["1.2.0", "not a version", "1.3.0"]"#).unwrap();
        assert_eq!(
            bare.iter().map(|r| r.version.clone()).collect::<Vec<_>>(),
            [version("1.2.0"), version("1.3.0")]
        );
        assert_eq!(releases("\"1.2.3\"").unwrap()[0].version, version("1.2.3"));
    }
}

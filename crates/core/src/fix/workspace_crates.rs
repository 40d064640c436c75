//! [`WorkspaceCrates`]: a crate of the same Cargo workspace used but not declared
//! (rustc: "use `cargo add shared` to add it to your `Cargo.toml`") is declared by path.

use std::sync::LazyLock;

use regex::Regex;

use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use super::import_paths::{parent, relative_path};
use super::{FixProposal, RelativePath};
use crate::{Result, Severity};

/// Adds `name = { path = "../name" }` to the `[dependencies]` of the package whose source
/// rustc reports a crate `name` missing in, when a package of the project is that crate.
/// Registry crates are not this fixer's: nothing is downloaded or guessed.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkspaceCrates;

#[async_trait::async_trait]
impl Fixer for WorkspaceCrates {
    fn name(&self) -> &str {
        "workspace-crates"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        static MISSING: LazyLock<Option<Regex>> = LazyLock::new(|| {
            Regex::new(r"(?:use `cargo add ([\w-]+)`|unlinked crate `(\w+)`|undeclared crate or module `(\w+)`)").ok()
        });
        let Some(missing) = MISSING.as_ref() else {
            return Ok(None);
        };
        let wanted: Vec<(String, String)> = (input.diagnostics.iter())
            .filter(|d| {
                d.severity <= Severity::Error && matches!(d.tool.as_str(), "rustc" | "cargo")
            })
            .filter_map(|d| {
                let text = std::iter::once(d.message.as_str())
                    .chain(d.notes.iter().map(String::as_str))
                    .chain(d.suggestions.iter().map(String::as_str))
                    .chain(d.snippet.as_deref())
                    .collect::<Vec<_>>()
                    .join("\n");
                let found = missing.captures(&text)?;
                let name = (1..=3).find_map(|i| found.get(i))?.as_str().to_string();
                Some((d.file.clone()?, name))
            })
            .collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let workspace = input.workspace;
        let manifests: Vec<RelativePath> = (workspace.files()?.into_iter())
            .filter(|p| p.as_str() == "Cargo.toml" || p.as_str().ends_with("/Cargo.toml"))
            .collect();
        let mut packages = Vec::new();
        for manifest in &manifests {
            if let Some(text) = workspace.read(manifest)?
                && let Some(name) = package_name(&text)
            {
                packages.push((name, parent(manifest.as_str()).to_string()));
            }
        }
        let mut files = EditedFiles::new(workspace);
        for (source, name) in wanted {
            let Some(source) = workspace.relative(&source) else {
                continue;
            };
            // The package the source belongs to: the nearest manifest above it.
            let Some(manifest) = (manifests.iter())
                .filter(|m| {
                    let folder = parent(m.as_str());
                    folder.is_empty() || source.as_str().starts_with(&format!("{folder}/"))
                })
                .max_by_key(|m| m.as_str().len())
            else {
                continue;
            };
            let crate_name = name.replace('-', "_");
            let Some((package, folder)) = packages
                .iter()
                .find(|(package, _)| package.replace('-', "_") == crate_name)
            else {
                continue;
            };
            let own = parent(manifest.as_str());
            if folder == own {
                continue;
            }
            let Some(text) = files.text(manifest)? else {
                continue;
            };
            let path = relative_path(own, folder);
            let path = path.strip_prefix("./").unwrap_or(&path).to_string();
            if let Some(declared) = with_dependency(&text, package, &path) {
                files.change(
                    manifest,
                    declared,
                    format!("{manifest}: {package} from {path}"),
                );
            }
        }
        Ok(files.into_proposal())
    }
}

/// `[package] name` of a manifest.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some(value) = line.strip_prefix("name")
            && let Some(value) = value.trim_start().strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// The manifest with `package = { path = "…" }` under `[dependencies]` (made when missing);
/// `None` when it is declared already.
fn with_dependency(manifest: &str, package: &str, path: &str) -> Option<String> {
    let entry = format!("{package} = {{ path = \"{path}\" }}");
    let lines: Vec<&str> = manifest.lines().collect();
    let section = lines.iter().position(|l| l.trim() == "[dependencies]");
    if let Some(at) = section {
        let end = (lines[at + 1..].iter())
            .position(|l| l.trim_start().starts_with('['))
            .map_or(lines.len(), |offset| at + 1 + offset);
        let declared = lines[at + 1..end]
            .iter()
            .any(|l| l.split('=').next().is_some_and(|key| key.trim() == package));
        if declared {
            return None;
        }
        // After the section's last entry, before the blank lines that end it.
        let mut insert = end;
        while insert > at + 1 && lines[insert - 1].trim().is_empty() {
            insert -= 1;
        }
        let mut out: Vec<&str> = lines[..insert].to_vec();
        out.push(&entry);
        out.extend(&lines[insert..]);
        return Some(out.join("\n") + "\n");
    }
    let mut out = manifest.trim_end().to_string();
    out.push_str(&format!("\n\n[dependencies]\n{entry}\n"));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dependency_goes_into_its_section() {
        let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\n\n[dev-dependencies]\nx = \"1\"\n";
        assert_eq!(
            with_dependency(manifest, "shared", "../shared").as_deref(),
            Some(
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\nshared = { path = \"../shared\" }\n\n[dev-dependencies]\nx = \"1\"\n"
            )
        );
        assert_eq!(
            with_dependency("[package]\nname = \"app\"\n", "shared", "../shared").as_deref(),
            Some(
                "[package]\nname = \"app\"\n\n[dependencies]\nshared = { path = \"../shared\" }\n"
            )
        );
        assert_eq!(with_dependency(manifest, "serde", "../serde"), None);
        assert_eq!(package_name(manifest).as_deref(), Some("app"));
    }
}

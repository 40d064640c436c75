//! Where a diagnostic reported in build output belongs in the project: a Next.js prerender
//! error's stack in `.next/server/app/about/page.js` belongs to the page it was built from, and
//! a crash in compiled code (`dist/cart.js:5:18`) to the source its source map names
//! (`src/cart.ts:7:17`). The fix goes there; the prompt shows that file, never the artefact.
//!
//! Source maps are project files, so untrusted: only a map inside the workspace (beside the
//! file, or named by its `sourceMappingURL` comment) is read, up to [`MAX_MAP_BYTES`], in one
//! pass over its mappings; only a source inside the workspace and outside `node_modules` is
//! taken.

use std::io::{Read, Seek, SeekFrom};

use serde::Deserialize;

use crate::Diagnostic;
use crate::edit::join;
use crate::fix::RelativePath;
use crate::parse;
use crate::workspace::Workspace;

/// The largest source map read.
const MAX_MAP_BYTES: u64 = 16 * 1024 * 1024;

/// How much of the end of a compiled file is searched for its `sourceMappingURL` comment.
const URL_TAIL_BYTES: u64 = 4096;

/// Points each diagnostic reported in build output at the project file it came from; the
/// artefact's position stays as a note.
pub(super) fn to_sources(workspace: &Workspace, diagnostics: &mut [Diagnostic]) {
    for diagnostic in diagnostics {
        let Some(artefact) = diagnostic.file.clone() else {
            continue;
        };
        let (source, line, column) = match next_page(workspace, &artefact) {
            // A line of the bundle means nothing in the page.
            Some(page) => (page, None, None),
            None => match mapped(workspace, &artefact, diagnostic.line, diagnostic.column) {
                Some((source, line, column)) => (source, Some(line), Some(column)),
                None => continue,
            },
        };
        let at = match (diagnostic.line, diagnostic.column) {
            (Some(line), Some(column)) => format!("{artefact}:{line}:{column}"),
            (Some(line), None) => format!("{artefact}:{line}"),
            _ => artefact,
        };
        diagnostic
            .notes
            .push(format!("reported at {at} in the build output"));
        diagnostic.file = Some(source.as_str().to_string());
        (diagnostic.line, diagnostic.column) = (line, column);
        (diagnostic.end_line, diagnostic.end_column) = (None, None);
    }
}

/// The page or layout a Next.js build artefact was compiled from, when it exists.
fn next_page(workspace: &Workspace, artefact: &str) -> Option<RelativePath> {
    (parse::next_sources(artefact).into_iter())
        .filter_map(|candidate| RelativePath::new(&candidate).ok())
        .find(|candidate| is_file(workspace, candidate))
}

fn is_file(workspace: &Workspace, path: &RelativePath) -> bool {
    workspace.resolve(path).is_ok_and(|p| p.is_file())
}

/// The source position a compiled file's source map gives for `line` and `column` (1-based),
/// when the map and the source are in the project.
fn mapped(
    workspace: &Workspace,
    file: &str,
    line: Option<u32>,
    column: Option<u32>,
) -> Option<(RelativePath, u32, u32)> {
    let line = line?.checked_sub(1)?;
    let generated = workspace.relative(file)?;
    let map_path = map_of(workspace, &generated)?;
    let resolved = workspace.resolve(&map_path).ok()?;
    if std::fs::metadata(&resolved).ok()?.len() > MAX_MAP_BYTES {
        return None;
    }
    let map: SourceMap = serde_json::from_slice(&std::fs::read(&resolved).ok()?).ok()?;
    let found = lookup(&map.mappings, line, column.and_then(|c| c.checked_sub(1)))?;
    let source = map.sources.get(found.source)?.as_deref()?;
    let source = source_path(workspace, &map_path, map.source_root.as_deref(), source)?;
    let inside_dependency = source
        .as_str()
        .split('/')
        .any(|part| part == "node_modules");
    (!inside_dependency && is_file(workspace, &source))
        .then(|| (source, found.line + 1, found.column + 1))
}

/// The map beside a compiled file (`cart.js.map`), or the one its last `sourceMappingURL`
/// comment names relative to it.
fn map_of(workspace: &Workspace, generated: &RelativePath) -> Option<RelativePath> {
    let beside = RelativePath::new(&format!("{generated}.map")).ok()?;
    if is_file(workspace, &beside) {
        return Some(beside);
    }
    let mut compiled = std::fs::File::open(workspace.resolve(generated).ok()?).ok()?;
    let length = compiled.metadata().ok()?.len();
    compiled
        .seek(SeekFrom::Start(length.saturating_sub(URL_TAIL_BYTES)))
        .ok()?;
    let mut tail = Vec::new();
    compiled.take(URL_TAIL_BYTES).read_to_end(&mut tail).ok()?;
    let tail = String::from_utf8_lossy(&tail);
    let (_, rest) = tail.rsplit_once("sourceMappingURL=")?;
    let url = rest.split_whitespace().next()?.trim_end_matches("*/");
    if url.contains(':') {
        // `data:` and remote maps are not read.
        return None;
    }
    let folder = generated.as_str().rsplit_once('/').map_or("", |(f, _)| f);
    RelativePath::new(&join(folder, url)?).ok()
}

/// A source as a map names it (`../src/cart.ts`, `webpack://app/./src/cart.ts`,
/// `file:///abs/src/cart.ts`), as a workspace path.
fn source_path(
    workspace: &Workspace,
    map: &RelativePath,
    root: Option<&str>,
    source: &str,
) -> Option<RelativePath> {
    let source = match source.strip_prefix("webpack://") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, path)| path),
        None => source,
    };
    if let Some(absolute) = source.strip_prefix("file://") {
        return workspace.relative(absolute);
    }
    if source.starts_with('/') {
        return workspace.relative(source);
    }
    let root = root.unwrap_or("").trim_end_matches('/');
    if root.contains(':') || root.starts_with('/') {
        return None;
    }
    let folder = map.as_str().rsplit_once('/').map_or("", |(f, _)| f);
    let from = join(folder, root)?;
    RelativePath::new(&join(&from, source)?).ok()
}

/// A source map (version 3), the parts read.
#[derive(Deserialize)]
struct SourceMap {
    #[serde(default)]
    sources: Vec<Option<String>>,
    #[serde(default, rename = "sourceRoot")]
    source_root: Option<String>,
    #[serde(default)]
    mappings: String,
}

/// A source position, 0-based.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    source: usize,
    line: u32,
    column: u32,
}

/// The source position of generated `line` and `column` (0-based): the segment of that line
/// that starts last at or before the column, the line's first segment when the column is
/// unknown or before every segment.
fn lookup(mappings: &str, line: u32, column: Option<u32>) -> Option<Found> {
    let (mut source, mut source_line, mut source_column) = (0i64, 0i64, 0i64);
    for (index, group) in mappings.split(';').enumerate() {
        let target = index == line as usize;
        let mut generated_column = 0i64;
        let mut best: Option<Found> = None;
        for segment in group.split(',').filter(|s| !s.is_empty()) {
            let (fields, count) = vlq(segment)?;
            generated_column += fields[0];
            if count < 4 {
                continue;
            }
            source += fields[1];
            source_line += fields[2];
            source_column += fields[3];
            if !target {
                continue;
            }
            let starts_after = column.is_some_and(|c| generated_column > i64::from(c));
            if starts_after && best.is_some() {
                break;
            }
            best = Some(Found {
                source: usize::try_from(source).ok()?,
                line: u32::try_from(source_line).ok()?,
                column: u32::try_from(source_column).ok()?,
            });
            if column.is_none() || starts_after {
                break;
            }
        }
        if target {
            return best;
        }
    }
    None
}

/// The fields of one segment (at most five Base64 VLQ numbers) and how many there are.
fn vlq(segment: &str) -> Option<([i64; 5], usize)> {
    let mut fields = [0i64; 5];
    let mut count = 0;
    let (mut value, mut shift) = (0i64, 0u32);
    for byte in segment.bytes() {
        let digit = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        if shift > 55 {
            return None;
        }
        value |= i64::from(digit & 31) << shift;
        if digit & 32 != 0 {
            shift += 5;
            continue;
        }
        let magnitude = value >> 1;
        *fields.get_mut(count)? = if value & 1 == 1 {
            -magnitude
        } else {
            magnitude
        };
        count += 1;
        (value, shift) = (0, 0);
    }
    (shift == 0 && count > 0).then_some((fields, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    /// `tsc --sourceMap` of a `src/cart.ts` whose line 7 is
    /// `  return items!.reduce((sum, item) => sum + item.price * item.qty, 0);`, compiled to
    /// line 5 of `dist/cart.js`.
    const TSC_MAPPINGS: &str = ";;AAKA,sBAEC;AAFD,SAAgB,KAAK,CAAC,KAAyB;IAC7C,OAAO,KAAM,CAAC,MAAM,CAAC,CAAC,GAAG,EAAE,IAAI,EAAE,EAAE,CAAC,GAAG,GAAG,IAAI,CAAC,KAAK,GAAG,IAAI,CAAC,GAAG,EAAE,CAAC,CAAC,CAAC;AACtE,CAAC;AAED,OAAO,CAAC,GAAG,CAAC,KAAK,CAAC,SAAS,CAAC,CAAC,CAAC";

    #[test]
    fn vlq_numbers_decode() {
        assert_eq!(vlq("AAAA"), Some(([0, 0, 0, 0, 0], 4)));
        assert_eq!(vlq("gBAAC"), Some(([16, 0, 0, 1, 0], 4)));
        assert_eq!(vlq("D"), Some(([-1, 0, 0, 0, 0], 1)));
        assert_eq!(vlq("g"), None, "a continuation with nothing after it");
        assert_eq!(vlq("A!"), None);
        assert_eq!(vlq("AAAAAA"), None, "more than five fields");
        assert_eq!(vlq(&"g".repeat(40)), None, "a number too long for 64 bits");
    }

    #[test]
    fn node_crash_positions_map_to_the_typescript_source() {
        // Node: `at total (dist/cart.js:5:18)` → `reduce` on line 7, column 17 of the source.
        let found = lookup(TSC_MAPPINGS, 4, Some(17)).expect("mapped");
        assert_eq!((found.line + 1, found.column + 1), (7, 17));
        // `at Object.<anonymous> (dist/cart.js:7:13)` → the call on line 10.
        let call = lookup(TSC_MAPPINGS, 6, Some(12)).expect("mapped");
        assert_eq!(call.line + 1, 10);
        // No column: the line's first segment. A line without segments or past the end: none.
        assert_eq!(lookup(TSC_MAPPINGS, 4, None).map(|f| f.line + 1), Some(7));
        assert_eq!(lookup(TSC_MAPPINGS, 0, Some(0)), None);
        assert_eq!(lookup(TSC_MAPPINGS, 99, Some(0)), None);
    }

    #[test]
    fn only_maps_and_sources_inside_the_project_are_followed() {
        let scratch = Scratch::new("sources", &[]);
        let (dir, write) = (scratch.path(), |path: &str, text: &str| {
            scratch.write(path, text)
        });
        let map = |sources: &str, root: &str| {
            format!(
                r#"{{"version":3,"sources":{sources},"sourceRoot":"{root}","mappings":"{TSC_MAPPINGS}"}}"#
            )
        };
        write("src/cart.ts", "source\n");
        write("node_modules/dep/cart.ts", "dependency\n");
        write(
            "dist/cart.js",
            "compiled\n//# sourceMappingURL=maps/cart.map\n",
        );
        write("dist/maps/cart.map", &map(r#"["../../src/cart.ts"]"#, ""));
        let workspace = Workspace::open(dir).unwrap();
        let at = |file: &str| mapped(&workspace, file, Some(5), Some(18));
        let (source, line, column) = at("dist/cart.js").expect("named by the comment");
        assert_eq!((source.as_str(), line, column), ("src/cart.ts", 7, 17));
        let absolute = dir.join("dist/cart.js");
        assert!(
            at(absolute.to_str().unwrap()).is_some(),
            "an absolute path inside"
        );

        for (sources, root) in [
            (r#"["../../../../etc/passwd"]"#, ""),
            (r#"["passwd"]"#, "/etc"),
            (r#"["file:///etc/passwd"]"#, ""),
            (r#"["../../node_modules/dep/cart.ts"]"#, ""),
            (r#"[null]"#, ""),
            (r#"[]"#, ""),
        ] {
            write("dist/maps/cart.map", &map(sources, root));
            assert_eq!(at("dist/cart.js"), None, "{sources} {root}");
        }
        write(
            "dist/other.js",
            "//# sourceMappingURL=data:application/json;base64,e30=\n",
        );
        assert_eq!(at("dist/other.js"), None, "an inline map is not read");
        write("dist/far.js", "//# sourceMappingURL=../../../outside.map\n");
        assert_eq!(at("dist/far.js"), None, "a map outside the project");
        assert_eq!(at("/etc/passwd"), None, "a file outside the project");
    }

    #[test]
    fn hostile_mappings_end_quietly() {
        assert_eq!(
            lookup("AAAA,CDAA", 0, Some(5)),
            None,
            "a negative source index"
        );
        assert_eq!(lookup("!!!!", 0, Some(0)), None);
        let long = ";".repeat(1_000_000);
        assert_eq!(lookup(&long, 999_999, Some(0)), None);
    }
}

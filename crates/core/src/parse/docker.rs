//! `docker build`: BuildKit plain progress and the legacy builder.
//!
//! ```text
//! #7 [3/3] COPY dist/ /app/dist/
//! #7 ERROR: "/dist" not found: not found
//! ------
//!  > [3/3] COPY dist/ /app/dist/:
//! ------
//! failed to compute cache key: "/dist" not found: not found          <- the message
//!
//! Step 4/5 : RUN cat /app/config/production.yml
//! The command '/bin/sh -c cat /app/config/production.yml' returned a non-zero code: 1
//! ```
//!
//! A failing step is one diagnostic: BuildKit's final summary line when it prints one, with the
//! step as a note. Output of `RUN` steps is left to the other parsers (BuildKit's `#8 0.292 `
//! prefixes are removed before they see it).

use super::classify::{self, lazy_regex};
use super::{Line, ParserSession, Sink, number};
use crate::{Category, Diagnostic, Subcategory};

builtin_parser! {
    /// Parses `docker build` output.
    Docker, "docker", DockerSession,
    ["ERROR", "Step ", "failed", "The command '", "Error response from daemon", "dockerfile parse error", "BuildKit is enabled", "Docker daemon"]
}

#[derive(Debug, Default)]
struct DockerSession {
    /// Legacy builder: the current `Step N/M : INSTR`.
    legacy_step: Option<String>,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    message: String,
    step: Option<String>,
    first_line: u32,
    last_line: u32,
    dockerfile_line: Option<u32>,
    /// Inside the `------` excerpt BuildKit prints after the error.
    in_excerpt: bool,
}

impl ParserSession for DockerSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(pending) = self.pending.as_mut() {
            if let Some(taken) = pending_continuation(pending, text, n) {
                return taken;
            }
            let summary = text.trim();
            let summary = summary.strip_prefix("ERROR: ").unwrap_or(summary);
            let summary = summary.strip_prefix("error: ").unwrap_or(summary);
            if is_summary(summary) {
                let mut pending = self.pending.take();
                if let Some(p) = pending.as_mut() {
                    p.message = summary.to_string();
                    p.last_line = n;
                }
                self.emit(pending, out);
                return true;
            }
            let pending = self.pending.take();
            self.emit(pending, out);
        }
        self.start(text, n, out)
    }

    fn busy(&self) -> bool {
        self.pending.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        let pending = self.pending.take();
        self.emit(pending, out);
    }
}

/// The lines BuildKit prints after `#N ERROR:` before its summary: the excerpt between `------`
/// rulers, other steps' progress, the Dockerfile frame. `None` when `text` is none of them.
fn pending_continuation(pending: &mut Pending, text: &str, n: u32) -> Option<bool> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Some(false);
    }
    if trimmed.chars().all(|c| c == '-') && trimmed.len() >= 4 {
        pending.in_excerpt = !pending.in_excerpt;
        pending.last_line = n;
        return Some(true);
    }
    if let Some(step) = text.strip_prefix(" > ") {
        // BuildKit names the failed step in its excerpt: ` > [3/3] COPY dist/ /app/dist/:`.
        pending.step = Some(step.trim_end().trim_end_matches(':').to_string());
        pending.last_line = n;
        return Some(true);
    }
    if pending.in_excerpt || text.starts_with('#') {
        pending.last_line = n;
        return Some(true);
    }
    if let Some(caps) = lazy_regex!(r"^Dockerfile(?:\.[\w.-]+)?:(\d+)$").captures(text) {
        pending.dockerfile_line = number(caps.get(1));
        return Some(true);
    }
    if lazy_regex!(r"^\s*\d+ \|").is_match(text) {
        return Some(true);
    }
    None
}

fn is_summary(message: &str) -> bool {
    lazy_regex!(r"^(failed to |executor failed|process .* did not complete|failed to solve|error from sender|\S+ failed:|could not )").is_match(message)
}

impl DockerSession {
    fn start(&mut self, text: &str, n: u32, out: &mut Sink) -> bool {
        if let Some(caps) = lazy_regex!(r"^#\d+ ERROR: (?P<msg>.+)$").captures(text) {
            self.pending = Some(Pending {
                message: caps["msg"].trim().to_string(),
                step: None,
                first_line: n,
                last_line: n,
                dockerfile_line: None,
                in_excerpt: false,
            });
            return true;
        }
        if let Some(instruction) = lazy_regex!(r"^Step \d+/\d+ : (.+)$").captures(text) {
            self.legacy_step = Some(instruction[1].to_string());
            return true;
        }
        let legacy = lazy_regex!(
            r"^(?:(?:COPY|ADD) failed: .+|The command '.+' returned a non-zero code: \d+|(?:docker: )?Error response from daemon: .+|(?:ERROR: |error: )?failed to solve.*dockerfile parse error.+|unable to prepare context: .+|(?:ERROR: )?BuildKit is enabled but the buildx component is missing.*|(?:docker: )?Cannot connect to the Docker daemon.*|(?:docker: )?permission denied while trying to connect to the Docker daemon.*)$"
        );
        if legacy.is_match(text) {
            let message = text
                .trim()
                .trim_start_matches("docker: ")
                .trim_start_matches("ERROR: ")
                .trim_start_matches("error: ")
                .to_string();
            let pending = Some(Pending {
                message,
                step: self.legacy_step.clone(),
                first_line: n,
                last_line: n,
                dockerfile_line: None,
                in_excerpt: false,
            });
            self.emit(pending, out);
            return true;
        }
        false
    }

    fn emit(&mut self, pending: Option<Pending>, out: &mut Sink) {
        let Some(pending) = pending else {
            return;
        };
        let runs_command = lazy_regex!(
            r"executor failed running|returned a non-zero code|did not complete successfully"
        )
        .is_match(&pending.message);
        let mut d = Diagnostic::new("docker", pending.message.clone())
            .from_lines(pending.first_line, pending.last_line)
            .with_confidence(if runs_command { 0.5 } else { 0.9 });
        if let Some(step) = &pending.step {
            d.notes.push(format!("step: {step}"));
        }
        let parse_error =
            lazy_regex!(r"dockerfile parse error (?:on )?line (\d+)").captures(&pending.message);
        if let Some(caps) = parse_error {
            d.file = Some("Dockerfile".into());
            d.line = number(caps.get(1));
            (d.category, d.subcategory) = (Category::Syntax, Subcategory::Dockerfile);
        } else {
            if let Some(line) = pending.dockerfile_line {
                d.file = Some("Dockerfile".into());
                d.line = Some(line);
            }
            (d.category, d.subcategory) = classify(&pending.message, pending.step.as_deref());
        }
        if runs_command {
            // The command's own output says what went wrong when a parser understood it.
            out.emit_fallback(d);
        } else {
            out.emit(d);
        }
    }
}

fn classify(message: &str, step: Option<&str>) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    let step = step.unwrap_or("");
    let runs_command = lazy_regex!(
        r"executor failed running|returned a non-zero code|did not complete successfully"
    )
    .is_match(message);
    if runs_command {
        return match lazy_regex!(r"(?:exit code|non-zero code): (\d+)")
            .captures(message)
            .map(|c| c[1].to_string())
            .as_deref()
        {
            Some("137") => (C::Resource, S::OutOfMemory),
            Some("127") => (C::Dependency, S::MissingCommand),
            _ => (C::Runtime, S::Other),
        };
    }
    if lazy_regex!(r"(?i)(COPY|ADD) failed|failed to compute cache key|not found in build context|failed to calculate checksum").is_match(message)
        || lazy_regex!(r"^\[[^\]]*\] (COPY|ADD) ").is_match(step)
    {
        return (C::Configuration, S::Dockerfile);
    }
    if lazy_regex!(r"pull access denied|manifest unknown|manifest for .* not found|failed to resolve source metadata|repository does not exist").is_match(message) {
        return (C::Dependency, S::MissingPackage);
    }
    if let Some(class) = classify::by_message(message) {
        return class;
    }
    if lazy_regex!(r"buildx component is missing|Cannot connect to the Docker daemon")
        .is_match(message)
    {
        return (C::Configuration, S::Other);
    }
    (C::Configuration, S::Dockerfile)
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, Subcategory};

    #[test]
    fn buildkit_failure_uses_the_summary_line() {
        let log = "#7 [3/3] COPY dist/ /app/dist/\n#7 sha256:e4ce\n#7 ERROR: \"/dist\" not found: not found\n------\n > [3/3] COPY dist/ /app/dist/:\n------\nfailed to compute cache key: \"/dist\" not found: not found\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].message,
            "failed to compute cache key: \"/dist\" not found: not found"
        );
        assert_eq!(found[0].category, Category::Configuration);
        assert_eq!(found[0].notes, ["step: [3/3] COPY dist/ /app/dist/"]);
    }

    #[test]
    fn buildkit_run_failure_with_dockerfile_frame() {
        let log = "#8 [4/4] RUN npm ci\n#8 0.292 npm error code E404\n#8 0.293 npm error 404 Not Found - GET https://registry.npmjs.org/nope\n#8 ERROR: process \"/bin/sh -c npm ci\" did not complete successfully: exit code: 1\n------\n > [4/4] RUN npm ci:\n------\nDockerfile:7\n--------------------\n   6 |     COPY . .\n   7 | >>> RUN npm ci\n--------------------\nERROR: failed to solve: process \"/bin/sh -c npm ci\" did not complete successfully: exit code: 1\n";
        let found = parse(log);
        assert_eq!(
            found.len(),
            1,
            "the step failure only repeats npm's error: {found:#?}"
        );
        assert_eq!(found[0].tool, "npm");
        let alone = parse(log.replace("npm error", "npm-ish"));
        assert_eq!(alone.len(), 1, "{alone:#?}");
        let docker = &alone[0];
        assert_eq!(
            (docker.file.as_deref(), docker.line),
            (Some("Dockerfile"), Some(7))
        );
        assert_eq!(docker.category, Category::Runtime);
    }

    #[test]
    fn legacy_builder() {
        let log = "Step 3/4 : COPY dist/ /app/dist/\nCOPY failed: file not found in build context or excluded by .dockerignore: stat dist/: file does not exist\nError response from daemon: dockerfile parse error line 5: unknown instruction: RUNN\n";
        let found = parse(log);
        assert_eq!(found.len(), 2);
        let parse_error = found.iter().find(|d| d.line == Some(5)).unwrap();
        assert_eq!(parse_error.category, Category::Syntax);
        let copy = found.iter().find(|d| d.line.is_none()).unwrap();
        assert_eq!(
            (copy.category, copy.subcategory),
            (Category::Configuration, Subcategory::Dockerfile)
        );
        let killed = parse(
            "Step 4/5 : RUN node build.js\nThe command '/bin/sh -c node build.js' returned a non-zero code: 137\n",
        );
        assert_eq!(killed[0].subcategory, Subcategory::OutOfMemory);
    }
}

//! Package managers: npm (`npm error` / `npm ERR!`), pnpm (`ERR_PNPM_*`), yarn (`error …`) and
//! pip (`ERROR: …`).
//!
//! ```text
//! npm error code E404
//! npm error 404 Not Found - GET https://registry.npmjs.org/definitely-not-a-real-pkg-xyz
//! npm error 404  The requested resource '…' could not be found …
//! npm error A complete log of this run can be found in: /home/dev/.npm/_logs/…-debug-0.log
//! ```
//!
//! npm spreads one failure over many lines: they become one diagnostic, with the `code` line as
//! its code and the first explanatory line as its message. A failed lifecycle script is only
//! reported when nothing else in the log explains the failure.

use super::classify::{self, lazy_regex};
use super::{Line, ParserSession, Sink};
use crate::{Category, Diagnostic, Subcategory};

builtin_parser! {
    /// Parses npm, pnpm and yarn errors.
    Npm, "npm", NpmSession,
    ["npm error", "npm ERR!", "ERR_PNPM_", "ELIFECYCLE", "error ", "ERROR: "]
}

#[derive(Debug, Default)]
struct NpmSession {
    block: Option<Block>,
    /// pip's consecutive `ERROR:` lines: one failure.
    pip: Option<Diagnostic>,
}

#[derive(Debug, Default)]
struct Block {
    first_line: u32,
    last_line: u32,
    code: Option<String>,
    lines: Vec<String>,
}

/// npm's pointer to its debug log: not part of any error.
fn is_log_notice(rest: &str) -> bool {
    rest.starts_with("A complete log of this run")
        || rest.starts_with("Log files were not written")
        || (rest.trim_start().starts_with('/') && rest.ends_with(".log"))
}

/// npm's key-value lines: context, not the message.
const KEYS: &[&str] = &[
    "code",
    "errno",
    "syscall",
    "path",
    "dest",
    "signal",
    "command",
    "cwd",
    "workspace",
    "location",
    "spawn",
    "file",
    "type",
    "Exit",
];

impl ParserSession for NpmSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(caps) = lazy_regex!(r"^npm (?:error|ERR!)(?: (?P<rest>.*))?$").captures(text) {
            let rest = caps.name("rest").map_or("", |m| m.as_str()).trim_end();
            if let Some(code) = rest.strip_prefix("code ") {
                // A second `code` line starts another error.
                if self.block.as_ref().is_some_and(|b| b.code.is_some()) {
                    self.close(out);
                }
                self.block_at(n).code = Some(code.trim().to_string());
            } else if !is_log_notice(rest) {
                let block = self.block_at(n);
                if block.lines.len() < 64 {
                    block.lines.push(rest.to_string());
                }
            }
            self.block_at(n).last_line = n;
            return true;
        }
        self.close(out);
        if let Some(message) = text.strip_prefix("ERROR: ") {
            if message.starts_with("Job failed") {
                // GitLab's runner reporting the job's exit status: the cause is above.
                return true;
            }
            match self.pip.as_mut() {
                Some(d) => {
                    if d.notes.len() < 20 {
                        d.notes.push(message.trim().to_string());
                    }
                    d.log_lines.end = n;
                }
                None => self.pip = Some(pip_error(message.trim()).from_lines(n, n)),
            }
            return true;
        }
        if let Some(d) = self.pip.take() {
            out.emit(d);
        }
        if let Some(d) = pnpm_line(text) {
            emit(out, d.from_lines(n, n));
            return true;
        }
        if let Some(d) = yarn_line(text) {
            emit(out, d.from_lines(n, n));
            return true;
        }
        false
    }

    fn busy(&self) -> bool {
        self.block.is_some() || self.pip.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
        if let Some(d) = self.pip.take() {
            out.emit(d);
        }
    }
}

/// `ERROR: Could not find a version that satisfies the requirement flask==99.0.0 (from …)`.
fn pip_error(message: &str) -> Diagnostic {
    use Category as C;
    use Subcategory as S;
    let (category, subcategory) = if message.starts_with("Could not find a version that satisfies")
    {
        if message.contains("(from versions: none)") {
            (C::Dependency, S::MissingPackage)
        } else {
            (C::Dependency, S::VersionConflict)
        }
    } else if message.starts_with("No matching distribution found")
        || message.starts_with("ResolutionImpossible")
        || message.contains("conflicting dependencies")
    {
        (C::Dependency, S::VersionConflict)
    } else if message.starts_with("Could not open requirements file") {
        (C::Configuration, S::FileNotFound)
    } else if message.starts_with("Invalid requirement") {
        (C::Syntax, S::Manifest)
    } else if message.starts_with("Failed building wheel") || message.starts_with("Failed to build")
    {
        (C::Dependency, S::NativeModule)
    } else {
        classify::by_message(message).unwrap_or((C::Configuration, S::Other))
    };
    let message = message.split(" (from versions:").next().unwrap_or(message);
    Diagnostic::new("pip", message)
        .with_class(category, subcategory)
        .with_confidence(0.85)
}

/// Lifecycle failures (the script's own output says what went wrong) are fallbacks.
fn emit(out: &mut Sink, d: Diagnostic) {
    if d.confidence <= 0.5 {
        out.emit_fallback(d);
    } else {
        out.emit(d);
    }
}

impl NpmSession {
    fn block_at(&mut self, n: u32) -> &mut Block {
        self.block.get_or_insert_with(|| Block {
            first_line: n,
            last_line: n,
            ..Block::default()
        })
    }

    fn close(&mut self, out: &mut Sink) {
        let Some(block) = self.block.take() else {
            return;
        };
        if let Some(d) = block_diagnostic(block) {
            emit(out, d);
        }
    }
}

fn block_diagnostic(block: Block) -> Option<Diagnostic> {
    let code = block.code.filter(|c| !c.is_empty());
    let message_line = block
        .lines
        .iter()
        .map(|l| l.trim())
        .find(|l| {
            let key = l.split_whitespace().next().unwrap_or("");
            let key_value = KEYS.contains(&key) && l.len() > key.len();
            !(l.is_empty() || key_value)
        })
        .map(str::to_string);
    let message_line = message_line.or_else(|| code.clone())?;
    let message = strip_heading(&message_line, code.as_deref());
    let numeric_code = code.as_deref().is_some_and(|c| c.parse::<i64>().is_ok());
    let lifecycle = code.as_deref() == Some("ELIFECYCLE")
        || numeric_code
        || message.starts_with("Lifecycle script")
        || block.lines.iter().any(|l| l.starts_with("Failed at the "));
    let mut d =
        Diagnostic::new("npm", message.clone()).from_lines(block.first_line, block.last_line);
    d.code = code.filter(|_| !numeric_code);
    d.notes = block
        .lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| *l != message_line)
        .map(|l| strip_heading(l, d.code.as_deref()))
        .filter(|l| {
            !l.is_empty() && l.as_str() != d.code.as_deref().unwrap_or("").trim_start_matches('E')
        })
        .take(20)
        .collect();
    if lifecycle && let Some(output) = dependency_script_output(&block.lines) {
        // npm prints a dependency's failed install script's output inside its error block: that
        // output is the cause, and the package, not the project, is what broke.
        d.message = output;
        d.code = None;
        d = d.with_class(Category::Dependency, Subcategory::NativeModule);
        d.confidence = 0.92;
        return Some(d);
    }
    let (category, subcategory) = if lifecycle {
        (Category::Runtime, Subcategory::Other)
    } else {
        classify(d.code.as_deref(), &message, &block.lines)
    };
    d = d.with_class(category, subcategory);
    d.confidence = if lifecycle { 0.5 } else { 0.92 };
    Some(d)
}

/// The last line a dependency's install script printed, when the failed script belongs to a
/// package under `node_modules/` (`path …/node_modules/pkg`, then `command sh -c …`, then the
/// script's output).
fn dependency_script_output(lines: &[String]) -> Option<String> {
    let in_dependency = lines.iter().any(|l| {
        l.strip_prefix("path ").is_some_and(|path| {
            path.contains("/node_modules/") || path.contains("\\node_modules\\")
        })
    });
    if !in_dependency {
        return None;
    }
    let command = lines.iter().rposition(|l| l.starts_with("command "))?;
    lines[command + 1..]
        .iter()
        .map(|l| l.trim())
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
}

/// npm prefixes the explanatory line with a heading: `404`, `notarget`, `enoent`, `ERESOLVE`,
/// `JSON.parse`, `network`, `engine`, or the code itself.
fn strip_heading(line: &str, code: Option<&str>) -> String {
    let Some((first, rest)) = line.split_once(' ') else {
        return line.to_string();
    };
    let code_heading = code.is_some_and(|c| {
        first.eq_ignore_ascii_case(c) || first.eq_ignore_ascii_case(c.trim_start_matches('E'))
    });
    let known = matches!(
        first,
        "notarget"
            | "network"
            | "JSON.parse"
            | "enoent"
            | "eacces"
            | "eperm"
            | "peer"
            | "gyp"
            | "engine"
            | "notsup"
    ) || (first.len() == 3 && first.bytes().all(|b| b.is_ascii_digit()));
    let stripped = if code_heading || known {
        rest.trim_start()
    } else {
        line
    };
    stripped
        .strip_prefix("Error: ")
        .unwrap_or(stripped)
        .to_string()
}

fn classify(code: Option<&str>, message: &str, lines: &[String]) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    if message.starts_with("Missing script") {
        return (C::Configuration, S::MissingScript);
    }
    let code = code.unwrap_or("");
    // `E500`, `E502`, …: the registry answered with a server error.
    let server_error =
        code.len() == 4 && code.starts_with("E5") && code[1..].parse::<u16>().is_ok();
    if server_error {
        return (C::Network, S::Other);
    }
    match code {
        "E404" => (C::Dependency, S::MissingPackage),
        "ETARGET" | "ENOVERSIONS" => (C::Dependency, S::VersionConflict),
        "ERESOLVE" => (C::Dependency, S::PeerDependency),
        "EJSONPARSE" => (C::Syntax, S::Manifest),
        "EUSAGE" | "EBADENGINE" | "ENOWORKSPACES" => (C::Configuration, S::Other),
        "ENOENT" if message.contains("package.json") => (C::Configuration, S::Manifest),
        "E401" | "E403" | "EAUTH" | "ENEEDAUTH" | "EOTP" => (C::Network, S::RegistryAuth),
        "EACCES" | "EPERM" => (C::Configuration, S::PermissionDenied),
        // `npm ls`: `missing: pkg@range, required by …`, `invalid: pkg@version …`.
        "ELSPROBLEMS" if message.starts_with("missing:") => (C::Dependency, S::MissingPackage),
        "ELSPROBLEMS" if message.starts_with("invalid:") => (C::Dependency, S::VersionConflict),
        code => classify::by_message(&format!("{code} {message}"))
            .or_else(|| network_heading(lines))
            .unwrap_or((C::Configuration, S::Other)),
    }
}

/// npm heads the lines of a failed request `network`: `network timeout at: …`, `network request
/// to … failed, reason: …`.
fn network_heading(lines: &[String]) -> Option<(Category, Subcategory)> {
    let network: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("network "))
        .collect();
    if network.is_empty() {
        return None;
    }
    Some(
        classify::by_message(&network.join("\n"))
            .filter(|(category, _)| *category == Category::Network)
            .unwrap_or((Category::Network, Subcategory::Other)),
    )
}

/// ` ERR_PNPM_NO_MATCHING_VERSION  No matching version found for typescript@99.0.0`.
fn pnpm_line(text: &str) -> Option<Diagnostic> {
    let caps = lazy_regex!(r"^\s*(?P<code>ERR_PNPM_[A-Z0-9_]+|ELIFECYCLE)\s+(?P<msg>.+)$")
        .captures(text)?;
    let code = &caps["code"];
    let message = caps["msg"].trim();
    use Category as C;
    use Subcategory as S;
    let lifecycle =
        code == "ELIFECYCLE" || code.contains("RUN_FAIL") || code.contains("EXEC_FIRST_FAIL");
    let (category, subcategory) = if lifecycle {
        (C::Runtime, S::Other)
    } else if code.contains("NO_MATCHING_VERSION") {
        (C::Dependency, S::VersionConflict)
    } else if code.contains("404") || code.contains("NOT_FOUND") || code.contains("NO_SUCH") {
        (C::Dependency, S::MissingPackage)
    } else if code.contains("PEER") {
        (C::Dependency, S::PeerDependency)
    } else if code.contains("NO_SCRIPT") {
        (C::Configuration, S::MissingScript)
    } else {
        classify::by_message(message).unwrap_or((C::Configuration, S::Other))
    };
    Some(
        Diagnostic::new("pnpm", message)
            .with_code(code)
            .with_class(category, subcategory)
            .with_confidence(if lifecycle { 0.5 } else { 0.9 }),
    )
}

/// yarn classic: `error Couldn't find package "x" on the "npm" registry.`
fn yarn_line(text: &str) -> Option<Diagnostic> {
    let caps = lazy_regex!(r"^error (?P<msg>[A-Z].+)$").captures(text)?;
    let message = caps["msg"].trim();
    use Category as C;
    use Subcategory as S;
    let lifecycle = message.starts_with("Command failed with exit code");
    let (category, subcategory) = if lifecycle {
        (C::Runtime, S::Other)
    } else if message.starts_with("Couldn't find package") || message.contains("Not found") {
        (C::Dependency, S::MissingPackage)
    } else if message.starts_with("Couldn't find any versions") {
        (C::Dependency, S::VersionConflict)
    } else if message.starts_with("Command \"") && message.contains("not found") {
        (C::Configuration, S::MissingScript)
    } else {
        classify::by_message(message).unwrap_or((C::Configuration, S::Other))
    };
    Some(
        Diagnostic::new("yarn", message)
            .with_class(category, subcategory)
            .with_confidence(if lifecycle { 0.5 } else { 0.75 }),
    )
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, Subcategory};

    #[test]
    fn one_diagnostic_per_npm_failure() {
        let log = "npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/nope-xyz\nnpm error 404\nnpm error 404  The requested resource 'nope-xyz@*' could not be found.\nnpm error A complete log of this run can be found in: /home/x/.npm/_logs/x.log\n";
        let found = parse(log);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            "Not Found - GET https://registry.npmjs.org/nope-xyz"
        );
        assert_eq!(found[0].code.as_deref(), Some("E404"));
        assert_eq!(found[0].subcategory, Subcategory::MissingPackage);
    }

    #[test]
    fn headings_are_stripped_and_codes_classified() {
        let cases = [
            (
                "npm error code ETARGET\nnpm error notarget No matching version found for typescript@99.0.0.\n",
                "No matching version found for typescript@99.0.0.",
                Subcategory::VersionConflict,
            ),
            (
                "npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree\nnpm ERR! \nnpm ERR! While resolving: app@1.0.0\n",
                "unable to resolve dependency tree",
                Subcategory::PeerDependency,
            ),
            (
                "npm error code EUSAGE\nnpm error\nnpm error The `npm ci` command can only install with an existing package-lock.json or\n",
                "The `npm ci` command can only install with an existing package-lock.json or",
                Subcategory::Other,
            ),
            (
                "npm error code ENOENT\nnpm error syscall open\nnpm error path /w/package.json\nnpm error errno -2\nnpm error enoent Could not read package.json: Error: ENOENT: no such file or directory, open '/w/package.json'\n",
                "Could not read package.json: Error: ENOENT: no such file or directory, open '/w/package.json'",
                Subcategory::Manifest,
            ),
            (
                "npm error Missing script: \"build\"\nnpm error\nnpm error To see a list of scripts, run:\nnpm error   npm run\n",
                "Missing script: \"build\"",
                Subcategory::MissingScript,
            ),
        ];
        for (log, message, subcategory) in cases {
            let found = parse(log);
            assert_eq!(found.len(), 1, "{log}");
            assert_eq!(found[0].message, message);
            assert_eq!(found[0].subcategory, subcategory, "{log}");
            assert_eq!(found[0].file, None);
        }
    }

    #[test]
    fn registry_and_network_failures_are_network_errors() {
        let cases = [
            (
                "npm error code E500\nnpm error 500 Internal Server Error - GET http://127.0.0.1:4873/x - Internal Server Error\n",
                Subcategory::Other,
            ),
            (
                "npm error code FETCH_ERROR\nnpm error errno FETCH_ERROR\nnpm error network timeout at: http://127.0.0.1:4873/x\n",
                Subcategory::ConnectionTimeout,
            ),
            (
                "npm ERR! code ECONNRESET\nnpm ERR! network request to http://127.0.0.1:4873/x failed, reason: read ECONNRESET\n",
                Subcategory::ConnectionRefused,
            ),
        ];
        for (log, subcategory) in cases {
            let found = parse(log);
            assert_eq!(found.len(), 1, "{log}");
            assert_eq!(found[0].category, Category::Network, "{log}");
            assert_eq!(found[0].subcategory, subcategory, "{log}");
        }
    }

    #[test]
    fn npm_ls_problems_are_dependency_errors() {
        let found = parse(
            "npm error code ELSPROBLEMS\nnpm error missing: left-pad@^1.3.0, required by app@1.0.0\n",
        );
        assert_eq!(found[0].subcategory, Subcategory::MissingPackage);
        assert_eq!(
            found[0].message,
            "missing: left-pad@^1.3.0, required by app@1.0.0"
        );
    }

    #[test]
    fn a_dependency_install_script_failure_is_its_output() {
        let log = "npm error code 1\nnpm error path /app/node_modules/native-thing\nnpm error command failed\nnpm error command sh -c node build.js\nnpm error gyp info it worked if it ends with ok\nnpm error native-thing: prebuilt binary not found for linux-x64\nnpm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].message,
            "native-thing: prebuilt binary not found for linux-x64"
        );
        assert_eq!(found[0].subcategory, Subcategory::NativeModule);
        // The project's own script: its output above the block says what failed.
        let own = parse(
            "sh: 1: husky: not found\nnpm error code 127\nnpm error path /app\nnpm error command failed\nnpm error command sh -c husky install\n",
        );
        assert_eq!(own.len(), 1, "{own:#?}");
        assert_eq!(own[0].message, "husky: not found");
    }

    #[test]
    fn lifecycle_failures_are_only_reported_alone() {
        let failure = "npm error Lifecycle script `build` failed with error:\nnpm error code 2\nnpm error path /app\nnpm error command failed\nnpm error command sh -c tsc\n";
        let alone = parse(failure);
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].code, None);
        let with_cause = parse(format!(
            "src/a.ts(1,1): error TS2304: Cannot find name 'x'.\n{failure}"
        ));
        assert_eq!(with_cause.len(), 1);
        assert_eq!(with_cause[0].tool, "tsc");
    }

    #[test]
    fn pip_failures_are_one_diagnostic() {
        let log = "Looking in links: /opt/wheels\nERROR: Could not find a version that satisfies the requirement flask==99.0.0 (from versions: 0.1, 3.1.3)\nERROR: No matching distribution found for flask==99.0.0\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].tool, "pip");
        assert_eq!(
            found[0].message,
            "Could not find a version that satisfies the requirement flask==99.0.0"
        );
        assert_eq!(found[0].subcategory, Subcategory::VersionConflict);
        let missing = parse(
            "ERROR: Could not open requirements file: [Errno 2] No such file or directory: 'nope.txt'\n",
        );
        assert_eq!(missing[0].category, Category::Configuration);
    }

    #[test]
    fn pnpm_and_yarn() {
        let found = parse(
            " ERR_PNPM_NO_MATCHING_VERSION  No matching version found for typescript@99.0.0\nerror Couldn't find package \"nope\" on the \"npm\" registry.\n",
        );
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|d| d.category == Category::Dependency));
    }
}

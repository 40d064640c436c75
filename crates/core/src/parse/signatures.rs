//! Last-resort signatures: lines no tool-specific parser claimed that still say why a build
//! failed — a missing command, the OOM killer, a full disk, a refused connection.
//!
//! ```text
//! sh: 1: webpackk: not found
//! Killed
//! curl: (6) Could not resolve host: registry.example.com
//! ```
//!
//! These have no source location. Only resource, network and missing-command signatures are
//! reported, each class once per tool run: retry loops print the same failure many times.

use super::classify::{self, lazy_regex};
use super::{Line, ParserSession, Sink};
use crate::{Category, Diagnostic, Severity, Subcategory};

builtin_parser! {
    /// Reports resource, network and missing-command signatures.
    Signatures, "signatures", SignatureSession,
    ["not found", "No such file or directory", "not recognized as an internal", "Killed", "ENOSPC", "No space left", "EMFILE", "ENFILE", "Too many open files", "ECONNREFUSED", "onnection refused", "ECONNRESET", "onnection reset", "ETIMEDOUT", "ENOTFOUND", "no such host", "EAI_AGAIN", "getaddrinfo", "resolve host", "name resolution", "Name or service not known", "timed out", "Timeout", "timeout", "401 Unauthorized", "403 Forbidden", "ut of memory", "OOMKilled", "Cannot allocate memory", "SIGKILL", "code 137", "code: 137", "status 137", "Segmentation fault"]
}

#[derive(Debug, Default)]
struct SignatureSession {
    /// Classes already reported, with the tool run they were reported in.
    reported: Vec<(u32, Subcategory)>,
}

impl ParserSession for SignatureSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let Some(d) = signature(line.text()) else {
            return false;
        };
        let seen = (out.run(), d.subcategory);
        if self.reported.contains(&seen) {
            return true;
        }
        self.reported.push(seen);
        out.emit(d.from_lines(line.number(), line.number()));
        true
    }

    fn busy(&self) -> bool {
        false
    }

    fn finish(&mut self, _out: &mut Sink) {}
}

fn signature(text: &str) -> Option<Diagnostic> {
    let text = text.trim();
    if let Some(caps) = lazy_regex!(
        r"^(?:(?P<shell>(?:/usr)?(?:/bin/)?(?:ba|z|da|k)?sh|/usr/bin/env|env)(?:: line \d+)?(?:: \d+)?: )?(?P<msg>(?:[^\s:]+: (?:command )?not found|command not found: \S+|[‘'][^’']+[’']: No such file or directory|'[^']+' is not recognized as an internal or external command.*))$"
    )
    .captures(text)
    {
        let shell_error = caps.name("shell").is_some() || caps["msg"].starts_with("command not found");
        if !shell_error && !caps["msg"].contains("not recognized") {
            return None;
        }
        let tool = caps.name("shell").map_or("shell", |s| s.as_str().rsplit('/').next().unwrap_or("shell"));
        return Some(
            Diagnostic::new(tool, &caps["msg"])
                .with_class(Category::Dependency, Subcategory::MissingCommand)
                .with_confidence(0.85),
        );
    }
    if lazy_regex!(r"^(?:\S+: (?:line \d+: )?(?:\d+ )?)?Segmentation fault").is_match(text) {
        return Some(
            Diagnostic::new("shell", text)
                .with_class(Category::Runtime, Subcategory::Other)
                .with_confidence(0.7),
        );
    }
    let (category, subcategory) = classify::by_message(text)?;
    if !matches!(category, Category::Resource | Category::Network) {
        return None;
    }
    let (tool, message) = match lazy_regex!(r"^(?P<tool>[\w.-]+): (?P<msg>.+)$").captures(text) {
        Some(caps)
            if !matches!(
                caps["tool"].to_ascii_lowercase().as_str(),
                "error" | "fatal" | "warning" | "err" | "warn"
            ) =>
        {
            (caps["tool"].to_string(), caps["msg"].to_string())
        }
        Some(caps) => ("unknown".to_string(), caps["msg"].to_string()),
        None => ("unknown".to_string(), text.to_string()),
    };
    let severity = if category == Category::Resource && subcategory != Subcategory::Timeout {
        Severity::Critical
    } else {
        Severity::Error
    };
    Some(
        Diagnostic::new(tool, message)
            .with_class(category, subcategory)
            .with_severity(severity)
            .with_confidence(0.6),
    )
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::{Category, Subcategory};

    #[test]
    fn missing_commands() {
        for (line, message) in [
            ("sh: 1: webpackk: not found", "webpackk: not found"),
            (
                "bash: line 1: tsx: command not found",
                "tsx: command not found",
            ),
            (
                "/usr/bin/env: ‘python’: No such file or directory",
                "‘python’: No such file or directory",
            ),
            ("zsh: command not found: vite", "command not found: vite"),
        ] {
            let found = parse(format!("{line}\n"));
            assert_eq!(found.len(), 1, "{line}");
            assert_eq!(found[0].message, message);
            assert_eq!(found[0].subcategory, Subcategory::MissingCommand);
        }
        assert!(parse("Package foo not found\n").is_empty());
    }

    #[test]
    fn resource_and_network_once_each() {
        let log = "Killed\ncurl: (6) Could not resolve host: registry.example.com\ncurl: (6) Could not resolve host: registry.example.com\nwarning: connection refused, retrying\ncat: can't open 'x': No such file or directory\n";
        let found = parse(log);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert_eq!(found[0].subcategory, Subcategory::OutOfMemory);
        let dns = found
            .iter()
            .find(|d| d.subcategory == Subcategory::DnsResolution)
            .unwrap();
        assert_eq!(
            (dns.tool.as_str(), dns.category),
            ("curl", Category::Network)
        );
    }
}

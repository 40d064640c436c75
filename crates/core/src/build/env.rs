//! Which environment variables a local build step sees.
//!
//! Build steps run generated code, so by default they inherit the environment *minus* anything
//! that looks like a credential: the keys selfheal itself uses to call models must never reach a
//! `postinstall` script.

/// Chooses the inherited environment: allow patterns (when any, only matching variables are
/// inherited), then deny patterns. A step's own variables are always set.
///
/// Patterns match variable names case-insensitively; `*` matches any run of characters.
///
/// ```
/// use selfheal::build::EnvPolicy;
///
/// let policy = EnvPolicy::default();
/// assert!(policy.inherits("PATH"));
/// assert!(!policy.inherits("ANTHROPIC_API_KEY"));
/// assert!(!policy.inherits("GITHUB_TOKEN"));
///
/// let strict = EnvPolicy::only(["PATH", "HOME", "LANG", "LC_*"]);
/// assert!(strict.inherits("LC_ALL") && !strict.inherits("EDITOR"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPolicy {
    allow: Vec<String>,
    deny: Vec<String>,
}

/// Credentials and the settings that point at them.
const DEFAULT_DENY: &[&str] = &[
    "*_API_KEY",
    "*_APIKEY",
    "*_TOKEN",
    "*_SECRET",
    "*_SECRET_*",
    "*_PASSWORD",
    "*_CREDENTIALS",
    "AWS_*",
    "AZURE_*",
    "SSH_AUTH_SOCK",
    "DOCKER_HOST",
    "DATABASE_URL",
];

impl Default for EnvPolicy {
    /// Everything except credentials (`*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*_PASSWORD`, `AWS_*`,
    /// `AZURE_*`, `SSH_AUTH_SOCK`, `DOCKER_HOST`, `DATABASE_URL`, …).
    fn default() -> Self {
        EnvPolicy {
            allow: Vec::new(),
            deny: DEFAULT_DENY.iter().map(|p| p.to_string()).collect(),
        }
    }
}

impl EnvPolicy {
    /// Inherit only variables matching `patterns` (and never the default-denied credentials).
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(patterns: I) -> Self {
        EnvPolicy {
            allow: patterns.into_iter().map(Into::into).collect(),
            ..EnvPolicy::default()
        }
    }

    /// Inherit nothing.
    pub fn nothing() -> Self {
        EnvPolicy {
            allow: Vec::new(),
            deny: vec!["*".into()],
        }
    }

    /// Also keeps variables matching `pattern` from the step.
    pub fn deny(mut self, pattern: impl Into<String>) -> Self {
        self.deny.push(pattern.into());
        self
    }

    /// Stops denying variables that match `pattern` exactly as written in the deny list (to
    /// pass, say, `NPM_TOKEN` to a private registry install).
    pub fn undeny(mut self, pattern: &str) -> Self {
        self.deny.retain(|p| !p.eq_ignore_ascii_case(pattern));
        self
    }

    /// True when the variable `name` is passed on. Naming a variable exactly in the allow list
    /// lifts a deny pattern for it.
    pub fn inherits(&self, name: &str) -> bool {
        let allowed = self.allow.is_empty() || self.allow.iter().any(|p| glob(p, name));
        let exactly_allowed = self.allow.iter().any(|p| p.eq_ignore_ascii_case(name));
        allowed && (exactly_allowed || !self.deny.iter().any(|p| glob(p, name)))
    }

    /// The inherited variables of the current process.
    pub(crate) fn inherited(
        &self,
    ) -> impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)> {
        std::env::vars_os().filter(|(name, _)| name.to_str().is_some_and(|n| self.inherits(n)))
    }
}

/// Case-insensitive glob with `*` only. Linear in practice: patterns are short and fixed.
fn glob(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_ascii_uppercase();
    let name = name.to_ascii_uppercase();
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*_TOKEN", "npm_token"));
        assert!(!glob("*_TOKEN", "TOKENS"));
        assert!(glob("AWS_*", "AWS_REGION"));
        assert!(glob("*_SECRET_*", "CLIENT_SECRET_ID"));
        assert!(glob("PATH", "PATH") && !glob("PATH", "PATHS"));
        assert!(glob("*", "ANYTHING"));
        assert!(glob("A*B*C", "AxxBxxC") && !glob("A*B*C", "AxxC"));
    }

    #[test]
    fn policies() {
        let default = EnvPolicy::default();
        assert!(default.inherits("HOME") && !default.inherits("OPENAI_API_KEY"));
        assert!(default.clone().undeny("*_TOKEN").inherits("NPM_TOKEN"));
        assert!(!default.clone().deny("HOME").inherits("HOME"));
        let only = EnvPolicy::only(["PATH", "NPM_TOKEN"]);
        assert!(only.inherits("PATH") && only.inherits("NPM_TOKEN") && !only.inherits("HOME"));
        assert!(!EnvPolicy::only(["*"]).inherits("GEMINI_API_KEY"));
        assert!(!EnvPolicy::nothing().inherits("PATH"));
    }
}

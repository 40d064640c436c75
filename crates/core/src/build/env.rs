//! Which environment variables a local build step sees.
//!
//! Build steps run generated code and the project's own scripts, so by default they get an
//! allow-list of what tools need — [`DEFAULT_ALLOWED`]: the path, the user, the locale and
//! terminal, temporary folders, the toolchains' homes, proxies and certificates, virtualenvs —
//! and never anything that looks like a credential, nor a value carrying a password in a URL
//! (`https://user:secret@host`). A variable a step's own shell line spells out (`$HEAL_TOOLS`)
//! reaches it too, unless it looks like a credential. A host adds the names its builds need
//! ([`EnvPolicy::allowing`]), or passes the whole environment on explicitly
//! ([`EnvPolicy::pass_through`]).

/// Chooses the inherited environment: allow patterns (when any, only matching variables are
/// inherited), then deny patterns. A step's own variables are always set.
///
/// Patterns match variable names case-insensitively; `*` matches any run of characters.
///
/// ```
/// use selfheal::build::EnvPolicy;
///
/// let policy = EnvPolicy::default();
/// assert!(policy.inherits("PATH") && policy.inherits("LC_ALL"));
/// assert!(!policy.inherits("ANTHROPIC_API_KEY"));
/// assert!(!policy.inherits("STRIPE_KEY") && !policy.inherits("MYAPP_SESSION_KEY"));
///
/// let mine = EnvPolicy::default().allowing("MYAPP_MODE");
/// assert!(mine.inherits("MYAPP_MODE"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPolicy {
    allow: Vec<String>,
    /// Patterns the host gave: a variable it names exactly passes though it looks like a
    /// credential.
    named: Vec<String>,
    /// Credentials, and values with a password in a URL.
    credentials: Vec<String>,
    /// The host's own: nothing passes them.
    deny: Vec<String>,
}

/// What a build step inherits by default: what compilers, package managers and test runners
/// need to find themselves, their caches and the network — and nothing of the host's own.
pub const DEFAULT_ALLOWED: &[&str] = &[
    // The system.
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "TZ",
    "TMPDIR",
    "TMP",
    "TEMP",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_RUNTIME_DIR",
    "CI",
    // Proxies and certificates (a value with a password in it is dropped).
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    // Toolchains.
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "NODE_OPTIONS",
    "NODE_PATH",
    "NVM_DIR",
    "NPM_CONFIG_*",
    "YARN_CACHE_FOLDER",
    "PNPM_HOME",
    "COREPACK_HOME",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_DEFAULT_TIMEOUT",
    "UV_CACHE_DIR",
    "JAVA_HOME",
    "GRADLE_USER_HOME",
    "MAVEN_OPTS",
    "GOPATH",
    "GOROOT",
    "GOCACHE",
    "GOMODCACHE",
    "GOPROXY",
    "DOTNET_ROOT",
];

/// Credentials and the settings that point at them, denied even where a pattern allows them.
const DEFAULT_DENY: &[&str] = &[
    "*KEY*",
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*CREDENTIAL*",
    "*_AUTH*",
    "*AUTH_*",
    "*SESSION*",
    "*COOKIE*",
    "*DSN*",
    "AWS_*",
    "AZURE_*",
    "SSH_AUTH_SOCK",
    "DOCKER_HOST",
    "*DATABASE_URL*",
];

impl Default for EnvPolicy {
    /// [`DEFAULT_ALLOWED`], never a credential.
    fn default() -> Self {
        EnvPolicy {
            allow: DEFAULT_ALLOWED.iter().map(|p| p.to_string()).collect(),
            ..EnvPolicy::nothing()
        }
    }
}

impl EnvPolicy {
    /// Inherit only variables matching `patterns` (and never the credentials denied by default:
    /// `*KEY*`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*_AUTH*`, `*SESSION*`, `*DSN*`, `AWS_*`,
    /// …), unless one is named exactly.
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(patterns: I) -> Self {
        let named: Vec<String> = patterns.into_iter().map(Into::into).collect();
        EnvPolicy {
            allow: named.clone(),
            named,
            ..EnvPolicy::nothing()
        }
    }

    /// The host's whole environment but the credentials denied by default — the host asks for
    /// it explicitly: every variable the host has reaches the project's scripts.
    pub fn pass_through() -> Self {
        EnvPolicy::only(["*"])
    }

    /// Inherit nothing.
    pub fn nothing() -> Self {
        EnvPolicy {
            allow: Vec::new(),
            named: Vec::new(),
            credentials: DEFAULT_DENY.iter().map(|p| p.to_string()).collect(),
            deny: Vec::new(),
        }
    }

    /// Also passes variables matching `pattern` on; naming a variable exactly passes it on even
    /// when it looks like a credential (`NPM_TOKEN` for a private registry install).
    pub fn allowing(mut self, pattern: impl Into<String>) -> Self {
        let pattern = pattern.into();
        self.allow.push(pattern.clone());
        self.named.push(pattern);
        self
    }

    /// Also keeps variables matching `pattern` from the step, even one named exactly.
    pub fn deny(mut self, pattern: impl Into<String>) -> Self {
        self.deny.push(pattern.into());
        self
    }

    /// True when the variable `name` is passed on. A variable the host named exactly passes
    /// though it looks like a credential.
    pub fn inherits(&self, name: &str) -> bool {
        let matches = |patterns: &[String]| patterns.iter().any(|p| glob(p, name));
        matches(&self.allow)
            && !matches(&self.deny)
            && (self.named_exactly(name) || !matches(&self.credentials))
    }

    fn named_exactly(&self, name: &str) -> bool {
        self.named.iter().any(|p| p.eq_ignore_ascii_case(name))
    }

    /// The inherited variables of the current process for a step whose command line names the
    /// variables `referenced` (`"$HEAL_TOOLS/bin/tsc"`): those [`inherits`](Self::inherits)
    /// passes, and those the command names unless they look like credentials or the host
    /// denies them — the plan is the host's, so a variable it spells out is one the host
    /// means the step to have; a credential still needs the host to name it in the policy. A
    /// value with a password in a URL passes only when the host named the variable.
    pub(crate) fn inherited<'a>(
        &'a self,
        referenced: &'a [String],
    ) -> impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)> + 'a {
        std::env::vars_os().filter(move |(name, value)| {
            let Some(name) = name.to_str() else {
                return false;
            };
            let matches = |patterns: &[String]| patterns.iter().any(|p| glob(p, name));
            let spelled_out = referenced.iter().any(|r| r == name)
                && !matches(&self.deny)
                && !matches(&self.credentials);
            (self.inherits(name) || spelled_out)
                && (self.named_exactly(name) || !value.to_str().is_some_and(carries_password))
        })
    }
}

/// Whether `value` holds a URL with a password (`scheme://user:password@host`).
fn carries_password(value: &str) -> bool {
    value.match_indices("://").any(|(at, _)| {
        let rest = &value[at + 3..];
        let authority = rest.split(['/', '?', '#', ' ']).next().unwrap_or_default();
        authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    })
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
    fn the_default_passes_what_tools_need_and_no_credential() {
        let default = EnvPolicy::default();
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "LC_ALL",
            "TERM",
            "TMPDIR",
            "CARGO_HOME",
            "RUSTUP_HOME",
            "NODE_OPTIONS",
            "npm_config_registry",
            "VIRTUAL_ENV",
            "PYTHONPATH",
            "JAVA_HOME",
            "CI",
            "HTTPS_PROXY",
        ] {
            assert!(default.inherits(name), "{name}");
        }
        for name in [
            "OPENAI_API_KEY",
            "GITHUB_TOKEN",
            "DATABASE_URL",
            "SUPABASE_SERVICE_ROLE_KEY",
            "STRIPE_KEY",
            "PGPASSWORD",
            "REDIS_URL",
            "NPM_CONFIG__AUTH",
            "npm_config_//registry.npmjs.org/:_authToken",
            "SENTRY_DSN",
            "MYAPP_SESSION_KEY",
            "EDITOR",
            "SELFHEAL_CACHE_URL",
        ] {
            assert!(!default.inherits(name), "{name}");
        }
    }

    #[test]
    fn a_host_adds_names_or_passes_everything_explicitly() {
        let mine = EnvPolicy::default()
            .allowing("MYAPP_*")
            .allowing("NPM_TOKEN");
        assert!(mine.inherits("MYAPP_MODE") && mine.inherits("NPM_TOKEN"));
        assert!(
            !mine.inherits("MYAPP_SESSION_KEY"),
            "a pattern never lifts a deny"
        );
        let everything = EnvPolicy::pass_through();
        assert!(everything.inherits("EDITOR") && !everything.inherits("GEMINI_API_KEY"));
        assert!(!EnvPolicy::nothing().inherits("PATH"));
        assert!(!EnvPolicy::default().deny("HOME").inherits("HOME"));
    }

    #[test]
    fn urls_with_a_password_are_recognised() {
        for value in [
            "http://user:secret@proxy:3128",
            "https://:pw@host/",
            "redis://:p@ss@cache:6379",
            "x https://a:b@h",
        ] {
            assert!(carries_password(value), "{value}");
        }
        for value in [
            "http://proxy:3128",
            "https://user@host/path",
            "/usr/bin:/bin",
            "https://host/a:b@c",
        ] {
            assert!(!carries_password(value), "{value}");
        }
    }
}

//! Secrets out of text before it leaves the process.
//!
//! Build logs and source files carry credentials: API keys in `.env` files, tokens echoed by a
//! CI step, database URLs with passwords, private keys. A [`Redactor`] replaces them with
//! `[REDACTED:kind]` markers — keeping the names around them, so a model still sees *that*
//! `DATABASE_URL` is set — before a prompt is sent anywhere.
//!
//! ```
//! use selfheal::redact::Redactor;
//!
//! let redactor = Redactor::new();
//! let log = "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx1234 npm run build\n\
//!            connecting to postgres://app:hunter22@db:5432/app";
//! let clean = redactor.redact(log);
//! assert!(!clean.contains("sk-proj-abcdefghijkl") && !clean.contains("hunter22"));
//! assert!(clean.contains("postgres://app:[REDACTED:url-password]@db:5432/app"));
//! ```
//!
//! Regular expressions here run in linear time, whatever the input.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// One kind of secret: a pattern and the group that holds the secret (0: the whole match).
struct Rule {
    kind: &'static str,
    pattern: Regex,
    group: usize,
}

/// Words that make a name secret-looking.
const SECRET_WORDS: &str = r"(?:secret|passw(?:or)?d|passwd|pwd|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|auth[_-]?token)";

/// Values that are type names in code (`password: string`), not secrets.
const TYPE_WORDS: &[&str] = &[
    "string",
    "number",
    "boolean",
    "bool",
    "str",
    "int",
    "any",
    "unknown",
    "object",
    "none",
    "null",
    "true",
    "false",
    "undefined",
    "optional",
    "required",
];

/// Built-in rules, most specific first. Every pattern is a literal from this file.
#[allow(clippy::expect_used)]
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |kind, pattern: &str, group| Rule {
        kind,
        pattern: Regex::new(pattern).expect("built-in redaction pattern"),
        group,
    };
    vec![
        rule(
            "private-key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
            0,
        ),
        rule("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{16,}", 0),
        rule(
            "openai-key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
            0,
        ),
        rule(
            "github-token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
            0,
        ),
        rule("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}", 0),
        rule("slack-token", r"\bxox[abprse]-[A-Za-z0-9-]{10,}", 0),
        rule("aws-access-key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0),
        rule("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}", 0),
        rule(
            "stripe-key",
            r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{20,}",
            0,
        ),
        rule("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b", 0),
        rule("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}", 0),
        rule(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            0,
        ),
        rule(
            "bearer-token",
            r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/-]{16,}=*)",
            1,
        ),
        rule(
            "url-password",
            r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:([^\s@/]+)@",
            1,
        ),
        // A string literal assigned to a secret-looking name: `"password": "…"`,
        // `const apiKey = '…'`, `jwt_secret: '…'`.
        rule(
            "secret-assignment",
            &format!(
                r#"(?i)\b[\w.-]*{SECRET_WORDS}[\w.-]*["']?\s*[:=]\s*(?:"([^"\s]{{4,}})"|'([^'\s]{{4,}})')"#
            ),
            1,
        ),
        // An environment assignment: `DB_PASSWORD=…`, `export API_KEY=…`, `TOKEN=… npm test`.
        rule(
            "secret-assignment",
            r#"\b[A-Z0-9_]*(?:SECRET|PASSWORD|PASSWD|PWD|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH)[A-Z0-9_]*\s*=\s*([^\s"'#]{4,})"#,
            1,
        ),
        // A YAML-style line: `password: hunter2`.
        rule(
            "secret-assignment",
            &format!(
                r#"(?im)^\s*[\w.-]*{SECRET_WORDS}[\w.-]*\s*:\s+([^\s#'"{{}}\[\],;]{{4,}})\s*$"#
            ),
            1,
        ),
    ]
});

/// Replaces secrets in text. Cheap to clone and to share.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Exact values that must never leave (the host's own keys), longest first.
    literals: Vec<String>,
}

impl Redactor {
    /// The built-in rules: provider API keys (Anthropic, OpenAI, Google), GitHub, GitLab,
    /// Slack, AWS, Stripe, npm and Hugging Face tokens, JWTs, bearer tokens, private keys,
    /// passwords in URLs, and values assigned to secret-looking names (`API_KEY=…`,
    /// `"password": "…"`, `DB_PASSWORD: …`).
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Also redacts this exact value wherever it appears (values shorter than 6 characters are
    /// ignored: they would redact ordinary words).
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        if secret.trim().len() >= 6 && !self.literals.contains(&secret) {
            self.literals.push(secret);
            self.literals.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
        self
    }

    /// Also redacts the values of this process's environment variables whose names look
    /// secret (`*_KEY`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`…).
    pub fn with_env_secrets(mut self) -> Self {
        for (name, value) in std::env::vars() {
            if secret_name(&name) {
                self = self.with_secret(value);
            }
        }
        self
    }

    /// `text` with every secret replaced by `[REDACTED:kind]`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for literal in &self.literals {
            if text.contains(literal.as_str()) {
                text = Cow::Owned(text.replace(literal.as_str(), "[REDACTED:secret]"));
            }
        }
        for rule in RULES.iter() {
            if let Cow::Owned(replaced) = replace(&rule.pattern, rule.group, rule.kind, &text) {
                text = Cow::Owned(replaced);
            }
        }
        text
    }

    /// A `.env` file: every assigned value is replaced, whatever its name.
    pub fn redact_env_file<'a>(&self, text: &'a str) -> Cow<'a, str> {
        static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
            #[allow(clippy::expect_used)]
            Regex::new(r"(?m)^(\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=\s*)(\S.*)$")
                .expect("built-in .env pattern")
        });
        let replaced = ASSIGNMENT.replace_all(text, |caps: &Captures<'_>| {
            format!("{}[REDACTED:env-value]", &caps[1])
        });
        match replaced {
            Cow::Borrowed(_) => self.redact(text),
            Cow::Owned(owned) => Cow::Owned(self.redact(&owned).into_owned()),
        }
    }
}

/// True for names like `OPENAI_API_KEY`, `GITHUB_TOKEN`, `DB_PASSWORD`, `AWS_SECRET_ACCESS_KEY`.
fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "AUTH",
    ]
    .iter()
    .any(|word| upper.contains(word))
}

/// Replaces the secret in every match of `pattern` with `[REDACTED:kind]`: the whole match when
/// `group` is 0, else the first group from `group` on that took part.
fn replace<'a>(pattern: &Regex, group: usize, kind: &str, text: &'a str) -> Cow<'a, str> {
    pattern.replace_all(text, |caps: &Captures<'_>| {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let secret = (group..caps.len()).find_map(|g| caps.get(g));
        match secret {
            Some(secret)
                if group > 0
                    && TYPE_WORDS.contains(&secret.as_str().to_ascii_lowercase().as_str()) =>
            {
                whole.to_string()
            }
            Some(secret) if group > 0 => {
                let start = secret.start() - caps.get(0).map_or(0, |m| m.start());
                let end = start + secret.len();
                if secret.as_str().starts_with("[REDACTED") {
                    return whole.to_string();
                }
                format!("{}[REDACTED:{kind}]{}", &whole[..start], &whole[end..])
            }
            _ => format!("[REDACTED:{kind}]"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::new().redact(text).into_owned()
    }

    #[test]
    fn provider_keys_and_tokens() {
        for (secret, kind) in [
            (
                "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345-_xyz",
                "anthropic-key",
            ),
            ("sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "openai-key"),
            (
                "sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij",
                "openai-key",
            ),
            ("ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "github-token"),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
                "github-token",
            ),
            ("glpat-AbCdEfGhIjKlMnOpQrSt", "gitlab-token"),
            (
                "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
                "slack-token",
            ),
            ("AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
            ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "google-api-key"),
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
            ("npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "npm-token"),
            ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "huggingface-token"),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt",
            ),
        ] {
            let line = format!("using {secret} now");
            assert_eq!(
                redact(&line),
                format!("using [REDACTED:{kind}] now"),
                "{secret}"
            );
        }
    }

    #[test]
    fn bearer_tokens_urls_and_assignments_keep_their_names() {
        assert_eq!(
            redact("curl -H 'Authorization: Bearer abcdef0123456789ABCDEF'"),
            "curl -H 'Authorization: Bearer [REDACTED:bearer-token]'"
        );
        assert_eq!(
            redact("DATABASE_URL=postgres://app:s3cr3t!@db:5432/app"),
            "DATABASE_URL=postgres://app:[REDACTED:url-password]@db:5432/app"
        );
        assert_eq!(
            redact("git clone https://user:ghtoken123@github.com/org/repo"),
            "git clone https://user:[REDACTED:url-password]@github.com/org/repo"
        );
        for (text, want) in [
            (
                "DB_PASSWORD=hunter2hunter",
                "DB_PASSWORD=[REDACTED:secret-assignment]",
            ),
            (
                "export STRIPE_SECRET=\"abc123xyz\"",
                "export STRIPE_SECRET=\"[REDACTED:secret-assignment]\"",
            ),
            (
                "  \"apiKey\": \"12345678-abcd\",",
                "  \"apiKey\": \"[REDACTED:secret-assignment]\",",
            ),
            (
                "jwt_secret: 'changeme'",
                "jwt_secret: '[REDACTED:secret-assignment]'",
            ),
            (
                "password: hunter22",
                "password: [REDACTED:secret-assignment]",
            ),
            (
                "OPENAI_API_KEY=abc-123 npm test",
                "OPENAI_API_KEY=[REDACTED:secret-assignment] npm test",
            ),
            (
                "MY_AUTH_TOKEN = abcd1234",
                "MY_AUTH_TOKEN = [REDACTED:secret-assignment]",
            ),
        ] {
            assert_eq!(redact(text), want);
        }
    }

    #[test]
    fn private_keys_whole_or_cut() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234\nabcd==\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            redact(&format!("key:\n{key}\ndone")),
            "key:\n[REDACTED:private-key]\ndone"
        );
        assert_eq!(
            redact("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA"),
            "[REDACTED:private-key]"
        );
    }

    #[test]
    fn ordinary_code_and_logs_are_left_alone() {
        for text in [
            "error TS2322: Type 'string' is not assignable to type 'number'.",
            "const token = getToken();",
            "password: string;",
            "  password: string",
            "  apiKey?: string | undefined;",
            "const apiKey = process.env.API_KEY;",
            "const headers = { Authorization: `Bearer ${token}` };",
            "if (auth) { return user; }",
            "npm ERR! code ERESOLVE",
            "https://registry.npmjs.org/react",
            "const key = 'id';",
            "skip-ant-colony",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn literals_and_env_files() {
        let redactor = Redactor::new()
            .with_secret("correct-horse-battery")
            .with_secret("abc");
        assert_eq!(
            redactor.redact("echo correct-horse-battery abc"),
            "echo [REDACTED:secret] abc"
        );
        let env =
            "# local\nNODE_ENV=development\nexport DATABASE_URL=postgres://u:p@h/db\nPORT = 3000\n";
        assert_eq!(
            Redactor::new().redact_env_file(env),
            "# local\nNODE_ENV=[REDACTED:env-value]\nexport DATABASE_URL=[REDACTED:env-value]\nPORT = [REDACTED:env-value]\n"
        );
    }

    #[test]
    fn hostile_input_stays_linear() {
        let text = "-----BEGIN PRIVATE KEY-----".repeat(20_000)
            + &"sk-".repeat(100_000)
            + &"a=".repeat(100_000);
        let out = redact(&text);
        assert!(out.len() < text.len());
    }
}

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
    /// Leaves values that read as code (see [`code_like`]).
    spares_code: bool,
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
        spares_code: false,
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
            "sendgrid-key",
            r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
            0,
        ),
        rule("stripe-webhook-secret", r"\bwhsec_[A-Za-z0-9+/=]{20,}", 0),
        rule("twilio-key", r"\bSK[0-9a-f]{32}\b", 0),
        rule("mailgun-key", r"\bkey-[0-9a-z]{32}\b", 0),
        rule(
            "webhook-url",
            r"https://(?:hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+|(?:discord|discordapp)\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]+)",
            0,
        ),
        // `Authorization: Basic dXNlcjpwYXNz`: base64 of `user:password`.
        rule(
            "basic-auth",
            r#"(?i)\bauthorization["']?\s*[:=]\s*["']?basic\s+([A-Za-z0-9+/]{6,}={0,2})"#,
            1,
        ),
        // Azure connection strings and SAS tokens: `AccountKey=…;`, `SharedAccessKey=…`, `sig=…`.
        rule(
            "azure-key",
            r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)=([^;\s\x22']{8,})",
            1,
        ),
        rule("azure-key", r"[?&]sig=([A-Za-z0-9%+/=]{16,})", 1),
        // npm's `.npmrc`: `//registry.npmjs.org/:_authToken=…`, `_auth=…`, `_password=…`.
        rule(
            "npm-auth",
            r#"(?i)(?:^|[\s:;'"])_(?:authToken|auth|password)\s*=\s*"?([^\s"]{4,})"#,
            1,
        ),
        // `mysql -uroot -phunter2`: the password glued to `-p`.
        rule(
            "mysql-password",
            r"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mariadb)\b[^\n]*?\s-p([^\s-][^\s]*)",
            1,
        ),
        // A password in a URL, the user name possibly empty (`redis://:pw@host`); it runs to the
        // last `@` of the authority, so a password holding an `@` goes whole.
        rule(
            "url-password",
            r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:([^\s/]+)@",
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
        // Unquoted, any case: `api_key=…`, `aws_secret_access_key = …`, `--password=…` — when
        // the value looks like a secret, not a name in code (see `code_like`).
        Rule {
            spares_code: true,
            ..rule(
                "secret-assignment",
                &format!(
                    r#"(?i)\b[\w.-]*{SECRET_WORDS}[\w.-]*\s*=\s*([^\s"'`#;,(){{}}\[\]<>]{{4,}})"#
                ),
                1,
            )
        },
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

    /// The built-in rules and this process's secret-looking environment values
    /// ([`with_env_secrets`](Redactor::with_env_secrets)), read once: what selfheal applies to
    /// everything it stores or sends unless the host gives its own.
    pub fn process_wide() -> &'static Redactor {
        static PROCESS: LazyLock<Redactor> = LazyLock::new(|| Redactor::new().with_env_secrets());
        &PROCESS
    }

    /// Whether `text` holds anything this redactor would replace.
    pub fn finds_secret(&self, text: &str) -> bool {
        matches!(self.redact(text), Cow::Owned(_))
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
            if let Cow::Owned(replaced) = replace(rule, &text) {
                text = Cow::Owned(replaced);
            }
        }
        text
    }
}

/// Whether a file is one that holds credentials by its name — `.npmrc`, `.yarnrc(.yml)`,
/// `.pypirc`, `.netrc`, `.pgpass`, `.git-credentials`, `.env` and `.env.*`, keys and
/// certificates (`*.pem`, `*.key`, `*.p12`, `*.pfx`, `id_rsa`, `id_ed25519` …) — or lies in a
/// folder that does (`.aws/`, `.ssh/`, `.gnupg/`, `.docker/`, `.kube/`, `.azure/`, `gcloud/`).
/// Such a file is never quoted to a model, whatever a log line says about it.
pub fn is_credential_file(path: &str) -> bool {
    let lower = path.replace('\\', "/").to_ascii_lowercase();
    let mut parts = lower.split('/').filter(|p| !p.is_empty()).peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_some() {
            let folder = [
                ".aws", ".ssh", ".gnupg", ".docker", ".kube", ".azure", "gcloud",
            ];
            if folder.contains(&part) {
                return true;
            }
            continue;
        }
        let names = [
            ".npmrc",
            ".yarnrc",
            ".yarnrc.yml",
            ".pypirc",
            ".netrc",
            "_netrc",
            ".pgpass",
            ".git-credentials",
            ".htpasswd",
            ".dockercfg",
            "credentials",
            "credentials.json",
            "service-account.json",
        ];
        let keys = ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"];
        let extensions = [".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk"];
        return names.contains(&part)
            || part == ".env"
            || part.starts_with(".env.")
            || keys.iter().any(|key| {
                part.strip_prefix(key).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('.') || rest.starts_with("_sk")
                })
            })
            || extensions.iter().any(|extension| part.ends_with(extension));
    }
    false
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

/// Whether an assigned value reads as code rather than a secret: a name or a dotted path of
/// letters (`getKey`, `process.env.API_KEY`, `req.body.password`). A secret has a digit or a
/// symbol somewhere; one of letters alone is rare enough to leave.
fn code_like(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '$'))
}

/// Replaces the secret in every match of the rule's pattern with `[REDACTED:kind]`: the whole
/// match when its group is 0, else the first group from it on that took part.
fn replace<'a>(rule: &Rule, text: &'a str) -> Cow<'a, str> {
    let (group, kind) = (rule.group, rule.kind);
    rule.pattern.replace_all(text, |caps: &Captures<'_>| {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let secret = (group..caps.len()).find_map(|g| caps.get(g));
        match secret {
            Some(secret)
                if group > 0
                    && (TYPE_WORDS.contains(&secret.as_str().to_ascii_lowercase().as_str())
                        || (rule.spares_code && code_like(secret.as_str()))) =>
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

    /// One line per class of secret a log, a config file or a command line carries, and what
    /// must be left of it.
    #[test]
    fn every_class_of_secret_is_redacted_and_its_name_kept() {
        for (text, want) in [
            (
                "REDIS_URL=redis://:s3cretpass@cache:6379/0",
                "REDIS_URL=redis://:[REDACTED:url-password]@cache:6379/0",
            ),
            (
                "mongodb://admin:p@ss@w0rd@db.internal:27017/app",
                "mongodb://admin:[REDACTED:url-password]@db.internal:27017/app",
            ),
            (
                "api_key=abc123def456 node server.js",
                "api_key=[REDACTED:secret-assignment] node server.js",
            ),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key = [REDACTED:secret-assignment]",
            ),
            (
                "  --password=hunter2 --host db",
                "  --password=[REDACTED:secret-assignment] --host db",
            ),
            (
                "Authorization: Basic dXNlcjpodW50ZXIy",
                "Authorization: Basic [REDACTED:basic-auth]",
            ),
            (
                "curl -H \"authorization: basic YWRtaW46YWRtaW4=\" http://x",
                "curl -H \"authorization: basic [REDACTED:basic-auth]\" http://x",
            ),
            (
                "//registry.npmjs.org/:_authToken=9f8e7d6c-5b4a-3210-fedc-ba9876543210",
                "//registry.npmjs.org/:_authToken=[REDACTED:npm-auth]",
            ),
            ("_auth = dXNlcjpwYXNz", "_auth = [REDACTED:npm-auth]"),
            (
                "mysql -uroot -phunter2 -h db app < dump.sql",
                "mysql -uroot -p[REDACTED:mysql-password] -h db app < dump.sql",
            ),
            (
                "posting to https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX failed",
                "posting to [REDACTED:webhook-url] failed",
            ),
            (
                "DefaultEndpointsProtocol=https;AccountName=app;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
                "DefaultEndpointsProtocol=https;AccountName=app;AccountKey=[REDACTED:azure-key];EndpointSuffix=core.windows.net",
            ),
            (
                "GET https://app.blob.core.windows.net/c/x?sv=2022-11-02&sig=abcdEFGH1234ijklMNOP5678%3D",
                "GET https://app.blob.core.windows.net/c/x?sv=2022-11-02&sig=[REDACTED:azure-key]",
            ),
            (
                "SENDGRID=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",
                "SENDGRID=[REDACTED:sendgrid-key]",
            ),
        ] {
            assert_eq!(redact(text), want, "{text}");
        }
    }

    #[test]
    fn credential_files_are_known_by_name_and_folder() {
        for path in [
            ".npmrc",
            "web/.npmrc",
            ".yarnrc.yml",
            ".pypirc",
            ".netrc",
            ".env",
            ".env.local",
            "apps/api/.env.production",
            ".aws/credentials",
            ".aws/config",
            ".ssh/config",
            "deploy/id_ed25519",
            "id_rsa.pub",
            "certs/server.pem",
            "tls/server.KEY",
            ".docker/config.json",
            "/abs/.git-credentials",
        ] {
            assert!(is_credential_file(path), "{path}");
        }
        for path in [
            "src/App.tsx",
            "package.json",
            "src/vite-env.d.ts",
            "src/env.ts",
            "src/id_generator.py",
            "docs/ssh.md",
            "keys.ts",
            "src/keyboard.tsx",
            ".eslintrc.json",
        ] {
            assert!(!is_credential_file(path), "{path}");
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
            "const apiKey = getApiKey();",
            "password = request.form.password",
            "let token = localStorage.token",
            "http://localhost:3000/api/users",
            "user@example.com wrote: see https://example.com/a@b",
            "git@github.com:org/repo.git",
            "Basic configuration loaded",
            "mysql -u root -p app",
            "mysql --port 3306 -P 3306 app",
            "npm warn config _authToken is set in your npmrc",
            "const SG = 'SG.short.x';",
            "const key_prefix = 'sk';",
            "sig=short",
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

//! What this machine offers selfheal: configured model providers and whether they answer,
//! Docker, and the common toolchains.
//!
//! ```no_run
//! use selfheal::doctor::{self, DoctorOptions};
//!
//! # async fn run() {
//! let report = doctor::run(&DoctorOptions::default(), |name| std::env::var(name).ok()).await;
//! for provider in &report.providers {
//!     println!("{}: {:?} {}", provider.name, provider.status, provider.detail);
//! }
//! assert!(report.healthy() || !report.problems().is_empty());
//! # }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::llm::{Anthropic, CompletionRequest, Gemini, OpenAi, Provider};

/// How the doctor checks.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// Do not call the providers (only report their configuration).
    pub offline: bool,
    /// How long each check may take.
    pub timeout: Duration,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            offline: false,
            timeout: Duration::from_secs(30),
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// It works.
    Ok,
    /// It is set up but does not work.
    Failed,
    /// Set up, not tried (`offline`).
    Skipped,
    /// Not set up; nothing to check.
    NotConfigured,
}

/// A model provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderCheck {
    /// `anthropic`, `openai` or `gemini`.
    pub name: String,
    /// The result.
    pub status: CheckStatus,
    /// The key's last four characters, when a key is set.
    pub key: Option<String>,
    /// Where requests go.
    pub endpoint: Option<String>,
    /// The default model.
    pub model: Option<String>,
    /// What happened, in a line.
    pub detail: String,
    /// How long the test request took.
    pub latency_ms: Option<u64>,
}

/// A program selfheal runs (Docker, compilers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCheck {
    /// The program.
    pub name: String,
    /// The result (`NotConfigured`: not installed).
    pub status: CheckStatus,
    /// Its version line.
    pub version: Option<String>,
    /// What happened, in a line.
    pub detail: String,
}

/// Everything the doctor found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    /// The model providers.
    pub providers: Vec<ProviderCheck>,
    /// The Docker engine.
    pub docker: ToolCheck,
    /// Toolchains: node, npm, tsc, cargo, python.
    pub tools: Vec<ToolCheck>,
    /// Whether a Docker engine is expected here (`DOCKER_HOST` is set or the socket exists).
    pub docker_expected: bool,
}

impl DoctorReport {
    /// True when every configured part works: each configured provider answers (or was not
    /// tried), and Docker answers where it is expected. Missing toolchains are information.
    pub fn healthy(&self) -> bool {
        self.problems().is_empty()
    }

    /// The parts that are set up and do not work.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .providers
            .iter()
            .filter(|p| p.status == CheckStatus::Failed)
            .map(|p| format!("{}: {}", p.name, p.detail))
            .collect();
        if self.docker_expected && self.docker.status != CheckStatus::Ok {
            problems.push(format!("docker: {}", self.docker.detail));
        }
        problems
    }
}

/// Runs every check; `vars` reads configuration (`|name| std::env::var(name).ok()`).
pub async fn run(options: &DoctorOptions, vars: impl Fn(&str) -> Option<String>) -> DoctorReport {
    let key = |name: &str| {
        vars(name)
            .filter(|v| !v.trim().is_empty())
            .map(|k| mask(&k))
    };
    let candidates = [
        (
            "anthropic",
            key("ANTHROPIC_API_KEY"),
            Anthropic::from_vars(&vars).map(|p| {
                let endpoint = p.endpoint();
                (Arc::new(p) as Arc<dyn Provider>, endpoint)
            }),
        ),
        (
            "openai",
            key("OPENAI_API_KEY"),
            OpenAi::from_vars(&vars).map(|p| {
                let endpoint = p.endpoint();
                (Arc::new(p) as Arc<dyn Provider>, endpoint)
            }),
        ),
        (
            "gemini",
            key("GEMINI_API_KEY").or_else(|| key("GOOGLE_API_KEY")),
            Gemini::from_vars(&vars).map(|p| {
                let endpoint = p.endpoint(p.default_model(), false);
                (Arc::new(p) as Arc<dyn Provider>, endpoint)
            }),
        ),
    ];
    let mut providers = Vec::new();
    for (name, key, provider) in candidates {
        providers.push(match provider {
            Err(error) => ProviderCheck {
                name: name.into(),
                status: CheckStatus::NotConfigured,
                key,
                endpoint: None,
                model: None,
                detail: error.to_string(),
                latency_ms: None,
            },
            Ok((provider, endpoint)) => {
                check_provider(name, provider, key, Some(endpoint), options).await
            }
        });
    }
    let docker_expected = vars("DOCKER_HOST").is_some_and(|h| !h.is_empty())
        || std::path::Path::new("/var/run/docker.sock").exists();
    let docker = check_tool(
        "docker",
        &["version", "--format", "{{.Server.Version}}"],
        options.timeout,
    )
    .await;
    let mut tools = Vec::new();
    for (name, args) in [
        ("node", &["--version"][..]),
        ("npm", &["--version"][..]),
        ("tsc", &["--version"][..]),
        ("cargo", &["--version"][..]),
    ] {
        tools.push(check_tool(name, args, options.timeout).await);
    }
    let python = check_tool("python3", &["--version"], options.timeout).await;
    tools.push(if python.status == CheckStatus::NotConfigured {
        check_tool("python", &["--version"], options.timeout).await
    } else {
        python
    });
    DoctorReport {
        providers,
        docker,
        tools,
        docker_expected,
    }
}

async fn check_provider(
    name: &str,
    provider: Arc<dyn Provider>,
    key: Option<String>,
    endpoint: Option<String>,
    options: &DoctorOptions,
) -> ProviderCheck {
    let mut check = ProviderCheck {
        name: name.into(),
        status: CheckStatus::Skipped,
        key,
        endpoint,
        model: Some(provider.default_model().to_string()),
        detail: "configured; not called (offline)".into(),
        latency_ms: None,
    };
    if options.offline {
        return check;
    }
    let request = CompletionRequest::new("Reply with the word OK.")
        .max_tokens(16)
        .timeout(options.timeout);
    let started = Instant::now();
    match provider.complete(&request).await {
        Ok(completion) => {
            check.status = CheckStatus::Ok;
            check.model = Some(completion.model.clone());
            check.detail = format!(
                "answers ({} tokens)",
                completion.usage.input_tokens + completion.usage.output_tokens
            );
        }
        Err(error) => {
            check.status = CheckStatus::Failed;
            let text = error.to_string();
            check.detail = text
                .strip_prefix(&format!("{name}: "))
                .unwrap_or(&text)
                .to_string();
        }
    }
    check.latency_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    check
}

/// Runs `program args` and reads the first line it prints.
async fn check_tool(program: &str, args: &[&str], timeout: Duration) -> ToolCheck {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(timeout, command.output()).await {
        Err(_) => {
            return ToolCheck {
                name: program.into(),
                status: CheckStatus::Failed,
                version: None,
                detail: format!("no answer within {timeout:?}"),
            };
        }
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            return ToolCheck {
                name: program.into(),
                status: CheckStatus::NotConfigured,
                version: None,
                detail: "not installed".into(),
            };
        }
        Ok(Err(error)) => {
            return ToolCheck {
                name: program.into(),
                status: CheckStatus::Failed,
                version: None,
                detail: error.to_string(),
            };
        }
        Ok(Ok(output)) => output,
    };
    let first_line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    if output.status.success() {
        let version = first_line(&output.stdout).or_else(|| first_line(&output.stderr));
        ToolCheck {
            name: program.into(),
            status: CheckStatus::Ok,
            detail: "works".into(),
            version,
        }
    } else {
        ToolCheck {
            name: program.into(),
            status: CheckStatus::Failed,
            version: None,
            detail: first_line(&output.stderr)
                .or_else(|| first_line(&output.stdout))
                .unwrap_or_else(|| format!("exited with {}", output.status)),
        }
    }
}

/// `…abcd`: enough to tell keys apart, nothing to use.
fn mask(key: &str) -> String {
    let tail: String = key
        .trim()
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

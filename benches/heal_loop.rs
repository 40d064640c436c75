//! What the heal loop itself costs per attempt, the build and the model left out: a builder
//! that answers from memory (a Python NameError, then green once the fix is in) and a provider
//! that streams a fix at once, on a workspace of 40 files of 2 KB. Each iteration is a whole
//! run — first build, parse, fixers, prompt, streamed reply, JSON recovery, snapshot, apply,
//! diff, rebuild, delta, report — restored afterwards; per attempt is half of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use selfheal::build::{BuildPlan, BuildStep, Builder, LineSink, Log, StepOutput};
use selfheal::heal::{AttemptPolicy, HealConfig, Healer, Outcome};
use selfheal::llm::{
    Completion, CompletionRequest, CompletionStream, FinishReason, Provider, StreamEvent, Usage,
};
use selfheal::workspace::Workspace;

const BROKEN: &str = "def greet():\n    print(mesage)\n\nmesage_text = 'hi'\ngreet()\n";
const REPLY: &str = r#"```json
{"analysis": "typo", "fixes": [{"file": "main.py", "action": "patch", "search": "    print(mesage)", "replace": "    print(mesage_text)"}],}
```"#;

/// Fails with Python's NameError while `main.py` holds the typo.
struct MemoryBuilder;

#[async_trait::async_trait]
impl Builder for MemoryBuilder {
    async fn run_step(
        &self,
        workspace: &Path,
        step: &BuildStep,
        _: &dyn LineSink,
    ) -> selfheal::Result<StepOutput> {
        let source = std::fs::read_to_string(workspace.join("main.py")).unwrap_or_default();
        let broken = source.contains("print(mesage)");
        let text = if broken {
            "Traceback (most recent call last):\n  File \"main.py\", line 5, in <module>\n    greet()\n  File \"main.py\", line 2, in greet\n    print(mesage)\n          ^^^^^^\nNameError: name 'mesage' is not defined\n".to_string()
        } else {
            "hi\n".to_string()
        };
        Ok(StepOutput {
            name: step.name.clone(),
            exit_code: Some(i32::from(broken)),
            log: Log {
                total_bytes: text.len() as u64,
                text,
                ..Log::default()
            },
            ..StepOutput::default()
        })
    }
}

/// Streams the fix at once.
struct MemoryModel;

#[async_trait::async_trait]
impl Provider for MemoryModel {
    fn name(&self) -> &str {
        "memory"
    }

    fn default_model(&self) -> &str {
        "memory-1"
    }

    async fn complete(&self, _: &CompletionRequest) -> selfheal::Result<Completion> {
        Ok(Completion {
            text: REPLY.into(),
            usage: Usage::default(),
            stop_reason: FinishReason::EndTurn,
            model: "memory-1".into(),
            provider: "memory".into(),
            latency: Duration::ZERO,
        })
    }

    fn stream(&self, _: CompletionRequest) -> CompletionStream {
        let events = [
            StreamEvent::Start {
                provider: "memory".into(),
                model: "memory-1".into(),
            },
            StreamEvent::Text(REPLY.into()),
            StreamEvent::Stop(FinishReason::EndTurn),
        ];
        Box::pin(futures_util::stream::iter(events))
    }
}

fn project() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("selfheal-bench-heal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("lib")).expect("project");
    for i in 0..39 {
        let line = format!("def helper_{i}(x):\n    return x + {i}\n\n");
        std::fs::write(
            dir.join(format!("lib/m{i}.py")),
            line.repeat(2048 / line.len()),
        )
        .expect("module");
    }
    std::fs::write(dir.join("main.py"), BROKEN).expect("main");
    dir
}

fn heal_loop(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = project();
    let workspace = Workspace::open(&dir).expect("workspace");
    let plan = BuildPlan::new([BuildStep::shell("run", "python3 main.py")]);
    let healer = Healer::new(MemoryBuilder)
        .provider(Arc::new(MemoryModel))
        .config(HealConfig {
            attempts: AttemptPolicy {
                base_delay: Duration::ZERO,
                ..AttemptPolicy::default()
            },
            ..HealConfig::default()
        });
    c.bench_function(
        "heal/one fix, two builds (in-memory build and model)",
        |b| {
            b.iter(|| {
                let report = runtime
                    .block_on(healer.heal(&workspace, &plan, &|_| {}))
                    .expect("heal");
                assert_eq!(report.outcome, Outcome::Healed);
                std::fs::write(dir.join("main.py"), BROKEN).expect("broken again");
            })
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, heal_loop);
criterion_main!(benches);

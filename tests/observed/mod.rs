//! Heal runs for the observability tests: real Python builds, a model behind a 127.0.0.1
//! server, a cache on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use selfheal::build::{BuildPlan, BuildStep, LocalBuilder};
use selfheal::cache::FixCache;
use selfheal::heal::{Healer, Outcome};
use selfheal::llm::{OpenAi, Provider};
use selfheal::observe::{HealthMonitor, HealthStatus};
use selfheal::workspace::Workspace;
use serde_json::json;

use crate::support::{Reply, Server, openai_stream, quick_heal_config};

const BROKEN: &str = "def greet():\n    print(mesage)\n\nmesage_text = 'hi'\ngreet()\n";
pub(crate) const KEY: &str = "sk-observe-secret";

pub(crate) fn project(name: &str) -> PathBuf {
    let dir = crate::support::scratch(&format!("observe-{name}"));
    std::fs::create_dir_all(dir.join("app")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("app/main.py"), BROKEN).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn fix_reply() -> Reply {
    let fix = json!({"file": "main.py", "action": "patch",
                     "search": "    print(mesage)", "replace": "    print(mesage_text)"});
    Reply::sse(
        &openai_stream(&format!("```json\n{{\"fixes\": [{fix}]}}\n```")),
        40,
    )
}

/// A whole (not streamed) chat completion.
pub(crate) fn completion(text: &str) -> Reply {
    Reply::json(
        200,
        json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}),
    )
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Heals the project twice: by a model on 127.0.0.1, then (broken again) from the cache.
pub(crate) async fn heal_twice(dir: &Path) -> Vec<Outcome> {
    let server = Server::start().await;
    server.push(fix_reply());
    let provider: Arc<dyn Provider> = Arc::new(
        OpenAi::compatible(format!("{}/v1", server.url()), Some(KEY.into()))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let monitor = Arc::new(HealthMonitor::new(std::time::Duration::from_secs(60)));
    let healer = Healer::new(LocalBuilder::new())
        .provider(provider)
        .cache(
            FixCache::open(dir.join("cache"))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .config(quick_heal_config())
        .monitor(Arc::clone(&monitor));
    let plan = BuildPlan::new([BuildStep::shell("run", "python3 main.py")]);
    let workspace = Workspace::open(dir.join("app")).unwrap_or_else(|e| panic!("{e}"));
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        std::fs::write(dir.join("app/main.py"), BROKEN).unwrap_or_else(|e| panic!("{e}"));
        let report =
            (healer.heal(&workspace, &plan, &|_| {}).await).unwrap_or_else(|e| panic!("{e}"));
        outcomes.push(report.outcome);
    }
    let health = monitor.health();
    assert_eq!((health.runs, health.status), (2, HealthStatus::Healthy));
    assert_eq!(health.cache_hit_rate, Some(0.5));
    outcomes
}

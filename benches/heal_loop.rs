//! What the heal loop itself costs per attempt, the build and the model left out: a builder
//! that answers from memory (a Python NameError, then green once the fix is in) and a provider
//! that streams a fix at once, on a workspace of 40 files of 2 KB. Each iteration is a whole
//! run — first build, parse, fixers, prompt, streamed reply, JSON recovery, snapshot, apply,
//! diff, rebuild, delta, report — restored afterwards; per attempt is half of it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use selfheal::build::{BuildPlan, BuildStep};
use selfheal::heal::{AttemptPolicy, HealConfig, Healer, Outcome};
use selfheal::testing::{MemoryBuilder, ScriptedProvider};
use selfheal::workspace::Workspace;

const BROKEN: &str = "def greet():\n    print(mesage)\n\nmesage_text = 'hi'\ngreet()\n";
const REPLY: &str = r#"```json
{"analysis": "typo", "fixes": [{"file": "main.py", "action": "patch", "search": "    print(mesage)", "replace": "    print(mesage_text)"}],}
```"#;

/// Fails with Python's NameError while `main.py` holds the typo.
fn memory_builder() -> MemoryBuilder {
    MemoryBuilder::new(|workspace, _| {
        let source = std::fs::read_to_string(workspace.join("main.py")).unwrap_or_default();
        if source.contains("print(mesage)") {
            (1, "Traceback (most recent call last):\n  File \"main.py\", line 5, in <module>\n    greet()\n  File \"main.py\", line 2, in greet\n    print(mesage)\n          ^^^^^^\nNameError: name 'mesage' is not defined\n".to_string())
        } else {
            (0, "hi\n".to_string())
        }
    })
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
    let healer = Healer::new(memory_builder())
        .provider(Arc::new(ScriptedProvider::always(REPLY)))
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

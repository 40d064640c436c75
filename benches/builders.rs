//! What running a build step through selfheal costs on top of running it directly.
//!
//! - `local/true`: `LocalBuilder` (process group, piped and captured output, wait4 usage,
//!   group cleanup) against `std::process::Command::new("true").status()`.
//! - `docker/true`: a `DockerBuilder` step (create, attach, start, wait, inspect, remove) against
//!   `docker run --rm IMAGE true` through the CLI. Skipped when no engine answers or the test
//!   image (`selfheal-test-busybox:1`, made by `.ci/run`) is missing.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use selfheal::build::{BuildStep, Builder, Discard, DockerBuilder, LocalBuilder};

const IMAGE: &str = "selfheal-test-busybox:1";

fn local(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let workspace = std::env::temp_dir();
    let builder = LocalBuilder::new();
    let step = BuildStep::argv("true", ["true"]);
    let mut group = c.benchmark_group("local");
    group.bench_function("std::process::Command", |b| {
        b.iter(|| {
            let status = std::process::Command::new("true")
                .status()
                .expect("true runs");
            assert!(status.success());
        })
    });
    group.bench_function("LocalBuilder", |b| {
        b.iter(|| {
            let output = runtime
                .block_on(builder.run_step(&workspace, &step, &Discard))
                .expect("true runs");
            assert!(output.success());
        })
    });
    group.finish();
}

fn docker(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let image_present = std::process::Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .is_ok_and(|out| out.status.success());
    let builder = runtime.block_on(DockerBuilder::connect(IMAGE));
    let (true, Ok(builder)) = (image_present, builder) else {
        eprintln!("docker benches skipped: no engine or no {IMAGE}");
        return;
    };
    let workspace = std::env::temp_dir().join("selfheal-bench-docker");
    std::fs::create_dir_all(&workspace).expect("workspace");
    let step = BuildStep::argv("true", ["true"]);
    let mut group = c.benchmark_group("docker");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("docker run --rm", |b| {
        b.iter(|| {
            let status = std::process::Command::new("docker")
                .args(["run", "--rm", "--network", "none", IMAGE, "true"])
                .status()
                .expect("docker runs");
            assert!(status.success());
        })
    });
    group.bench_function("DockerBuilder", |b| {
        b.iter(|| {
            let output = runtime
                .block_on(builder.run_step(&workspace, &step, &Discard))
                .expect("the step runs");
            assert!(output.success());
        })
    });
    group.finish();
}

criterion_group!(benches, local, docker);
criterion_main!(benches);

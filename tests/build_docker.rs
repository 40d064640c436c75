//! `DockerBuilder` against the real Docker engine: output and exit codes, timeouts, OOM kills
//! (and a heal run that gives a killed step more memory), no network, copy-in/copy-back,
//! Dockerfile builds parsed into diagnostics, and nothing left behind. The test image is made from the host's static busybox, without any registry.
//!
//! Without an engine the tests that need one are reported ignored, with the reason (in CI they
//! fail): `.ci/run` starts one.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
};
use futures_util::StreamExt;
use selfheal::Error;
use selfheal::build::{
    BuildPlan, BuildStep, Builder, CaptureConfig, Discard, DockerBuilder, ImageBuild, WorkspaceMode,
};
use selfheal::heal::{Event, Healer, Outcome};
use selfheal::parse::ParserSet;
use selfheal::workspace::Workspace;
use selfheal_test_harness::{Need, Test, trial};

use crate::support;

const IMAGE: &str = "selfheal-test-busybox:1";

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    let engine = Need::docker_engine();
    let link_local = Need::new(link_local_address_on_host().err());
    vec![
        trial!(async exit_codes_and_output_are_captured).needs(&engine),
        trial!(async a_step_past_its_timeout_is_stopped_and_removed).needs(&engine),
        trial!(async dropping_the_future_removes_the_container).needs(&engine),
        trial!(async running_out_of_memory_under_64_mib_is_reported).needs(&engine),
        trial!(async a_step_the_kernel_kills_for_memory_heals_with_twice_the_memory).needs(&engine),
        trial!(async steps_have_no_network_unless_asked).needs(&engine),
        trial!(async copy_mode_copies_the_workspace_in_and_the_changes_back).needs(&engine),
        trial!(async a_failing_dockerfile_build_becomes_a_diagnostic_and_leaves_no_image)
            .needs(&engine),
        trial!(async a_dockerfile_build_keeps_its_image_only_when_asked).needs(&engine),
        trial!(async an_unreachable_engine_is_a_typed_error),
        trial!(async steps_run_unprivileged_and_no_setuid_file_survives).needs(&engine),
        trial!(async steps_have_memory_and_cpu_limits_by_default).needs(&engine),
        trial!(async with_network_the_host_and_link_local_addresses_are_unreachable)
            .needs(&engine)
            .needs(&link_local),
    ]
}

/// Image builds are compared against the engine's whole image list: one at a time.
static IMAGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A builder for `test`, the test image imported first when the engine lacks it.
async fn builder(test: &str) -> DockerBuilder {
    let builder = DockerBuilder::connect(IMAGE)
        .await
        .unwrap_or_else(|e| panic!("no Docker engine: {e}"));
    static IMPORTED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    IMPORTED
        .get_or_init(|| async {
            let docker = docker().await;
            if docker.inspect_image(IMAGE).await.is_err() {
                import_busybox(&docker).await;
            }
        })
        .await;
    builder
        .label("dev.selfheal.test", test)
        .stop_grace(Duration::from_secs(1))
        .capture(CaptureConfig {
            run_dir: support::scratch(&format!("docker-runs-{test}")),
            ..CaptureConfig::default()
        })
}

async fn docker() -> Docker {
    Docker::connect_with_defaults()
        .unwrap_or_else(|e| panic!("{e}"))
        .negotiate_version()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `docker import` of a root file system holding the host's static busybox and its applets.
async fn import_busybox(docker: &Docker) {
    let busybox = std::fs::read("/bin/busybox").unwrap_or_else(|e| panic!("static busybox: {e}"));
    let applets = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tar = tar::Builder::new(Vec::new());
    for (dir, mode) in [
        ("bin", 0o755),
        ("tmp", 0o1777),
        ("etc", 0o755),
        ("workspace", 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(mode);
        header.set_size(0);
        tar.append_data(&mut header, dir, std::io::empty())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o755);
    header.set_size(busybox.len() as u64);
    tar.append_data(&mut header, "bin/busybox", busybox.as_slice())
        .unwrap_or_else(|e| panic!("{e}"));
    for applet in String::from_utf8_lossy(&applets.stdout)
        .lines()
        .filter(|a| *a != "busybox")
    {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_mode(0o777);
        header.set_size(0);
        tar.append_link(&mut header, format!("bin/{applet}"), "busybox")
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let rootfs = tar.into_inner().unwrap_or_else(|e| panic!("{e}"));
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo("selfheal-test-busybox")
        .tag("1")
        .changes(vec!["ENV PATH=/bin".into()])
        .build();
    let mut progress = std::pin::pin!(docker.create_image(
        Some(options),
        Some(bollard::body_full(rootfs.into())),
        None
    ));
    while let Some(step) = progress.next().await {
        step.unwrap_or_else(|e| panic!("importing the test image: {e}"));
    }
}

fn workspace(name: &str) -> PathBuf {
    support::scratch(&format!("docker-{name}"))
}

/// No container of `test` is left, running or not.
async fn assert_no_containers(test: &str) {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("dev.selfheal.test={test}")],
    )]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    // Removal after a dropped future runs on a spawned task: give it a moment.
    for _ in 0..50 {
        let left = docker()
            .await
            .list_containers(Some(options.clone()))
            .await
            .unwrap_or_default();
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{test} left containers behind");
}

async fn image_ids() -> HashSet<String> {
    let options = ListImagesOptionsBuilder::new().all(true).build();
    docker()
        .await
        .list_images(Some(options))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|image| image.id)
        .collect()
}

async fn exit_codes_and_output_are_captured() {
    let builder = builder("exit").await;
    let ws = workspace("exit");
    std::fs::write(ws.join("input.txt"), "from the host\n").unwrap_or_else(|e| panic!("{e}"));
    let step = BuildStep::shell(
        "fails",
        "cat input.txt; echo err >&2; echo made > made.txt; exit 3",
    )
    .env("GREETING", "hi");
    let output = builder
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.exit_code, Some(3), "{output:?}");
    assert!(!output.success() && !output.timed_out && !output.oom_killed);
    assert_eq!(output.stdout.text, "from the host\n");
    assert_eq!(output.stderr.text, "err\n");
    assert_eq!(
        std::fs::read_to_string(ws.join("made.txt")).unwrap_or_default(),
        "made\n",
        "the workspace is bind-mounted"
    );
    let env = builder
        .run_step(
            &ws,
            &BuildStep::argv("env", ["sh", "-c", "echo $GREETING; id -u"]).env("GREETING", "hi"),
            &Discard,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(env.success());
    assert!(env.stdout.text.starts_with("hi\n"), "{}", env.stdout.text);
    assert_no_containers("exit").await;
    let _ = std::fs::remove_dir_all(&ws);
}

async fn a_step_past_its_timeout_is_stopped_and_removed() {
    let builder = builder("timeout").await;
    let ws = workspace("timeout");
    let step =
        BuildStep::shell("hangs", "echo started; sleep 300").timeout(Duration::from_millis(800));
    let started = Instant::now();
    let output = builder
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.timed_out, "{output:?}");
    assert!(!output.oom_killed);
    assert_eq!(output.stdout.text, "started\n");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_no_containers("timeout").await;
    let _ = std::fs::remove_dir_all(&ws);
}

async fn dropping_the_future_removes_the_container() {
    let builder = builder("cancel").await;
    let ws = workspace("cancel");
    let step = BuildStep::shell("hangs", "sleep 300");
    let run = builder.run_step(&ws, &step, &Discard);
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), run)
            .await
            .is_err()
    );
    assert_no_containers("cancel").await;
    let _ = std::fs::remove_dir_all(&ws);
}

async fn running_out_of_memory_under_64_mib_is_reported() {
    let builder = builder("oom").await;
    let ws = workspace("oom");
    let step = BuildStep::argv(
        "hog",
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"],
    );
    let output = builder
        .memory_mib(64)
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.oom_killed, "{output:?}");
    assert_eq!(output.exit_code, Some(137));
    assert_eq!(output.status(), "out of memory");
    assert_no_containers("oom").await;
    let _ = std::fs::remove_dir_all(&ws);
}

async fn a_step_the_kernel_kills_for_memory_heals_with_twice_the_memory() {
    let builder = builder("oom-heal").await.memory_mib(64);
    let ws = workspace("oom-heal");
    // 96 MiB of buffer: killed under 64 MiB, fine under 128.
    let plan = BuildPlan::new([BuildStep::argv(
        "hog",
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"],
    )]);
    let healer = Healer::new(builder).fixers(Vec::new());
    let workspace = Workspace::open(&ws).unwrap_or_else(|e| panic!("{e}"));
    let report =
        (healer.heal(&workspace, &plan, &|_: Event| {}).await).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.outcome,
        Outcome::HealedWithChangedPlan,
        "{report:#?}"
    );
    let killed = &report.attempts[0];
    assert_eq!(killed.errors, 1, "{report:#?}");
    let scaled = report
        .attempts
        .last()
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert_eq!(scaled.by.as_deref(), Some("resource-scaling"));
    assert_eq!(
        report.changed_plan,
        ["the builder was replaced by resource-scaling"]
    );
    assert_no_containers("oom-heal").await;
    let _ = std::fs::remove_dir_all(&ws);
}

async fn steps_have_no_network_unless_asked() {
    let builder = builder("network").await;
    let ws = workspace("network");
    let probe = BuildStep::shell(
        "probe",
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; echo routes; tail -n +2 /proc/net/route",
    );
    let isolated = builder
        .clone()
        .run_step(&ws, &probe, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = &isolated.stdout.text;
    let (interfaces, routes) = text
        .split_once("routes\n")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(interfaces, "lo\n", "only loopback: {text}");
    assert_eq!(routes, "", "no route leaves the container: {text}");

    let interfaces = BuildStep::shell("interfaces", "cat /proc/net/dev");
    let bridged = builder
        .network(true)
        .run_step(&ws, &interfaces, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        bridged.stdout.text.contains("eth0"),
        "{}",
        bridged.stdout.text
    );
    assert_no_containers("network").await;
    let _ = std::fs::remove_dir_all(&ws);
}

async fn copy_mode_copies_the_workspace_in_and_the_changes_back() {
    let builder = builder("copy").await;
    let ws = workspace("copy");
    std::fs::create_dir_all(ws.join("src")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.join("src/app.ts"), "let a = 1;\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.join("stale.txt"), "old\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ws.join("same.txt"), "same\n").unwrap_or_else(|e| panic!("{e}"));
    let step = BuildStep::shell(
        "edit",
        "cat src/app.ts; echo 'let a = 2;' > src/app.ts; mkdir -p dist; echo built > dist/app.js; rm stale.txt; ln -s ../etc/passwd escape",
    );
    let output = builder
        .read_only_root(true)
        .workspace_mode(WorkspaceMode::Copy)
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.success(), "{output:?}");
    assert_eq!(output.stdout.text, "let a = 1;\n");
    let read = |p: &str| std::fs::read_to_string(ws.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("src/app.ts"), "let a = 2;\n");
    assert_eq!(read("dist/app.js"), "built\n");
    assert_eq!(read("same.txt"), "same\n");
    assert!(!ws.join("stale.txt").exists(), "deletions come back too");
    assert!(
        std::fs::symlink_metadata(ws.join("escape")).is_err(),
        "a link out of the workspace is refused"
    );
    assert_no_containers("copy").await;
    let _ = std::fs::remove_dir_all(&ws);
}

async fn a_failing_dockerfile_build_becomes_a_diagnostic_and_leaves_no_image() {
    let builder = builder("dockerfile").await;
    let _one_at_a_time = IMAGES.lock().await;
    let before = image_ids().await;
    let ws = workspace("dockerfile");
    std::fs::write(
        ws.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN echo compiling > /tmp/log\nRUN echo \"src/main.c:3:5: error: expected ';' before 'return'\" && exit 2\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let lines = std::sync::Mutex::new(Vec::new());
    let sink = |_: selfheal::build::OutputStream, line: &str| {
        if let Ok(mut lines) = lines.lock() {
            lines.push(line.to_string());
        }
    };
    let built = builder
        .build_image(&ws, &ImageBuild::default(), &sink)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let output = &built.output;
    assert_eq!(output.exit_code, Some(1), "{}", output.log.text);
    assert!(built.image.is_none());
    let failed = built.failed_step.as_deref().unwrap_or_default();
    assert!(
        failed.starts_with("Step 3/") && failed.contains(": RUN echo"),
        "{failed}"
    );
    assert!(
        lines
            .lock()
            .map(|l| l.iter().any(|l| l.starts_with("Step 2/")))
            .unwrap_or(false)
    );
    let diagnostics = ParserSet::new().parse(&output.log.text);
    assert!(
        diagnostics
            .iter()
            .any(|d| d.file.as_deref() == Some("src/main.c") && d.line == Some(3)),
        "{diagnostics:#?}\n{}",
        output.log.text
    );
    assert!(
        diagnostics
            .iter()
            .all(|d| !d.message.contains("non-zero code")),
        "the real error explains the step's failure"
    );

    // A step that fails without saying why is itself the diagnostic.
    std::fs::write(
        ws.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN test -d /app\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let silent = builder
        .build_image(&ws, &ImageBuild::default(), &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let diagnostics = ParserSet::new().parse(&silent.output.log.text);
    assert_eq!(
        diagnostics.len(),
        1,
        "{diagnostics:#?}\n{}",
        silent.output.log.text
    );
    assert_eq!(diagnostics[0].tool, "docker");
    assert!(
        diagnostics[0]
            .message
            .contains("returned a non-zero code: 1"),
        "{:?}",
        diagnostics[0]
    );
    assert_eq!(image_ids().await, before, "the build's layers are removed");
    let _ = std::fs::remove_dir_all(&ws);
}

async fn a_dockerfile_build_keeps_its_image_only_when_asked() {
    let builder = builder("keep").await;
    let _one_at_a_time = IMAGES.lock().await;
    let before = image_ids().await;
    let ws = workspace("keep");
    std::fs::write(
        ws.join("Dockerfile"),
        format!("FROM {IMAGE}\nCOPY . /app\nRUN test -f /app/Dockerfile\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let thrown = builder
        .build_image(&ws, &ImageBuild::default(), &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(thrown.output.success(), "{}", thrown.output.log.text);
    assert!(thrown.image.is_none());
    assert_eq!(image_ids().await, before);

    let keep = ImageBuild {
        tag: Some("selfheal-test-kept:1".into()),
        keep_image: true,
        ..ImageBuild::default()
    };
    let kept = builder
        .build_image(&ws, &keep, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kept.image.as_deref(), Some("selfheal-test-kept:1"));
    let docker = docker().await;
    assert!(docker.inspect_image("selfheal-test-kept:1").await.is_ok());
    docker
        .remove_image(
            "selfheal-test-kept:1",
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(image_ids().await, before);
    let _ = std::fs::remove_dir_all(&ws);
}

async fn an_unreachable_engine_is_a_typed_error() {
    for host in ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"] {
        let result = DockerBuilder::connect_to(host, IMAGE).await.map(|_| ());
        assert!(
            matches!(result, Err(Error::DockerUnavailable { .. })),
            "{host}: {result:?}"
        );
        // The engine client's own error stays reachable.
        let error = result.unwrap_err();
        let cause = std::error::Error::source(&error);
        assert!(
            cause.is_some_and(|cause| cause.is::<bollard::errors::Error>()),
            "{host}: {cause:?}"
        );
    }
}

/// The host answers at 169.254.169.254 too (as a cloud's metadata service would on the way out):
/// the address is added to the loopback interface.
fn link_local_address_on_host() -> Result<(), String> {
    let added = std::process::Command::new("ip")
        .args(["addr", "add", "169.254.169.254/32", "dev", "lo"])
        .output()
        .map_err(|e| format!("`ip` cannot run: {e}"))?;
    let stderr = String::from_utf8_lossy(&added.stderr);
    let exists = stderr.contains("File exists") || stderr.contains("already assigned");
    match added.status.success() || exists {
        true => Ok(()),
        false => Err(format!(
            "cannot add 169.254.169.254 to lo: {}",
            String::from_utf8_lossy(&added.stderr).trim()
        )),
    }
}

async fn steps_run_unprivileged_and_no_setuid_file_survives() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let step = BuildStep::shell(
        "setuid",
        "id -u; id -g; ls -lnd . >&2; echo made > made.txt; cp /bin/busybox bb; chmod 4755 bb; chmod 2755 made.txt; ls -l bb",
    );
    // A root-owned workspace (the tests run as root): a fixed unprivileged uid, the workspace
    // copied in as theirs; then one owned by an ordinary user, bind-mounted, run as them.
    for (owner, expected) in [(0, 65532), (1000, 1000)] {
        let ws = workspace(&format!("setuid-{owner}"));
        std::os::unix::fs::chown(&ws, Some(owner), Some(owner)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&ws, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let output = builder("setuid")
            .await
            .run_step(&ws, &step, &Discard)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(output.success(), "{output:?}");
        let ids: Vec<&str> = output.stdout.text.lines().take(2).collect();
        assert_eq!(
            ids,
            [expected.to_string(), expected.to_string()],
            "{output:?}"
        );
        assert!(
            output.stdout.text.contains("rwsr-xr-x"),
            "the bit was set inside: {}",
            output.stdout.text
        );
        for file in ["bb", "made.txt"] {
            let mode = std::fs::metadata(ws.join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .mode();
            assert_eq!(mode & 0o6000, 0, "{file} kept {mode:o} (owner {owner})");
        }
        let _ = std::fs::remove_dir_all(&ws);
    }
    assert_no_containers("setuid").await;
}

async fn steps_have_memory_and_cpu_limits_by_default() {
    let ws = workspace("limits");
    let step = BuildStep::shell(
        "limits",
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes \
         /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null; true",
    );
    let output = builder("limits")
        .await
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let engine_cpus = docker()
        .await
        .info()
        .await
        .ok()
        .and_then(|i| i.ncpu)
        .unwrap_or(1);
    let quota = 100_000 * engine_cpus.min(2);
    let text = &output.stdout.text;
    assert!(
        text.contains(&(4096u64 << 20).to_string()),
        "memory: {text}"
    );
    assert!(
        text.contains(&quota.to_string()),
        "cpu quota {quota}: {text}"
    );

    let lifted = builder("limits")
        .await
        .unlimited_resources()
        .run_step(&ws, &step, &Discard)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !lifted.stdout.text.contains(&(4096u64 << 20).to_string()),
        "{}",
        lifted.stdout.text
    );
    assert_no_containers("limits").await;
    let _ = std::fs::remove_dir_all(&ws);
}

async fn with_network_the_host_and_link_local_addresses_are_unreachable() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("{e}"))
        .port();
    let accept = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    let ws = workspace("egress");
    // The gateway is the host's address on the container's network.
    let probe = BuildStep::shell(
        "probe",
        format!(
            "gateway=$(ip route | sed -n 's/^default via \\([0-9.]*\\).*/\\1/p'); echo gateway $gateway; \
             for address in $gateway 169.254.169.254; do \
             if echo | nc -w 2 $address {port}; then echo \"reached $address\"; \
             else echo \"blocked $address\"; fi; done"
        ),
    );
    let run = |builder: DockerBuilder| {
        let (ws, probe) = (ws.clone(), probe.clone());
        async move {
            builder
                .network(true)
                .run_step(&ws, &probe, &Discard)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .stdout
                .text
        }
    };
    let guarded = run(builder("egress").await).await;
    assert!(guarded.contains("gateway 1"), "{guarded}");
    assert_eq!(guarded.matches("blocked ").count(), 2, "{guarded}");

    // The same probe reaches both where the host allows it: the probe can tell.
    let open = run(builder("egress").await.allow_host_addresses(true)).await;
    assert_eq!(open.matches("reached ").count(), 2, "{open}");
    accept.abort();
    assert_no_containers("egress").await;
    let _ = std::fs::remove_dir_all(&ws);
}

//! Build steps in throwaway containers, and Dockerfile builds, through the Docker Engine API.
//!
//! Every step gets a fresh container from the configured image, locked down by default:
//!
//! - an unprivileged user: the workspace owner's uid when it is not root, else uid and gid
//!   [`UNPRIVILEGED`] (65532) with the workspace copied in owned by it and the changes copied
//!   back ([`WorkspaceMode`]) — a root-owned workspace is never handed to a step;
//! - all capabilities dropped, `no-new-privileges`, at most 1024 processes, 4 GiB of memory
//!   (no swap beyond it) and 2 CPUs (at most the engine's), each overridable;
//! - no setuid or setgid file a step creates survives in the workspace: the bits are cleared
//!   when the step ends (copied-back files never carry them);
//! - no network; with [`network`](DockerBuilder::network) on, steps join the `selfheal-egress`
//!   bridge, whose traffic to the host's own addresses and to link-local ones (cloud metadata
//!   at `169.254.169.254`) the host's firewall drops — rules selfheal adds with `iptables` for
//!   a local engine, or refuses to run the step without, unless the host
//!   [allows those addresses](DockerBuilder::allow_host_addresses).
//!
//! The container is removed on every path: success, failure, timeout, error, and when the
//! caller drops the future.
//!
//! The engine is found like the `docker` CLI finds it: `DOCKER_HOST`, else the local socket.
//!
//! ```no_run
//! use selfheal::build::{BuildStep, Builder, Discard, DockerBuilder};
//!
//! # async fn run() -> selfheal::Result<()> {
//! let builder = DockerBuilder::connect("node:22-slim")
//!     .await?
//!     .memory_mib(1024)
//!     .cpus(2.0);
//! let output = builder
//!     .run_step("./app".as_ref(), &BuildStep::shell("build", "npm run build"), &Discard)
//!     .await?;
//! println!("{} in {:?}", output.status(), output.duration);
//! # Ok(())
//! # }
//! ```

mod archive;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, StopContainerOptionsBuilder,
    UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::output::{Recorder, supervise_capturing};
use super::plan::working_dir;
use super::{BuildStep, Builder, CaptureConfig, LineSink, OutputStream, StepOutput};
use crate::{Error, Result};

/// How the workspace reaches the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkspaceMode {
    /// Bind-mounted: the step works on the files themselves. Fast; the step runs as the user
    /// that owns the workspace, so files it creates belong to that user.
    #[default]
    Bind,
    /// Copied in as a tar archive; after the step, new and changed files are copied back and
    /// deleted ones removed. For remote engines, and to keep the host's files out of reach
    /// until the step is over.
    Copy,
}

/// Label put on every container and image selfheal creates.
pub const LABEL: &str = "dev.selfheal";

/// The uid and gid steps run as when the workspace's owner is root (or unknown): no user of the
/// host or of common images has it (distroless images call it `nonroot`).
pub const UNPRIVILEGED: u32 = 65532;

/// The network steps with network access join.
pub const EGRESS_NETWORK: &str = "selfheal-egress";

/// Its bridge on the host, which the firewall rules name.
const EGRESS_BRIDGE: &str = "selfheal0";

/// Default limits of a step's container.
const DEFAULT_MEMORY_MIB: u64 = 4096;
const DEFAULT_CPUS: f64 = 2.0;

/// How a [`DockerBuilder`]'s containers run, as hosts give it (see [`DockerBuilder::options`]):
/// no network unless `network`, and then not to the host's own or link-local addresses unless
/// `allow_host_addresses`; memory, CPUs, user and step time limit at their defaults unless set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerOptions {
    /// Containers may reach the network.
    pub network: bool,
    /// With `network`: also this machine's own and link-local addresses.
    pub allow_host_addresses: bool,
    /// Memory limit in MiB.
    pub memory_mib: Option<u64>,
    /// CPU limit.
    pub cpus: Option<f64>,
    /// The user steps run as.
    pub user: Option<String>,
    /// The time limit of steps that have none.
    pub timeout: Option<Duration>,
}

/// Runs build steps in containers and builds Dockerfiles. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct DockerBuilder {
    docker: Docker,
    image: String,
    mode: WorkspaceMode,
    workdir: String,
    user: Option<String>,
    env: Vec<(String, String)>,
    labels: HashMap<String, String>,
    memory: Option<u64>,
    memory_swap: Option<u64>,
    cpus: Option<f64>,
    pids_limit: Option<i64>,
    network: bool,
    allow_host_addresses: bool,
    /// Whether the engine runs on this machine (a Unix socket): only then can selfheal set
    /// its firewall rules.
    local_engine: bool,
    /// Set once the egress network and its firewall rules are in place.
    egress: Arc<tokio::sync::OnceCell<()>>,
    /// The engine's CPUs, when known: the CPU limit never asks for more.
    engine_cpus: Option<f64>,
    read_only_root: bool,
    capture: CaptureConfig,
    default_timeout: Duration,
    stop_grace: Duration,
}

/// How long output may still arrive after the container stopped.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

impl DockerBuilder {
    /// Connects to the engine (`DOCKER_HOST`, else the local socket) and agrees on an API
    /// version; steps will run in `image`. A missing or unreachable engine is
    /// [`Error::DockerUnavailable`].
    pub async fn connect(image: impl Into<String>) -> Result<Self> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        DockerBuilder::connect_to(&host, image).await
    }

    /// Connects to the engine at `host` (`unix:///var/run/docker.sock`, `tcp://10.0.0.5:2375`)
    /// and agrees on an API version.
    pub async fn connect_to(host: &str, image: impl Into<String>) -> Result<Self> {
        let docker = Docker::connect_with_host(host).map_err(unavailable)?;
        let docker = docker.negotiate_version().await.map_err(unavailable)?;
        let engine_cpus = (docker.info().await.ok())
            .and_then(|info| info.ncpu)
            .map(|cpus| cpus as f64);
        Ok(DockerBuilder {
            engine_cpus,
            local_engine: host.starts_with("unix://"),
            ..DockerBuilder::with_client(docker, image)
        })
    }

    /// Uses an existing bollard client.
    pub fn with_client(docker: Docker, image: impl Into<String>) -> Self {
        DockerBuilder {
            docker,
            image: image.into(),
            mode: WorkspaceMode::default(),
            workdir: "/workspace".into(),
            user: None,
            env: Vec::new(),
            labels: HashMap::new(),
            memory: Some(DEFAULT_MEMORY_MIB << 20),
            memory_swap: None,
            cpus: Some(DEFAULT_CPUS),
            pids_limit: Some(1024),
            network: false,
            allow_host_addresses: false,
            local_engine: false,
            egress: Arc::default(),
            engine_cpus: None,
            read_only_root: false,
            capture: CaptureConfig::default(),
            default_timeout: Duration::from_secs(600),
            stop_grace: Duration::from_secs(5),
        }
    }

    /// The image steps run in.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// Bind-mounts or copies the workspace.
    pub fn workspace_mode(mut self, mode: WorkspaceMode) -> Self {
        self.mode = mode;
        self
    }

    /// Where the workspace appears in the container (`/workspace`).
    pub fn workdir(mut self, workdir: impl Into<String>) -> Self {
        self.workdir = workdir.into();
        self
    }

    /// The user steps run as (`uid:gid` or a name in the image). Default: the workspace's
    /// owner when it is not root, else [`UNPRIVILEGED`] (see the [module docs](self)).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets an environment variable in every step's container.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Adds a label to the containers (besides [`LABEL`]).
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(name.into(), value.into());
        self
    }

    /// Limits memory (default 4096 MiB); swap is not allowed beyond it unless
    /// [`memory_swap_mib`] says so.
    ///
    /// [`memory_swap_mib`]: DockerBuilder::memory_swap_mib
    pub fn memory_mib(mut self, mib: u64) -> Self {
        self.memory = Some(mib << 20);
        self
    }

    /// Limits memory plus swap.
    pub fn memory_swap_mib(mut self, mib: u64) -> Self {
        self.memory_swap = Some(mib << 20);
        self
    }

    /// Limits CPU use to this many CPUs (fractions allowed; default 2, and never more than the
    /// engine has).
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Lifts the memory and CPU limits (the engine's defaults: none).
    pub fn unlimited_resources(mut self) -> Self {
        (self.memory, self.memory_swap, self.cpus) = (None, None, None);
        self
    }

    /// Limits the number of processes (default 1024; `None` for the engine's default).
    pub fn pids_limit(mut self, limit: Option<i64>) -> Self {
        self.pids_limit = limit;
        self
    }

    /// Gives steps network access (for dependency installs), through the
    /// [`EGRESS_NETWORK`], which cannot reach the host's own or link-local addresses. Off by
    /// default.
    pub fn network(mut self, enabled: bool) -> Self {
        self.network = enabled;
        self
    }

    /// Lets steps with network access reach the host's own addresses and link-local ones
    /// (the engine's default bridge, no firewall rules). Off by default: a step runs generated
    /// code, and the host's services and a cloud's metadata endpoint are what it would go for.
    pub fn allow_host_addresses(mut self, allowed: bool) -> Self {
        self.allow_host_addresses = allowed;
        self
    }

    /// Makes the container's root file system read-only (the workspace stays writable).
    pub fn read_only_root(mut self, read_only: bool) -> Self {
        self.read_only_root = read_only;
        self
    }

    /// Sets the log memory cap and run directory.
    pub fn capture(mut self, capture: CaptureConfig) -> Self {
        self.capture = capture;
        self
    }

    /// Sets the time limit of steps that have none.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// Applies the options a host gives (the CLI's flags, the packages' arguments): each one
    /// unset keeps its default.
    pub fn options(mut self, options: ContainerOptions) -> Self {
        self = self
            .network(options.network)
            .allow_host_addresses(options.allow_host_addresses);
        if let Some(mib) = options.memory_mib {
            self = self.memory_mib(mib);
        }
        if let Some(cpus) = options.cpus {
            self = self.cpus(cpus);
        }
        if let Some(user) = options.user {
            self = self.user(user);
        }
        if let Some(timeout) = options.timeout {
            self = self.default_timeout(timeout);
        }
        self
    }

    /// Sets how long a container has between `SIGTERM` and `SIGKILL` when stopped (whole
    /// seconds; at least one).
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    /// Who a step runs as, and how the workspace reaches it: see the [module docs](self).
    fn sandbox(&self, root: &Path) -> Sandbox {
        if let Some(user) = &self.user {
            return Sandbox {
                user: user.clone(),
                mode: self.mode,
                chosen: false,
                volume: None,
            };
        }
        let unprivileged = Sandbox {
            user: format!("{UNPRIVILEGED}:{UNPRIVILEGED}"),
            mode: WorkspaceMode::Copy,
            chosen: true,
            volume: None,
        };
        match (self.mode, owner_of(root)) {
            (WorkspaceMode::Bind, Some((uid, gid))) if uid != 0 => Sandbox {
                user: format!("{uid}:{gid}"),
                mode: WorkspaceMode::Bind,
                chosen: false,
                volume: None,
            },
            _ => unprivileged,
        }
    }

    fn container_body(
        &self,
        root: &Path,
        step: &BuildStep,
        sandbox: &Sandbox,
    ) -> ContainerCreateBody {
        let workdir = match &step.cwd {
            Some(cwd) => format!("{}/{cwd}", self.workdir.trim_end_matches('/')),
            None => self.workdir.clone(),
        };
        let mut labels = self.labels.clone();
        labels.insert(LABEL.into(), "step".into());
        let mut env: Vec<String> = (self.env.iter().chain(&step.env))
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        // A uid the image does not know has no home: tools that write caches get one.
        if sandbox.chosen && !env.iter().any(|v| v.starts_with("HOME=")) {
            env.push("HOME=/tmp".into());
        }
        let network = match (self.network, self.allow_host_addresses) {
            (false, _) => "none",
            (true, true) => "bridge",
            (true, false) => EGRESS_NETWORK,
        };
        let cpus = (self.cpus).map(|cpus| self.engine_cpus.map_or(cpus, |most| cpus.min(most)));
        // `nocopy`: an empty workspace must not get the image's folder (and its owner).
        let binds = Some(vec![match &sandbox.volume {
            Some(volume) => format!("{volume}:{}:nocopy", self.workdir),
            None => format!("{}:{}", root.display(), self.workdir),
        }]);
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(step.command.argv()),
            env: Some(env),
            working_dir: Some(workdir),
            user: Some(sandbox.user.clone()),
            labels: Some(labels),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            open_stdin: Some(false),
            host_config: Some(HostConfig {
                binds,
                memory: self.memory.map(to_i64),
                memory_swap: self
                    .memory
                    .map(|memory| to_i64(self.memory_swap.unwrap_or(memory))),
                nano_cpus: cpus.map(|cpus| (cpus * 1e9) as i64),
                pids_limit: self.pids_limit,
                network_mode: Some(network.into()),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                readonly_rootfs: Some(self.read_only_root),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        }
    }

    /// Everything between creating and removing the container.
    async fn run_in(
        &self,
        container: &str,
        root: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
        manifest: Option<archive::Manifest>,
        started: Instant,
    ) -> Result<StepOutput> {
        // Attached before the start, as `docker run` attaches: streaming only. Asking for the
        // logs too replays what the stream already delivers when the container writes while
        // the daemon reads its log, and a line arrives twice.
        let attach = AttachContainerOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let mut attached = self
            .docker
            .attach_container(container, Some(attach))
            .await
            .map_err(docker_error)?;
        self.docker
            .start_container(container, None)
            .await
            .map_err(docker_error)?;

        let timeout = step.timeout.unwrap_or(self.default_timeout);
        let mut recorder = Recorder::new(&self.capture, &step.name, sink);
        let supervise = async {
            tokio::select! {
                exited = self.wait(container) => exited.map(|()| false),
                () = tokio::time::sleep(timeout) => self.stop(container).await.map(|()| true),
            }
        };
        let capture = async {
            while let Some(chunk) = attached.output.next().await {
                match chunk.map_err(docker_error)? {
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        recorder.push(OutputStream::Stdout, &message).await?;
                    }
                    LogOutput::StdErr { message } => {
                        recorder.push(OutputStream::Stderr, &message).await?;
                    }
                    LogOutput::StdIn { .. } => {}
                }
            }
            Ok(())
        };
        let (timed_out, captured) = supervise_capturing(supervise, capture, DRAIN_AFTER_EXIT).await;
        let timed_out = timed_out?;
        let duration = started.elapsed();
        captured?;
        let state = self
            .docker
            .inspect_container(container, None)
            .await
            .map_err(docker_error)?
            .state
            .unwrap_or_default();
        let exit_code = state.exit_code.and_then(|code| i32::try_from(code).ok());
        // The engine's flag, or the kernel's SIGKILL under a memory limit (some engines do not
        // report OOM kills of a child process).
        let oom_killed = state.oom_killed.unwrap_or(false)
            || (exit_code == Some(137) && self.memory.is_some() && !timed_out);
        match manifest {
            Some(manifest) => self.copy_back(container, root, manifest).await?,
            None => {
                let (root, since) = (root.to_path_buf(), std::time::SystemTime::now() - duration);
                tokio::task::spawn_blocking(move || clear_setid_bits(&root, since))
                    .await
                    .map_err(|e| {
                        Error::docker(format!("checking the workspace: {e}")).caused_by(e)
                    })??;
            }
        }
        let [log, stdout, stderr] = recorder.finish().await?;
        Ok(StepOutput {
            name: step.name.clone(),
            command: step.command.to_string(),
            exit_code,
            signal: None,
            timed_out,
            oom_killed,
            duration,
            peak_memory_bytes: None,
            cpu_time: None,
            log,
            stdout,
            stderr,
        })
    }

    /// Until the container is not running. The engine answers a non-zero exit with an error
    /// carrying the code: that is a normal end here.
    async fn wait(&self, container: &str) -> Result<()> {
        let options = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let mut wait = std::pin::pin!(self.docker.wait_container(container, Some(options)));
        match wait.next().await {
            Some(Ok(_))
            | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. }))
            | None => Ok(()),
            Some(Err(e)) => Err(docker_error(e)),
        }
    }

    /// `SIGTERM`, the grace period, `SIGKILL`; then until it is not running.
    async fn stop(&self, container: &str) -> Result<()> {
        let grace = i32::try_from(self.stop_grace.as_secs().max(1)).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(grace).build();
        self.docker
            .stop_container(container, Some(options))
            .await
            .map_err(docker_error)?;
        self.wait(container).await
    }

    /// Copies the workspace into a fresh volume, its top folder and every entry owned by the
    /// step's user: through a container that is never started, its workspace folder unpacked
    /// from above so that the folder itself is the user's too (even under a read-only root).
    async fn stage(
        &self,
        root: &Path,
        sandbox: &Sandbox,
        volume: &str,
    ) -> Result<archive::Manifest> {
        let create = bollard::models::VolumeCreateRequest {
            name: Some(volume.to_string()),
            labels: Some(HashMap::from([(
                LABEL.to_string(),
                "workspace".to_string(),
            )])),
            ..Default::default()
        };
        self.docker
            .create_volume(create)
            .await
            .map_err(docker_error)?;
        let top = (Path::new(&self.workdir).file_name()).map_or("workspace".into(), |name| {
            name.to_string_lossy().into_owned()
        });
        let stager = ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(vec!["true".into()]),
            labels: Some(HashMap::from([(LABEL.to_string(), "stage".to_string())])),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{volume}:/selfheal-stage/{top}:nocopy")]),
                network_mode: Some("none".into()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let created = (self.docker.create_container(None, stager).await).map_err(docker_error)?;
        let cleanup = Cleanup::container(self.docker.clone(), created.id.clone());
        let (owner, directory) = (sandbox.numeric_user(), root.to_path_buf());
        let packed = tokio::task::spawn_blocking(move || {
            archive::pack(&directory, owner, Some(top.as_str()))
        })
        .await
        .map_err(|e| Error::docker(format!("packing the workspace: {e}")).caused_by(e))?;
        let uploaded = match packed {
            Ok((tar, manifest)) => {
                let options = UploadToContainerOptionsBuilder::new()
                    .path("/selfheal-stage")
                    .build();
                (self.docker)
                    .upload_to_container(&created.id, Some(options), bollard::body_full(tar.into()))
                    .await
                    .map(|_| manifest)
                    .map_err(docker_error)
            }
            Err(e) => Err(e.into()),
        };
        cleanup.run().await;
        uploaded
    }

    /// Downloads the container's workspace to a staging file, then applies it off the runtime.
    async fn copy_back(
        &self,
        container: &str,
        root: &Path,
        manifest: archive::Manifest,
    ) -> Result<()> {
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(&self.workdir)
            .build();
        let mut download = std::pin::pin!(
            self.docker
                .download_from_container(container, Some(options))
        );
        tokio::fs::create_dir_all(&self.capture.run_dir).await?;
        let staging = self.capture.run_dir.join(format!(
            "copy-back-{}.tar",
            &container[..container.len().min(12)]
        ));
        let downloaded = async {
            let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&staging).await?);
            while let Some(chunk) = download.next().await {
                file.write_all(&chunk.map_err(docker_error)?).await?;
            }
            file.flush().await?;
            Ok::<(), Error>(())
        }
        .await;
        let top = Path::new(&self.workdir)
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_string();
        let (staged, root) = (staging.clone(), root.to_path_buf());
        let applied = match downloaded {
            Ok(()) => tokio::task::spawn_blocking(move || {
                let file = std::io::BufReader::new(std::fs::File::open(&staged)?);
                archive::copy_back(file, &top, &root, &manifest)
            })
            .await
            .map_err(|e| Error::docker(format!("copying back: {e}")).caused_by(e))
            .and_then(|result| result.map(|_| ()).map_err(Error::from)),
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&staging).await;
        applied
    }
}

#[async_trait::async_trait]
impl Builder for DockerBuilder {
    async fn run_step(
        &self,
        workspace: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> Result<StepOutput> {
        let failure = |reason: String| Error::build(&step.name, reason);
        working_dir(workspace, step.cwd.as_ref()).map_err(failure)?;
        let root = working_dir(workspace, None).map_err(failure)?;
        if step.command.argv().is_empty() {
            return Err(failure("the command is empty".into()));
        }
        if self.network && !self.allow_host_addresses {
            self.egress
                .get_or_try_init(|| self.prepare_egress())
                .await?;
        }
        let started = Instant::now();
        let mut sandbox = self.sandbox(&root);
        // The volume is removed however the step ends, its staging failed included.
        let (mut volume_cleanup, mut manifest) = (None::<Cleanup>, None);
        if sandbox.mode == WorkspaceMode::Copy {
            let volume = format!("selfheal-workspace-{}", unique_suffix());
            volume_cleanup = Some(Cleanup::volume(self.docker.clone(), volume.clone()));
            manifest = Some(self.stage(&root, &sandbox, &volume).await?);
            sandbox.volume = Some(volume);
        }
        let created = self
            .docker
            .create_container(None, self.container_body(&root, step, &sandbox))
            .await
            .map_err(docker_error)?;
        let container = Cleanup::container(self.docker.clone(), created.id.clone());
        // From here the volume goes after the container that uses it, whatever happens.
        if let Some(volume) = volume_cleanup.take() {
            container.adopt(volume);
        }
        let output = (self.run_in(&created.id, &root, step, sink, manifest, started)).await;
        container.run().await;
        output
    }

    /// Multiplies the memory limit (and swap) and the CPU limit, the CPUs up to the host's;
    /// `None` when neither is set, or the CPUs are at the host's count and memory is unset.
    fn scaled(&self, factor: f64) -> Option<std::sync::Arc<dyn Builder>> {
        let host_cpus = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
        let scale = |bytes: u64| (bytes as f64 * factor) as u64;
        let cpus = self
            .cpus
            .map(|cpus| (cpus * factor).min(host_cpus.max(cpus)));
        if self.memory.is_none() && cpus == self.cpus {
            return None;
        }
        Some(std::sync::Arc::new(DockerBuilder {
            memory: self.memory.map(scale),
            memory_swap: self.memory_swap.map(scale),
            cpus,
            ..self.clone()
        }))
    }
}

/// A Dockerfile build: the seed's `captureDockerBuild`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBuild {
    /// The Dockerfile, relative to the workspace (the build context).
    pub dockerfile: String,
    /// The image's tag; a unique `selfheal-build:…` tag when `None`.
    pub tag: Option<String>,
    /// `--build-arg`s.
    pub build_args: Vec<(String, String)>,
    /// Memory limit of the build's containers, in MiB (the engine takes at most 2047).
    pub memory_mib: Option<u32>,
    /// CPU limit of the build's containers.
    pub cpus: Option<f64>,
    /// Let `RUN` instructions use the network (off by default).
    pub network: bool,
    /// Keep the image afterwards (otherwise it and its layers are removed).
    pub keep_image: bool,
    /// Time limit; the builder's default when `None`.
    pub timeout: Option<Duration>,
}

impl Default for ImageBuild {
    fn default() -> Self {
        ImageBuild {
            dockerfile: "Dockerfile".into(),
            tag: None,
            build_args: Vec::new(),
            memory_mib: None,
            cpus: None,
            network: false,
            keep_image: false,
            timeout: None,
        }
    }
}

/// The result of a Dockerfile build.
#[derive(Debug, Clone, Default)]
pub struct ImageBuildOutput {
    /// The build as a step named `docker build`: exit code 0 when the image was built, 1 when
    /// it was not; its log is the build output, the engine's error on stderr.
    pub output: StepOutput,
    /// The tag of the built image, when it was built and kept.
    pub image: Option<String>,
    /// The instruction that failed (`Step 3/5 : RUN npm run build`).
    pub failed_step: Option<String>,
}

impl DockerBuilder {
    /// Builds the image of the workspace's Dockerfile, streaming the build output to `sink`.
    /// A failing build is a normal result; the image and the layers of this build are removed
    /// unless [`keep_image`](ImageBuild::keep_image).
    pub async fn build_image(
        &self,
        workspace: &Path,
        build: &ImageBuild,
        sink: &dyn LineSink,
    ) -> Result<ImageBuildOutput> {
        let failure = |reason: String| Error::build("docker build", reason);
        let root = working_dir(workspace, None).map_err(failure)?;
        let directory = root.clone();
        let (context, _) =
            tokio::task::spawn_blocking(move || archive::pack(&directory, Some((0, 0)), None))
                .await
                .map_err(|e| {
                    Error::docker(format!("packing the build context: {e}")).caused_by(e)
                })??;
        let tag = build.tag.clone().unwrap_or_else(unique_tag);
        let build_args: HashMap<String, String> = build.build_args.iter().cloned().collect();
        let labels = HashMap::from([(LABEL.to_string(), "image".to_string())]);
        let mut options = BuildImageOptionsBuilder::new()
            .dockerfile(&build.dockerfile)
            .t(&tag)
            .rm(true)
            .forcerm(true)
            .buildargs(&build_args)
            .labels(&labels)
            .networkmode(if build.network { "default" } else { "none" });
        if let Some(mib) = build.memory_mib {
            let bytes = i32::try_from(u64::from(mib) << 20).unwrap_or(i32::MAX);
            options = options.memory(bytes).memswap(bytes);
        }
        if let Some(cpus) = build.cpus {
            options = options
                .cpuperiod(100_000)
                .cpuquota((cpus * 100_000.0) as i32);
        }

        let started = Instant::now();
        let cleanup = Cleanup::image(self.docker.clone(), tag.clone());
        let mut recorder = Recorder::new(&self.capture, "docker build", sink);
        let mut progress = BuildProgress::default();
        let stream = self.docker.build_image(
            options.build(),
            None,
            Some(bollard::body_full(context.into())),
        );
        let timeout = build.timeout.unwrap_or(self.default_timeout);
        let streamed = tokio::time::timeout(timeout, async {
            let mut stream = std::pin::pin!(stream);
            while let Some(info) = stream.next().await {
                let (text, error) = match info {
                    Ok(info) => (info.stream, info.error_detail.and_then(|d| d.message)),
                    Err(bollard::errors::Error::DockerStreamError { error }) => (None, Some(error)),
                    Err(e) => return Err(docker_error(e)),
                };
                if let Some(text) = text {
                    progress.observe(&text, &cleanup);
                    recorder.push(OutputStream::Stdout, text.as_bytes()).await?;
                }
                if let Some(mut error) = error {
                    progress.failed = true;
                    if !error.ends_with('\n') {
                        error.push('\n');
                    }
                    recorder
                        .push(OutputStream::Stderr, error.as_bytes())
                        .await?;
                }
            }
            Ok(())
        })
        .await;
        let timed_out = streamed.is_err();
        if let Ok(result) = streamed {
            result?;
        }
        let duration = started.elapsed();
        let built = !timed_out && !progress.failed && progress.built;
        let [log, stdout, stderr] = recorder.finish().await?;
        let kept = built && build.keep_image;
        if kept {
            cleanup.disarm();
        } else {
            cleanup.run().await;
        }
        Ok(ImageBuildOutput {
            output: StepOutput {
                name: "docker build".into(),
                command: format!("docker build -f {} -t {tag} .", build.dockerfile),
                exit_code: (!timed_out).then_some(if built { 0 } else { 1 }),
                signal: None,
                timed_out,
                oom_killed: false,
                duration,
                peak_memory_bytes: None,
                cpu_time: None,
                log,
                stdout,
                stderr,
            },
            image: kept.then_some(tag),
            failed_step: if built { None } else { progress.step },
        })
    }
}

/// What the classic builder's output says about the build.
#[derive(Debug, Default)]
struct BuildProgress {
    /// The current instruction (`Step 2/4 : RUN make`).
    step: Option<String>,
    from_step: bool,
    built: bool,
    /// The engine reported an error.
    failed: bool,
}

impl BuildProgress {
    fn observe(&mut self, text: &str, cleanup: &Cleanup) {
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("Step ") && line.contains(" : ") {
                let instruction = line.split_once(" : ").map_or("", |(_, i)| i);
                self.from_step = instruction
                    .get(..5)
                    .is_some_and(|w| w.eq_ignore_ascii_case("FROM "));
                self.step = Some(line.to_string());
            } else if let Some(id) = line.strip_prefix("---> ") {
                // The image a step produced; the one after FROM is the base image, not ours.
                let id = id.trim();
                if !self.from_step && id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    cleanup.add_image(id);
                }
            } else if line.starts_with("Successfully built ") {
                self.built = true;
            }
        }
    }
}

fn unique_tag() -> String {
    format!("selfheal-build:{}", unique_suffix())
}

/// `{milliseconds}-{pid}-{sequence}`: unique on this machine.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "{stamp}-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes what a run created: on [`run`](Cleanup::run), or, when the future was dropped
/// before that, from a task on the runtime.
struct Cleanup {
    docker: Docker,
    target: Arc<Mutex<Target>>,
    armed: bool,
}

#[derive(Debug, Default)]
struct Target {
    container: Option<String>,
    /// A volume holding a copied workspace, removed after the container.
    volume: Option<String>,
    tag: Option<String>,
    images: Vec<String>,
}

impl Cleanup {
    fn container(docker: Docker, id: String) -> Self {
        Cleanup::new(
            docker,
            Target {
                container: Some(id),
                ..Target::default()
            },
        )
    }

    fn image(docker: Docker, tag: String) -> Self {
        Cleanup::new(
            docker,
            Target {
                tag: Some(tag),
                ..Target::default()
            },
        )
    }

    fn new(docker: Docker, target: Target) -> Self {
        Cleanup {
            docker,
            target: Arc::new(Mutex::new(target)),
            armed: true,
        }
    }

    fn volume(docker: Docker, name: String) -> Self {
        Cleanup::new(
            docker,
            Target {
                volume: Some(name),
                ..Target::default()
            },
        )
    }

    /// Takes over what `other` would remove.
    fn adopt(&self, mut other: Cleanup) {
        other.armed = false;
        let taken = std::mem::take(&mut *other.target.lock().unwrap_or_else(|e| e.into_inner()));
        if let Ok(mut target) = self.target.lock() {
            target.volume = target.volume.take().or(taken.volume);
        }
    }

    fn add_image(&self, id: &str) {
        if let Ok(mut target) = self.target.lock() {
            target.images.push(id.to_string());
        }
    }

    fn disarm(mut self) {
        self.armed = false;
    }

    async fn run(mut self) {
        self.armed = false;
        let target = std::mem::take(&mut *self.target.lock().unwrap_or_else(|e| e.into_inner()));
        remove(self.docker.clone(), target).await;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let target = std::mem::take(&mut *self.target.lock().unwrap_or_else(|e| e.into_inner()));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(remove(self.docker.clone(), target));
        }
    }
}

/// Best effort: what cannot be removed (an image another one builds on) stays.
async fn remove(docker: Docker, target: Target) {
    if let Some(container) = target.container {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        let _ = docker.remove_container(&container, Some(options)).await;
    }
    if let Some(volume) = target.volume {
        let _ = (docker.remove_volume(
            &volume,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        ))
        .await;
    }
    let images = target
        .tag
        .into_iter()
        .chain(target.images.into_iter().rev());
    for image in images {
        let options = RemoveImageOptionsBuilder::new()
            .force(false)
            .noprune(false)
            .build();
        let _ = docker.remove_image(&image, Some(options), None).await;
    }
}

/// Who a step runs as and how it gets the workspace.
struct Sandbox {
    user: String,
    mode: WorkspaceMode,
    /// Whether selfheal chose the user (the image does not know it).
    chosen: bool,
    /// The volume a copied workspace is staged in.
    volume: Option<String>,
}

impl Sandbox {
    /// The user as `(uid, gid)` when it is numeric: copied-in files are given to it.
    fn numeric_user(&self) -> Option<(u64, u64)> {
        let (uid, gid) = self
            .user
            .split_once(':')
            .unwrap_or((&self.user, &self.user));
        Some((uid.parse().ok()?, gid.parse().ok()?))
    }
}

impl DockerBuilder {
    /// Creates the egress network if the engine lacks it and makes sure the firewall drops
    /// its traffic to the host's own addresses and to link-local ones.
    async fn prepare_egress(&self) -> Result<()> {
        let refuse = |why: String| {
            Error::docker(format!(
                "steps with network access must not reach the host's or link-local addresses, \
                 and {why}; call allow_host_addresses(true) to give them the engine's bridge \
                 as it is"
            ))
        };
        if !self.local_engine {
            return Err(refuse(
                "the engine is not on this machine, so its firewall is not selfheal's to set"
                    .into(),
            ));
        }
        if self
            .docker
            .inspect_network(EGRESS_NETWORK, None)
            .await
            .is_err()
        {
            let request = bollard::models::NetworkCreateRequest {
                name: EGRESS_NETWORK.into(),
                driver: Some("bridge".into()),
                options: Some(HashMap::from([(
                    "com.docker.network.bridge.name".to_string(),
                    EGRESS_BRIDGE.to_string(),
                )])),
                labels: Some(HashMap::from([(LABEL.to_string(), "network".to_string())])),
                ..Default::default()
            };
            // Another builder may have created it meanwhile.
            if let Err(error) = self.docker.create_network(request).await
                && self
                    .docker
                    .inspect_network(EGRESS_NETWORK, None)
                    .await
                    .is_err()
            {
                return Err(docker_error(error));
            }
        }
        tokio::task::spawn_blocking(firewall_egress)
            .await
            .map_err(|e| Error::docker(format!("setting the firewall: {e}")).caused_by(e))?
            .map_err(refuse)
    }
}

/// The firewall rules of the egress bridge: nothing from it to the host itself (`INPUT`), nor
/// forwarded to link-local addresses (`DOCKER-USER`). Added once; `iptables -C` finds them.
fn firewall_egress() -> std::result::Result<(), String> {
    let rules: [&[&str]; 2] = [
        &["INPUT", "-i", EGRESS_BRIDGE, "-j", "DROP"],
        &[
            "DOCKER-USER",
            "-i",
            EGRESS_BRIDGE,
            "-d",
            "169.254.0.0/16",
            "-j",
            "DROP",
        ],
    ];
    for rule in rules {
        let iptables = |action: &str| {
            std::process::Command::new("iptables")
                .args(["-w", action])
                .args(rule)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output()
        };
        let present = iptables("-C").is_ok_and(|out| out.status.success());
        if present {
            continue;
        }
        match iptables("-I") {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                return Err(format!(
                    "`iptables -I {}` failed: {}",
                    rule.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("iptables cannot run: {e}")),
        }
    }
    Ok(())
}

/// Clears the setuid and setgid bits of files under `root` changed since `since` (a step
/// running as the workspace's owner could leave one for the host); links are not followed.
fn clear_setid_bits(root: &Path, since: std::time::SystemTime) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let since = since
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64 - 1);
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            if metadata.is_dir() {
                folders.push(entry.path());
            } else if metadata.is_file()
                && metadata.mode() & 0o6000 != 0
                && metadata.ctime() >= since
            {
                let mode = metadata.mode() & 0o777;
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))?;
            }
        }
    }
    Ok(())
}

/// The workspace's owner, as `(uid, gid)`.
fn owner_of(root: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(root).ok()?;
    Some((metadata.uid(), metadata.gid()))
}

fn to_i64(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

fn unavailable(error: bollard::errors::Error) -> Error {
    match docker_error(error) {
        Error::Docker { message, source } => Error::DockerUnavailable { message, source },
        other => other,
    }
}

fn docker_error(error: bollard::errors::Error) -> Error {
    use bollard::errors::Error as E;
    let failed = match &error {
        E::DockerResponseServerError {
            status_code,
            message,
        } => Error::docker(format!("{message} (HTTP {status_code})")),
        E::SocketNotFoundError(_)
        | E::HyperLegacyError { .. }
        | E::IOError { .. }
        | E::RequestTimeoutError
        | E::UnsupportedURISchemeError { .. } => Error::docker_unavailable(error.to_string()),
        other => Error::docker(other.to_string()),
    };
    failed.caused_by(error)
}

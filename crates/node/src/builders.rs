//! Where build steps run: [`LocalBuilder`] and [`DockerBuilder`] (a `Healer` also takes any
//! object with `run(step, workspace)`).

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::Either;
use napi_derive::napi;
use selfheal::build::{
    Builder as Api, ContainerOptions, DockerBuilder as DockerApi, LocalBuilder as LocalApi,
};

use crate::errors::{self, Result};

fn seconds(value: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|e| errors::config(format!("{what}: {e}")))
}

/// Runs each step as a local process group, killed as a whole on timeout or cancellation.
#[napi]
pub struct LocalBuilder {
    pub(crate) inner: Arc<dyn Api>,
}

#[napi]
impl LocalBuilder {
    /// `timeout` (seconds) applies to steps that set none.
    #[napi(constructor, ts_args_type = "options?: { timeout?: number }")]
    pub fn new(options: Option<LocalOptions>) -> Result<Self> {
        let mut builder = LocalApi::new();
        if let Some(timeout) = options.and_then(|o| o.timeout) {
            builder = builder.default_timeout(seconds(timeout, "timeout")?);
        }
        Ok(LocalBuilder {
            inner: Arc::new(builder),
        })
    }
}

/// What [`LocalBuilder`] takes.
#[napi(object)]
pub struct LocalOptions {
    /// Seconds a step may run when it sets no timeout.
    pub timeout: Option<f64>,
}

/// What [`DockerBuilder`] takes.
#[napi(object)]
pub struct DockerOptions {
    /// Give the container a network (default: none); never the host's own or link-local
    /// addresses unless `allowHostAddresses`.
    pub network: Option<bool>,
    /// Let a container with a network reach the host's own and link-local addresses.
    pub allow_host_addresses: Option<bool>,
    /// Memory limit in MiB (default 4096).
    pub memory_mib: Option<i64>,
    /// CPU limit (default 2).
    pub cpus: Option<f64>,
    /// The user to run as.
    pub user: Option<String>,
    /// Seconds a step may run when it sets no timeout.
    pub timeout: Option<f64>,
}

/// Runs each step in a fresh, locked-down container of an image (an unprivileged user, 4096 MiB
/// and 2 CPUs by default, no network unless asked). Connects to the engine at `DOCKER_HOST` or the local socket.
#[napi]
pub struct DockerBuilder {
    pub(crate) inner: Arc<dyn Api>,
}

#[napi]
impl DockerBuilder {
    /// Use `DockerBuilder.connect(image, options)`: connecting to the engine takes a moment.
    #[napi(factory, configurable = true, writable = true)]
    pub async fn connect(image: String, options: Option<DockerOptions>) -> Result<DockerBuilder> {
        let options = match options {
            None => ContainerOptions::default(),
            Some(options) => ContainerOptions {
                network: options.network.unwrap_or(false),
                allow_host_addresses: options.allow_host_addresses.unwrap_or(false),
                memory_mib: (options.memory_mib)
                    .map(|mib| {
                        u64::try_from(mib)
                            .map_err(|_| errors::config("memoryMib: must be positive"))
                    })
                    .transpose()?,
                cpus: options.cpus,
                user: options.user,
                timeout: options.timeout.map(|t| seconds(t, "timeout")).transpose()?,
            },
        };
        let builder = DockerApi::connect(image)
            .await
            .map_err(errors::to_js)?
            .options(options);
        Ok(DockerBuilder {
            inner: Arc::new(builder),
        })
    }
}

/// A built-in builder.
pub type AnyBuilder<'a> = Either<&'a LocalBuilder, &'a DockerBuilder>;

/// The builder behind either class.
pub(crate) fn builder_of(builder: &AnyBuilder<'_>) -> Arc<dyn Api> {
    match builder {
        Either::A(b) => b.inner.clone(),
        Either::B(b) => b.inner.clone(),
    }
}

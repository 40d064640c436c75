//! Running builds: a [`BuildPlan`] of [`BuildStep`]s, run one step at a time by a [`Builder`].
//!
//! Generated code is untrusted: its builds hang, fork, print gigabytes and run out of memory. A
//! builder therefore always bounds a step: a timeout that kills the whole process tree (or the
//! container), a memory cap on the captured log (the rest spills to a file), and a
//! [`StepOutput`] that reports what happened as data. A failing build is a normal result, never an
//! `Err`; `Err` means the builder itself could not work (the program cannot be started, Docker is
//! down).
//!
//! - [`LocalBuilder`] runs steps as local processes, each in its own process group.
//! - `DockerBuilder` (feature `docker`) runs them in throwaway containers with resource limits
//!   and no network, and can build a Dockerfile.
//!
//! ```no_run
//! use selfheal::build::{BuildPlan, BuildStep, LocalBuilder, run_plan};
//!
//! # async fn run() -> selfheal::Result<()> {
//! let plan = BuildPlan::new([
//!     BuildStep::shell("install", "npm ci"),
//!     BuildStep::shell("typecheck", "npx tsc --noEmit"),
//! ]);
//! let outcome = run_plan(&LocalBuilder::new(), "./app".as_ref(), &plan, &|stream, line: &str| {
//!     println!("{stream}: {line}");
//! })
//! .await?;
//! for step in &outcome.steps {
//!     println!("{}: {}", step.name, step.status());
//! }
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "docker")]
pub mod docker;
mod env;
mod local;
mod output;
mod plan;

#[cfg(feature = "docker")]
pub use docker::{ContainerOptions, DockerBuilder, ImageBuild, ImageBuildOutput, WorkspaceMode};
pub use env::{DEFAULT_ALLOWED, EnvPolicy};
pub use local::LocalBuilder;
pub use output::{CaptureConfig, CompletedStep, Discard, LineSink, Log, OutputStream, StepOutput};
pub(crate) use plan::quoted;
pub use plan::{BuildPlan, BuildStep, Command, PlanOutcome, run_plan};

use std::path::Path;

use crate::Result;

/// Runs one step of a build plan in a workspace.
///
/// Implementations stream each output line to `sink` while the step runs and return the step's
/// [`StepOutput`]. Dropping the returned future cancels the step: the implementation must then
/// stop everything it started (processes, containers).
#[async_trait::async_trait]
pub trait Builder: Send + Sync {
    /// Runs `step` with `workspace` as the project root.
    async fn run_step(
        &self,
        workspace: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> Result<StepOutput>;

    /// The same builder giving each step `factor` times the memory and CPU, for builds that ran
    /// out of them; `None` when it sets no limit it can raise (the default).
    fn scaled(&self, factor: f64) -> Option<std::sync::Arc<dyn Builder>> {
        let _ = factor;
        None
    }
}

#[async_trait::async_trait]
impl<B: Builder + ?Sized> Builder for std::sync::Arc<B> {
    async fn run_step(
        &self,
        workspace: &Path,
        step: &BuildStep,
        sink: &dyn LineSink,
    ) -> Result<StepOutput> {
        (**self).run_step(workspace, step, sink).await
    }

    fn scaled(&self, factor: f64) -> Option<std::sync::Arc<dyn Builder>> {
        (**self).scaled(factor)
    }
}

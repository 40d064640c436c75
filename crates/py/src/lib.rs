//! The Python package `selfheal` (module `selfheal._native`): PyO3 conversions and asyncio
//! bridging over the `selfheal` crate, which holds all of the logic.
//!
//! Python objects stand in for the crate's traits — any object with `complete(request)` is a
//! provider, with `run(step, workspace)` a builder, with `parse(log)` an error parser — through
//! the adapters in [`host`]. The package's asyncio wrappers (`heal`, `heal_sync`, `stream`) live
//! in `python/selfheal/__init__.py`, on top of the run handle in [`healer`].

mod builders;
mod cache;
mod convert;
mod diagnostics;
mod errors;
mod healer;
mod host;
mod observe;
mod pending;
mod providers;

use pyo3::prelude::*;

/// The native half of the `selfheal` package; import `selfheal` instead.
#[pymodule]
#[pyo3(name = "_native")]
fn selfheal_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(module)?;
    diagnostics::register(module)?;
    providers::register(module)?;
    builders::register(module)?;
    cache::register(module)?;
    healer::register(module)?;
    observe::register(module)?;
    pending::register(module)?;
    Ok(())
}

//! [`FixCache`]: the fixes that turned builds green, served again for the same kind of error.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use pyo3::prelude::*;
use selfheal::cache::{FixCache as Api, FixContext, FleetOptions, fleet_url};

use crate::convert::{deserialize, serialize};
use crate::diagnostics::diagnostic_from;
use crate::errors::{self, CacheError};

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<FixCache>()
}

/// The fix cache in folder `dir` (default: `$SELFHEAL_CACHE_DIR`, else the platform's cache
/// folder), shared safely by processes. Give it to a `Healer` to reuse and learn fixes.
///
/// With `url` (default: `$SELFHEAL_CACHE_URL`), a PostgreSQL database such as
/// `postgres://user@host/db`, the folder mirrors a fleet-wide cache: lookups stay local, what
/// this worker learns is uploaded in the background (queued while the server is down) and
/// what other workers learn arrives within moments.
#[pyclass(frozen, module = "selfheal")]
pub(crate) struct FixCache {
    pub(crate) inner: Api,
    dir: PathBuf,
}

fn block_on<T: Send>(
    py: Python<'_>,
    future: impl Future<Output = selfheal::Result<T>> + Send,
) -> PyResult<T> {
    let runtime = pyo3_async_runtimes::tokio::get_runtime();
    py.detach(|| runtime.block_on(future))
        .map_err(errors::to_py)
}

#[pymethods]
impl FixCache {
    #[new]
    #[pyo3(signature = (dir = None, *, url = None))]
    fn new(py: Python<'_>, dir: Option<PathBuf>, url: Option<String>) -> PyResult<Self> {
        let dir = match dir {
            Some(dir) => dir,
            None => Api::default_dir().map_err(errors::to_py)?,
        };
        let mut builder = Api::builder();
        if let Some(url) = fleet_url(url) {
            builder = builder.fleet(url, FleetOptions::default());
        }
        let inner = block_on(py, builder.open(dir.clone()))?;
        Ok(FixCache { inner, dir })
    }

    /// Uploads what this worker learned to the fleet and pulls what the fleet learned, now
    /// (the cache also does it by itself). Raises `CacheError` when the server cannot be
    /// reached; nothing is lost, the next sync sends it. Without a fleet, catches up with
    /// other processes sharing the folder.
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        block_on(py, self.inner.sync())
    }

    /// The cache's folder.
    #[getter]
    fn dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// Figures: `fixes`, `deprecated`, `signatures`, `partitions`, `failed_attempts`, `uses`,
    /// `successes`, `failures`, …
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = block_on(py, self.inner.stats())?;
        serialize(py, &stats)
    }

    /// The best cached fix for `diagnostic` (a `Diagnostic` or its dict), as a dict with `fix`
    /// (its `proposal`, `stats`, …), `matched` and `score` — or `None`. `context` (a dict with
    /// `language`, `framework`, `dependencies`) ranks fixes made in similar projects first.
    #[pyo3(signature = (diagnostic, *, context = None))]
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        diagnostic: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let diagnostic = diagnostic_from(diagnostic, "custom")?;
        let context: FixContext = match context {
            Some(context) => deserialize(context, "context")?,
            None => FixContext::default(),
        };
        let hit = block_on(py, self.inner.lookup(&diagnostic, &context))?;
        serialize(py, &hit)
    }

    /// Removes deprecated fixes and fixes unused for the configured age; returns how many.
    fn prune(&self, py: Python<'_>) -> PyResult<usize> {
        block_on(py, self.inner.prune())
    }

    /// Writes every cached fix to `path` as JSON lines; returns how many.
    fn export(&self, py: Python<'_>, path: PathBuf) -> PyResult<usize> {
        let file = File::create(&path)
            .map_err(|e| CacheError::new_err(format!("{}: {e}", path.display())))?;
        let mut out = BufWriter::new(file);
        let written = block_on(py, self.inner.export(&mut out))?;
        out.flush()
            .map_err(|e| CacheError::new_err(format!("{}: {e}", path.display())))?;
        Ok(written)
    }

    /// Reads fixes written by `export`; returns `{"read": n, "added": m, "refused": r}` (the
    /// others were merged into fixes with the same edits; `refused`: left out, the edit policy
    /// refuses them). A line that cannot be read fails the import before anything of its batch
    /// is stored.
    fn import_<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
        let file = File::open(&path)
            .map_err(|e| CacheError::new_err(format!("{}: {e}", path.display())))?;
        let mut input = BufReader::new(file);
        let report = block_on(py, self.inner.import(&mut input))?;
        serialize(py, &report)
    }

    fn __repr__(&self) -> String {
        format!("<FixCache {}>", self.dir.display())
    }
}

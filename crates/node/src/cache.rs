//! [`FixCache`]: the fixes that turned builds green, served again for the same kind of error.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use napi::bindgen_prelude::{Either, PromiseRaw};
use napi::{Env, Unknown};
use napi_derive::napi;
use selfheal::ErrorKind;
use selfheal::cache::{FixCache as Api, FixContext, FleetOptions, fleet_url};
use serde_json::Value;

use crate::convert::{snake_keys, to_json};
use crate::diagnostics::{Diagnostic, diagnostic_from};
use crate::errors::{self, Result};

/// The fix cache in folder `dir` (default: `$SELFHEAL_CACHE_DIR`, else the platform's cache
/// folder), shared safely by processes. Give it to a `Healer` to reuse and learn fixes.
///
/// With `url` (default: `$SELFHEAL_CACHE_URL`), a PostgreSQL database such as
/// `postgres://user@host/db`, the folder mirrors a fleet-wide cache: lookups stay local, what
/// this worker learns is uploaded in the background (queued while the server is down) and
/// what other workers learn arrives within moments.
#[napi]
pub struct FixCache {
    pub(crate) inner: Api,
    dir: PathBuf,
}

fn cache_error(path: &std::path::Path, error: std::io::Error) -> napi::Error {
    errors::of_kind(ErrorKind::Cache, format!("{}: {error}", path.display()))
}

#[napi]
impl FixCache {
    /// Opens (or creates) the cache. Throws `E_CACHE` when the folder cannot be used.
    #[napi(constructor)]
    pub fn new(dir: Option<String>, url: Option<String>) -> Result<Self> {
        let dir = match dir {
            Some(dir) => PathBuf::from(dir),
            None => Api::default_dir().map_err(errors::to_js)?,
        };
        let mut builder = Api::builder();
        if let Some(url) = fleet_url(url) {
            builder = builder.fleet(url, FleetOptions::default());
        }
        let inner =
            napi::bindgen_prelude::block_on(builder.open(dir.clone())).map_err(errors::to_js)?;
        Ok(FixCache { inner, dir })
    }

    /// Uploads what this worker learned to the fleet and pulls what the fleet learned, now
    /// (the cache also does it by itself). Rejects with `E_CACHE` when the server cannot be
    /// reached; nothing is lost, the next sync sends it. Without a fleet, catches up with
    /// other processes sharing the folder.
    #[napi]
    pub async fn sync(&self) -> Result<()> {
        self.inner.sync().await.map_err(errors::to_js)
    }

    /// The cache's folder.
    #[napi(getter)]
    pub fn dir(&self) -> String {
        self.dir.display().to_string()
    }

    /// Figures: `fixes`, `deprecated`, `signatures`, `partitions`, `failedAttempts`, `uses`,
    /// `successes`, `failures`, …
    #[napi(ts_return_type = "Promise<Record<string, unknown>>")]
    pub async fn stats(&self) -> Result<Value> {
        Ok(to_json(&self.inner.stats().await.map_err(errors::to_js)?))
    }

    /// The best cached fix for `diagnostic` (a `Diagnostic` or its fields), as `{ fix, matched,
    /// score }` — or `null`. `context` (`{ language, framework, dependencies }`) ranks fixes made
    /// in similar projects first.
    #[napi(
        ts_args_type = "diagnostic: Diagnostic | DiagnosticFields, context?: FixContext",
        ts_return_type = "Promise<CacheHit | null>"
    )]
    pub fn lookup<'env>(
        &self,
        env: &'env Env,
        diagnostic: Either<&Diagnostic, Unknown<'_>>,
        context: Option<Value>,
    ) -> Result<PromiseRaw<'env, Value>> {
        // Bad arguments reject the Promise, as everything else does.
        let diagnostic = match diagnostic {
            Either::A(diagnostic) => Ok(diagnostic.inner.clone()),
            Either::B(fields) => env
                .from_js_value(fields)
                .and_then(|fields| diagnostic_from(fields, "custom")),
        };
        let context = context.map_or(Ok(FixContext::default()), |context| {
            serde_json::from_value(snake_keys(context))
                .map_err(|e| errors::config(format!("invalid context: {e}")))
        });
        let cache = self.inner.clone();
        env.spawn_future(async move {
            let (diagnostic, context) = (diagnostic?, context?);
            let hit = cache
                .lookup(&diagnostic, &context)
                .await
                .map_err(errors::to_js)?;
            Ok(to_json(&hit))
        })
    }

    /// Removes deprecated fixes and fixes unused for the configured age; resolves to how many.
    #[napi]
    pub async fn prune(&self) -> Result<u32> {
        let removed = self.inner.prune().await.map_err(errors::to_js)?;
        Ok(u32::try_from(removed).unwrap_or(u32::MAX))
    }

    /// Writes every cached fix to `path` as JSON lines; resolves to how many.
    #[napi]
    pub async fn export(&self, path: String) -> Result<u32> {
        let path = PathBuf::from(path);
        let file = File::create(&path).map_err(|e| cache_error(&path, e))?;
        let mut out = BufWriter::new(file);
        let written = self.inner.export(&mut out).await.map_err(errors::to_js)?;
        out.flush().map_err(|e| cache_error(&path, e))?;
        Ok(u32::try_from(written).unwrap_or(u32::MAX))
    }

    /// Reads fixes written by `export`; resolves to `{ read, added, refused }` (the others
    /// were merged into fixes with the same edits; `refused`: left out, the edit policy refuses
    /// them). A line that cannot be read fails the import before anything of its batch is
    /// stored.
    #[napi(
        js_name = "import",
        ts_return_type = "Promise<{ read: number; added: number; refused: number }>"
    )]
    pub async fn import_from(&self, path: String) -> Result<Value> {
        let path = PathBuf::from(path);
        let file = File::open(&path).map_err(|e| cache_error(&path, e))?;
        let mut input = BufReader::new(file);
        Ok(to_json(
            &self.inner.import(&mut input).await.map_err(errors::to_js)?,
        ))
    }
}

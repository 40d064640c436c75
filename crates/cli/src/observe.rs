//! `selfheal heal --metrics-addr / --trace-json`: the run's metrics served in Prometheus' text
//! format, its spans written as JSON lines.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use metrics_exporter_prometheus::PrometheusBuilder;
use tracing_subscriber::fmt::format::FmtSpan;

/// Serves `/metrics` on `address` for as long as the process runs. Call inside the runtime.
pub(crate) fn serve_metrics(address: SocketAddr) -> Result<(), String> {
    // Bound here first, so that a taken port is a clear error instead of a background failure.
    std::net::TcpListener::bind(address)
        .map_err(|e| format!("cannot serve metrics on {address}: {e}"))?;
    PrometheusBuilder::new()
        .with_http_listener(address)
        .install()
        .map_err(|e| format!("cannot serve metrics on {address}: {e}"))
}

/// Writes every span of the run, as it closes, as one JSON line to `path`.
pub(crate) fn trace_json(path: &Path) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_span_events(FmtSpan::CLOSE)
        .with_span_list(true)
        .with_writer(Mutex::new(file))
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("cannot trace to {}: {e}", path.display()))
}

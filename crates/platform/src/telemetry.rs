//! Process-wide logging and tracing: `tracing` with JSON (production) or pretty output, filtered
//! by `RUST_LOG`, and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported over OTLP.

mod conventions;
mod otlp;
pub mod propagation;

use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

pub use otlp::{flush, shutdown, tracer};

/// The target of the client spans this workspace makes (Redis, storage, Kafka produce). Like the
/// database's (target `sea_orm`), they go to the trace only, never into the log's context: a log
/// line written during a call keeps the request's span, and with it the request id, as its own.
pub const CLIENT_SPANS: &str = "thegallery::client";

/// Whether client spans are worth making: only when spans are exported (a span nobody exports
/// would only cost the call).
pub fn exporting() -> bool {
    tracer().is_some()
}

fn is_client_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span()
        && (metadata.target() == CLIENT_SPANS || metadata.target().starts_with("sea_orm"))
}

/// Installs the global subscriber; a second call (tests) is a no-op. Trace export needs a Tokio
/// runtime to send from: call it inside one (without, spans are not exported).
pub fn init(config: &TelemetryConfig) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match config.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // `RUST_LOG` filters the log only: quietening it must not cut traces.
    let spans = config.traces.as_ref().and_then(otlp::layer);
    let result = tracing_subscriber::registry()
        .with(spans)
        .with(fmt.with_filter(filter.and(filter_fn(|m| !is_client_span(m)))))
        .try_init();
    // Only fails when a subscriber exists already, which is fine for tests and embedding.
    drop(result);
    std::panic::set_hook(Box::new(log_panic));
}

/// Logs a panic as one line with its message and location. A request that panics answers 500
/// (the HTTP stack catches it); a backtrace per such request would flood the log.
fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let cause = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let location = info
        .location()
        .map_or_else(String::new, ToString::to_string);
    tracing::error!(panic = cause, %location, "panicked");
}

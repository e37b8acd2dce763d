//! Span export over OTLP/HTTP (protobuf): a batch processor on its own thread sends finished
//! spans through the process's Tokio runtime with the hyper client the services already use, so
//! the request path only queues a span; a full queue drops spans, and a collector that is slow or
//! unreachable costs at most one timed-out export on the exporter's thread.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{
    Link, SpanKind, TraceContextExt, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SamplingDecision, SamplingResult,
    SdkTracerProvider, ShouldSample, Tracer,
};
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::conventions::Conventions;
use crate::config::{TraceExport, TraceSampler};

/// Spans waiting for export at most; more are dropped rather than held or waited for.
const QUEUE: usize = 4096;

/// The crates of the export path itself: their spans would be exported by exporting.
const FILTER: &str = "info,hyper=off,hyper_util=off,h2=off,opentelemetry=off,\
                      opentelemetry_sdk=off,opentelemetry_otlp=off,opentelemetry_http=off";

static PROVIDER: OnceLock<(SdkTracerProvider, Tracer)> = OnceLock::new();

/// The process's tracer when spans are exported, for code that makes spans without `tracing`
/// (the gateway's hot path); `None` when export is off.
pub fn tracer() -> Option<&'static Tracer> {
    PROVIDER.get().map(|(_, tracer)| tracer)
}

/// Sends the finished spans now (tests and shutdown); nothing when export is off.
pub fn flush() {
    if let Some((provider, _)) = PROVIDER.get()
        && let Err(e) = provider.force_flush()
    {
        tracing::debug!(error = %e, "spans not flushed");
    }
}

/// Flushes and stops the exporter. Call it while the runtime still runs (the export is sent on
/// it), from outside its worker threads.
pub fn shutdown() {
    if let Some((provider, _)) = PROVIDER.get()
        && let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5))
    {
        tracing::debug!(error = %e, "span exporter not shut down cleanly");
    }
}

/// The `tracing` layer that turns spans into exported OpenTelemetry spans, or `None` when there
/// is no runtime to send from or the exporter cannot be built (logged on stderr: the subscriber
/// does not exist yet).
pub(super) fn layer(config: &TraceExport) -> Option<Box<dyn Layer<Registry> + Send + Sync>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let tracer = match build(config, runtime) {
        Ok(tracer) => tracer,
        Err(e) => {
            report(&e);
            return None;
        }
    };
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_filter(EnvFilter::new(FILTER));
    Some(Box::new(layer))
}

#[expect(
    clippy::print_stderr,
    reason = "before the subscriber exists, stderr is the log"
)]
fn report(error: &opentelemetry_otlp::ExporterBuildError) {
    eprintln!("trace export disabled: {error}");
}

fn build(
    config: &TraceExport,
    runtime: tokio::runtime::Handle,
) -> Result<Tracer, opentelemetry_otlp::ExporterBuildError> {
    let client = Client {
        hyper: Hyper::builder(TokioExecutor::new()).build(HttpConnector::new()),
        runtime,
        timeout: config.timeout,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(config.traces_url())
        .with_timeout(config.timeout)
        .build()?;
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(QUEUE)
        .with_scheduled_delay(config.batch_delay)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build();
    let resource = Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .with_attributes(
            config
                .resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(Conventions(processor))
        .with_sampler(JoinOnly(sampler(config.sampler)))
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("thegallery");
    let stored = PROVIDER.get_or_init(|| (provider, tracer));
    Ok(stored.1.clone())
}

fn sampler(sampler: TraceSampler) -> Sampler {
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    match sampler {
        TraceSampler::AlwaysOn => Sampler::AlwaysOn,
        TraceSampler::AlwaysOff => Sampler::AlwaysOff,
        TraceSampler::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        TraceSampler::ParentBasedAlwaysOn => parent_based(Sampler::AlwaysOn),
        TraceSampler::ParentBasedAlwaysOff => parent_based(Sampler::AlwaysOff),
        TraceSampler::ParentBasedRatio(ratio) => parent_based(Sampler::TraceIdRatioBased(ratio)),
    }
}

/// Client spans (database, Redis, storage) only join a trace. Made outside one (a relay's poll, a
/// readiness probe, a background sweep), each would start a trace of one span of its own, and
/// the backend would fill with them.
#[derive(Debug, Clone)]
struct JoinOnly(Sampler);

impl ShouldSample for JoinOnly {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let orphan = !parent.is_some_and(Context::has_active_span);
        if orphan && *kind == SpanKind::Client {
            return SamplingResult {
                decision: SamplingDecision::Drop,
                attributes: Vec::new(),
                trace_state: TraceState::default(),
            };
        }
        self.0
            .should_sample(parent, trace_id, name, kind, attributes, links)
    }
}

/// The exporter's HTTP client: the batch thread awaits a task on the process's runtime, as
/// hyper's connections need one.
#[derive(Debug, Clone)]
struct Client {
    hyper: Hyper<HttpConnector, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

#[async_trait]
impl HttpClient for Client {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let hyper = self.hyper.clone();
        let exchange = async move {
            let response = hyper.request(request.map(Full::new)).await?;
            let (head, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(head, body))
        };
        let timeout = self.timeout;
        let task = self
            .runtime
            .spawn(async move { tokio::time::timeout(timeout, exchange).await });
        match task.await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("the collector did not answer in time".into()),
            Err(e) => Err(Box::new(e)),
        }
    }
}

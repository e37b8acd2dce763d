//! W3C trace context (`traceparent`, `tracestate`) across process boundaries: read from a request
//! or an event, made the parent of the span that handles it, and written from the current span
//! onto what leaves the process (an HTTP request, an outbox row). Without export the context a
//! request brought is still carried on unchanged, so one trace id ties the logs together.

use std::future::Future;
use std::time::SystemTime;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header with the trace id, the parent span id and the sampling flag.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header with vendors' trace state.
pub const TRACESTATE: &str = "tracestate";

/// A span context in its wire form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wire {
    /// `traceparent`.
    pub traceparent: String,
    /// `tracestate`, when there is any.
    pub tracestate: Option<String>,
}

impl Wire {
    /// The pair when `traceparent` is well-formed W3C trace context; `None` otherwise.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        remote(traceparent, tracestate).map(|_| Self {
            traceparent: traceparent.to_owned(),
            tracestate: tracestate.filter(|s| !s.is_empty()).map(str::to_owned),
        })
    }

    /// The 32 hex digits of the trace id.
    pub fn trace_id(&self) -> &str {
        self.traceparent.get(3..35).unwrap_or_default()
    }

    fn of(context: &SpanContext) -> Option<Self> {
        context.is_valid().then(|| Self {
            traceparent: format!(
                "00-{}-{}-{:02x}",
                context.trace_id(),
                context.span_id(),
                context.trace_flags().to_u8()
            ),
            tracestate: Some(context.trace_state().header()).filter(|s| !s.is_empty()),
        })
    }
}

struct Pair<'a>(&'a str, Option<&'a str>);

impl Extractor for Pair<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(self.0),
            TRACESTATE => self.1,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

/// W3C's shape: `version-traceid-parentid-flags` in lowercase hex of 2, 32, 16 and 2 digits,
/// version `ff` being invalid and version `00` having nothing after the flags. (The propagator
/// alone also takes shorter ids.)
fn well_formed(traceparent: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let mut parts = traceparent.split('-');
    let (Some(version), Some(trace), Some(span), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest_allowed = version != "00" || parts.next().is_none();
    hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(span, 16)
        && hex(flags, 2)
        && rest_allowed
}

/// The remote parent a well-formed `traceparent` names.
fn remote(traceparent: &str, tracestate: Option<&str>) -> Option<Context> {
    if !well_formed(traceparent) {
        return None;
    }
    let context = TraceContextPropagator::new().extract(&Pair(traceparent, tracestate));
    context.span().span_context().is_valid().then_some(context)
}

/// Makes the span described by `wire` (a caller's) the parent of `span`, when spans are exported.
pub fn continue_trace(span: &tracing::Span, wire: Option<&Wire>) {
    if super::tracer().is_none() {
        return;
    }
    if let Some(parent) = wire.and_then(|w| remote(&w.traceparent, w.tracestate.as_deref())) {
        // Fails only when the span was entered already: then it keeps its own trace.
        drop(span.set_parent(parent));
    }
}

/// The wire form of `span`'s context, when spans are exported (the span has one).
pub fn of_span(span: &tracing::Span) -> Option<Wire> {
    super::tracer()?;
    Wire::of(&span.context().span().span_context().clone())
}

/// What the request a handler serves brought: its request id and trace context (see [`within`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The request id (`x-request-id`).
    pub request_id: String,
    /// The caller's trace context, when it sent a well-formed one.
    pub wire: Option<Wire>,
}

tokio::task_local! {
    static INBOUND: Inbound;
}

/// Runs `future` with `inbound` as what the current request brought.
pub async fn within<F: Future>(inbound: Inbound, future: F) -> F::Output {
    INBOUND.scope(inbound, future).await
}

/// What the request being served brought, inside [`within`].
pub fn inbound() -> Option<Inbound> {
    INBOUND.try_with(Clone::clone).ok()
}

/// A server span made without `tracing`, for a hot path that pays for nothing when export is off
/// (the gateway's).
#[derive(Debug)]
pub struct ServerSpan {
    span: opentelemetry_sdk::trace::Span,
    wire: Option<Wire>,
}

impl ServerSpan {
    /// A span child of `parent` (a trusted caller's context) or the root of a new trace, named,
    /// begun and described by what `describe` gives; `None` when export is off, and then
    /// `describe` is not called, so a hot path pays nothing for the span's name and attributes.
    pub fn start<A>(
        parent: Option<&Wire>,
        describe: impl FnOnce() -> (String, SystemTime, A),
    ) -> Option<Self>
    where
        A: IntoIterator<Item = (&'static str, String)>,
    {
        let tracer = super::tracer()?;
        let (name, started, attributes) = describe();
        let parent = parent
            .and_then(|w| remote(&w.traceparent, w.tracestate.as_deref()))
            .unwrap_or_default();
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_start_time(started)
            .with_attributes(attributes.into_iter().map(|(k, v)| KeyValue::new(k, v)))
            .start_with_context(tracer, &parent);
        let wire = Wire::of(span.span_context());
        Some(Self { span, wire })
    }

    /// The context a service receives as its parent.
    pub fn wire(&self) -> Option<&Wire> {
        self.wire.as_ref()
    }

    /// What makes work this span's: see [`Scope::run`].
    pub fn scope(&self) -> Scope {
        Scope(Context::new().with_remote_span_context(self.span.span_context().clone()))
    }

    /// Ends the span with the response's status (5xx is an error, as for a server span).
    pub fn end(mut self, status: u16) {
        self.span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            self.span.set_status(Status::error(""));
        }
        self.span.end();
    }
}

/// A [`ServerSpan`]'s context, detached from the span so that it can travel with a future.
#[derive(Debug, Clone)]
pub struct Scope(Context);

impl Scope {
    /// Runs `work` inside the span: the client spans it makes (the gateway's Redis calls while it
    /// admits a request) are the span's children, though no `tracing` span is entered.
    pub fn run<F: Future>(self, work: F) -> impl Future<Output = F::Output> {
        use opentelemetry::context::FutureExt as _;
        work.with_context(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_traceparent_is_accepted() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let wire = Wire::parse(good, Some("vendor=1")).unwrap();
        assert_eq!(wire.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(wire.tracestate.as_deref(), Some("vendor=1"));
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(Wire::parse(bad, None), None, "{bad:?}");
        }
    }
}

//! Request id and W3C trace context that travel with an event from the HTTP request that caused it
//! to the consumer's span (Kafka headers `x-request-id`, `traceparent` and `tracestate`). The
//! context stored is that of the span enqueueing the event, so the consumer's span is its child.

use std::future::Future;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use platform::telemetry::propagation::{self, Wire};

/// Header carrying the request id (same name as over HTTP).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// W3C trace context header.
pub const TRACEPARENT_HEADER: &str = propagation::TRACEPARENT;
/// W3C trace state header.
pub const TRACESTATE_HEADER: &str = propagation::TRACESTATE;

/// What ties an event to the request that caused it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// The `x-request-id` of the originating request.
    pub request_id: Option<String>,
    /// W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
    pub traceparent: Option<String>,
    /// W3C `tracestate`, when the trace has one.
    pub tracestate: Option<String>,
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

impl TraceContext {
    /// Reads `x-request-id`, `traceparent` and `tracestate` from request headers; a missing or
    /// malformed `traceparent` gets a fresh trace.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let wire = get(TRACEPARENT_HEADER).and_then(|t| Wire::parse(t, get(TRACESTATE_HEADER)));
        Self {
            request_id: get(REQUEST_ID_HEADER).map(str::to_owned),
            ..Self::default()
        }
        .with_wire(wire)
    }

    /// The context an event enqueued now carries: the request id of the request being served
    /// (or of the event being consumed), and the trace context of the current span; without span
    /// export, the trace context that request or event brought; else a fresh trace.
    pub fn current() -> Self {
        let carried = CURRENT.try_with(Clone::clone).ok().or_else(|| {
            propagation::inbound().map(|inbound| {
                Self {
                    request_id: Some(inbound.request_id),
                    ..Self::default()
                }
                .with_wire(inbound.wire)
            })
        });
        let carried = carried.unwrap_or_default();
        match propagation::of_span(&tracing::Span::current()) {
            Some(wire) => carried.with_wire(Some(wire)),
            None if carried.trace_id().is_some() => carried,
            None => carried.with_wire(None),
        }
    }

    /// This context with `wire` as its trace context, or a fresh trace for `None`.
    fn with_wire(self, wire: Option<Wire>) -> Self {
        let (traceparent, tracestate) = match wire {
            Some(wire) => (wire.traceparent, wire.tracestate),
            None => (new_traceparent(), None),
        };
        Self {
            traceparent: Some(traceparent),
            tracestate,
            ..self
        }
    }

    /// The trace context in its wire form, when well-formed.
    pub fn wire(&self) -> Option<Wire> {
        Wire::parse(self.traceparent.as_deref()?, self.tracestate.as_deref())
    }

    /// The 32-hex-digit trace id, when there is a well-formed `traceparent`.
    pub fn trace_id(&self) -> Option<&str> {
        self.traceparent.as_deref().and_then(trace_id_of)
    }

    /// Serialised into the outbox `headers` column.
    pub(crate) fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        if let Some(id) = &self.request_id {
            pairs.push((REQUEST_ID_HEADER.to_owned(), id.clone()));
        }
        if let Some(tp) = &self.traceparent {
            pairs.push((TRACEPARENT_HEADER.to_owned(), tp.clone()));
        }
        if let Some(ts) = &self.tracestate {
            pairs.push((TRACESTATE_HEADER.to_owned(), ts.clone()));
        }
        pairs
    }

    /// Read back from header pairs (outbox column or Kafka headers).
    pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut context = Self::default();
        for (key, value) in pairs {
            match key {
                REQUEST_ID_HEADER => context.request_id = Some(value.to_owned()),
                TRACEPARENT_HEADER => context.traceparent = Some(value.to_owned()),
                TRACESTATE_HEADER => context.tracestate = Some(value.to_owned()),
                _ => {}
            }
        }
        context
    }
}

fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace, span) = (parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(trace, 32) && hex(span, 16)).then_some(trace)
}

fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

/// Runs `future` with `context` as the current one, so events enqueued inside carry it.
pub async fn scope<F: Future>(context: TraceContext, future: F) -> F::Output {
    CURRENT.scope(context, future).await
}

/// Axum middleware: makes the request's `x-request-id` and trace context the current context of
/// its handler, for routers not wrapped in `platform::http::service_app` (whose request span does
/// this already): [`crate::Outbox::enqueue`] stamps them on every event the request causes.
pub async fn capture(request: Request, next: Next) -> Response {
    let context = TraceContext::from_headers(request.headers());
    scope(context, next.run(request)).await
}

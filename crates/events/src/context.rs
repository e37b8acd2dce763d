//! Request id and W3C trace context that travel with an event from the HTTP request that caused it
//! to the consumer's span (Kafka headers `x-request-id` and `traceparent`).

use std::future::Future;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;

/// Header carrying the request id (same name as over HTTP).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// W3C trace context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// What ties an event to the request that caused it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// The `x-request-id` of the originating request.
    pub request_id: Option<String>,
    /// W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
    pub traceparent: Option<String>,
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

impl TraceContext {
    /// Reads `x-request-id` and `traceparent` from request headers; a missing or malformed
    /// `traceparent` gets a fresh trace.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            request_id: get(REQUEST_ID_HEADER),
            traceparent: get(TRACEPARENT_HEADER)
                .filter(|t| trace_id_of(t).is_some())
                .or_else(|| Some(new_traceparent())),
        }
    }

    /// The context of the task running now (set by [`scope`] or [`capture`]), or a fresh trace.
    pub fn current() -> Self {
        CURRENT.try_with(Clone::clone).unwrap_or_else(|_| Self {
            request_id: None,
            traceparent: Some(new_traceparent()),
        })
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
        pairs
    }

    /// Read back from header pairs (outbox column or Kafka headers).
    pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut context = Self::default();
        for (key, value) in pairs {
            match key {
                REQUEST_ID_HEADER => context.request_id = Some(value.to_owned()),
                TRACEPARENT_HEADER => context.traceparent = Some(value.to_owned()),
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

/// Axum middleware: makes the request's `x-request-id` and `traceparent` the current context of
/// its handler, so [`crate::Outbox::enqueue`] stamps them on every event the request causes.
/// Layer it inside `platform::http::service_app` (which sets the request id):
/// `routes.layer(axum::middleware::from_fn(events::context::capture))`.
pub async fn capture(request: Request, next: Next) -> Response {
    let context = TraceContext::from_headers(request.headers());
    scope(context, next.run(request)).await
}

//! The gateway's part of a trace: a `traceparent` from the client is believed only when the client
//! is a trusted proxy (`FORWARDED_HOPS` above 0), as `X-Forwarded-*` are; otherwise the trace
//! starts here. With span export on, the gateway's server span is the service's parent; with it
//! off, a trusted caller's context goes on unchanged and nothing is added to the hot path.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use http::{HeaderValue, Method, StatusCode};
use platform::telemetry::propagation::{ServerSpan, Wire};

use crate::forwarding::{self, Line};

/// The trace context of one forwarded request, and the gateway's span when spans are exported.
#[derive(Debug)]
pub(crate) struct Hop {
    span: Mutex<Option<ServerSpan>>,
    wire: Option<Wire>,
}

/// What the span records of the request.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a Method,
    pub(crate) route: &'static str,
    pub(crate) path: &'a str,
    pub(crate) request_id: &'a HeaderValue,
    pub(crate) started: Instant,
}

impl Hop {
    /// The hop of a request with header `lines` behind `hops` trusted proxies; `None` when there
    /// is nothing to pass on (export off and no trusted context).
    pub(crate) fn begin<'a>(
        lines: impl Iterator<Item = Line<'a>> + Clone,
        hops: usize,
        request: &Request<'_>,
    ) -> Option<Self> {
        let trusted = if hops > 0 { received(lines) } else { None };
        let span = ServerSpan::start(trusted.as_ref(), || describe(request));
        let wire = match &span {
            Some(span) => span.wire().cloned(),
            None => trusted,
        };
        wire.is_some().then(|| Self {
            span: Mutex::new(span),
            wire,
        })
    }

    /// The context the service receives.
    pub(crate) fn wire(&self) -> Option<&Wire> {
        self.wire.as_ref()
    }

    /// Runs `work` (the admission of the request) inside the gateway's span, so that its Redis
    /// calls are children of it.
    pub(crate) async fn scope<F: Future>(&self, work: F) -> F::Output {
        let scope = self
            .span
            .lock()
            .ok()
            .and_then(|span| span.as_ref().map(ServerSpan::scope));
        match scope {
            Some(scope) => scope.run(work).await,
            None => work.await,
        }
    }

    /// Ends the gateway's span (once; later calls do nothing) with the client's status.
    pub(crate) fn end(&self, status: StatusCode) {
        let span = self.span.lock().map(|mut span| span.take());
        if let Ok(Some(span)) = span {
            span.end(status.as_u16());
        }
    }
}

/// The gateway span's name, start and attributes.
fn describe(request: &Request<'_>) -> (String, SystemTime, [(&'static str, String); 4]) {
    let started = SystemTime::now()
        .checked_sub(request.started.elapsed())
        .unwrap_or_else(SystemTime::now);
    // Some route labels name their method already (`POST /api/member/signin`); the span's route
    // is the path template alone, its name the method and that template once.
    let route = request
        .route
        .strip_prefix(request.method.as_str())
        .and_then(|rest| rest.strip_prefix(' '))
        .unwrap_or(request.route);
    let attributes = [
        ("http.request.method", request.method.as_str().to_owned()),
        ("http.route", route.to_owned()),
        ("url.path", request.path.to_owned()),
        (
            "request_id",
            request.request_id.to_str().unwrap_or_default().to_owned(),
        ),
    ];
    (format!("{} {route}", request.method), started, attributes)
}

/// The client's well-formed `traceparent` (the first) and `tracestate`.
fn received<'a>(lines: impl Iterator<Item = Line<'a>> + Clone) -> Option<Wire> {
    let text = |value: &'a [u8]| std::str::from_utf8(value).ok();
    let parent = text(forwarding::first(lines.clone(), "traceparent")?)?;
    let state = forwarding::first(lines, "tracestate").and_then(text);
    Wire::parse(parent, state)
}

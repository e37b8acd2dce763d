//! The middleware stack every service shares: request ids, spans, access log, metrics, and the
//! guarantee that every error (404, 405, 413, panics, framework rejections) has the contract shape.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use super::REQUEST_ID;
use super::error::ApiError;
use crate::telemetry::propagation;

/// The error codes a service answers with when a request is malformed before reaching a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceCodes {
    /// Name used in metrics and logs.
    pub service: &'static str,
    /// Code for a required parameter that is missing (e.g. `GA004`, `GP004`).
    pub missing_parameter: &'static str,
    /// Message for a missing parameter.
    pub missing_parameter_message: &'static str,
    /// Code for every other malformed request (e.g. `GA005`, `GG005`, `GP005`).
    pub bad_request: &'static str,
    /// Code of unexpected failures (e.g. `GA001`).
    pub internal: &'static str,
}

impl Default for ServiceCodes {
    fn default() -> Self {
        Self {
            service: "thegallery",
            missing_parameter: "BAD_REQUEST",
            missing_parameter_message: "필수 파라미터 누락",
            bad_request: "BAD_REQUEST",
            internal: "INTERNAL",
        }
    }
}

impl ServiceCodes {
    /// 400 for a missing parameter.
    pub fn missing_parameter(&self) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            self.missing_parameter,
            self.missing_parameter_message,
        )
    }

    /// 400 with the service's validation code.
    pub fn bad_request_with(&self, message: &'static str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, self.bad_request, message)
    }

    /// 413 for a body over the limit.
    pub fn payload_too_large(&self) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            self.bad_request,
            "요청 본문이 너무 큽니다",
        )
    }

    /// 404 for a path that no route serves.
    pub fn not_found(&self) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            self.bad_request,
            "요청한 경로를 찾을 수 없습니다",
        )
    }

    /// 405 for a known path with another method.
    pub fn method_not_allowed(&self) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            self.bad_request,
            "허용되지 않는 메서드입니다",
        )
    }

    /// The generic 500 body; never carries the cause.
    pub fn internal_error(&self) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            self.internal,
            "서버 에러",
        )
    }

    /// Same shape for any other status a framework layer produced.
    fn for_status(&self, status: StatusCode) -> ApiError {
        match status {
            StatusCode::NOT_FOUND => self.not_found(),
            StatusCode::METHOD_NOT_ALLOWED => self.method_not_allowed(),
            StatusCode::PAYLOAD_TOO_LARGE => self.payload_too_large(),
            s if s.is_server_error() => ApiError::new(s, self.internal, "서버 에러"),
            s => ApiError::new(
                s,
                self.bad_request,
                s.canonical_reason().unwrap_or("잘못된 요청입니다"),
            ),
        }
    }
}

/// Wraps a service's routes with the shared stack: fallbacks, body limit, panic catching, error
/// shaping and [`request_context`].
pub fn service_app(routes: Router, codes: ServiceCodes, body_limit: usize) -> Router {
    // Metrics recorded before the recorder exists would be lost.
    drop(super::health::metrics_handle());
    routes
        .fallback(move || async move { codes.not_found() })
        .method_not_allowed_fallback(move || async move { codes.method_not_allowed() })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::Extension(codes))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            shape_errors(codes, req, next)
        }))
        // The panic hook of `telemetry::init` has logged the one line with the cause.
        .layer(CatchPanicLayer::custom(move |_panic| {
            codes.internal_error().into_response()
        }))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            request_context(codes.service, req, next)
        }))
}

/// The caller's `traceparent` and `tracestate`, when well-formed. A service trusts its callers
/// (the gateway, which decided whether to trust its own caller's).
fn incoming_trace(headers: &HeaderMap) -> Option<propagation::Wire> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    propagation::Wire::parse(get(propagation::TRACEPARENT)?, get(propagation::TRACESTATE))
}

/// Replaces any error response that is not already JSON (a framework default) with the contract shape.
async fn shape_errors(codes: ServiceCodes, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let mut shaped = codes.for_status(status).into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Accepts a sane client `x-request-id` or generates one, records it on the request span, returns
/// it on the response, writes one access-log line and the HTTP metrics.
pub async fn request_context(service: &'static str, mut req: Request, next: Next) -> Response {
    let header_value = super::request_id(req.headers().get(REQUEST_ID).map(HeaderValue::as_bytes));
    let request_id = header_value.to_str().unwrap_or_default().to_owned();
    req.headers_mut().insert(REQUEST_ID, header_value.clone());

    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        %request_id,
        %method,
        %path,
        service,
        http.request.method = %method,
        http.route = %route,
        url.path = %path,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let wire = incoming_trace(req.headers());
    propagation::continue_trace(&span, wire.as_ref());
    let inbound = propagation::Inbound { request_id, wire };
    let started = Instant::now();

    let handled = propagation::within(inbound, next.run(req).instrument(span.clone()));
    let mut response = handled.await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    response.headers_mut().insert(REQUEST_ID, header_value);
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "error");
    }

    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    let labels = [
        ("service", service.to_owned()),
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    response
}

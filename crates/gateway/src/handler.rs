//! One request through the gateway: classify, authenticate, limit, forward; then the request id,
//! CORS headers, one access-log line and the metrics.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use platform::auth::TokenSource;
use platform::http::{ApiError, REQUEST_ID, request_id};

use crate::access_log::{AccessLog, Entry};
use crate::auth::{AuthError, Authenticator, Identity};
use crate::config::Policy;
use crate::connections::ConnectionCap;
use crate::forwarding::{self, Additions, Peer};
use crate::framing::Malformed;
use crate::limit::{Decision, Limiter, rate_of};
use crate::proxy::{ProxyError, Upstreams};
use crate::routes::{Access, LimitRule, Route, Target, classify};
use crate::trace::{self, Hop};
use crate::{CODES, HEALTH_TEXT};

/// The gateway's parts, shared by every request.
#[derive(Debug)]
pub struct Gateway {
    upstreams: Upstreams,
    auth: Authenticator,
    limiter: Limiter,
    policy: Policy,
    access_log: Option<Arc<AccessLog>>,
    connections: ConnectionCap,
}

/// Why the gateway answered itself instead of forwarding.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Token or session refused, or the session store is down.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Outside `/api/<service>/**`.
    #[error("no such route")]
    NotFound,
    /// Dot segments or encoded separators.
    #[error("ambiguous path")]
    BadPath,
    /// Over a rate limit.
    #[error("rate limited")]
    RateLimited(LimitRule, Decision),
    /// The upstream failed.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The head broke the framing rules ([`crate::framing`]); its connection is closed.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The gateway holds as many client connections as it may (`GATEWAY_MAX_CONNECTIONS`).
    #[error("too many client connections")]
    Overloaded,
}

const COMMENT_LIMIT_MESSAGE: &str =
    "짧은 시간에 많은 댓글을 작성할 수 없습니다. \n잠시후 다시 시도해주세요.";

impl GatewayError {
    /// The one place mapping a gateway error to status, code and message (docs/gateway.md,
    /// "Refusals").
    pub fn to_api_error(&self) -> ApiError {
        use StatusCode as S;
        match self {
            Self::Auth(AuthError::MissingCookie) => {
                ApiError::new(S::BAD_REQUEST, "GATE004", "missing cookie")
            }
            Self::Auth(AuthError::MissingToken) => {
                ApiError::new(S::UNAUTHORIZED, "GATE002", "missing token")
            }
            Self::Auth(AuthError::InvalidToken) => {
                ApiError::new(S::UNAUTHORIZED, "GATE003", "invalid token")
            }
            Self::Auth(AuthError::Unavailable(e)) => ApiError::unavailable("GATE503", e),
            Self::NotFound => CODES.not_found(),
            Self::BadPath => ApiError::new(S::BAD_REQUEST, "GATE001", "잘못된 경로입니다"),
            Self::RateLimited(rule, _) => {
                let message = if *rule == LimitRule::Comment {
                    COMMENT_LIMIT_MESSAGE
                } else {
                    "요청이 너무 많습니다. 잠시 후 다시 시도해주세요."
                };
                ApiError::new(S::TOO_MANY_REQUESTS, "GATE005", message)
            }
            Self::Proxy(e @ ProxyError::Unreachable(_)) => {
                tracing::warn!(error = %platform::http::ErrorChain(e), "upstream unreachable");
                ApiError::new(S::BAD_GATEWAY, "GATE502", "서비스에 연결할 수 없습니다")
            }
            Self::Proxy(e @ ProxyError::ClientBody(_)) => {
                tracing::debug!(error = %platform::http::ErrorChain(e), "client body unreadable");
                ApiError::new(S::BAD_REQUEST, "GATE001", "요청 본문을 읽을 수 없습니다")
            }
            Self::Malformed(m) if m.is_too_large() => ApiError::new(
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "GATE001",
                "요청 헤더가 너무 큽니다",
            ),
            Self::Malformed(_) => ApiError::new(S::BAD_REQUEST, "GATE001", "잘못된 요청입니다"),
            Self::Overloaded => ApiError::new(
                S::SERVICE_UNAVAILABLE,
                "GATE503",
                "일시적으로 서비스를 사용할 수 없습니다. 잠시 후 다시 시도해주세요",
            ),
            Self::Proxy(e @ ProxyError::TimedOut(_)) => {
                tracing::warn!(error = %platform::http::ErrorChain(e), "upstream timed out");
                ApiError::new(
                    S::GATEWAY_TIMEOUT,
                    "GATE504",
                    "서비스가 제때 응답하지 않았습니다",
                )
            }
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut response = self.to_api_error().into_response();
        if let Self::RateLimited(_, decision) = self {
            let retry = decision.retry_after.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry));
            limit_headers(response.headers_mut(), &decision);
        }
        response
    }
}

pub(crate) fn limit_headers(headers: &mut HeaderMap, decision: &Decision) {
    let reset = decision.retry_after.as_secs_f64().ceil() as u64;
    headers.insert(
        HeaderName::from_static("x-ratelimit-limit"),
        decision.limit.into(),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-remaining"),
        decision.remaining.into(),
    );
    headers.insert(HeaderName::from_static("x-ratelimit-reset"), reset.into());
}

/// The metrics label of preflights.
pub(crate) const PREFLIGHT: &str = "preflight";

/// What the access log and metrics need from one request.
struct Outcome {
    response: Response,
    route: &'static str,
    member: Option<String>,
}

impl Outcome {
    fn new(response: Response, route: &'static str) -> Self {
        Self {
            response,
            route,
            member: None,
        }
    }
}

/// The axum entry point of every gateway request.
pub(crate) async fn handle(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = request_id(request.headers().get(REQUEST_ID).map(HeaderValue::as_bytes));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let origin = request.headers().get(header::ORIGIN).cloned();

    let outcome = match refusal(&request) {
        Some(malformed) => Outcome::new(refused(malformed), "malformed"),
        None => gateway.process(request, &request_id, started).await,
    };
    let mut response = outcome.response;
    gateway.finish_headers(response.headers_mut(), origin.as_ref(), &request_id);
    gateway.record(&Record {
        request_id: &request_id,
        method: &method,
        path: &path,
        status: response.status(),
        elapsed: started.elapsed(),
        member: outcome.member.as_deref(),
        route: outcome.route,
    });
    response
}

/// The framing rule a request read by hyper breaks, if any: hyper refuses bad syntax, long heads,
/// unknown codings and differing lengths itself, keeps one of equal `Content-Length` lines and
/// drops a length beside `chunked` (RFC 9112 §6.3 allows that), but lets several `Host` lines
/// through. (In distributed mode the wire front end has checked the head already;
/// this covers the router served on its own, as in standalone mode.)
fn refusal(request: &Request) -> Option<Malformed> {
    let http10 = request.version() == http::Version::HTTP_10;
    let lines = forwarding::lines(request.headers());
    crate::framing::check(lines.into_iter(), http10).err()
}

/// The answer to a refused head; its connection closes after it.
fn refused(malformed: Malformed) -> Response {
    tracing::debug!(error = %malformed, "request head refused");
    let mut response = GatewayError::Malformed(malformed).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// One answered request, for the access log and the metrics.
pub(crate) struct Record<'a> {
    pub request_id: &'a HeaderValue,
    pub method: &'a http::Method,
    pub path: &'a str,
    pub status: StatusCode,
    pub elapsed: std::time::Duration,
    pub member: Option<&'a str>,
    pub route: &'static str,
}

/// Where a request is answered: upstream, or by the gateway itself (with the metrics label).
pub(crate) enum Destination {
    Upstream(Route),
    Local(Response, &'static str),
}

/// What the checks decided about a request to an upstream route.
pub(crate) struct Admission {
    /// Who sent it, when the token was good (also on a later refusal).
    pub identity: Option<Identity>,
    /// Forward (with the rate-limit state to report), or answer with this error.
    pub verdict: Result<Option<Decision>, GatewayError>,
}

impl Admission {
    /// The authenticated member's id, for the access log.
    pub(crate) fn member(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| i.claims().sub.as_str())
    }
}

/// Counts a request in the metrics. Handles are kept per thread: resolving them in the recorder on
/// every request (labels hashed, keys allocated) cost more than the rest of the bookkeeping.
fn observe(route: &'static str, status: StatusCode, elapsed: std::time::Duration) {
    type Handles = std::collections::HashMap<
        (&'static str, u16),
        (metrics::Counter, metrics::Histogram),
        foldhash::fast::RandomState,
    >;
    thread_local! {
        static HANDLES: std::cell::RefCell<Handles> = std::cell::RefCell::default();
    }
    HANDLES.with_borrow_mut(|handles| {
        let (counter, histogram) = handles.entry((route, status.as_u16())).or_insert_with(|| {
            (
                metrics::counter!("gateway_requests_total", "route" => route, "status" => status.as_str().to_owned()),
                metrics::histogram!("gateway_request_duration_seconds", "route" => route),
            )
        });
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
    });
}

impl Gateway {
    /// Assembles a gateway.
    pub fn new(
        upstreams: Upstreams,
        auth: Authenticator,
        limiter: Limiter,
        policy: Policy,
    ) -> Self {
        let access_log = policy.access_log.then(AccessLog::start);
        Self {
            upstreams,
            auth,
            limiter,
            policy,
            access_log,
            connections: ConnectionCap::default(),
        }
    }

    /// This gateway with at most `max` client connections at once (its own front end only: the
    /// axum router is served by whoever mounts it).
    #[must_use]
    pub fn with_max_connections(self, max: usize) -> Self {
        Self {
            connections: ConnectionCap::new(max),
            ..self
        }
    }

    /// The cap on client connections.
    pub(crate) fn connections(&self) -> &ConnectionCap {
        &self.connections
    }

    async fn process(
        &self,
        request: Request,
        request_id: &HeaderValue,
        started: Instant,
    ) -> Outcome {
        if let Some(response) = self.preflight(request.method(), request.headers()) {
            return Outcome::new(response, PREFLIGHT);
        }
        let route = match self.destination(request.method(), request.uri().path()) {
            Destination::Upstream(route) => route,
            Destination::Local(response, label) => return Outcome::new(response, label),
        };
        let mut member = None;
        let forwarded = self.forward(route, request, (request_id, started), &mut member);
        let response = match forwarded.await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        };
        Outcome {
            response,
            route: route.name,
            member,
        }
    }

    async fn forward(
        &self,
        route: Route,
        mut request: Request,
        (request_id, started): (&HeaderValue, Instant),
        member: &mut Option<String>,
    ) -> Result<Response, GatewayError> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| Peer::new(c.0.ip()));
        let hops = self.policy.forwarded_hops;
        let lines = forwarding::lines(request.headers());
        let lines = lines.iter().copied();
        let client = forwarding::client_address(lines.clone(), peer.as_ref().map(|p| p.ip), hops);
        let traced = trace::Request {
            method: request.method(),
            route: route.name,
            path: request.uri().path(),
            request_id,
            started,
        };
        // Begun before admission, so that the session and rate-limit lookups are the span's
        // children and a refused request is traced too.
        let hop = Hop::begin(lines.clone(), hops, &traced);
        let admit = self.admit(route, forwarding::token(lines), client);
        let admission = match &hop {
            Some(hop) => hop.scope(admit).await,
            None => admit.await,
        };
        *member = admission.member().map(str::to_owned);
        let decision = match admission.verdict {
            Ok(decision) => decision,
            Err(refusal) => {
                let response = refusal.into_response();
                if let Some(hop) = &hop {
                    hop.end(response.status());
                }
                return Ok(response);
            }
        };
        let additions = Additions {
            request_id,
            peer: peer.as_ref(),
            hops,
            identity: admission.identity.as_ref(),
            trace: hop.as_ref().and_then(Hop::wire),
        };
        forwarding::rewrite(request.headers_mut(), &additions);
        let sent = self.upstreams.send(route.service, request).await;
        if let Some(hop) = &hop {
            hop.end(sent.as_ref().map_or_else(proxy_status, Response::status));
        }
        let mut response = sent?;
        if let Some(decision) = decision {
            limit_headers(response.headers_mut(), &decision);
        }
        Ok(response)
    }

    /// Authenticates (on a protected route, with `token`) and rate-limits (per member or per
    /// `client` address) a request to `route`. What it may carry on is [`forwarding`]'s to write.
    pub(crate) async fn admit(
        &self,
        route: Route,
        token: TokenSource<'_>,
        client: Option<IpAddr>,
    ) -> Admission {
        let identity = match route.access {
            Access::Public => None,
            Access::Protected => match self.auth.authenticate(token).await {
                Ok(identity) => Some(identity),
                Err(e) => {
                    return Admission {
                        identity: None,
                        verdict: Err(e.into()),
                    };
                }
            },
        };
        let verdict = self.limit(route, identity.as_ref(), client).await;
        Admission { identity, verdict }
    }

    /// The headers every answer gets: CORS for the request's origin and the request id.
    pub(crate) fn finish_headers(
        &self,
        headers: &mut HeaderMap,
        origin: Option<&HeaderValue>,
        request_id: &HeaderValue,
    ) {
        self.policy.cors.decorate(origin, headers);
        headers.insert(REQUEST_ID, request_id.clone());
    }

    /// One access-log line and the metrics of an answered request.
    pub(crate) fn record(&self, record: &Record<'_>) {
        if let Some(log) = &self.access_log {
            log.record(&Entry {
                request_id: record.request_id.to_str().unwrap_or_default(),
                method: record.method.as_str(),
                path: record.path,
                status: record.status.as_u16(),
                duration_ms: record.elapsed.as_secs_f64() * 1000.0,
                member_id: record.member,
                route: record.route,
            });
        }
        observe(record.route, record.status, record.elapsed);
    }

    /// The answer to a CORS preflight (without authentication); `None` for any other request.
    pub(crate) fn preflight(&self, method: &http::Method, headers: &HeaderMap) -> Option<Response> {
        crate::config::Cors::is_preflight(method, headers)
            .then(|| self.policy.cors.preflight(headers))
    }

    /// The upstream route of a request, or the gateway's own answer (health, 404, bad path).
    /// Preflights are answered before this.
    pub(crate) fn destination(&self, method: &http::Method, path: &str) -> Destination {
        match classify(method, path) {
            Target::Health => Destination::Local(health(), "GET /health"),
            Target::NotFound => {
                Destination::Local(GatewayError::NotFound.into_response(), "unmatched")
            }
            Target::BadPath => {
                Destination::Local(GatewayError::BadPath.into_response(), "unmatched")
            }
            Target::Upstream(route) => Destination::Upstream(route),
        }
    }

    /// Timeouts and the rest of the policy.
    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The endpoints of `service` when it is served over HTTP.
    pub(crate) fn upstream_balancer(
        &self,
        service: crate::routes::Service,
    ) -> Option<&crate::balance::Balancer> {
        self.upstreams.balancer(service)
    }

    /// Takes a token for `route`; fails open (unlimited) when the store is down, see [`crate::limit`].
    async fn limit(
        &self,
        route: Route,
        identity: Option<&Identity>,
        client: Option<IpAddr>,
    ) -> Result<Option<Decision>, GatewayError> {
        let Some((rule, rate)) = route
            .limit
            .and_then(|rule| rate_of(&self.policy.limits, rule).map(|rate| (rule, rate)))
        else {
            return Ok(None);
        };
        let subject = match (identity, rule) {
            (Some(identity), LimitRule::Write | LimitRule::Comment) => {
                identity.claims().sub.clone()
            }
            _ => client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
        };
        match self.limiter.take(rule, rate, &subject).await {
            Ok(decision) if decision.allowed => Ok(Some(decision)),
            Ok(decision) => Err(GatewayError::RateLimited(rule, decision)),
            Err(e) => {
                tracing::warn!(error = %platform::http::ErrorChain(&e), "rate limit not checked");
                metrics::counter!("gateway_rate_limit_unavailable_total").increment(1);
                Ok(None)
            }
        }
    }
}

/// The status a failed forward is answered with (as [`GatewayError::to_api_error`] maps it).
fn proxy_status(error: &ProxyError) -> StatusCode {
    match error {
        ProxyError::Unreachable(_) => StatusCode::BAD_GATEWAY,
        ProxyError::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
        ProxyError::ClientBody(_) => StatusCode::BAD_REQUEST,
    }
}

fn health() -> Response {
    let mut response = Response::new(Body::from(HEALTH_TEXT));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

//! Forwarding to an upstream: a pooled keep-alive HTTP/1.1 client (or an in-process router in
//! standalone mode), bodies streamed both ways, hop-by-hop headers removed, `X-Forwarded-*` set.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::header::{self, HeaderMap, HeaderName};
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;

use crate::balance::{Balancer, Fault, Lease, Reach, View, may_retry};
use crate::config::Policy;
use crate::routes::Service;

/// Where one prefix is served.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A service over HTTP, at every address its configured `host:port`s resolve to.
    Http(Arc<Balancer>),
    /// A router in this process (standalone mode).
    Local(Router),
}

/// The three upstreams and the shared client.
#[derive(Debug, Clone)]
pub struct Upstreams {
    member: Upstream,
    gallery: Upstream,
    post: Upstream,
    client: Client<HttpConnector, Body>,
    response_timeout: Duration,
}

/// Why forwarding failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Refused, reset or closed before answering, or answered nonsense (502).
    #[error("upstream unreachable")]
    Unreachable(#[source] BoxError),
    /// No connection or no response head in time (504).
    #[error("upstream timed out")]
    TimedOut(#[source] Option<BoxError>),
    /// The client's (small) body could not be read before forwarding (400).
    #[error("request body could not be read")]
    ClientBody(#[source] axum::Error),
}

/// Any error, as a cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Identity headers only the gateway may set; whatever a client sends under these names is dropped.
pub const IDENTITY_HEADERS: [HeaderName; 5] = [
    HeaderName::from_static("x-member-id"),
    HeaderName::from_static("x-member-role"),
    HeaderName::from_static("x-session-id"),
    HeaderName::from_static("x-access-token"),
    HeaderName::from_static("x-access-token-exp"),
];

/// Removes hop-by-hop headers, including those the `Connection` header names: the one table of
/// [`crate::forwarding::is_hop_by_hop`], which the wire front end applies to header lines.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let lines = crate::forwarding::lines(headers);
    let dropped: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str().as_bytes();
            crate::forwarding::is_hop_by_hop(name)
                || crate::forwarding::named_by_connection(lines.iter().copied(), name)
        })
        .cloned()
        .collect();
    for name in &dropped {
        headers.remove(name);
    }
}

impl Upstreams {
    /// HTTP upstreams behind these balancers.
    pub fn http(
        member: Arc<Balancer>,
        gallery: Arc<Balancer>,
        post: Arc<Balancer>,
        policy: &Policy,
    ) -> Self {
        Self::new(
            Upstream::Http(member),
            Upstream::Http(gallery),
            Upstream::Http(post),
            policy,
        )
    }

    /// Any mix of upstreams.
    pub fn new(member: Upstream, gallery: Upstream, post: Upstream, policy: &Policy) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(policy.connect_timeout));
        // The services (hyper servers) close a keep-alive connection that stays idle for 30 s;
        // reusing one at that moment fails a non-idempotent request with "connection closed
        // before message completed" (seen as a 502 in the end-to-end journeys). Dropping idle
        // connections well before that avoids the race.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(512)
            .build(connector);
        Self {
            member,
            gallery,
            post,
            client,
            response_timeout: policy.response_timeout,
        }
    }

    /// The endpoints of `service` when it is reached over HTTP.
    pub fn balancer(&self, service: Service) -> Option<&Balancer> {
        match self.of(service) {
            Upstream::Http(balancer) => Some(balancer),
            Upstream::Local(_) => None,
        }
    }

    fn of(&self, service: Service) -> &Upstream {
        match service {
            Service::Member => &self.member,
            Service::Gallery => &self.gallery,
            Service::Post => &self.post,
        }
    }

    /// Sends `request` (headers already prepared by [`crate::forwarding::rewrite`], hop-by-hop ones
    /// gone) and returns the upstream's answer, streaming.
    pub async fn send(
        &self,
        service: Service,
        request: Request<Body>,
    ) -> Result<Response<Body>, ProxyError> {
        let response = match self.of(service) {
            Upstream::Local(router) => match router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Upstream::Http(balancer) => self.send_http(balancer, request).await?,
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, body))
    }

    async fn send_http(
        &self,
        balancer: &Balancer,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, ProxyError> {
        *request.version_mut() = Version::HTTP_11;
        let mut view = View::default();
        let lease = balancer.lease(&mut view).await.ok_or_else(no_address)?;
        if !is_replayable(&request) {
            // Its body is streamed as it arrives: there is nothing left to send a second time.
            return match self.send_once(at(&lease, request)).await {
                Ok(response) => Ok(leased(response, lease)),
                Err(failed) => {
                    lease.failed(failed.fault);
                    Err(failed.error)
                }
            };
        }
        let (parts, body) = request.into_parts();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .map_err(ProxyError::ClientBody)?
            .to_bytes();
        let whole = Whole { parts, bytes };
        let mut lease = lease;
        let mut retried = false;
        loop {
            let failed = match self.attempt(&lease, &whole).await {
                Ok(response) => return Ok(leased(response, lease)),
                Err(failed) => failed,
            };
            lease.failed(failed.fault);
            let again = !retried && may_retry(&whole.parts.method, failed.reach, true);
            match again.then(|| balancer.retry(&mut view, &lease)).flatten() {
                Some(next) => lease = next,
                None => return Err(failed.error),
            }
            retried = true;
        }
    }

    /// Sends a request held whole to `lease`'s endpoint, and once more on another connection
    /// there when the pooled one turned out to be closing: a service that answers early without
    /// reading a body (a 404 to a multipart upload) closes that connection, and the pool may hand
    /// it out once more before noticing. Such a request never reached the service.
    async fn attempt(&self, lease: &Lease, whole: &Whole) -> Result<Response<Body>, Failed> {
        match self.send_once(at(lease, whole.copy())).await {
            Err(failed) if failed.closed => {
                tracing::debug!("pooled upstream connection was closing; sending again");
                self.send_once(at(lease, whole.copy()))
                    .await
                    .map_err(|f| Failed {
                        reach: if f.reach == Reach::NotSent {
                            Reach::Unanswered
                        } else {
                            f.reach
                        },
                        ..f
                    })
            }
            other => other,
        }
    }

    async fn send_once(&self, request: Request<Body>) -> Result<Response<Body>, Failed> {
        let sent = tokio::time::timeout(self.response_timeout, self.client.request(request));
        match sent.await {
            Err(_elapsed) => Err(Failed::answered(ProxyError::TimedOut(None))),
            Ok(Err(e)) => Err(Failed::from_client(e)),
            Ok(Ok(response)) => Ok(response.map(Body::new)),
        }
    }
}

/// A request read whole, so that it can be sent more than once.
struct Whole {
    parts: http::request::Parts,
    bytes: bytes::Bytes,
}

impl Whole {
    fn copy(&self) -> Request<Body> {
        let mut again = Request::new(Body::from(self.bytes.clone()));
        *again.method_mut() = self.parts.method.clone();
        *again.uri_mut() = self.parts.uri.clone();
        *again.version_mut() = self.parts.version;
        *again.headers_mut() = self.parts.headers.clone();
        again
    }
}

/// `request` addressed to `lease`'s endpoint: the client connects to the address (its pool is
/// kept per address), the service sees its configured name as `Host`.
fn at(lease: &Lease, mut request: Request<Body>) -> Request<Body> {
    let path = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *request.uri_mut() = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(lease.target().clone())
        .path_and_query(path)
        .build()
        .unwrap_or_default();
    let host = http::HeaderValue::from_str(lease.authority().as_str());
    if let Ok(host) = host {
        request.headers_mut().insert(header::HOST, host);
    }
    request
}

/// The answer, its endpoint counted as busy until the body has been relayed.
fn leased(response: Response<Body>, lease: Lease) -> Response<Body> {
    lease.succeeded();
    response.map(|body| {
        Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
            let _ = &lease;
            frame
        }))
    })
}

fn no_address() -> ProxyError {
    ProxyError::Unreachable("no address is known for the upstream".into())
}

/// A failed send: the error the client gets, what it says about the endpoint, and how far the
/// request got.
struct Failed {
    error: ProxyError,
    fault: Fault,
    reach: Reach,
    /// The connection closed before the response (possibly a pooled one the service had closed).
    closed: bool,
}

impl Failed {
    fn answered(error: ProxyError) -> Self {
        Self {
            error,
            fault: Fault::Other,
            reach: Reach::Answered,
            closed: false,
        }
    }

    fn from_client(e: hyper_util::client::legacy::Error) -> Self {
        let timeout = is_timeout(&e);
        if e.is_connect() {
            return Self {
                error: if timeout {
                    ProxyError::TimedOut(Some(Box::new(e)))
                } else {
                    ProxyError::Unreachable(Box::new(e))
                },
                fault: Fault::Down,
                reach: Reach::NotSent,
                closed: false,
            };
        }
        if timeout || hyper_cause(&e).is_some_and(hyper::Error::is_parse) {
            let error = if timeout {
                ProxyError::TimedOut(Some(Box::new(e)))
            } else {
                ProxyError::Unreachable(Box::new(e))
            };
            return Self::answered(error);
        }
        Self {
            closed: is_closed_connection(&e),
            error: ProxyError::Unreachable(Box::new(e)),
            fault: Fault::Down,
            reach: Reach::Unanswered,
        }
    }
}

/// Small bodies with a known length (and no body at all) can be read first and sent twice.
fn is_replayable(request: &Request<Body>) -> bool {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
    match length {
        Some(length) => length <= crate::balance::REPLAY_LIMIT,
        None => {
            !chunked
                && matches!(
                    *request.method(),
                    http::Method::GET | http::Method::HEAD | http::Method::DELETE
                )
        }
    }
}

/// The connection closed before the response: hyper's "incomplete message" on a reused connection.
fn is_closed_connection(error: &hyper_util::client::legacy::Error) -> bool {
    hyper_cause(error).is_some_and(|h| h.is_incomplete_message() || h.is_canceled())
}

fn hyper_cause(error: &hyper_util::client::legacy::Error) -> Option<&hyper::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            return Some(hyper);
        }
        source = cause.source();
    }
    None
}

fn is_timeout(error: &hyper_util::client::legacy::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn headers_named_by_connection_are_removed_with_the_standard_hop_by_hop_ones() {
        let mut map = headers(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut map);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["accept"]);
    }
}

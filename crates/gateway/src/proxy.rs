//! Forwarding to an upstream for the hyper path (requests the wire front end hands over, and the
//! router served on its own): hyper's HTTP/1.1 client codec over the worker's pooled upstream
//! connections ([`crate::pool`], shared with the wire front end), with the same balancer, replay
//! and retry rules; or an in-process router in standalone mode. Bodies are streamed both ways,
//! hop-by-hop headers removed, `X-Forwarded-*` set.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::uri::PathAndQuery;
use http::{Request, Response, Uri, Version};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tower::ServiceExt;

use crate::balance::{Balancer, Fault, Lease, Reach, View, may_retry};
use crate::config::Policy;
use crate::pool::{Pool, resend_on_new_connection};
use crate::routes::Service;

/// Where one prefix is served.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A service over HTTP, at every address its configured `host:port`s resolve to.
    Http(Arc<Balancer>),
    /// A router in this process (standalone mode).
    Local(Router),
}

/// The three upstreams.
#[derive(Debug, Clone)]
pub struct Upstreams {
    member: Upstream,
    gallery: Upstream,
    post: Upstream,
    /// The pool of a router served on its own; under [`crate::serve`] each request carries its
    /// worker's pool instead.
    own_pool: Arc<Pool>,
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
        Self {
            member,
            gallery,
            post,
            own_pool: Arc::new(Pool::new(policy.connect_timeout)),
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
        mut request: Request<Body>,
    ) -> Result<Response<Body>, ProxyError> {
        let response = match self.of(service) {
            Upstream::Local(router) => match router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Upstream::Http(balancer) => {
                let pool = request
                    .extensions_mut()
                    .remove::<Arc<Pool>>()
                    .unwrap_or_else(|| Arc::clone(&self.own_pool));
                let sender = Sender {
                    pool,
                    response_timeout: self.response_timeout,
                };
                sender.send(balancer, request).await?
            }
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, body))
    }
}

/// Sends requests over one worker's pool.
struct Sender {
    pool: Arc<Pool>,
    response_timeout: Duration,
}

impl Sender {
    async fn send(
        &self,
        balancer: &Balancer,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, ProxyError> {
        *request.version_mut() = Version::HTTP_11;
        let mut view = View::default();
        let lease = balancer.lease(&mut view).await.ok_or_else(no_address)?;
        if !is_replayable(&request) {
            // Its body is streamed as it arrives: there is nothing left to send a second time.
            return match self.attempt(&lease, request, None).await {
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
            let failed = match self.attempt(&lease, whole.copy(), Some(&whole)).await {
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

    /// One endpoint's try, on a pooled connection or a new one; when `whole` (the request held
    /// whole) is given, once more on a new connection if the pooled one turns out to have been
    /// closed by the service ([`resend_on_new_connection`], the wire front end's rule).
    async fn attempt(
        &self,
        lease: &Lease,
        request: Request<Body>,
        whole: Option<&Whole>,
    ) -> Result<Response<Body>, Failed> {
        let mut pooled = self.pool.checkout(lease.endpoint_id());
        let mut request = at(lease, request);
        let mut resent = false;
        loop {
            let reused = pooled.is_some();
            let stream = match pooled.take() {
                Some(stream) => stream,
                None => match self.pool.connect(lease.addr()).await {
                    Ok(stream) => stream,
                    // The first try may have reached the service after all.
                    Err(e) if resent => return Err(Failed::down(e).reached()),
                    Err(e) => return Err(Failed::down(e)),
                },
            };
            let sent = tokio::time::timeout(
                self.response_timeout,
                exchange(&self.pool, lease.endpoint_id(), stream, request),
            );
            let failed = match sent.await {
                Err(_elapsed) => Failed::answered(ProxyError::TimedOut(None)),
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(e)) => Failed::from_hyper(e),
            };
            match whole {
                Some(whole) if resend_on_new_connection(reused, failed.closed, true) => {
                    tracing::debug!("pooled upstream connection was closed; sending again");
                    request = at(lease, whole.copy());
                    resent = true;
                }
                _ if resent => return Err(failed.reached()),
                _ => return Err(failed),
            }
        }
    }
}

/// One exchange on `stream` with hyper's client codec. The connection goes back to `pool` once
/// the response body has been read to its end, when both sides may keep it: hyper hands the
/// socket back only after the exchange is complete, so what is checked in is idle.
async fn exchange(
    pool: &Arc<Pool>,
    endpoint: u64,
    stream: TcpStream,
    request: Request<Body>,
) -> Result<Response<Body>, hyper::Error> {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let (ended, body_ended) = oneshot::channel();
    let pool = Arc::clone(pool);
    tokio::spawn(async move {
        // Resolves once the sender is dropped (below) and the exchange is over.
        let Ok(parts) = connection.without_shutdown().await else {
            return;
        };
        if body_ended.await == Ok(true) && parts.read_buf.is_empty() {
            pool.checkin(endpoint, parts.io.into_inner());
        }
    });
    let response = sender.send_request(request).await;
    drop(sender);
    let response = response?;
    let keep = keeps_connection(&response);
    Ok(response.map(|body| Body::new(Watched::new(body, ended, keep))))
}

/// Whether the service lets the connection be used again after this response.
fn keeps_connection(response: &Response<Incoming>) -> bool {
    response.version() == Version::HTTP_11
        && !response
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

/// A response body that reports whether it was read to its end (`true` only then, and only when
/// the connection may be kept); dropped earlier, it reports nothing and the connection is closed.
struct Watched {
    body: Incoming,
    ended: Option<oneshot::Sender<bool>>,
    keep: bool,
}

impl Watched {
    fn new(body: Incoming, ended: oneshot::Sender<bool>, keep: bool) -> Self {
        let mut watched = Self {
            body,
            ended: Some(ended),
            keep,
        };
        // An empty body may never be polled: the server sees its end at once.
        if hyper::body::Body::is_end_stream(&watched.body) {
            watched.report(true);
        }
        watched
    }

    fn report(&mut self, complete: bool) {
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(complete && self.keep);
        }
    }
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.report(true),
            Poll::Ready(Some(Err(_))) => self.report(false),
            Poll::Ready(Some(Ok(_))) if hyper::body::Body::is_end_stream(&self.body) => {
                self.report(true);
            }
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request read whole, so that it can be sent more than once.
struct Whole {
    parts: http::request::Parts,
    bytes: Bytes,
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

/// `request` for `lease`'s endpoint: in origin form (hyper's codec writes the target as given),
/// with the service's configured name as `Host`.
fn at(lease: &Lease, mut request: Request<Body>) -> Request<Body> {
    let path = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *request.uri_mut() = Uri::from(path);
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
    /// The connection closed before any answer (possibly a pooled one the service had closed).
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

    /// No connection could be made: nothing was sent.
    fn down(error: ProxyError) -> Self {
        Self {
            error,
            fault: Fault::Down,
            reach: Reach::NotSent,
            closed: false,
        }
    }

    /// This failure, after an earlier try of the same request that may have reached the service.
    fn reached(self) -> Self {
        let reach = match self.reach {
            Reach::NotSent => Reach::Unanswered,
            other => other,
        };
        Self { reach, ..self }
    }

    fn from_hyper(e: hyper::Error) -> Self {
        if e.is_parse() {
            return Self::answered(ProxyError::Unreachable(Box::new(e)));
        }
        Self {
            closed: e.is_incomplete_message() || e.is_canceled(),
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

//! Forwarding to an upstream: a pooled keep-alive HTTP/1.1 client (or an in-process router in
//! standalone mode), bodies streamed both ways, hop-by-hop headers removed, `X-Forwarded-*` set.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::header::{self, HeaderMap, HeaderName};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;

use crate::config::Policy;
use crate::routes::Service;

/// Where one prefix is served.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A service over HTTP (`host:port`).
    Http(Authority),
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

/// Bodies up to this size (by `Content-Length`) are read before forwarding, so the request can be
/// sent again once if the pooled connection turns out to be closing.
const REPLAYABLE_BODY: u64 = 256 * 1024;

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus the non-standard ones proxies still see.
pub(crate) const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Identity headers only the gateway may set; whatever a client sends under these names is dropped.
pub const IDENTITY_HEADERS: [HeaderName; 5] = [
    HeaderName::from_static("x-member-id"),
    HeaderName::from_static("x-member-role"),
    HeaderName::from_static("x-session-id"),
    HeaderName::from_static("x-access-token"),
    HeaderName::from_static("x-access-token-exp"),
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
    headers.remove("proxy-connection");
}

impl Upstreams {
    /// HTTP upstreams at these addresses.
    pub fn http(member: Authority, gallery: Authority, post: Authority, policy: &Policy) -> Self {
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

    /// The address of `service` when it is reached over HTTP.
    pub fn authority(&self, service: Service) -> Option<&Authority> {
        match self.of(service) {
            Upstream::Http(authority) => Some(authority),
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
            Upstream::Http(authority) => self.send_http(authority, request).await?,
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, body))
    }

    async fn send_http(
        &self,
        authority: &Authority,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, ProxyError> {
        let path = request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(authority.clone())
            .path_and_query(path)
            .build()
            .unwrap_or_default();
        std::mem::swap(request.uri_mut(), &mut uri);
        *request.version_mut() = Version::HTTP_11;
        // The client sets `Host` to the upstream; the original one travels as X-Forwarded-Host.
        request.headers_mut().remove(header::HOST);
        if !is_replayable(&request) {
            return self.send_once(request).await;
        }
        // A service that answers early without reading a body (a 404 to a multipart upload)
        // closes that connection; the pool may hand it out once more before noticing. Such a
        // request never reached the service, so sending it again on a fresh connection is safe.
        let (parts, body) = request.into_parts();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .map_err(ProxyError::ClientBody)?
            .to_bytes();
        let copy = |bytes: bytes::Bytes| {
            let mut again = Request::new(Body::from(bytes));
            *again.method_mut() = parts.method.clone();
            *again.uri_mut() = parts.uri.clone();
            *again.version_mut() = parts.version;
            *again.headers_mut() = parts.headers.clone();
            again
        };
        match self.send_once(copy(bytes.clone())).await {
            Err(ProxyError::Unreachable(e)) if is_closed_connection(&*e) => {
                tracing::debug!("pooled upstream connection was closing; sending again");
                self.send_once(copy(bytes)).await
            }
            other => other,
        }
    }

    async fn send_once(&self, request: Request<Body>) -> Result<Response<Body>, ProxyError> {
        let sent = tokio::time::timeout(self.response_timeout, self.client.request(request));
        match sent.await {
            Err(_elapsed) => Err(ProxyError::TimedOut(None)),
            Ok(Err(e)) if is_timeout(&e) => Err(ProxyError::TimedOut(Some(Box::new(e)))),
            Ok(Err(e)) => Err(ProxyError::Unreachable(Box::new(e))),
            Ok(Ok(response)) => Ok(response.map(Body::new)),
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
        Some(length) => length <= REPLAYABLE_BODY,
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
fn is_closed_connection(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_canceled())
        {
            return true;
        }
        source = cause.source();
    }
    false
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

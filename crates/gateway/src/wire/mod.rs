//! The gateway's HTTP/1.1 front end in distributed mode.
//!
//! Requests with plain framing (no body, or one `Content-Length`) are parsed, checked by the same
//! [`Gateway`] functions as the axum path (route table, token, session, limits, identity and
//! forwarding headers, CORS, request id, access log) and relayed over pooled upstream
//! connections by one task, bodies streamed both ways without being held. Anything else —
//! chunked or `Expect` requests, upgrades, HTTP/1.0, absolute targets, the operational endpoints —
//! is handed with the bytes already read to hyper serving the axum router for that one request;
//! what hyper forwards goes over the same worker pool ([`crate::pool`]), balancer and retry rules.
//! Every head first passes [`crate::framing`]; one that breaks it is refused here.
//!
//! Parts: [`request`] reads a head and writes the upstream's, [`upstream`] sends it (pool, retry),
//! [`response`] relays the answer, [`answer`] writes the gateway's own answers and drains or
//! lingers, [`io`] and [`deadline`] are the socket and timer helpers.
//!
//! Why not hyper's server and client for everything: per request they cost about three times
//! nginx's CPU (two dispatchers and a channel hop between tasks), and the gateway has to beat
//! nginx while checking every token. Here a forwarded request costs two reads and two writes.

#[cfg(test)]
mod agreement;
mod answer;
mod chunked;
mod deadline;
mod io;
mod request;
mod response;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use bytes::{Bytes, BytesMut};
use http::Method;
use http::header::HeaderValue;
use http::uri::PathAndQuery;
use platform::CancellationToken;
use platform::http::request_id;
use platform::http::server::{Accepting, accept_loop};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use self::answer::{answer, refuse};
use self::deadline::Deadline;
use self::io::{Prefixed, read_some};
use self::request::{Head, Parsed};
use self::upstream::{Forward, forward};
use crate::balance::View;
use crate::connections::Admitted;
use crate::forwarding::{self, Additions};
use crate::framing::{MAX_HEAD, Malformed};
use crate::handler::{Admission, Destination, Gateway, GatewayError, PREFLIGHT};
use crate::pool::Pool;
use crate::proxy::ProxyError;
use crate::routes::Service;
use crate::trace::{self, Hop};

/// How long a connection may sit without sending a complete request head (hyper's default).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Request bodies the gateway refuses are read and dropped up to this size to keep the
/// connection; larger ones close it.
const DRAIN_LIMIT: u64 = 1024 * 1024;
/// A refused body must have been read whole within this time, or the connection is closed: a
/// client trickling it would otherwise hold the connection for as long as it likes.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);
/// After answering a client whose body was not read, the rest is read and dropped for this long
/// before closing, so that the client sees the answer instead of a reset.
const LINGER: Duration = Duration::from_secs(2);

/// Serves the gateway on `listener` until `shutdown`; in-flight requests get `grace` to finish.
/// `ops` are the operational routes (`/livez`, `/readyz`, `/metrics`).
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    ops: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        pool: Arc::new(Pool::new(gateway.policy().connect_timeout)),
        fallback: crate::router(Arc::clone(&gateway)).merge(ops),
        gateway,
        shutdown: shutdown.clone(),
    });
    let accepting = Accepting {
        shutdown,
        grace,
        // Past its cap the gateway answers 503 itself instead of leaving clients in the backlog.
        max_connections: None,
    };
    accept_loop(listener, accepting, |stream, peer| {
        let admitted = shared.gateway.connections().admit();
        connection(Arc::clone(&shared), stream, peer, admitted)
    })
    .await
}

struct Shared {
    gateway: Arc<Gateway>,
    /// This worker's upstream connections, for both front ends.
    pool: Arc<Pool>,
    fallback: Router,
    shutdown: CancellationToken,
}

/// One client connection and the buffers it reuses from request to request.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    peer_header: crate::forwarding::Peer,
    input: BytesMut,
    upstream_input: BytesMut,
    output: Vec<u8>,
    /// The spans of a response head's lines, a buffer kept from response to response.
    response_lines: Vec<response::Span>,
    /// This connection's copy of each service's endpoints, indexed by [`service_index`].
    views: [View; 3],
}

/// What to do with the connection after a request.
enum Next {
    KeepAlive,
    Close,
    /// Give the connection to hyper, with these bytes read but not handled.
    HandOver(Bytes),
}

/// Serves a connection; one past the cap (`admitted` is `None`) gets 503 and is closed.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    admitted: Option<Admitted>,
) {
    let mut client = Client {
        stream,
        peer,
        peer_header: crate::forwarding::Peer::new(peer.ip()),
        input: BytesMut::with_capacity(8 * 1024),
        upstream_input: BytesMut::new(),
        output: Vec::with_capacity(1024),
        response_lines: Vec::new(),
        views: Default::default(),
    };
    let mut deadlines = Deadlines {
        head: Deadline::new(),
        response: Deadline::new(),
        shutdown: Box::pin(shared.shutdown.clone().cancelled_owned()),
    };
    let Some(_admitted) = admitted else {
        tracing::warn!(%peer, "client connection refused: at GATEWAY_MAX_CONNECTIONS");
        let context = Context::unread(request_id(None), None);
        let response = GatewayError::Overloaded.into_response();
        answer(&shared, &mut client, &context, response, "overloaded", None).await;
        return;
    };
    loop {
        match serve_one(&shared, &mut client, &mut deadlines).await {
            Next::KeepAlive => {}
            Next::Close => return,
            Next::HandOver(prefix) => return hand_over(&shared, client, prefix).await,
        }
    }
}

/// Serves one request of a connection with hyper and the axum router (the full HTTP/1.1
/// semantics: chunked and `Expect` bodies, upgrades, HTTP/1.0), then closes it.
async fn hand_over(shared: &Shared, client: Client, prefix: Bytes) {
    let io = hyper_util::rt::TokioIo::new(Prefixed::new(prefix, client.stream));
    let router = shared.fallback.clone();
    let peer = client.peer;
    let pool = Arc::clone(&shared.pool);
    let service = hyper::service::service_fn(move |mut request: http::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        // Forwarded over this worker's pool, as the wire front end's requests are.
        request.extensions_mut().insert(Arc::clone(&pool));
        router.clone().oneshot(request)
    });
    // One request, then the connection closes: a next head on it must pass the framing rules
    // here again instead of reaching hyper unchecked.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive(false)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shared.shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The request head at the front of `input`, or why there is none.
enum HeadRead {
    Complete(usize),
    Closed,
    TooLarge,
}

async fn read_head(client: &mut Client, deadlines: &mut Deadlines) -> HeadRead {
    // Where the search for the end stopped: a head trickling in is not searched from the start
    // on every read.
    let mut searched = 0;
    loop {
        if searched == 0 {
            skip_empty_lines(&mut client.input);
        }
        if let Some(end) = request::head_end(&client.input, searched) {
            return HeadRead::Complete(end);
        }
        if client.input.len() >= MAX_HEAD {
            return HeadRead::TooLarge;
        }
        // The last two bytes may begin the empty line.
        searched = client.input.len().saturating_sub(2);
        // Under load the next request is often there already: read it without arming a timer.
        match io::read_now(&client.stream, &mut client.input) {
            Some(Ok(n)) if n > 0 => continue,
            Some(_) => return HeadRead::Closed,
            None => {}
        }
        let idle = client.input.is_empty();
        let read = tokio::select! {
            read = read_some(&mut client.stream, &mut client.input) => read,
            () = deadlines.head.passed() => return HeadRead::Closed,
            () = deadlines.shutdown.as_mut(), if idle => return HeadRead::Closed,
        };
        match read {
            Ok(n) if n > 0 => {}
            _ => return HeadRead::Closed,
        }
    }
}

/// Drops empty lines before a request line (RFC 9112 §2.2: some clients send a CRLF after a
/// body), which would otherwise read as an empty head.
fn skip_empty_lines(input: &mut BytesMut) {
    let blank = input
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(input.len());
    // Only whole line ends: a lone CR at the end may begin one.
    let whole = input[..blank]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let _ = input.split_to(whole);
}

/// The two deadlines of a connection: a complete head within [`HEAD_TIMEOUT`], a response head
/// within the policy's response timeout.
struct Deadlines {
    head: Deadline,
    response: Deadline,
    /// Made once per connection: a cancellation future registers with the token when created.
    shutdown: std::pin::Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
}

/// What the access log and the answer need from the request.
#[derive(Clone)]
struct Context {
    started: Instant,
    request_id: HeaderValue,
    origin: Option<HeaderValue>,
    method: Method,
    target: PathAndQuery,
    body_len: u64,
    close: bool,
    /// The trace context passed on and the gateway's span, ended with the access-log record.
    trace: Option<Arc<Hop>>,
}

impl Context {
    /// For an answer given without reading (a request the connection cap or the framing rules
    /// refuse), closing the connection; `line` is what could be read of the request line.
    fn unread(request_id: HeaderValue, line: Option<(Method, PathAndQuery)>) -> Self {
        let (method, target) =
            line.unwrap_or_else(|| (Method::GET, PathAndQuery::from_static("*")));
        Self {
            started: Instant::now(),
            request_id,
            origin: None,
            method,
            target,
            body_len: 0,
            close: true,
            trace: None,
        }
    }
}

async fn serve_one(shared: &Shared, client: &mut Client, deadlines: &mut Deadlines) -> Next {
    deadlines.head.set(Instant::now() + HEAD_TIMEOUT);
    let head_len = match read_head(client, deadlines).await {
        HeadRead::Complete(n) => n,
        HeadRead::Closed => return Next::Close,
        HeadRead::TooLarge => return refuse(shared, client, Malformed::HeadTooLarge, None).await,
    };
    let head = client.input.split_to(head_len).freeze();
    let mut slots = request::slots();
    let request = match Parsed::parse(&head, &mut slots) {
        Parsed::Plain(request) if is_ours(&request) => request,
        Parsed::Plain(_) | Parsed::Hyper => return Next::HandOver(unread(&head, client)),
        Parsed::Refused(malformed, line) => return refuse(shared, client, malformed, line).await,
    };
    let mut context = Context {
        started: Instant::now(),
        request_id: request_id(forwarding::first(request.lines(), "x-request-id")),
        origin: request::shared_value(&head, &request, "origin"),
        method: request.method.clone(),
        target: request.target.clone(),
        body_len: request.body_len,
        close: request.close,
        trace: None,
    };
    let gateway = &shared.gateway;
    if context.method == Method::OPTIONS {
        let headers = forwarding::header_map(request.lines());
        if let Some(response) = gateway.preflight(&context.method, &headers) {
            return answer(shared, client, &context, response, PREFLIGHT, None).await;
        }
    }
    let route = match gateway.destination(&context.method, context.target.path()) {
        Destination::Upstream(route) => route,
        Destination::Local(response, label) => {
            return answer(shared, client, &context, response, label, None).await;
        }
    };
    let Some(balancer) = gateway.upstream_balancer(route.service) else {
        return Next::HandOver(unread(&head, client));
    };
    let hops = gateway.policy().forwarded_hops;
    let from = forwarding::client_address(request.lines(), Some(client.peer.ip()), hops);
    let traced = trace::Request {
        method: &context.method,
        route: route.name,
        path: context.target.path(),
        request_id: &context.request_id,
        started: context.started,
    };
    // Begun before admission, so that the session and rate-limit lookups are the span's children
    // and a refused request is traced too.
    context.trace = Hop::begin(request.lines(), hops, &traced).map(Arc::new);
    let admit = gateway.admit(route, forwarding::token(request.lines()), from);
    let admission = match &context.trace {
        Some(hop) => hop.scope(admit).await,
        None => admit.await,
    };
    let Admission { identity, verdict } = admission;
    let member = identity.as_ref().map(|i| i.claims().sub.as_str());
    let decision = match verdict {
        Ok(decision) => decision,
        Err(e) => {
            let response = e.into_response();
            return answer(shared, client, &context, response, route.name, member).await;
        }
    };
    let view = &mut client.views[service_index(route.service)];
    let Some(lease) = balancer.lease(view).await else {
        let error = GatewayError::Proxy(ProxyError::Unreachable(
            "no address is known for the upstream".into(),
        ));
        return answer(
            shared,
            client,
            &context,
            error.into_response(),
            route.name,
            member,
        )
        .await;
    };
    let additions = Additions {
        request_id: &context.request_id,
        peer: Some(&client.peer_header),
        hops,
        identity: identity.as_ref(),
        trace: context.trace.as_deref().and_then(Hop::wire),
    };
    client.output.clear();
    let host =
        request::write_upstream_head(&mut client.output, &request, lease.authority(), &additions);
    let forwarded = Forward {
        route,
        member,
        decision,
        balancer,
    };
    let deadline = &mut deadlines.response;
    forward(
        shared,
        client,
        deadline,
        &context,
        &forwarded,
        (lease, host),
    )
    .await
}

fn service_index(service: Service) -> usize {
    match service {
        Service::Member => 0,
        Service::Gallery => 1,
        Service::Post => 2,
    }
}

/// Requests for the API and the health check.
fn is_ours(head: &Head<'_>) -> bool {
    let path = head.target.path();
    path.starts_with("/api/") || path == "/health"
}

/// The head and whatever followed it, for hyper to read again.
fn unread(head: &Bytes, client: &mut Client) -> Bytes {
    let mut prefix = BytesMut::from(&head[..]);
    prefix.extend_from_slice(&client.input.split());
    prefix.freeze()
}

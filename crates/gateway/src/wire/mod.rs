//! The gateway's HTTP/1.1 front end in distributed mode.
//!
//! Requests with plain framing (no body, or one `Content-Length`) are parsed, checked by the same
//! [`Gateway`] functions as the axum path (route table, token, session, limits, identity and
//! forwarding headers, CORS, request id, access log) and relayed over pooled upstream
//! connections by one task, bodies streamed both ways without being held. Anything else —
//! chunked or `Expect` requests, upgrades, HTTP/1.0, absolute targets, heads hyper would refuse,
//! the operational endpoints — is handed with the bytes already read to hyper serving the axum
//! router, which keeps that connection.
//!
//! Why not hyper's server and client for everything: per request they cost about three times
//! nginx's CPU (two dispatchers and a channel hop between tasks), and the gateway has to beat
//! nginx while checking every token. Here a forwarded request costs two reads and two writes.

#[cfg(test)]
mod agreement;
mod chunked;
mod io;
mod pool;
mod request;

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use platform::CancellationToken;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use self::chunked::Chunked;
use self::io::{Prefixed, Sent, read_some, write_all, write_until_answered};
use self::pool::Pool;
use self::request::{Head, Parsed};
use crate::balance::{Balancer, Fault, Lease, Reach, View, may_retry};
use crate::connections::Admitted;
use crate::forwarding::{self, Additions};
use crate::framing::{MAX_HEAD, MAX_HEADERS, Malformed};
use crate::handler::{
    Admission, Destination, Gateway, GatewayError, PREFLIGHT, Record, limit_headers, request_id,
};
use crate::limit::Decision;
use crate::proxy::ProxyError;
use crate::routes::{Route, Service};

/// How long a connection may sit without sending a complete request head (hyper's default).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Request bodies the gateway refuses are read and dropped up to this size to keep the
/// connection; larger ones close it.
const DRAIN_LIMIT: u64 = 1024 * 1024;
/// A refused body must have been read whole within this time, or the connection is closed: a
/// client trickling it would otherwise hold the connection for as long as it likes.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);
/// A request whose head and body fit in this many bytes is sent again once when a pooled
/// connection turns out to be closed.
const REPLAY_LIMIT: usize = 256 * 1024;
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
        pool: Pool::new(gateway.policy().connect_timeout),
        fallback: crate::router(Arc::clone(&gateway)).merge(ops),
        gateway,
        shutdown: shutdown.clone(),
    });
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Answers are written whole; Nagle would hold the last segment for an ACK.
                let _ = stream.set_nodelay(true);
                let admitted = shared.gateway.connections().admit();
                connections.spawn(connection(Arc::clone(&shared), stream, peer, admitted));
            }
            Err(e) => {
                // Out of file descriptors or similar: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "in-flight requests did not finish in time; closing them"
        );
    }
    Ok(())
}

struct Shared {
    gateway: Arc<Gateway>,
    pool: Pool,
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
    let service = hyper::service::service_fn(move |mut request: http::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
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

/// A deadline whose timer moves lazily: setting a later deadline (every request does) only records
/// it, and the timer, when it fires early, re-arms itself for the recorded time. Arming and
/// cancelling a timer for every request cost more than the rest of the request bookkeeping.
struct Deadline {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    at: tokio::time::Instant,
}

impl Deadline {
    fn new() -> Self {
        let far = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);
        Self {
            timer: Box::pin(tokio::time::sleep_until(far)),
            at: far,
        }
    }

    fn set(&mut self, at: impl Into<tokio::time::Instant>) {
        self.at = at.into();
        if self.at < self.timer.deadline() {
            self.timer.as_mut().reset(self.at);
        }
    }

    /// Completes once the recorded deadline has passed.
    async fn passed(&mut self) {
        loop {
            self.timer.as_mut().await;
            if tokio::time::Instant::now() >= self.at {
                return;
            }
            let at = self.at;
            self.timer.as_mut().reset(at);
        }
    }
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
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let request = match Parsed::parse(&head, &mut slots) {
        Parsed::Plain(request) if is_ours(&request) => request,
        Parsed::Plain(_) | Parsed::Hyper => return Next::HandOver(unread(&head, client)),
        Parsed::Refused(malformed, line) => return refuse(shared, client, malformed, line).await,
    };
    let context = Context {
        started: Instant::now(),
        request_id: request_id(forwarding::first(request.lines(), "x-request-id")),
        origin: request::shared_value(&head, &request, "origin"),
        method: request.method.clone(),
        target: request.target.clone(),
        body_len: request.body_len,
        close: request.close,
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
    let admission = gateway
        .admit(route, forwarding::token(request.lines()), from)
        .await;
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

/// Writes an answer the gateway made itself (whole body in hand).
async fn answer(
    shared: &Shared,
    client: &mut Client,
    context: &Context,
    response: Response,
    route: &'static str,
    member: Option<&str>,
) -> Next {
    let (mut parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    shared.gateway.finish_headers(
        &mut parts.headers,
        context.origin.as_ref(),
        &context.request_id,
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    // A body the gateway refuses is not forwarded: small ones are read and dropped, larger ones
    // end the connection.
    let unread = context.body_len;
    let close = context.close || unread > DRAIN_LIMIT;
    let out = &mut client.output;
    out.clear();
    // A 204 (a preflight's answer) or 304 carries no body and no length (RFC 9110 §8.6).
    let bodiless = matches!(
        parts.status,
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    );
    let framing = if bodiless {
        Framing::None
    } else {
        Framing::Length(body.len() as u64)
    };
    write_response_head(out, parts.status, &parts.headers, framing, close);
    if context.method != Method::HEAD && !bodiless {
        out.extend_from_slice(&body);
    }
    let written = write_all(&client.stream, out).await;
    record(shared, context, parts.status, route, member);
    if written.is_err() {
        return Next::Close;
    }
    if close {
        linger(client).await;
        return Next::Close;
    }
    match drain(client, unread).await {
        Ok(()) => Next::KeepAlive,
        Err(_) => Next::Close,
    }
}

/// Answers a head that broke the framing rules (400 or 431 in the error shape) and closes the
/// connection: where its body ends is unknown, so nothing after it can be read as a request.
async fn refuse(
    shared: &Shared,
    client: &mut Client,
    malformed: Malformed,
    line: Option<(Method, PathAndQuery)>,
) -> Next {
    tracing::debug!(peer = %client.peer, error = %malformed, "request head refused");
    let context = Context::unread(request_id(None), line);
    let response = GatewayError::Malformed(malformed).into_response();
    answer(shared, client, &context, response, "malformed", None).await
}

fn record(
    shared: &Shared,
    context: &Context,
    status: StatusCode,
    route: &'static str,
    member: Option<&str>,
) {
    shared.gateway.record(&Record {
        request_id: &context.request_id,
        method: &context.method,
        path: context.target.path(),
        status,
        elapsed: context.started.elapsed(),
        member,
        route,
    });
}

/// Reads and drops `len` body bytes, within [`DRAIN_DEADLINE`].
async fn drain(client: &mut Client, mut len: u64) -> std::io::Result<()> {
    let deadline = tokio::time::Instant::now() + DRAIN_DEADLINE;
    loop {
        let buffered = client
            .input
            .len()
            .min(usize::try_from(len).unwrap_or(usize::MAX));
        let _ = client.input.split_to(buffered);
        len -= buffered as u64;
        if len == 0 {
            return Ok(());
        }
        let read =
            tokio::time::timeout_at(deadline, read_some(&mut client.stream, &mut client.input));
        match read.await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

/// Closes our side, then reads and drops whatever the client still sends for a moment: closing
/// with unread input would reset the connection and could destroy the answer in flight.
async fn linger(client: &mut Client) {
    let _ = tokio::io::AsyncWriteExt::shutdown(&mut client.stream).await;
    let deadline = tokio::time::Instant::now() + LINGER;
    loop {
        client.input.clear();
        let read =
            tokio::time::timeout_at(deadline, read_some(&mut client.stream, &mut client.input));
        match read.await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
}

/// A request admitted for forwarding.
struct Forward<'a> {
    route: Route,
    member: Option<&'a str>,
    decision: Option<Decision>,
    balancer: &'a Balancer,
}

/// How the end of a response body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A parsed upstream response head.
struct ResponseHead {
    status: StatusCode,
    /// The head as received (status line to the empty line).
    raw: Bytes,
    framing: Framing,
    reusable: bool,
}

async fn forward(
    shared: &Shared,
    client: &mut Client,
    deadline: &mut Deadline,
    context: &Context,
    forward: &Forward<'_>,
    (mut lease, mut host): (Lease, Range<usize>),
) -> Next {
    // The head is in `client.output`; the part of the body that came with it travels with it.
    let out = &mut client.output;
    let buffered = client
        .input
        .len()
        .min(usize::try_from(context.body_len).unwrap_or(usize::MAX));
    out.extend_from_slice(&client.input.split_to(buffered));
    let remaining = context.body_len - buffered as u64;
    let sending = Sending {
        method: &context.method,
        remaining,
        replayable: remaining == 0 && out.len() <= REPLAY_LIMIT,
    };

    deadline.set(context.started + shared.gateway.policy().response_timeout);
    let exchanging = exchange(shared, client, forward, (&mut lease, &mut host), &sending);
    let exchanged = tokio::select! {
        exchanged = exchanging => exchanged,
        () = deadline.passed() => {
            lease.failed(Fault::Other);
            Err(Failure::Upstream(Broken::answered(ProxyError::TimedOut(None))))
        }
    };
    match exchanged {
        Ok(exchanged) => respond(shared, client, context, forward, exchanged, lease).await,
        Err(Failure::ClientGone) => Next::Close,
        Err(Failure::Upstream(broken)) => {
            drop(lease);
            failed(shared, client, context, forward, broken.error, remaining).await
        }
    }
}

/// Answers a failed forward in the error shape (502/504).
async fn failed(
    shared: &Shared,
    client: &mut Client,
    context: &Context,
    forward: &Forward<'_>,
    error: ProxyError,
    unread: u64,
) -> Next {
    let response = GatewayError::Proxy(error).into_response();
    // How much of a streamed body went upstream is unknown: such a connection cannot go on.
    let context = Context {
        body_len: 0,
        close: context.close || unread > 0,
        ..context.clone()
    };
    answer(
        shared,
        client,
        &context,
        response,
        forward.route.name,
        forward.member,
    )
    .await
}

enum Failure {
    ClientGone,
    Upstream(Broken),
}

/// An attempt that failed on the upstream's side.
struct Broken {
    error: ProxyError,
    fault: Fault,
    /// Something came back (an answer that cannot be relayed), or nothing in time.
    answered: bool,
}

impl Broken {
    fn down(error: ProxyError) -> Failure {
        Failure::Upstream(Self {
            error,
            fault: Fault::Down,
            answered: false,
        })
    }

    fn answered(error: ProxyError) -> Self {
        Self {
            error,
            fault: Fault::Other,
            answered: true,
        }
    }
}

/// What is being sent: the request's method, the body bytes still to read from the client, and
/// whether all of it is in `client.output` and small enough to send again.
struct Sending<'a> {
    method: &'a Method,
    remaining: u64,
    replayable: bool,
}

/// A response head and the connection it came on.
struct Exchanged {
    stream: TcpStream,
    head: ResponseHead,
    /// The whole request body went upstream (the connection can be reused).
    body_sent: bool,
}

/// Sends the request (in `client.output`, plus `sending.remaining` body bytes still to read from
/// the client) and reads the response head; on failure, once more on another endpoint when
/// [`may_retry`] allows. `lease` and the `host` line in `client.output` follow the endpoint.
async fn exchange(
    shared: &Shared,
    client: &mut Client,
    forward: &Forward<'_>,
    (lease, host): (&mut Lease, &mut Range<usize>),
    sending: &Sending<'_>,
) -> Result<Exchanged, Failure> {
    let mut written = false;
    let mut retried = false;
    loop {
        let broken = match attempt(shared, client, lease, sending, &mut written).await {
            Ok(exchanged) => {
                lease.succeeded();
                return Ok(exchanged);
            }
            Err(Failure::ClientGone) => return Err(Failure::ClientGone),
            Err(Failure::Upstream(broken)) => broken,
        };
        lease.failed(broken.fault);
        let reach = match (broken.answered, written) {
            (true, _) => Reach::Answered,
            (false, true) => Reach::Unanswered,
            (false, false) => Reach::NotSent,
        };
        let view = &mut client.views[service_index(forward.route.service)];
        let again = !retried && may_retry(sending.method, reach, sending.replayable);
        let Some(next) = again.then(|| forward.balancer.retry(view, lease)).flatten() else {
            return Err(Failure::Upstream(broken));
        };
        tracing::debug!(error = %platform::http::ErrorChain(&broken.error), "sending again to another endpoint");
        request::replace_host(&mut client.output, host, next.authority());
        *lease = next;
        retried = true;
    }
}

/// One endpoint's try: a pooled connection, or a new one. `written` is set once any byte of the
/// request may have reached an upstream.
async fn attempt(
    shared: &Shared,
    client: &mut Client,
    lease: &Lease,
    sending: &Sending<'_>,
    written: &mut bool,
) -> Result<Exchanged, Failure> {
    let mut pooled = shared.pool.checkout(lease.endpoint_id());
    loop {
        let reused = pooled.is_some();
        let mut stream = match pooled.take() {
            Some(stream) => stream,
            None => shared
                .pool
                .connect(lease.addr())
                .await
                .map_err(Broken::down)?,
        };
        client.upstream_input.clear();
        *written = true;
        let mut body_sent = write_until_answered(&stream, &client.output).await == Sent::All;
        if body_sent && sending.remaining > 0 {
            body_sent = relay_request_body(client, &stream, sending.remaining).await?;
        }
        match read_response_head(&mut stream, &mut client.upstream_input).await {
            Ok(head) => {
                return Ok(Exchanged {
                    stream,
                    head,
                    body_sent,
                });
            }
            // A pooled connection the service had closed: the request never reached it.
            Err(Stale::BeforeAnyByte) if reused && sending.replayable => {
                tracing::debug!("pooled upstream connection was closed; sending again");
            }
            Err(Stale::BeforeAnyByte) => {
                return Err(Broken::down(ProxyError::Unreachable(
                    "upstream closed the connection before answering".into(),
                )));
            }
            Err(Stale::Cut(e)) => return Err(Broken::down(e)),
            Err(Stale::Invalid(e)) => return Err(Failure::Upstream(Broken::answered(e))),
        }
    }
}

/// Streams the rest of the request body; `false` when the upstream answered before the end.
async fn relay_request_body(
    client: &mut Client,
    upstream: &TcpStream,
    mut remaining: u64,
) -> Result<bool, Failure> {
    while remaining > 0 {
        client.input.clear();
        let read = tokio::select! {
            biased;
            _ = upstream.readable() => return Ok(false),
            read = read_some(&mut client.stream, &mut client.input) => read,
        };
        let n = match read {
            Ok(n) if n > 0 => n,
            _ => return Err(Failure::ClientGone),
        };
        let take = n.min(usize::try_from(remaining).unwrap_or(usize::MAX));
        // Bytes beyond the body would be a pipelined request; kept in `input` for later.
        let chunk = client.input.split_to(take);
        remaining -= take as u64;
        if write_until_answered(upstream, &chunk).await == Sent::Answered {
            return Ok(false);
        }
    }
    Ok(true)
}

enum Stale {
    /// Closed without sending anything.
    BeforeAnyByte,
    /// Closed or failed in the middle of the head.
    Cut(ProxyError),
    /// A head that cannot be relayed.
    Invalid(ProxyError),
}

async fn read_response_head(
    stream: &mut TcpStream,
    input: &mut BytesMut,
) -> Result<ResponseHead, Stale> {
    let invalid =
        |message: &str| Stale::Invalid(ProxyError::Unreachable(message.to_owned().into()));
    loop {
        match read_some(stream, input).await {
            Ok(0) if input.is_empty() => return Err(Stale::BeforeAnyByte),
            Ok(0) => {
                return Err(Stale::Cut(ProxyError::Unreachable(
                    "upstream closed the connection in the middle of a response head".into(),
                )));
            }
            Ok(_) => {}
            Err(e) if input.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Err(Stale::BeforeAnyByte);
            }
            Err(e) => return Err(Stale::Cut(ProxyError::Unreachable(Box::new(e)))),
        }
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        match response.parse(input) {
            Ok(httparse::Status::Complete(n)) => {
                let described = describe_response(&response);
                let raw = input.split_to(n).freeze();
                return described
                    .map(|(status, framing, reusable)| ResponseHead {
                        status,
                        raw,
                        framing,
                        reusable,
                    })
                    .ok_or_else(|| {
                        invalid("upstream sent a response head that cannot be relayed")
                    });
            }
            Ok(httparse::Status::Partial) if input.len() < MAX_HEAD => {}
            _ => return Err(invalid("upstream sent an invalid response head")),
        }
    }
}

/// Status, framing and whether the connection can be reused, from a parsed response head; `None`
/// when it cannot be relayed.
fn describe_response(response: &httparse::Response<'_, '_>) -> Option<(StatusCode, Framing, bool)> {
    let status = StatusCode::from_u16(response.code?).ok()?;
    if status.is_informational() {
        // Only sent for `Expect` and upgrades, which hyper handles.
        return None;
    }
    let mut length = None;
    let mut chunked = None;
    let mut reusable = response.version == Some(1);
    for line in response.headers.iter() {
        let value = std::str::from_utf8(line.value).ok();
        if line.name.eq_ignore_ascii_case("content-length") {
            let parsed = crate::framing::parse_length(line.value)?;
            if length.is_some_and(|l| l != parsed) {
                return None;
            }
            length = Some(parsed);
        } else if line.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value?.rsplit(',').next()?.trim();
            chunked = Some(last.eq_ignore_ascii_case("chunked"));
        } else if line.name.eq_ignore_ascii_case("connection") && has_token(value?, "close") {
            reusable = false;
        }
    }
    let bodiless = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let framing = match (bodiless, chunked, length) {
        (true, _, _) => Framing::None,
        (false, Some(true), _) => Framing::Chunked,
        (false, Some(false), _) | (false, None, None) => Framing::UntilClose,
        (false, None, Some(n)) => Framing::Length(n),
    };
    Some((status, framing, reusable && framing != Framing::UntilClose))
}

fn has_token(list: &str, token: &str) -> bool {
    list.split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Writes the upstream's response head as the client gets it: hop-by-hop headers (and those its
/// `Connection` names) removed, the gateway's `ours` added. A name the gateway sets replaces the
/// upstream's, except `Vary`, to which the gateway adds. Written from the raw head: building a
/// header map only to write it out again cost more than the rest of the response path.
fn write_relayed_head(
    out: &mut Vec<u8>,
    head: &ResponseHead,
    ours: &HeaderMap,
    framing: Framing,
    close: bool,
) {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    // Parsed once already in `parse_response`.
    let _ = response.parse(&head.raw);
    let lines = || {
        response
            .headers
            .iter()
            .map(|l| (l.name.as_bytes(), l.value))
    };
    let has_connection = lines().any(|(name, _)| name.eq_ignore_ascii_case(b"connection"));
    let named_by_connection =
        |name: &str| has_connection && forwarding::named_by_connection(lines(), name.as_bytes());
    let replaced = |name: &str| {
        !name.eq_ignore_ascii_case("vary")
            && ours.keys().any(|k| k.as_str().eq_ignore_ascii_case(name))
    };
    write_status_line(out, head.status);
    for line in response.headers.iter() {
        let name = line.name;
        let dropped = forwarding::is_hop_by_hop(name.as_bytes())
            || (framing == Framing::Chunked && name.eq_ignore_ascii_case("content-length"))
            || replaced(name)
            || named_by_connection(name);
        if !dropped {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(line.value);
            out.extend_from_slice(b"\r\n");
        }
    }
    write_headers(out, ours);
    write_framing(out, framing, true, close);
}

/// Relays the response head and body to the client; keeps both connections when their framing
/// allows.
async fn respond(
    shared: &Shared,
    client: &mut Client,
    context: &Context,
    forward: &Forward<'_>,
    exchanged: Exchanged,
    lease: Lease,
) -> Next {
    let Exchanged {
        stream: mut upstream,
        head,
        body_sent,
    } = exchanged;
    let framing = if context.method == Method::HEAD {
        Framing::None
    } else {
        head.framing
    };
    let mut ours = HeaderMap::new();
    if let Some(decision) = &forward.decision {
        limit_headers(&mut ours, decision);
    }
    shared
        .gateway
        .finish_headers(&mut ours, context.origin.as_ref(), &context.request_id);
    let close = context.close || !body_sent || framing == Framing::UntilClose;
    let out = &mut client.output;
    out.clear();
    write_relayed_head(out, &head, &ours, framing, close);
    record(
        shared,
        context,
        head.status,
        forward.route.name,
        forward.member,
    );
    let relayed = relay_response_body(client, &mut upstream, framing).await;
    let upstream_clean =
        relayed == Ok(true) && head.reusable && body_sent && client.upstream_input.is_empty();
    if upstream_clean {
        shared.pool.checkin(lease.endpoint_id(), upstream);
    }
    match relayed {
        Ok(_) if close => {
            linger(client).await;
            Next::Close
        }
        Ok(_) => Next::KeepAlive,
        Err(()) => Next::Close,
    }
}

/// Sends `client.output` (the head) followed by the body. `Ok(true)` when the body ended where its
/// framing says, with nothing after it; `Err` when either side failed mid-way.
async fn relay_response_body(
    client: &mut Client,
    upstream: &mut TcpStream,
    framing: Framing,
) -> Result<bool, ()> {
    let mut chunked = Chunked::new();
    let mut remaining = match framing {
        Framing::Length(n) => n,
        Framing::None => 0,
        Framing::Chunked | Framing::UntilClose => u64::MAX,
    };
    loop {
        let available = &client.upstream_input;
        let take = match framing {
            Framing::None => 0,
            Framing::Length(_) => available
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX)),
            Framing::UntilClose => available.len(),
            Framing::Chunked => match chunked.scan(available) {
                Ok(Some(end)) => {
                    remaining = 0;
                    end
                }
                Ok(None) => available.len(),
                Err(_) => return Err(()),
            },
        };
        let body = client.upstream_input.split_to(take);
        if let Framing::Length(_) = framing {
            remaining -= take as u64;
        }
        client.output.extend_from_slice(&body);
        if !client.output.is_empty() {
            write_all(&client.stream, &client.output)
                .await
                .map_err(drop)?;
            client.output.clear();
        }
        if remaining == 0 {
            return Ok(client.upstream_input.is_empty());
        }
        match read_some(upstream, &mut client.upstream_input).await {
            Ok(0) if framing == Framing::UntilClose => return Ok(false),
            Ok(n) if n > 0 => {}
            _ => return Err(()),
        }
    }
}

fn write_response_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    close: bool,
) {
    write_status_line(out, status);
    write_headers(out, headers);
    write_framing(
        out,
        framing,
        headers.contains_key(header::CONTENT_LENGTH),
        close,
    );
}

fn write_status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The framing headers and the empty line that ends the head.
fn write_framing(out: &mut Vec<u8>, framing: Framing, has_length: bool, close: bool) {
    match framing {
        Framing::Length(n) if !has_length => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn write_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_response(raw: Bytes) -> Option<ResponseHead> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        response.parse(&raw).ok()?;
        let (status, framing, reusable) = describe_response(&response)?;
        Some(ResponseHead {
            status,
            raw,
            framing,
            reusable,
        })
    }

    fn relayed(text: &'static str, ours: &[(&'static str, &'static str)]) -> String {
        let head = parse_response(Bytes::from_static(text.as_bytes()));
        let Some(head) = head else {
            return "refused".to_owned();
        };
        let ours = ours
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect();
        let mut out = Vec::new();
        write_relayed_head(&mut out, &head, &ours, head.framing, false);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn a_chunked_response_loses_its_length_and_is_relayed_as_chunks() {
        let text =
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: gzip, chunked\r\n\r\n";
        assert_eq!(
            relayed(text, &[]),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_do_not_reach_the_client() {
        let text = "HTTP/1.1 200 OK\r\nconnection: keep-alive, x-hop\r\nx-hop: 1\r\nkeep-alive: timeout=5\r\nx-kept: 2\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            relayed(text, &[]),
            "HTTP/1.1 200 OK\r\nx-kept: 2\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn the_gateways_headers_replace_the_upstreams_but_vary_is_added_to() {
        let text = "HTTP/1.1 200 OK\r\nX-Request-Id: upstream\r\nvary: accept\r\ncontent-length: 0\r\n\r\n";
        let ours = [("x-request-id", "gateway"), ("vary", "origin")];
        assert_eq!(
            relayed(text, &ours),
            "HTTP/1.1 200 OK\r\nvary: accept\r\ncontent-length: 0\r\nx-request-id: gateway\r\nvary: origin\r\n\r\n"
        );
    }

    #[test]
    fn a_response_without_length_ends_with_the_connection() {
        let text = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n";
        let response = parse_response(Bytes::from_static(text.as_bytes()));
        assert!(response.is_some_and(|r| r.framing == Framing::UntilClose && !r.reusable));
    }

    #[test]
    fn conflicting_lengths_in_a_response_are_refused() {
        let text = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n";
        assert!(parse_response(Bytes::from_static(text.as_bytes())).is_none());
    }
}

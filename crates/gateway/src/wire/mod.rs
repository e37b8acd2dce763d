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

mod chunked;
mod io;
mod pool;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use platform::CancellationToken;
use platform::http::REQUEST_ID;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use self::chunked::Chunked;
use self::io::{Prefixed, Sent, read_some, write_all, write_until_answered};
use self::pool::Pool;
use crate::handler::{Destination, Gateway, GatewayError, Record, limit_headers, request_id};
use crate::limit::Decision;
use crate::proxy::{HOP_BY_HOP, ProxyError, strip_hop_by_hop};
use crate::routes::{Route, Service};

/// Largest request or response head read here; longer ones are hyper's to refuse.
const MAX_HEAD: usize = 64 * 1024;
/// Header lines parsed here; more go to hyper (which allows 100).
const MAX_HEADERS: usize = 64;
/// How long a connection may sit without sending a complete request head (hyper's default).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Request bodies the gateway refuses are read and dropped up to this size to keep the
/// connection; larger ones close it.
const DRAIN_LIMIT: u64 = 1024 * 1024;
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
                connections.spawn(connection(Arc::clone(&shared), stream, peer));
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
    peer_header: crate::proxy::Peer,
    input: BytesMut,
    upstream_input: BytesMut,
    output: Vec<u8>,
}

/// What to do with the connection after a request.
enum Next {
    KeepAlive,
    Close,
    /// Give the connection to hyper, with these bytes read but not handled.
    HandOver(Bytes),
}

async fn connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let mut client = Client {
        stream,
        peer,
        peer_header: crate::proxy::Peer::new(peer.ip()),
        input: BytesMut::with_capacity(8 * 1024),
        upstream_input: BytesMut::new(),
        output: Vec::with_capacity(1024),
    };
    let mut deadlines = Deadlines {
        head: Deadline::new(),
        response: Deadline::new(),
        shutdown: Box::pin(shared.shutdown.clone().cancelled_owned()),
    };
    loop {
        match serve_one(&shared, &mut client, &mut deadlines).await {
            Next::KeepAlive => {}
            Next::Close => return,
            Next::HandOver(prefix) => return hand_over(&shared, client, prefix).await,
        }
    }
}

/// Serves the rest of a connection with hyper and the axum router (the full HTTP/1.1 semantics).
async fn hand_over(shared: &Shared, client: Client, prefix: Bytes) {
    let io = hyper_util::rt::TokioIo::new(Prefixed::new(prefix, client.stream));
    let router = shared.fallback.clone();
    let peer = client.peer;
    let service = hyper::service::service_fn(move |mut request: http::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
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

/// A request head this module can relay.
struct Head {
    method: Method,
    target: PathAndQuery,
    headers: HeaderMap,
    body_len: u64,
    close: bool,
}

/// The request head at the front of `input`, or why there is none.
enum HeadRead {
    Complete(usize),
    Closed,
    Unusual,
}

async fn read_head(client: &mut Client, deadlines: &mut Deadlines) -> HeadRead {
    loop {
        if !client.input.is_empty() {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            match httparse::Request::new(&mut slots).parse(&client.input) {
                Ok(httparse::Status::Complete(n)) => return HeadRead::Complete(n),
                Ok(httparse::Status::Partial) if client.input.len() < MAX_HEAD => {}
                // Malformed, too many headers or too long: hyper gives the proper answer.
                _ => return HeadRead::Unusual,
            }
        }
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

/// Parses a complete head; `None` when it needs hyper (see the module documentation).
fn parse_head(head: &Bytes) -> Option<Head> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    request.parse(head).ok()?;
    if request.version != Some(1) {
        return None;
    }
    let method = Method::from_bytes(request.method?.as_bytes()).ok()?;
    let target = request.path?;
    if method == Method::CONNECT || !target.starts_with('/') {
        return None;
    }
    let target = PathAndQuery::from_maybe_shared(head.slice_ref(target.as_bytes())).ok()?;
    let mut headers = HeaderMap::with_capacity(request.headers.len() + 8);
    let mut body_len = None;
    let mut close = false;
    for line in request.headers.iter() {
        let name = HeaderName::from_bytes(line.name.as_bytes()).ok()?;
        let value = HeaderValue::from_maybe_shared(head.slice_ref(line.value)).ok()?;
        if name == header::TRANSFER_ENCODING || name == header::UPGRADE || name == header::EXPECT {
            return None;
        }
        if name == header::CONTENT_LENGTH {
            if body_len.is_some() {
                return None;
            }
            body_len = Some(parse_length(line.value)?);
        }
        if name == header::CONNECTION {
            for token in value.to_str().ok()?.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("upgrade") {
                    return None;
                }
                close |= token.eq_ignore_ascii_case("close");
            }
        }
        headers.append(name, value);
    }
    Some(Head {
        method,
        target,
        headers,
        body_len: body_len.unwrap_or(0),
        close,
    })
}

/// Digits only (`u64::from_str` would take a sign).
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
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

async fn serve_one(shared: &Shared, client: &mut Client, deadlines: &mut Deadlines) -> Next {
    deadlines.head.set(Instant::now() + HEAD_TIMEOUT);
    let head_len = match read_head(client, deadlines).await {
        HeadRead::Complete(n) => n,
        HeadRead::Closed => return Next::Close,
        HeadRead::Unusual => return Next::HandOver(client.input.split().freeze()),
    };
    let head = client.input.split_to(head_len).freeze();
    let path_is_ours = |head: &Head| {
        let path = head.target.path();
        path.starts_with("/api/") || path == "/health"
    };
    let Some(mut request) = parse_head(&head).filter(path_is_ours) else {
        return Next::HandOver(unread(&head, client));
    };
    let request_id = request_id(&request.headers);
    request.headers.insert(REQUEST_ID, request_id.clone());
    let context = Context {
        started: Instant::now(),
        request_id,
        origin: request.headers.get(header::ORIGIN).cloned(),
        method: request.method.clone(),
        target: request.target.clone(),
        body_len: request.body_len,
        close: request.close,
    };
    let gateway = &shared.gateway;
    let path = context.target.path();
    let route = match gateway.destination(&context.method, path, &request.headers) {
        Destination::Upstream(route) => route,
        Destination::Local(response, label) => {
            return answer(shared, client, &context, response, label, None).await;
        }
    };
    let Some(authority) = gateway.upstream_authority(route.service).cloned() else {
        return Next::HandOver(unread(&head, client));
    };
    let admission = gateway
        .admit(route, &mut request.headers, Some(&client.peer_header))
        .await;
    let member = admission.member.as_deref();
    match admission.verdict {
        Err(e) => {
            answer(
                shared,
                client,
                &context,
                e.into_response(),
                route.name,
                member,
            )
            .await
        }
        Ok(decision) => {
            let upstream = Upstream {
                service: route.service,
                authority,
            };
            let forwarded = Forward {
                route,
                member,
                decision,
                upstream: &upstream,
            };
            let deadline = &mut deadlines.response;
            forward(
                shared,
                client,
                deadline,
                &context,
                request.headers,
                &forwarded,
            )
            .await
        }
    }
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

/// Reads and drops `len` body bytes.
async fn drain(client: &mut Client, mut len: u64) -> std::io::Result<()> {
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
        let read = tokio::time::timeout(LINGER, read_some(&mut client.stream, &mut client.input));
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

/// Where a request goes.
struct Upstream {
    service: Service,
    authority: Authority,
}

/// A request admitted for forwarding.
struct Forward<'a> {
    route: Route,
    member: Option<&'a str>,
    decision: Option<Decision>,
    upstream: &'a Upstream,
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
    mut headers: HeaderMap,
    forward: &Forward<'_>,
) -> Next {
    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    let out = &mut client.output;
    out.clear();
    write_request_head(out, context, &forward.upstream.authority, &headers);
    // The part of the body that came with the head travels with it.
    let buffered = client
        .input
        .len()
        .min(usize::try_from(context.body_len).unwrap_or(usize::MAX));
    out.extend_from_slice(&client.input.split_to(buffered));
    let remaining = context.body_len - buffered as u64;
    let replayable = remaining == 0 && out.len() <= REPLAY_LIMIT;

    deadline.set(context.started + shared.gateway.policy().response_timeout);
    let exchanged = tokio::select! {
        exchanged = exchange(shared, client, forward.upstream, remaining, replayable) => exchanged,
        () = deadline.passed() => Err(Failure::Proxy(ProxyError::TimedOut(None))),
    };
    let (upstream, head, body_sent) = match exchanged {
        Ok(exchanged) => exchanged,
        Err(Failure::ClientGone) => return Next::Close,
        Err(Failure::Proxy(e)) => {
            return failed(shared, client, context, forward, e, remaining).await;
        }
    };
    respond(shared, client, context, forward, upstream, head, body_sent).await
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
    Proxy(ProxyError),
}

/// Sends the request (in `client.output`, plus `remaining` body bytes still to read from the
/// client) and reads the response head. Returns the connection, the head and whether the whole
/// body was sent.
async fn exchange(
    shared: &Shared,
    client: &mut Client,
    upstream: &Upstream,
    remaining: u64,
    replayable: bool,
) -> Result<(TcpStream, ResponseHead, bool), Failure> {
    let mut pooled = shared.pool.checkout(upstream.service);
    loop {
        let reused = pooled.is_some();
        let mut stream = match pooled.take() {
            Some(stream) => stream,
            None => shared
                .pool
                .connect(&upstream.authority)
                .await
                .map_err(Failure::Proxy)?,
        };
        client.upstream_input.clear();
        let mut body_sent = write_until_answered(&stream, &client.output).await == Sent::All;
        if body_sent && remaining > 0 {
            body_sent = relay_request_body(client, &stream, remaining).await?;
        }
        match read_response_head(&mut stream, &mut client.upstream_input).await {
            Ok(head) => return Ok((stream, head, body_sent)),
            // A pooled connection the service had closed: the request never reached it.
            Err(Stale::BeforeAnyByte) if reused && replayable => {
                tracing::debug!("pooled upstream connection was closed; sending again");
            }
            Err(Stale::BeforeAnyByte) => {
                return Err(Failure::Proxy(ProxyError::Unreachable(
                    "upstream closed the connection before answering".into(),
                )));
            }
            Err(Stale::Broken(e)) => return Err(Failure::Proxy(e)),
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
    Broken(ProxyError),
}

async fn read_response_head(
    stream: &mut TcpStream,
    input: &mut BytesMut,
) -> Result<ResponseHead, Stale> {
    let broken = |message: &str| Stale::Broken(ProxyError::Unreachable(message.to_owned().into()));
    loop {
        match read_some(stream, input).await {
            Ok(0) if input.is_empty() => return Err(Stale::BeforeAnyByte),
            Ok(0) => {
                return Err(broken(
                    "upstream closed the connection in the middle of a response head",
                ));
            }
            Ok(_) => {}
            Err(e) if input.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Err(Stale::BeforeAnyByte);
            }
            Err(e) => return Err(Stale::Broken(ProxyError::Unreachable(Box::new(e)))),
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
                    .ok_or_else(|| broken("upstream sent a response head that cannot be relayed"));
            }
            Ok(httparse::Status::Partial) if input.len() < MAX_HEAD => {}
            _ => return Err(broken("upstream sent an invalid response head")),
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
            let parsed = parse_length(line.value)?;
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

/// Hop-by-hop headers (RFC 9110 §7.6.1), which end at the gateway: the same list as the axum
/// path's [`crate::proxy::strip_hop_by_hop`].
fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|n| n.as_str().eq_ignore_ascii_case(name))
        || name.eq_ignore_ascii_case("proxy-connection")
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
    let named_by_connection = |name: &str| {
        response
            .headers
            .iter()
            .filter(|line| line.name.eq_ignore_ascii_case("connection"))
            .filter_map(|line| std::str::from_utf8(line.value).ok())
            .any(|list| has_token(list, name))
    };
    let replaced = |name: &str| {
        !name.eq_ignore_ascii_case("vary")
            && ours.keys().any(|k| k.as_str().eq_ignore_ascii_case(name))
    };
    write_status_line(out, head.status);
    for line in response.headers.iter() {
        let name = line.name;
        let dropped = is_hop_by_hop(name)
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
    mut upstream: TcpStream,
    head: ResponseHead,
    body_sent: bool,
) -> Next {
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
        shared.pool.checkin(forward.upstream.service, upstream);
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
        if framing == Framing::None {
            remaining = 0;
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

fn write_request_head(
    out: &mut Vec<u8>,
    context: &Context,
    authority: &Authority,
    headers: &HeaderMap,
) {
    out.extend_from_slice(context.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(context.target.as_str().as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(authority.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    write_headers(out, headers);
    out.extend_from_slice(b"\r\n");
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

    fn head(text: &str) -> Option<Head> {
        parse_head(&Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn a_plain_request_is_relayed_here() {
        let parsed =
            head("POST /api/post/comment?x=1 HTTP/1.1\r\nhost: a\r\ncontent-length: 12\r\n\r\n");
        let parsed = parsed.map(|h| (h.method, h.target.as_str().to_owned(), h.body_len, h.close));
        assert_eq!(
            parsed,
            Some((Method::POST, "/api/post/comment?x=1".to_owned(), 12, false))
        );
    }

    #[test]
    fn chunked_upgrade_expect_and_old_requests_go_to_hyper() {
        let unusual = [
            "POST /api/post HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            "GET /api/post HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
            "POST /api/post HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\n",
            "GET /api/post HTTP/1.0\r\n\r\n",
            "GET http://elsewhere/api/post HTTP/1.1\r\n\r\n",
            "POST /api/post HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\n",
            "POST /api/post HTTP/1.1\r\ncontent-length: +3\r\n\r\n",
        ];
        for text in unusual {
            assert!(head(text).is_none(), "{text:?} should go to hyper");
        }
    }

    #[test]
    fn connection_close_from_the_client_is_noticed() {
        let parsed = head("GET /api/member HTTP/1.1\r\nconnection: Close\r\n\r\n");
        assert!(parsed.is_some_and(|h| h.close));
    }

    fn relayed(text: &'static str, ours: &[(&'static str, &'static str)]) -> String {
        let head = parse_response(Bytes::from_static(text.as_bytes()));
        let Some(head) = head else {
            return "refused".to_owned();
        };
        let ours = ours
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
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

//! Sending a request upstream: the request head and body over a pooled or new connection, the
//! response head read back, one retry on another endpoint when the replay rule allows it.

use std::ops::Range;

use axum::response::IntoResponse;
use bytes::BytesMut;
use http::Method;
use tokio::net::TcpStream;

use super::answer::answer;
use super::io::{Sent, read_some, write_until_answered};
use super::request;
use super::response::{ResponseHead, Span, describe_response, respond, spans};
use super::{Client, Context, Deadline, Next, Shared, service_index};
use crate::balance::{Balancer, Fault, Lease, Reach, may_retry};
use crate::framing::{MAX_HEAD, MAX_HEADERS};
use crate::handler::GatewayError;
use crate::limit::Decision;
use crate::pool::resend_on_new_connection;
use crate::proxy::ProxyError;
use crate::routes::Route;

/// A request admitted for forwarding.
pub(super) struct Forward<'a> {
    pub(super) route: Route,
    pub(super) member: Option<&'a str>,
    pub(super) decision: Option<Decision>,
    pub(super) balancer: &'a Balancer,
}

pub(super) async fn forward(
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
        replayable: remaining == 0 && context.body_len <= crate::balance::REPLAY_LIMIT,
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
pub(super) async fn failed(
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

pub(super) enum Failure {
    ClientGone,
    Upstream(Broken),
}

/// An attempt that failed on the upstream's side.
pub(super) struct Broken {
    pub(super) error: ProxyError,
    pub(super) fault: Fault,
    /// Something came back (an answer that cannot be relayed), or nothing in time.
    pub(super) answered: bool,
}

impl Broken {
    pub(super) fn down(error: ProxyError) -> Failure {
        Failure::Upstream(Self {
            error,
            fault: Fault::Down,
            answered: false,
        })
    }

    pub(super) fn answered(error: ProxyError) -> Self {
        Self {
            error,
            fault: Fault::Other,
            answered: true,
        }
    }
}

/// What is being sent: the request's method, the body bytes still to read from the client, and
/// whether all of it is in `client.output` and small enough to send again.
pub(super) struct Sending<'a> {
    pub(super) method: &'a Method,
    pub(super) remaining: u64,
    pub(super) replayable: bool,
}

/// A response head and the connection it came on.
pub(super) struct Exchanged {
    pub(super) stream: TcpStream,
    pub(super) head: ResponseHead,
    /// The whole request body went upstream (the connection can be reused).
    pub(super) body_sent: bool,
}

/// Sends the request (in `client.output`, plus `sending.remaining` body bytes still to read from
/// the client) and reads the response head; on failure, once more on another endpoint when
/// [`may_retry`] allows. `lease` and the `host` line in `client.output` follow the endpoint.
pub(super) async fn exchange(
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
pub(super) async fn attempt(
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
        let lines = std::mem::take(&mut client.response_lines);
        match read_response_head(&mut stream, &mut client.upstream_input, lines).await {
            Ok(head) => {
                return Ok(Exchanged {
                    stream,
                    head,
                    body_sent,
                });
            }
            Err(Stale::BeforeAnyByte)
                if resend_on_new_connection(reused, true, sending.replayable) =>
            {
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
pub(super) async fn relay_request_body(
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

pub(super) enum Stale {
    /// Closed without sending anything.
    BeforeAnyByte,
    /// Closed or failed in the middle of the head.
    Cut(ProxyError),
    /// A head that cannot be relayed.
    Invalid(ProxyError),
}

/// Reads a response head into `input`; `lines` is the buffer its header spans go in.
pub(super) async fn read_response_head(
    stream: &mut TcpStream,
    input: &mut BytesMut,
    mut lines: Vec<Span>,
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
        // Uninitialised for the reason given at [`super::request::Slots`].
        let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            input,
            &mut slots,
        ) {
            Ok(httparse::Status::Complete(n)) => {
                let described = describe_response(&response);
                spans(input, &response, &mut lines);
                let raw = input.split_to(n).freeze();
                return described
                    .map(|(status, framing, reusable)| ResponseHead {
                        status,
                        raw,
                        framing,
                        reusable,
                        lines,
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

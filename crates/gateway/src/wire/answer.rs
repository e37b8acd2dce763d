//! Answers the gateway writes itself (its own refusals, health, errors), the access-log record
//! of each request, and what happens to a refused body: drained to keep the connection, or the
//! connection closed after a linger.

use axum::response::{IntoResponse, Response};
use http::header;
use http::uri::PathAndQuery;
use http::{Method, StatusCode};
use http_body_util::BodyExt;

use super::io::{read_some, write_all};
use super::response::{Framing, write_response_head};
use super::{Client, Context, DRAIN_DEADLINE, DRAIN_LIMIT, LINGER, Next, Shared};
use crate::framing::Malformed;
use platform::http::request_id;

use crate::handler::{GatewayError, Record};

/// Writes an answer the gateway made itself (whole body in hand).
pub(super) async fn answer(
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
pub(super) async fn refuse(
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

pub(super) fn record(
    shared: &Shared,
    context: &Context,
    status: StatusCode,
    route: &'static str,
    member: Option<&str>,
) {
    if let Some(trace) = &context.trace {
        trace.end(status);
    }
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
pub(super) async fn drain(client: &mut Client, mut len: u64) -> std::io::Result<()> {
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
pub(super) async fn linger(client: &mut Client) {
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

//! Relaying the upstream's response: its framing, the head the client gets (hop-by-hop lines
//! out, the gateway's in) and the body streamed to the client.

use std::ops::Range;

use bytes::Bytes;
use http::header;
use http::{HeaderMap, Method, StatusCode};
use tokio::net::TcpStream;

use super::answer::{linger, record};
use super::chunked::Chunked;
use super::io::{read_some, write_all};
use super::upstream::{Exchanged, Forward};
use super::{Client, Context, Next, Shared};
use crate::balance::Lease;
use crate::forwarding;
use crate::handler::limit_headers;

/// How the end of a response body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A parsed upstream response head.
pub(super) struct ResponseHead {
    pub(super) status: StatusCode,
    /// The head as received (status line to the empty line).
    pub(super) raw: Bytes,
    pub(super) framing: Framing,
    pub(super) reusable: bool,
    /// Its header lines as the one parse found them (a buffer the connection reuses).
    pub(super) lines: Vec<Span>,
}

/// Where a header line's name and value are in a head's bytes.
#[derive(Debug, Clone)]
pub(super) struct Span {
    name: Range<usize>,
    value: Range<usize>,
}

/// The header lines of `response`, parsed from `bytes`, as spans into `bytes` (put in `lines`).
pub(super) fn spans(bytes: &[u8], response: &httparse::Response<'_, '_>, lines: &mut Vec<Span>) {
    let within = |part: &[u8]| {
        let start = (part.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
        start..start + part.len()
    };
    lines.clear();
    lines.extend(response.headers.iter().map(|line| Span {
        name: within(line.name.as_bytes()),
        value: within(line.value),
    }));
}

/// Status, framing and whether the connection can be reused, from a parsed response head; `None`
/// when it cannot be relayed.
pub(super) fn describe_response(
    response: &httparse::Response<'_, '_>,
) -> Option<(StatusCode, Framing, bool)> {
    let status = StatusCode::from_u16(response.code?).ok()?;
    if status.is_informational() {
        // Only sent for `Expect` and upgrades, which hyper handles.
        return None;
    }
    let mut length = None;
    let mut chunked = None;
    let mut reusable = response.version == Some(1);
    for line in response.headers.iter() {
        // Only the two lines whose values are read as text pay for the UTF-8 check.
        let value = || std::str::from_utf8(line.value).ok();
        if line.name.eq_ignore_ascii_case("content-length") {
            let parsed = crate::framing::parse_length(line.value)?;
            if length.is_some_and(|l| l != parsed) {
                return None;
            }
            length = Some(parsed);
        } else if line.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value()?.rsplit(',').next()?.trim();
            chunked = Some(last.eq_ignore_ascii_case("chunked"));
        } else if line.name.eq_ignore_ascii_case("connection") && has_token(value()?, "close") {
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

pub(super) fn has_token(list: &str, token: &str) -> bool {
    list.split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Writes the upstream's response head as the client gets it: hop-by-hop headers (and those its
/// `Connection` names) removed, the gateway's `ours` added. A name the gateway sets replaces the
/// upstream's, except `Vary`, to which the gateway adds. Written from the raw head and the spans
/// its one parse found: building a header map only to write it out again cost more than the rest
/// of the response path, and parsing it a second time a tenth of the gateway's own work.
pub(super) fn write_relayed_head(
    out: &mut Vec<u8>,
    head: &ResponseHead,
    ours: &HeaderMap,
    framing: Framing,
    close: bool,
) {
    let raw = &head.raw[..];
    let lines = || {
        head.lines
            .iter()
            .map(|span| (&raw[span.name.clone()], &raw[span.value.clone()]))
    };
    let has_connection = lines().any(|(name, _)| name.eq_ignore_ascii_case(b"connection"));
    let named_by_connection =
        |name: &[u8]| has_connection && forwarding::named_by_connection(lines(), name);
    let replaced = |name: &[u8]| {
        !name.eq_ignore_ascii_case(b"vary")
            && ours
                .keys()
                .any(|k| k.as_str().as_bytes().eq_ignore_ascii_case(name))
    };
    write_status_line(out, head.status);
    for (name, value) in lines() {
        let dropped = forwarding::is_hop_by_hop(name)
            || (framing == Framing::Chunked && name.eq_ignore_ascii_case(b"content-length"))
            || replaced(name)
            || named_by_connection(name);
        if !dropped {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
    }
    write_headers(out, ours);
    write_framing(out, framing, true, close);
}

/// Relays the response head and body to the client; keeps both connections when their framing
/// allows.
pub(super) async fn respond(
    shared: &Shared,
    client: &mut Client,
    context: &Context,
    forward: &Forward<'_>,
    exchanged: Exchanged,
    lease: Lease,
) -> Next {
    let Exchanged {
        stream: mut upstream,
        mut head,
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
    client.response_lines = std::mem::take(&mut head.lines);
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
pub(super) async fn relay_response_body(
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

pub(super) fn write_response_head(
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

pub(super) fn write_status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The framing headers and the empty line that ends the head.
pub(super) fn write_framing(out: &mut Vec<u8>, framing: Framing, has_length: bool, close: bool) {
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

pub(super) fn write_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::HeaderValue;

    use super::*;
    use crate::framing::MAX_HEADERS;

    fn parse_response(raw: Bytes) -> Option<ResponseHead> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        response.parse(&raw).ok()?;
        let (status, framing, reusable) = describe_response(&response)?;
        let mut lines = Vec::new();
        spans(&raw, &response, &mut lines);
        Some(ResponseHead {
            status,
            raw,
            framing,
            reusable,
            lines,
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

//! A client's request head: where it ends, what it says (parsed once, the values left in the
//! received bytes), and the head that goes upstream, written line by line from those bytes with
//! the gateway's changes.

use std::ops::Range;

use bytes::Bytes;
use http::Method;
use http::header::HeaderValue;
use http::uri::{Authority, PathAndQuery};

use super::MAX_HEADERS;
use crate::forwarding::{self, Additions, Line};

/// Where the head at the front of `input` ends (after its empty line), searching from `from`.
/// Bare `\n` line ends count, as httparse and hyper accept them.
pub(super) fn head_end(input: &[u8], from: usize) -> Option<usize> {
    memchr::memchr_iter(b'\n', input.get(from..)?)
        .map(|i| i + from)
        .find_map(|i| match input.get(i + 1..) {
            Some([b'\n', ..]) => Some(i + 2),
            Some([b'\r', b'\n', ..]) => Some(i + 3),
            _ => None,
        })
}

/// A request head this module can relay, borrowing the received bytes.
pub(super) struct Head<'h> {
    pub(super) method: Method,
    pub(super) target: PathAndQuery,
    lines: &'h [httparse::Header<'h>],
    pub(super) body_len: u64,
    pub(super) close: bool,
}

impl<'h> Head<'h> {
    /// Parses `head` (exactly one complete head); `None` when the request needs hyper: not
    /// HTTP/1.1, an absolute or `CONNECT` target, chunked or `Expect` bodies, upgrades, an
    /// unclear length, or a head httparse reads differently.
    pub(super) fn parse(
        head: &'h Bytes,
        slots: &'h mut [httparse::Header<'h>; MAX_HEADERS],
    ) -> Option<Self> {
        let mut request = httparse::Request::new(slots);
        match request.parse(head) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            _ => return None,
        }
        if request.version != Some(1) {
            return None;
        }
        let method = Method::from_bytes(request.method?.as_bytes()).ok()?;
        let target = request.path?;
        if method == Method::CONNECT || !target.starts_with('/') {
            return None;
        }
        let target = PathAndQuery::from_maybe_shared(head.slice_ref(target.as_bytes())).ok()?;
        let lines: &'h [httparse::Header<'h>] = request.headers;
        let (body_len, close) = framing(lines)?;
        Some(Self {
            method,
            target,
            lines,
            body_len,
            close,
        })
    }

    /// The header lines as received.
    pub(super) fn lines(&self) -> impl Iterator<Item = Line<'h>> + Clone + use<'h> {
        let lines: &'h [httparse::Header<'h>] = self.lines;
        lines.iter().map(|line| (line.name.as_bytes(), line.value))
    }
}

/// The body length and whether the client asked to close; `None` for framing left to hyper.
fn framing(lines: &[httparse::Header<'_>]) -> Option<(u64, bool)> {
    let mut body_len = None;
    let mut close = false;
    for line in lines {
        let name = line.name;
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        if is("transfer-encoding") || is("upgrade") || is("expect") {
            return None;
        }
        if is("content-length") {
            if body_len.is_some() {
                return None;
            }
            body_len = Some(parse_length(line.value)?);
        }
        if is("connection") {
            for token in std::str::from_utf8(line.value)
                .ok()?
                .split(',')
                .map(str::trim)
            {
                if token.eq_ignore_ascii_case("upgrade") {
                    return None;
                }
                close |= token.eq_ignore_ascii_case("close");
            }
        }
    }
    Some((body_len.unwrap_or(0), close))
}

/// Digits only (`u64::from_str` would take a sign).
pub(super) fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The first value of `name`, as a header value sharing the received bytes.
pub(super) fn shared_value(
    head: &Bytes,
    request: &Head<'_>,
    name: &'static str,
) -> Option<HeaderValue> {
    let value = forwarding::first(request.lines(), name)?;
    HeaderValue::from_maybe_shared(head.slice_ref(value)).ok()
}

/// Writes the head a service receives: the request line, its `Host`, then the lines
/// [`forwarding::forward_lines`] decides on. Returns where the `Host` value is in `out`.
pub(super) fn write_upstream_head(
    out: &mut Vec<u8>,
    request: &Head<'_>,
    authority: &Authority,
    additions: &Additions<'_>,
) -> Range<usize> {
    out.extend_from_slice(request.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(request.target.as_str().as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    let host = out.len()..out.len() + authority.as_str().len();
    out.extend_from_slice(authority.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    forwarding::forward_lines(request.lines(), additions, |name, value| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    });
    out.extend_from_slice(b"\r\n");
    host
}

/// Puts `authority` in the `Host` line at `host` (a retry to an endpoint found under another
/// configured name), moving what follows.
pub(super) fn replace_host(out: &mut Vec<u8>, host: &mut Range<usize>, authority: &Authority) {
    let value = authority.as_str().as_bytes();
    if out.get(host.clone()) == Some(value) {
        return;
    }
    out.splice(host.clone(), value.iter().copied());
    host.end = host.start + value.len();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed<T>(text: &'static str, read: impl FnOnce(Option<Head<'_>>) -> T) -> T {
        let bytes = Bytes::from_static(text.as_bytes());
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        read(Head::parse(&bytes, &mut slots))
    }

    #[test]
    fn a_plain_request_is_relayed_here() {
        let text = "POST /api/post/comment?x=1 HTTP/1.1\r\nhost: a\r\ncontent-length: 12\r\n\r\n";
        let seen = parsed(text, |h| {
            h.map(|h| (h.method, h.target.as_str().to_owned(), h.body_len, h.close))
        });
        assert_eq!(
            seen,
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
            assert!(parsed(text, |h| h.is_none()), "{text:?} should go to hyper");
        }
    }

    #[test]
    fn connection_close_from_the_client_is_noticed() {
        let text = "GET /api/member HTTP/1.1\r\nconnection: Close\r\n\r\n";
        assert!(parsed(text, |h| h.is_some_and(|h| h.close)));
    }

    #[test]
    fn a_head_ends_at_its_first_empty_line_with_either_line_end() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\na: b\r\n\r\nGET", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\na: b\n\nrest", 0), Some(21));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\na: b\r\n", 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\na: b\r\n\r", 0), None);
    }

    #[test]
    fn the_upstream_head_has_the_services_host_and_the_gateways_lines_and_its_host_can_change() {
        let text = "GET /api/member?q=1 HTTP/1.1\r\nHost: thegallery.site\r\nAccept: */*\r\nX-Member-Id: 1\r\n\r\n";
        let request_id = HeaderValue::from_static("rid");
        let additions = Additions {
            request_id: &request_id,
            peer: None,
            hops: 0,
            identity: None,
        };
        let authority = Authority::from_static("member:8081");
        let written = parsed(text, |h| {
            let mut out = Vec::new();
            let mut host = write_upstream_head(&mut out, &h?, &authority, &additions);
            let first = String::from_utf8(out.clone()).ok();
            replace_host(
                &mut out,
                &mut host,
                &Authority::from_static("member-b:8081"),
            );
            replace_host(&mut out, &mut host, &authority);
            (String::from_utf8(out).ok() == first)
                .then_some(first)
                .flatten()
        });
        let expected = "GET /api/member?q=1 HTTP/1.1\r\nhost: member:8081\r\nAccept: */*\r\nx-request-id: rid\r\nx-forwarded-proto: http\r\nx-forwarded-host: thegallery.site\r\n\r\n";
        assert_eq!(written.as_deref(), Some(expected));
    }
}

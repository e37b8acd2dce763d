//! A client's request head: where it ends, what it says (parsed once, the values left in the
//! received bytes), and the head that goes upstream, written line by line from those bytes with
//! the gateway's changes.

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::Bytes;
use http::Method;
use http::header::HeaderValue;
use http::uri::{Authority, PathAndQuery};

use crate::forwarding::{self, Additions, Line};
use crate::framing::{self, Body, MAX_HEADERS, Malformed};

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

/// Room for the header lines of one head. Left uninitialised: the parser writes the lines it
/// finds, and filling all of them first cost more than parsing a typical head.
pub(super) type Slots<'h> = [MaybeUninit<httparse::Header<'h>>; MAX_HEADERS];

/// Empty [`Slots`].
pub(super) const fn slots<'h>() -> Slots<'h> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// A request head this module can relay, borrowing the received bytes.
pub(super) struct Head<'h> {
    pub(super) method: Method,
    pub(super) target: PathAndQuery,
    lines: &'h [httparse::Header<'h>],
    pub(super) body_len: u64,
    pub(super) close: bool,
}

/// What a complete request head is to the front end.
pub(super) enum Parsed<'h> {
    /// Relayed here.
    Plain(Head<'h>),
    /// Valid, but served by hyper: HTTP/1.0, an absolute or `CONNECT` target, chunked or `Expect`
    /// bodies, upgrades.
    Hyper,
    /// Refused ([`framing`]), with what could be read of the request line for the access log.
    Refused(Malformed, Option<(Method, PathAndQuery)>),
}

impl<'h> Parsed<'h> {
    /// Parses `head` (exactly one complete head, as [`head_end`] found it) and applies the
    /// framing rules; hyper only ever sees heads that passed them.
    pub(super) fn parse(head: &'h Bytes, slots: &'h mut Slots<'h>) -> Self {
        let mut request = httparse::Request::new(&mut []);
        let parsed = request.parse_with_uninit_headers(head, slots);
        let line = request_line(head, &request);
        match parsed {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Self::Refused(Malformed::TooManyHeaders, line);
            }
            // Partial, or an end elsewhere: httparse and the front end disagree on the head.
            _ => return Self::Refused(Malformed::Syntax, line),
        }
        let Some((method, target)) = line else {
            return Self::Refused(Malformed::BadTarget, None);
        };
        let lines: &'h [httparse::Header<'h>] = request.headers;
        let http10 = request.version == Some(0);
        let checked = framing::check(lines.iter().map(|l| (l.name.as_bytes(), l.value)), http10);
        let framing = match checked {
            Ok(framing) if framing.hosts > 0 || http10 => framing,
            Ok(_) => return Self::Refused(Malformed::MissingHost, Some((method, target))),
            Err(malformed) => return Self::Refused(malformed, Some((method, target))),
        };
        let origin_form = target.as_str().starts_with('/') && method != Method::CONNECT;
        let plain = !http10 && origin_form && !framing.expect && !framing.upgrade;
        match framing.body {
            Body::Length(body_len) if plain => Self::Plain(Head {
                method,
                target,
                lines,
                body_len,
                close: framing.close,
            }),
            _ => Self::Hyper,
        }
    }
}

/// The method and target, when the request line has valid ones.
fn request_line(
    head: &Bytes,
    request: &httparse::Request<'_, '_>,
) -> Option<(Method, PathAndQuery)> {
    let method = Method::from_bytes(request.method?.as_bytes()).ok()?;
    let target = request.path?;
    // An absolute or authority form is for hyper, which reads it whole; only its shape is checked.
    let target = if target.starts_with('/') {
        PathAndQuery::from_maybe_shared(head.slice_ref(target.as_bytes())).ok()?
    } else {
        target.parse::<http::Uri>().ok()?;
        PathAndQuery::from_static("*")
    };
    Some((method, target))
}

impl<'h> Head<'h> {
    /// The header lines as received.
    pub(super) fn lines(&self) -> impl Iterator<Item = Line<'h>> + Clone + use<'h> {
        let lines: &'h [httparse::Header<'h>] = self.lines;
        lines.iter().map(|line| (line.name.as_bytes(), line.value))
    }
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

    /// What the front end makes of a head: relayed here (with its parts), hyper's, or refused.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Plain(Method, String, u64, bool),
        Hyper,
        Refused(Malformed),
    }

    fn seen(text: &str) -> Seen {
        let bytes = Bytes::copy_from_slice(text.as_bytes());
        let mut slots = slots();
        match Parsed::parse(&bytes, &mut slots) {
            Parsed::Plain(h) => {
                Seen::Plain(h.method, h.target.as_str().to_owned(), h.body_len, h.close)
            }
            Parsed::Hyper => Seen::Hyper,
            Parsed::Refused(malformed, _) => Seen::Refused(malformed),
        }
    }

    #[test]
    fn a_plain_request_is_relayed_here() {
        let text = "POST /api/post/comment?x=1 HTTP/1.1\r\nhost: a\r\ncontent-length: 12\r\n\r\n";
        assert_eq!(
            seen(text),
            Seen::Plain(Method::POST, "/api/post/comment?x=1".to_owned(), 12, false)
        );
    }

    #[test]
    fn chunked_upgrade_expect_and_old_requests_go_to_hyper() {
        let unusual = [
            "POST /api/post HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n",
            "GET /api/post HTTP/1.1\r\nhost: a\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
            "POST /api/post HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\n",
            "GET /api/post HTTP/1.0\r\n\r\n",
            "GET http://elsewhere/api/post HTTP/1.1\r\nhost: elsewhere\r\n\r\n",
        ];
        for text in unusual {
            assert_eq!(seen(text), Seen::Hyper, "{text:?} should go to hyper");
        }
    }

    #[test]
    fn heads_that_break_the_framing_or_syntax_rules_are_refused() {
        let refused = [
            (
                "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\n",
                Malformed::SeveralLengths,
            ),
            (
                "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: +3\r\n\r\n",
                Malformed::BadLength,
            ),
            (
                "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
                Malformed::LengthAndChunked,
            ),
            (
                "POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
                Malformed::BadTransferEncoding,
            ),
            (
                "GET / HTTP/1.1\r\nhost: a\r\nx-long: one\r\n two\r\n\r\n",
                Malformed::Syntax,
            ),
            (
                "GET / HTTP/1.1\r\nhost: a\r\nx-cr: a\rb\r\n\r\n",
                Malformed::Syntax,
            ),
            (
                "GET / HTTP/1.1\r\nhost: a\r\nx-nul: a\0b\r\n\r\n",
                Malformed::Syntax,
            ),
            (
                "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding : chunked\r\n\r\n",
                Malformed::Syntax,
            ),
            (
                "GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
                Malformed::SeveralHosts,
            ),
            ("GET / HTTP/1.1\r\n\r\n", Malformed::MissingHost),
            ("GET / HTTP/2.0\r\nhost: a\r\n\r\n", Malformed::Syntax),
            ("GET /a b HTTP/1.1\r\nhost: a\r\n\r\n", Malformed::Syntax),
        ];
        for (text, expected) in refused {
            assert_eq!(seen(text), Seen::Refused(expected), "{text:?}");
        }
    }

    #[test]
    fn more_header_lines_than_the_limit_are_refused() {
        let mut text = "GET / HTTP/1.1\r\nhost: a\r\n".to_owned();
        for i in 0..MAX_HEADERS {
            text.push_str(&format!("x-{i}: {i}\r\n"));
        }
        text.push_str("\r\n");
        assert_eq!(seen(&text), Seen::Refused(Malformed::TooManyHeaders));
    }

    #[test]
    fn connection_close_from_the_client_is_noticed() {
        let text = "GET /api/member HTTP/1.1\r\nhost: a\r\nconnection: Close\r\n\r\n";
        assert!(matches!(seen(text), Seen::Plain(.., true)));
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
        let additions = Additions::request_id_only(&request_id);
        let authority = Authority::from_static("member:8081");
        let bytes = Bytes::from_static(text.as_bytes());
        let written = (|| {
            let mut slots = slots();
            let Parsed::Plain(h) = Parsed::parse(&bytes, &mut slots) else {
                return None;
            };
            let mut out = Vec::new();
            let mut host = write_upstream_head(&mut out, &h, &authority, &additions);
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
        })();
        let expected = "GET /api/member?q=1 HTTP/1.1\r\nhost: member:8081\r\nAccept: */*\r\nx-request-id: rid\r\nx-forwarded-proto: http\r\nx-forwarded-host: thegallery.site\r\n\r\n";
        assert_eq!(written.as_deref(), Some(expected));
    }
}

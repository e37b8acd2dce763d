//! The framing rules of RFC 9112 a request head must pass before anything else looks at it, the
//! same on both front ends: one way to find the body's end, one `Host`. A head that breaks them is
//! refused with the error shape and its connection closed, never forwarded, because a server
//! behind the gateway could read its framing differently (request smuggling).

use crate::forwarding::Line;

/// Why a request head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Not HTTP/1.x syntax: obs-fold, bare CR, NUL or other control bytes, whitespace before a
    /// colon, a bad request line, or an end httparse finds elsewhere than the front end.
    #[error("the request head is not valid HTTP/1.1")]
    Syntax,
    /// More header lines than [`MAX_HEADERS`].
    #[error("too many header lines")]
    TooManyHeaders,
    /// A head longer than [`MAX_HEAD`].
    #[error("the request head is too long")]
    HeadTooLarge,
    /// `Content-Length` and `Transfer-Encoding` together (RFC 9112 §6.3).
    #[error("content-length and transfer-encoding together")]
    LengthAndChunked,
    /// Several `Content-Length` lines or values, even equal ones.
    #[error("several content-length values")]
    SeveralLengths,
    /// A `Content-Length` that is not a decimal number.
    #[error("invalid content-length")]
    BadLength,
    /// A `Transfer-Encoding` other than one `chunked`, several such lines, or one in HTTP/1.0.
    #[error("unsupported transfer-encoding")]
    BadTransferEncoding,
    /// Several `Host` lines (RFC 9112 §3.2).
    #[error("several host lines")]
    SeveralHosts,
    /// An HTTP/1.1 request without `Host` (RFC 9112 §3.2).
    #[error("missing host")]
    MissingHost,
    /// A `Host` that is not an authority.
    #[error("invalid host")]
    BadHost,
    /// A request target that is not a valid URI.
    #[error("invalid request target")]
    BadTarget,
}

impl Malformed {
    /// Whether the head was refused for its size (431) rather than its content (400).
    pub fn is_too_large(self) -> bool {
        matches!(self, Self::TooManyHeaders | Self::HeadTooLarge)
    }
}

/// Largest request or response head read by the gateway's own front end.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header lines in a request or response head (hyper's default limit).
pub const MAX_HEADERS: usize = 100;

/// How a request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Exactly this many bytes (0: no body).
    Length(u64),
    /// Chunked coding (the only transfer coding accepted).
    Chunked,
}

/// What the rules read from a head that passed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// How the body is delimited.
    pub body: Body,
    /// `Connection: close`.
    pub close: bool,
    /// An `Expect` line.
    pub expect: bool,
    /// An `Upgrade` line or `Connection: upgrade`.
    pub upgrade: bool,
    /// `Host` lines (0 or 1).
    pub hosts: usize,
}

/// Applies the rules to a head's lines; `http10` for an HTTP/1.0 request. A missing `Host` is the
/// caller's to judge (a request built in process has none).
pub fn check<'a>(
    lines: impl Iterator<Item = Line<'a>>,
    http10: bool,
) -> Result<Framing, Malformed> {
    let mut length = None;
    let mut chunked = false;
    let mut framing = Framing {
        body: Body::Length(0),
        close: false,
        expect: false,
        upgrade: false,
        hosts: 0,
    };
    for (name, value) in lines {
        match name.len() {
            4 if is(name, "host") => {
                framing.hosts += 1;
                if framing.hosts > 1 {
                    return Err(Malformed::SeveralHosts);
                }
                if !is_authority(value) {
                    return Err(Malformed::BadHost);
                }
            }
            6 if is(name, "expect") => framing.expect = true,
            7 if is(name, "upgrade") => framing.upgrade = true,
            10 if is(name, "connection") => {
                let text = std::str::from_utf8(value).map_err(|_| Malformed::Syntax)?;
                for token in text.split(',').map(str::trim) {
                    framing.upgrade |= token.eq_ignore_ascii_case("upgrade");
                    framing.close |= token.eq_ignore_ascii_case("close");
                }
            }
            14 if is(name, "content-length") => {
                if length.is_some() {
                    return Err(Malformed::SeveralLengths);
                }
                length = Some(parse_length(value).ok_or(Malformed::BadLength)?);
            }
            17 if is(name, "transfer-encoding") => {
                // `chunked` alone: a coding before it (gzip) would reach services that cannot
                // undo it, a second line or another final coding leaves the length unknown.
                if chunked || http10 || !trimmed(value).eq_ignore_ascii_case(b"chunked") {
                    return Err(Malformed::BadTransferEncoding);
                }
                chunked = true;
            }
            _ => {}
        }
    }
    framing.body = match (length, chunked) {
        (Some(_), true) => return Err(Malformed::LengthAndChunked),
        (_, true) => Body::Chunked,
        (length, false) => Body::Length(length.unwrap_or(0)),
    };
    Ok(framing)
}

fn is(name: &[u8], known: &str) -> bool {
    name.eq_ignore_ascii_case(known.as_bytes())
}

/// Without surrounding spaces and tabs (httparse leaves trailing ones).
fn trimmed(value: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// Digits only (`u64::from_str` would take a sign), no list: `5, 5` is several values.
pub fn parse_length(value: &[u8]) -> Option<u64> {
    let value = trimmed(value);
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// `uri-host [ ":" port ]` (RFC 3986 reg-name, IPv4 or bracketed IPv6); empty is allowed.
fn is_authority(value: &[u8]) -> bool {
    value
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]%".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(lines: &[(&str, &str)]) -> Result<Framing, Malformed> {
        check(
            lines.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            false,
        )
    }

    #[test]
    fn one_length_or_one_chunked_frames_a_body() {
        let length = checked(&[("Host", "a"), ("Content-Length", "12")]);
        assert_eq!(length.map(|f| f.body), Ok(Body::Length(12)));
        let chunked = checked(&[("host", "a"), ("Transfer-Encoding", "Chunked")]);
        assert_eq!(chunked.map(|f| (f.body, f.hosts)), Ok((Body::Chunked, 1)));
    }

    #[test]
    fn ambiguous_framing_is_refused_whatever_the_order_or_case() {
        let cases: [(&[(&str, &str)], Malformed); 9] = [
            (
                &[("content-length", "3"), ("transfer-encoding", "chunked")],
                Malformed::LengthAndChunked,
            ),
            (
                &[("Transfer-Encoding", "chunked"), ("CONTENT-LENGTH", "3")],
                Malformed::LengthAndChunked,
            ),
            (
                &[("content-length", "3"), ("content-length", "3")],
                Malformed::SeveralLengths,
            ),
            (&[("content-length", "3, 3")], Malformed::BadLength),
            (&[("content-length", "+3")], Malformed::BadLength),
            (
                &[("transfer-encoding", "gzip, chunked")],
                Malformed::BadTransferEncoding,
            ),
            (
                &[("transfer-encoding", "chunked"), ("transfer-encoding", "x")],
                Malformed::BadTransferEncoding,
            ),
            (
                &[("transfer-encoding", "xchunked")],
                Malformed::BadTransferEncoding,
            ),
            (&[("host", "a"), ("Host", "b")], Malformed::SeveralHosts),
        ];
        for (lines, expected) in cases {
            assert_eq!(checked(lines), Err(expected), "{lines:?}");
        }
    }

    #[test]
    fn chunked_coding_in_http_1_0_is_refused() {
        let lines = [(b"transfer-encoding".as_slice(), b"chunked".as_slice())];
        assert_eq!(
            check(lines.into_iter(), true),
            Err(Malformed::BadTransferEncoding)
        );
    }

    #[test]
    fn a_host_that_is_not_an_authority_is_refused() {
        assert_eq!(checked(&[("host", "a b/c")]), Err(Malformed::BadHost));
        assert!(checked(&[("host", "[::1]:8000")]).is_ok());
    }
}

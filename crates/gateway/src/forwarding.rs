//! What a service receives of a client's request head, the same for both front ends: which of
//! the client's header lines go on, which the gateway adds (request id, trace context,
//! `X-Forwarded-*`, identity), and who the client is for the rate limits.
//!
//! It works on header lines (name in any case, value bytes) rather than a header map, so that the
//! wire front end can write a forwarded head straight from the bytes it received.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use platform::auth::{TokenSource, token_from_values};
use platform::telemetry::propagation::Wire;

use crate::auth::Identity;

/// One header line: its name (any case) and value.
pub(crate) type Line<'a> = (&'a [u8], &'a [u8]);

/// The lines of a header map (collected: its iterator cannot be cloned for a second pass).
pub(crate) fn lines(headers: &HeaderMap) -> Vec<Line<'_>> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()))
        .collect()
}

/// A header map of `lines`, for the rare requests whose checks work on one (preflights).
pub(crate) fn header_map<'a>(lines: impl Iterator<Item = Line<'a>>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        append(&mut map, name, value);
    }
    map
}

/// Adds a line to `map`; one a map cannot hold (httparse and hyper accept a little more) is left
/// out.
fn append(map: &mut HeaderMap, name: &[u8], value: &[u8]) {
    if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
        map.append(name, value);
    }
}

/// The address a connection comes from, with its text as a header value (made once per
/// connection, not per request).
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The address.
    pub(crate) ip: IpAddr,
    text: HeaderValue,
}

impl Peer {
    /// `ip` and its text.
    pub(crate) fn new(ip: IpAddr) -> Self {
        let text = HeaderValue::from_str(&ip.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Self { ip, text }
    }
}

/// What the gateway adds to a request it forwards.
pub(crate) struct Additions<'a> {
    pub request_id: &'a HeaderValue,
    pub peer: Option<&'a Peer>,
    /// Trusted proxies in front (`FORWARDED_HOPS`). With none, the client's `X-Forwarded-*` are
    /// replaced; behind trusted proxies the chain is extended and their values kept.
    pub hops: usize,
    /// The verified identity on a protected route; its headers replace the client's.
    pub identity: Option<&'a Identity>,
    /// The trace context the service continues ([`crate::trace::Hop`]); the client's own
    /// `traceparent` and `tracestate` never go on as they came.
    pub trace: Option<&'a Wire>,
}

#[cfg(test)]
impl<'a> Additions<'a> {
    /// Only the request id: a request from no known peer, with no identity and no trace.
    pub(crate) fn request_id_only(request_id: &'a HeaderValue) -> Self {
        Self {
            request_id,
            peer: None,
            hops: 0,
            identity: None,
            trace: None,
        }
    }
}

fn is(name: &[u8], known: &str) -> bool {
    name.eq_ignore_ascii_case(known.as_bytes())
}

/// A value as text, when `HeaderValue::to_str` would give it: ASCII. (Both httparse and
/// `HeaderValue` have already refused control characters other than tab.)
fn text(value: &[u8]) -> Option<&str> {
    // One pass without an early exit, which the compiler vectorises (`is_ascii` went byte by
    // byte over a 300-byte cookie).
    let ascii = value.iter().fold(0_u8, |all, b| all | b) < 0x80;
    if ascii {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

fn values<'a>(
    lines: impl Iterator<Item = Line<'a>>,
    name: &'static str,
) -> impl Iterator<Item = &'a str> {
    lines
        .filter(move |(n, _)| is(n, name))
        .filter_map(|(_, value)| text(value))
}

/// The request's token: `Authorization: Bearer` first, then the `gallery_cookie` cookie.
pub(crate) fn token<'a>(lines: impl Iterator<Item = Line<'a>> + Clone) -> TokenSource<'a> {
    let authorization = lines
        .clone()
        .find(|(name, _)| is(name, "authorization"))
        .and_then(|(_, value)| text(value));
    token_from_values(authorization, values(lines, "cookie"))
}

/// The first value of `name`, as received.
pub(crate) fn first<'a>(
    mut lines: impl Iterator<Item = Line<'a>>,
    name: &'static str,
) -> Option<&'a [u8]> {
    lines.find(|(n, _)| is(n, name)).map(|(_, value)| value)
}

/// The client's address: the peer, or the entry `hops` places from the right of
/// `X-Forwarded-For` when trusted proxies stand in front.
pub(crate) fn client_address<'a>(
    lines: impl Iterator<Item = Line<'a>>,
    peer: Option<IpAddr>,
    hops: usize,
) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    let chain: Vec<&str> = values(lines, "x-forwarded-for")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    chain
        .len()
        .checked_sub(hops)
        .and_then(|i| chain.get(i))
        .and_then(|s| s.parse().ok())
        .or(peer)
}

/// The header names forwarding treats specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Ends at this hop (RFC 9110 §7.6.1, plus the non-standard ones proxies still see).
    HopByHop,
    Connection,
    Host,
    RequestId,
    ForwardedFor,
    ForwardedProto,
    ForwardedHost,
    /// Only the gateway may set it ([`crate::proxy::IDENTITY_HEADERS`]).
    Identity,
    Authorization,
    /// `traceparent` and `tracestate`: the gateway's to set ([`Additions::trace`]).
    TraceContext,
    Other,
}

/// The kind of a header name in any case. Per line of every forwarded request and response, so
/// the length picks the few names it can be before any byte is compared (most lines match none).
fn kind(name: &[u8]) -> Kind {
    let candidates: &[(&[u8], Kind)] = match name.len() {
        2 => &[(b"te", Kind::HopByHop)],
        4 => &[(b"host", Kind::Host)],
        7 => &[(b"trailer", Kind::HopByHop), (b"upgrade", Kind::HopByHop)],
        10 => &[
            (b"keep-alive", Kind::HopByHop),
            (b"connection", Kind::Connection),
            (b"tracestate", Kind::TraceContext),
        ],
        11 => &[
            (b"x-member-id", Kind::Identity),
            (b"traceparent", Kind::TraceContext),
        ],
        12 => &[
            (b"x-request-id", Kind::RequestId),
            (b"x-session-id", Kind::Identity),
        ],
        13 => &[
            (b"x-member-role", Kind::Identity),
            (b"authorization", Kind::Authorization),
        ],
        14 => &[(b"x-access-token", Kind::Identity)],
        15 => &[(b"x-forwarded-for", Kind::ForwardedFor)],
        16 => &[
            (b"x-forwarded-host", Kind::ForwardedHost),
            (b"proxy-connection", Kind::HopByHop),
        ],
        17 => &[
            (b"transfer-encoding", Kind::HopByHop),
            (b"x-forwarded-proto", Kind::ForwardedProto),
        ],
        18 => &[
            (b"proxy-authenticate", Kind::HopByHop),
            (b"x-access-token-exp", Kind::Identity),
        ],
        19 => &[(b"proxy-authorization", Kind::HopByHop)],
        _ => &[],
    };
    candidates
        .iter()
        .find(|(candidate, _)| name.eq_ignore_ascii_case(candidate))
        .map_or(Kind::Other, |&(_, kind)| kind)
}

/// Whether `name` ends at this hop by its kind (RFC 9110 §7.6.1), whatever the message says.
pub(crate) fn is_hop_by_hop(name: &[u8]) -> bool {
    matches!(kind(name), Kind::HopByHop | Kind::Connection)
}

/// Whether the `Connection` lines among `lines` name `name` (which then ends at this hop too).
pub(crate) fn named_by_connection<'a>(lines: impl Iterator<Item = Line<'a>>, name: &[u8]) -> bool {
    values(lines, "connection")
        .flat_map(|list| list.split(','))
        .any(|token| is(name, token.trim()))
}

/// What one pass over the client's lines found that decides what the others become.
#[derive(Default)]
struct Found<'a> {
    connection: bool,
    forwarded_proto: bool,
    forwarded_host: bool,
    host: Option<&'a [u8]>,
}

impl<'a> Found<'a> {
    fn scan(lines: impl Iterator<Item = Line<'a>>) -> Self {
        let mut found = Self::default();
        for (name, value) in lines {
            match kind(name) {
                Kind::Connection => found.connection = true,
                Kind::ForwardedProto => found.forwarded_proto = true,
                Kind::ForwardedHost => found.forwarded_host = true,
                Kind::Host if found.host.is_none() => found.host = Some(value),
                _ => {}
            }
        }
        found
    }
}

/// Hands `emit` the header lines a service receives for the client's `lines`: the client's in
/// their order, without hop-by-hop headers (and those `Connection` names), `Host` (the upstream's
/// is written by the sender), the request id and every header only the gateway may set; then the
/// gateway's own.
pub(crate) fn forward_lines<'a, I>(
    lines: I,
    add: &Additions<'_>,
    mut emit: impl FnMut(&[u8], &[u8]),
) where
    I: Iterator<Item = Line<'a>> + Clone,
{
    let trusted = add.hops > 0;
    let found = Found::scan(lines.clone());
    let listed = lines.clone();
    let named_by_connection =
        |name: &[u8]| found.connection && named_by_connection(listed.clone(), name);
    let kept = |name: &[u8]| {
        let by_kind = match kind(name) {
            Kind::Other => true,
            Kind::ForwardedProto | Kind::ForwardedHost => trusted,
            Kind::Authorization => add.identity.is_none(),
            Kind::HopByHop
            | Kind::Connection
            | Kind::Host
            | Kind::RequestId
            | Kind::ForwardedFor
            | Kind::Identity
            | Kind::TraceContext => false,
        };
        by_kind && !named_by_connection(name)
    };
    for (name, value) in lines.clone() {
        if kept(name) {
            emit(name, value);
        }
    }
    emit(b"x-request-id", add.request_id.as_bytes());
    if let Some(trace) = add.trace {
        emit(b"traceparent", trace.traceparent.as_bytes());
        if let Some(state) = &trace.tracestate {
            emit(b"tracestate", state.as_bytes());
        }
    }
    forwarded_for(lines, add, &mut emit);
    // A trusted proxy's value is kept when it went on (a `Connection` header may have named it).
    let passed_on = |present: bool, name: &[u8]| trusted && present && !named_by_connection(name);
    if !passed_on(found.forwarded_proto, b"x-forwarded-proto") {
        emit(b"x-forwarded-proto", b"http");
    }
    if !passed_on(found.forwarded_host, b"x-forwarded-host")
        && let Some(host) = found.host
    {
        emit(b"x-forwarded-host", host);
    }
    if let Some(identity) = add.identity {
        for (name, value) in identity.headers() {
            emit(name.as_str().as_bytes(), value.as_bytes());
        }
    }
}

/// `X-Forwarded-For`: the peer, after the trusted proxies' chain when there are any.
fn forwarded_for<'a>(
    lines: impl Iterator<Item = Line<'a>>,
    add: &Additions<'_>,
    emit: &mut impl FnMut(&[u8], &[u8]),
) {
    let peer = add.peer.map(|p| p.text.as_bytes());
    if add.hops == 0 {
        if let Some(peer) = peer {
            emit(b"x-forwarded-for", peer);
        }
        return;
    }
    let mut chain = Vec::new();
    let mut push = |value: &[u8]| {
        if !chain.is_empty() {
            chain.extend_from_slice(b", ");
        }
        chain.extend_from_slice(value);
    };
    values(lines, "x-forwarded-for").for_each(|value| push(value.as_bytes()));
    if let Some(peer) = peer {
        push(peer);
    }
    if !chain.is_empty() {
        emit(b"x-forwarded-for", &chain);
    }
}

/// [`forward_lines`] applied to a header map.
pub(crate) fn rewrite(headers: &mut HeaderMap, add: &Additions<'_>) {
    let received = std::mem::take(headers);
    forward_lines(lines(&received).into_iter(), add, |name, value| {
        append(headers, name, value);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(received: &[(&str, &str)], hops: usize) -> Vec<(String, String)> {
        let request_id = HeaderValue::from_static("rid");
        let peer = Peer::new(IpAddr::from([10, 0, 0, 7]));
        let add = Additions {
            request_id: &request_id,
            peer: Some(&peer),
            hops,
            identity: None,
            trace: None,
        };
        let lines = received
            .iter()
            .map(|(name, value)| (name.as_bytes(), value.as_bytes()));
        let mut out = Vec::new();
        forward_lines(lines, &add, |name, value| {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            out.push((text(name), text(value)));
        });
        out
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_hop_by_hop_and_identity_name_is_known_in_any_case() {
        use crate::proxy::IDENTITY_HEADERS;
        // RFC 9110 §7.6.1, plus the non-standard ones proxies still see.
        let hop_by_hop = [
            "connection",
            "keep-alive",
            "proxy-authenticate",
            "proxy-authorization",
            "proxy-connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
        ];
        for name in hop_by_hop {
            let upper = name.to_ascii_uppercase();
            let expected = if name == "connection" {
                Kind::Connection
            } else {
                Kind::HopByHop
            };
            assert_eq!(kind(upper.as_bytes()), expected, "{name}");
        }
        for name in &IDENTITY_HEADERS {
            assert_eq!(kind(name.as_str().as_bytes()), Kind::Identity, "{name}");
        }
        assert_eq!(kind(b"a-header-name-longer-than-twenty"), Kind::Other);
    }

    #[test]
    fn every_special_name_has_its_kind_in_any_case_and_near_misses_have_none() {
        let special = [
            ("host", Kind::Host),
            ("x-request-id", Kind::RequestId),
            ("x-forwarded-for", Kind::ForwardedFor),
            ("x-forwarded-proto", Kind::ForwardedProto),
            ("x-forwarded-host", Kind::ForwardedHost),
            ("authorization", Kind::Authorization),
            ("traceparent", Kind::TraceContext),
            ("tracestate", Kind::TraceContext),
            ("x-access-token-exp", Kind::Identity),
        ];
        for (name, expected) in special {
            assert_eq!(kind(name.as_bytes()), expected, "{name}");
            assert_eq!(
                kind(name.to_ascii_uppercase().as_bytes()),
                expected,
                "{name}"
            );
            let near_miss = format!("{name}x");
            assert_eq!(kind(near_miss.as_bytes()), Kind::Other, "{near_miss}");
        }
    }

    #[test]
    fn hop_by_hop_lines_and_those_connection_names_stop_here_whatever_their_case() {
        let out = forwarded(
            &[
                ("Connection", "keep-alive, X-Secret-Hop"),
                ("x-secret-hop", "1"),
                ("TE", "trailers"),
                ("Accept", "*/*"),
            ],
            0,
        );
        assert_eq!(out[0], ("Accept".to_owned(), "*/*".to_owned()));
        assert!(out[1..].iter().all(|(name, _)| name.starts_with("x-")));
        assert!(
            !out.iter()
                .any(|(name, _)| is(name.as_bytes(), "x-secret-hop"))
        );
    }

    #[test]
    fn any_header_the_connection_header_names_stops_here_even_one_kept_otherwise() {
        let out = forwarded(
            &[
                ("connection", "Authorization, x-forwarded-proto"),
                ("authorization", "Basic abc"),
                ("x-forwarded-proto", "https"),
            ],
            1,
        );
        assert!(
            !out.iter().any(|(name, _)| name == "authorization"),
            "{out:?}"
        );
        assert!(out.contains(&("x-forwarded-proto".to_owned(), "http".to_owned())));
    }

    #[test]
    fn without_trusted_proxies_the_clients_forwarded_values_are_replaced() {
        let out = forwarded(
            &[
                ("X-Forwarded-For", "6.6.6.6"),
                ("x-forwarded-host", "evil.example"),
                ("Host", "thegallery.site"),
            ],
            0,
        );
        let expected = [
            ("x-request-id", "rid"),
            ("x-forwarded-for", "10.0.0.7"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "thegallery.site"),
        ];
        assert_eq!(out, pairs(&expected));
    }

    #[test]
    fn behind_a_trusted_proxy_the_chain_is_extended_and_its_values_kept() {
        let out = forwarded(
            &[
                ("x-forwarded-for", "6.6.6.6"),
                ("x-forwarded-for", "203.0.113.9"),
                ("x-forwarded-proto", "https"),
                ("host", "internal"),
            ],
            1,
        );
        let expected = [
            ("x-forwarded-proto", "https"),
            ("x-request-id", "rid"),
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.7"),
            ("x-forwarded-host", "internal"),
        ];
        assert_eq!(out, pairs(&expected));
    }

    #[test]
    fn spoofed_identity_and_request_id_lines_are_dropped_in_any_case() {
        let out = forwarded(
            &[
                ("X-Member-Id", "1"),
                ("x-member-role", "ADMIN"),
                ("X-SESSION-ID", "s"),
                ("x-request-id", "client-chosen"),
            ],
            0,
        );
        let names: Vec<&str> = out.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["x-request-id", "x-forwarded-for", "x-forwarded-proto"]
        );
        assert_eq!(out[0].1, "rid");
    }

    #[test]
    fn behind_one_trusted_proxy_the_client_is_the_last_forwarded_entry() {
        let lines = [(
            b"x-forwarded-for".as_slice(),
            b"6.6.6.6, 203.0.113.9".as_slice(),
        )];
        let client = client_address(lines.into_iter(), "10.0.0.2".parse().ok(), 1);
        assert_eq!(client, "203.0.113.9".parse().ok());
    }

    #[test]
    fn the_bearer_header_wins_over_the_cookie() {
        let lines = [
            (b"Cookie".as_slice(), b"gallery_cookie=c.o.o".as_slice()),
            (b"AUTHORIZATION".as_slice(), b"Bearer b.e.a".as_slice()),
        ];
        assert_eq!(token(lines.into_iter()), TokenSource::Token("b.e.a"));
    }
}

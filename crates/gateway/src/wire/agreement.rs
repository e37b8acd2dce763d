//! A property test of the front end against an independent reading: for generated request heads
//! (tricky methods, targets, versions, framing lines, separators, line ends, control bytes),
//! whatever the front end relays itself, httparse reads as the same method, target, header lines
//! and body length, and the head it forwards reads the same upstream with one `Host` and one way
//! to frame the body; and no head whose framing an independent count finds ambiguous is accepted.

use bytes::Bytes;
use http::HeaderValue;
use http::uri::Authority;
use proptest::prelude::*;

use super::request::{Parsed, head_end, write_upstream_head};
use crate::forwarding::Additions;
use crate::framing::MAX_HEADERS;

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("GET".to_owned()),
        4 => Just("POST".to_owned()),
        1 => Just("DELETE".to_owned()),
        1 => Just("CONNECT".to_owned()),
        1 => Just("get".to_owned()),
        1 => Just("G\0T".to_owned()),
        1 => "[A-Z]{1,8}",
    ]
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "/api/post/[a-z0-9%./?=&-]{0,16}",
        1 => Just("/health".to_owned()),
        1 => Just("http://a/api/post/1".to_owned()),
        1 => Just("*".to_owned()),
        1 => Just("/a b".to_owned()),
        1 => Just("/a\x7f".to_owned()),
    ]
}

fn version() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        6 => Just("HTTP/1.1"),
        1 => Just("HTTP/1.0"),
        1 => Just("HTTP/2.0"),
        1 => Just("http/1.1"),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("Host".to_owned()),
        1 => Just("content-length".to_owned()),
        1 => Just("Content-Length".to_owned()),
        1 => Just("Transfer-Encoding".to_owned()),
        1 => Just("connection".to_owned()),
        1 => Just("Expect".to_owned()),
        1 => Just("Upgrade".to_owned()),
        1 => Just("X-Member-Id".to_owned()),
        1 => Just("Transfer_Encoding".to_owned()),
        12 => "[A-Za-z][A-Za-z0-9-]{0,10}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("5".to_owned()),
        1 => Just("05".to_owned()),
        1 => Just("+5".to_owned()),
        1 => Just("5, 5".to_owned()),
        1 => Just("-1".to_owned()),
        1 => Just("99999999999999999999".to_owned()),
        1 => Just("chunked".to_owned()),
        1 => Just("Chunked ".to_owned()),
        1 => Just("gzip, chunked".to_owned()),
        1 => Just("close".to_owned()),
        1 => Just("upgrade".to_owned()),
        1 => Just("a\rb".to_owned()),
        1 => Just("a\0b".to_owned()),
        1 => Just("\x0bchunked".to_owned()),
        1 => Just(String::new()),
        16 => "[ -~]{0,12}",
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        30 => Just(": "),
        1 => Just(":"),
        1 => Just(" : "),
        1 => Just(":\t"),
    ]
}

fn line_end() -> impl Strategy<Value = &'static str> {
    prop_oneof![30 => Just("\r\n"), 2 => Just("\n"), 1 => Just("\r\n ")]
}

/// A line that frames the body or names the host, well formed: these are what attacks combine.
fn framing_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Content-Length: 5\r\n".to_owned()),
        Just("content-length: 0\r\n".to_owned()),
        Just("Content-Length: 05\r\n".to_owned()),
        Just("Transfer-Encoding: chunked\r\n".to_owned()),
        Just("transfer-encoding: CHUNKED\r\n".to_owned()),
        Just("Host: b\r\n".to_owned()),
        Just("Connection: close\r\n".to_owned()),
        Just("X-Member-Id: 1\r\n".to_owned()),
    ]
}

/// Any line, often not well formed.
fn any_line() -> impl Strategy<Value = String> {
    (name(), separator(), value(), line_end())
        .prop_map(|(name, separator, value, end)| format!("{name}{separator}{value}{end}"))
}

prop_compose! {
    fn head()(
        method in method(),
        target in target(),
        version in version(),
        host in prop::option::weighted(0.9, "[a-z0-9.:-]{0,12}"),
        lines in prop::collection::vec(prop_oneof![any_line(), framing_line()], 0..8),
    ) -> String {
        let mut head = format!("{method} {target} {version}\r\n");
        if let Some(host) = host {
            head.push_str(&format!("Host: {host}\r\n"));
        }
        for line in lines {
            head.push_str(&line);
        }
        head.push_str("\r\n");
        head
    }
}

/// What an independent reading of httparse's header lines makes of the framing.
struct Independent {
    lengths: Vec<Vec<u8>>,
    codings: usize,
    hosts: usize,
}

fn independent(headers: &[httparse::Header<'_>]) -> Independent {
    let count = |name: &str| {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .count()
    };
    Independent {
        lengths: headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| h.value.to_vec())
            .collect(),
        codings: count("transfer-encoding"),
        hosts: count("host"),
    }
}

fn forwarded(head: &super::request::Head<'_>) -> Vec<u8> {
    let request_id = HeaderValue::from_static("rid");
    let additions = Additions::request_id_only(&request_id);
    let mut out = Vec::new();
    let authority = Authority::from_static("post:8003");
    write_upstream_head(&mut out, head, &authority, &additions);
    out
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let bytes = Bytes::copy_from_slice(text.as_bytes());
    let Some(end) = head_end(&bytes, 0) else {
        return Ok(());
    };
    let head = bytes.slice(..end);
    let mut slots = super::request::slots();
    let parsed = Parsed::parse(&head, &mut slots);
    let mut theirs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut theirs);
    let complete = matches!(request.parse(&head), Ok(httparse::Status::Complete(n)) if n == end);
    let ours = match parsed {
        Parsed::Refused(..) => return Ok(()),
        Parsed::Hyper | Parsed::Plain(_) if !complete => {
            return Err(TestCaseError::fail("accepted a head httparse refuses"));
        }
        Parsed::Hyper => None,
        Parsed::Plain(ours) => Some(ours),
    };
    let seen = independent(request.headers);
    prop_assert!(seen.lengths.len() <= 1 && seen.codings <= 1 && seen.hosts <= 1);
    prop_assert!(seen.lengths.is_empty() || seen.codings == 0);
    let Some(ours) = ours else {
        return Ok(());
    };
    prop_assert_eq!(Some(ours.method.as_str()), request.method);
    prop_assert_eq!(Some(ours.target.as_str()), request.path);
    let our_lines: Vec<(&[u8], &[u8])> = ours.lines().collect();
    let their_lines: Vec<(&[u8], &[u8])> = request
        .headers
        .iter()
        .map(|h| (h.name.as_bytes(), h.value))
        .collect();
    prop_assert_eq!(our_lines, their_lines);
    let length = seen.lengths.first().map_or(Some(0), |v| {
        std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok()
    });
    prop_assert_eq!(Some(ours.body_len), length);
    prop_assert_eq!(seen.codings, 0);

    let out = forwarded(&ours);
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS + 16];
    let mut upstream = httparse::Request::new(&mut slots);
    let read = upstream.parse(&out);
    prop_assert!(matches!(read, Ok(httparse::Status::Complete(n)) if n == out.len()));
    prop_assert_eq!(upstream.method, request.method);
    prop_assert_eq!(upstream.path, request.path);
    prop_assert_eq!(upstream.version, Some(1));
    let again = independent(upstream.headers);
    prop_assert_eq!(again.hosts, 1);
    prop_assert_eq!(again.codings, 0);
    prop_assert_eq!(again.lengths, seen.lengths);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn what_the_front_end_relays_reads_the_same_to_httparse_before_and_after_forwarding(
        text in head(),
    ) {
        check(&text)?;
    }
}

#[test]
fn the_property_holds_for_heads_the_front_end_relays_and_refuses() {
    for text in [
        "POST /api/post/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
        "POST /api/post/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /api/post/1 HTTP/1.1\nHost: a\nX-A: b\n\n",
    ] {
        assert!(check(text).is_ok(), "{text:?}");
    }
}

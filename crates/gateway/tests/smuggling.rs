//! Request smuggling against the gateway: the classic framing attacks (CL.TE, TE.CL, TE.TE with
//! obfuscated values, duplicate lengths, chunk-size overflow, chunk extensions, trailers) sent raw,
//! behind them an upstream that records exactly the requests it parsed from the bytes it received.
//! Each attack is either refused before any byte goes upstream, or arrives as the one request the
//! gateway read; and a request sent afterwards arrives alone, so nothing was left to desync.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::{Harness, Setup, host_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the recording upstream parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What the upstream saw: whole requests, and bytes it could not read as one.
#[derive(Debug, Default)]
struct Record {
    requests: Vec<Received>,
    leftovers: Vec<Vec<u8>>,
}

type Shared = Arc<Mutex<Record>>;

/// An upstream that parses requests with httparse (lengths and chunked bodies decoded by hand),
/// records each, and answers `200 ok` on a kept-alive connection.
async fn recording_upstream() -> (SocketAddr, Shared) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let record = Shared::default();
    let shared = Arc::clone(&record);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(upstream_connection(stream, Arc::clone(&shared)));
        }
    });
    (addr, record)
}

async fn upstream_connection(mut stream: TcpStream, record: Shared) {
    let mut input = Vec::new();
    let mut buf = [0_u8; 16 * 1024];
    loop {
        while let Some((request, used)) = parse_request(&input) {
            input.drain(..used);
            record.lock().unwrap().requests.push(request);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if stream.write_all(answer).await.is_err() {
                return;
            }
        }
        match stream.read(&mut buf).await {
            Ok(n) if n > 0 => input.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    if !input.is_empty() {
        record.lock().unwrap().leftovers.push(input);
    }
}

/// One whole request at the front of `input`, and its length.
fn parse_request(input: &[u8]) -> Option<(Received, usize)> {
    let mut slots = [httparse::EMPTY_HEADER; 128];
    let mut request = httparse::Request::new(&mut slots);
    let httparse::Status::Complete(head) = request.parse(input).ok()? else {
        return None;
    };
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).into_owned();
            (h.name.to_owned(), value)
        })
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
    let rest = &input[head..];
    let (body, used) = if find("transfer-encoding").is_some() {
        dechunk(rest)?
    } else {
        let length: usize = find("content-length").map_or(0, |(_, v)| v.parse().unwrap());
        (rest.get(..length)?.to_vec(), length)
    };
    let received = Received {
        method: request.method?.to_owned(),
        target: request.path?.to_owned(),
        headers,
        body,
    };
    Some((received, head + used))
}

/// A whole chunked body at the front of `input`: its data and the bytes it took.
fn dechunk(input: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let line_end = at + input[at..].windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&input[at..line_end]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // Trailer lines, then the empty line.
            loop {
                let end = at + input[at..].windows(2).position(|w| w == b"\r\n")?;
                let empty = end == at;
                at = end + 2;
                if empty {
                    return Some((body, at));
                }
            }
        }
        body.extend_from_slice(input.get(at..at + size)?);
        at += size + 2;
    }
}

/// A gateway in front of the recording upstream, with member 1 signed in.
struct Attack {
    gateway: Harness,
    cookie: String,
    record: Shared,
}

impl Attack {
    async fn start() -> Self {
        let (upstream, record) = recording_upstream().await;
        let gateway = Harness::in_front_of_post(upstream).await;
        let (token, _) = gateway.login(1).await;
        Self {
            gateway,
            cookie: format!("Cookie: gallery_cookie={token}"),
            record,
        }
    }

    /// Sends `raw` (with `{cookie}` replaced by the member's cookie line) on a new connection and
    /// reads everything the gateway sends back until it closes the connection.
    async fn send(&self, raw: &str) -> String {
        let raw = raw.replace("{cookie}", &self.cookie);
        common::exchange_raw(self.gateway.addr, raw.as_bytes()).await
    }

    /// Everything the upstream recorded since the last call.
    fn take(&self) -> Record {
        std::mem::take(&mut *self.record.lock().unwrap())
    }

    /// Sends `raw`, hands the answer and what the upstream recorded of it to `check`, then proves
    /// the upstream side is still in step.
    async fn expect(&self, raw: &str, check: impl FnOnce(&str, &Record)) {
        let answer = self.send(raw).await;
        check(&answer, &self.take());
        self.assert_in_step().await;
    }

    /// A plain request afterwards arrives alone and whole: the upstream side is in step.
    async fn assert_in_step(&self) {
        let answer = self
            .send(
                "POST /api/post/after HTTP/1.1\r\nHost: a\r\n{cookie}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nafter",
            )
            .await;
        assert_ok(&answer);
        let record = self.take();
        let seen: Vec<(&str, &[u8])> = record
            .requests
            .iter()
            .map(|r| (r.target.as_str(), r.body.as_slice()))
            .collect();
        assert_eq!(seen, [("/api/post/after", b"after".as_slice())]);
    }
}

/// Sends `raw` through a gateway of its own and checks it as `Attack::expect` does.
async fn attack(raw: &str, check: impl FnOnce(&str, &Record)) {
    Attack::start().await.expect(raw, check).await;
}

/// The answer is a 200 from the upstream.
fn assert_ok(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
}

/// The one request the upstream recorded.
fn only(record: &Record) -> &Received {
    assert_eq!(record.requests.len(), 1, "{record:?}");
    &record.requests[0]
}

/// The answer is the upstream's 200 and the upstream read one whole request and no stray bytes;
/// returns that request.
fn forwarded_alone<'a>(answer: &str, record: &'a Record) -> &'a Received {
    assert_ok(answer);
    assert!(record.leftovers.is_empty(), "{record:?}");
    only(record)
}

/// The answer is a 400 in the gateway's error shape, sent once and followed by the close.
fn assert_refused(answer: &str) {
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    assert!(answer.contains(r#""errorCode":"GATE001""#), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
}

async fn assert_refused_and_never_forwarded(attack: &Attack, raw: &str) {
    attack
        .expect(raw, |answer, record| {
            assert_refused(answer);
            assert!(record.requests.is_empty(), "{raw:?} reached: {record:?}");
            assert!(record.leftovers.is_empty(), "{raw:?} left: {record:?}");
        })
        .await;
}

/// Sends each of `raws` in turn through one gateway; every one must be refused and never forwarded.
async fn assert_each_refused_and_never_forwarded(raws: impl IntoIterator<Item = String>) {
    let attack = Attack::start().await;
    for raw in raws {
        assert_refused_and_never_forwarded(&attack, &raw).await;
    }
}

/// One test per attack that must be refused before any byte of it goes upstream.
macro_rules! refused_and_never_forwarded {
    ($($name:ident: $raw:expr;)+) => {$(
        #[tokio::test]
        async fn $name() {
            assert_refused_and_never_forwarded(&Attack::start().await, $raw).await;
        }
    )+};
}

refused_and_never_forwarded! {
    cl_te_a_length_beside_chunked_is_refused_and_never_forwarded:
        "POST /api/post/a HTTP/1.1\r\nHost: a\r\n{cookie}\r\nContent-Length: 49\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/post/smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    te_cl_chunked_before_a_length_is_refused_and_never_forwarded:
        "POST /api/post/a HTTP/1.1\r\nHost: a\r\n{cookie}\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2e\r\nGET /api/post/smuggled HTTP/1.1\r\nHost: a\r\n\r\n\r\n0\r\n\r\n";
    several_host_lines_are_refused_and_never_forwarded:
        "GET /api/post/a HTTP/1.1\r\nHost: a\r\nHost: internal\r\n{cookie}\r\n\r\n";
}

/// One test per family of variants, each put into its request by the closure and sent in turn
/// through one gateway; every one must be refused and never forwarded.
macro_rules! each_refused_and_never_forwarded {
    ($($name:ident: [$($variant:expr),+ $(,)?] => $request:expr;)+) => {$(
        #[tokio::test]
        async fn $name() {
            assert_each_refused_and_never_forwarded([$($variant),+].map($request)).await;
        }
    )+};
}

each_refused_and_never_forwarded! {
    duplicate_lengths_equal_or_not_are_refused_and_never_forwarded: [
        "Content-Length: 5\r\nContent-Length: 5",
        "Content-Length: 0\r\nContent-Length: 5",
        "Content-Length: 5, 5",
        "Content-Length: +5",
    ] => |lengths| {
        format!("POST /api/post/a HTTP/1.1\r\nHost: a\r\n{{cookie}}\r\n{lengths}\r\n\r\nhello")
    };
    obs_fold_bare_cr_nul_and_space_before_a_colon_are_refused: [
        "X-A: one\r\n two",
        "X-A: one\rX-B: two",
        "X-A: one\0two",
        "X-A : one",
    ] => |line| format!("GET /api/post/a HTTP/1.1\r\nHost: a\r\n{{cookie}}\r\n{line}\r\n\r\n");
}

#[tokio::test]
async fn te_te_obfuscated_codings_are_refused_and_never_forwarded() {
    let attack = Attack::start().await;
    let obfuscated = [
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: cow",
        "Transfer-Encoding: xchunked",
        "Transfer-Encoding: chunked, identity",
        "Transfer-Encoding: identity, chunked",
        "Transfer-Encoding : chunked",
        "Transfer-Encoding:\x0bchunked",
        "X: y\r\n Transfer-Encoding: chunked",
        "Transfer-Encoding\r\n : chunked",
    ];
    for coding in obfuscated {
        let raw = format!(
            "POST /api/post/a HTTP/1.1\r\nHost: a\r\n{{cookie}}\r\nContent-Length: 4\r\n{coding}\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n"
        );
        attack
            .expect(&raw, |answer, record| {
                assert!(answer.starts_with("HTTP/1.1 400"), "{coding:?}: {answer}");
                assert!(record.requests.is_empty(), "{coding:?} reached: {record:?}");
            })
            .await;
    }
}

#[tokio::test]
async fn a_body_holding_a_request_arrives_as_one_body() {
    let inner = "GET /api/post/smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let raw = format!(
        "POST /api/post/a HTTP/1.1\r\nHost: a\r\n{{cookie}}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{inner}",
        inner.len()
    );
    attack(&raw, |answer, record| {
        assert_ok(answer);
        let received = only(record);
        assert_eq!(received.target, "/api/post/a");
        assert_eq!(received.body, inner.as_bytes());
    })
    .await;
}

#[tokio::test]
async fn a_chunk_size_beyond_64_bits_ends_the_request_before_a_whole_one_goes_upstream() {
    let raw = "POST /api/post/a HTTP/1.1\r\nHost: a\r\n{cookie}\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff1\r\nx\r\n0\r\n\r\nGET /api/post/smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    attack(raw, |answer, record| {
        assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(record.requests.is_empty(), "{record:?}");
    })
    .await;
}

#[tokio::test]
async fn chunk_extensions_stop_at_the_gateway_and_the_data_arrives_whole() {
    let raw = "POST /api/post/a HTTP/1.1\r\nHost: a\r\n{cookie}\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\"0\\r\\n\\r\\nGET /x\"\r\nhello\r\n6;a=b;c\r\n world\r\n0;last\r\n\r\n";
    attack(raw, |answer, record| {
        let received = forwarded_alone(answer, record);
        assert_eq!(received.body, b"hello world");
        assert_eq!(received.header("transfer-encoding"), ["chunked"]);
        assert!(received.header("content-length").is_empty());
    })
    .await;
}

#[tokio::test]
async fn trailers_stop_at_the_gateway_and_a_request_after_them_is_not_read() {
    let raw = "POST /api/post/a HTTP/1.1\r\nHost: a\r\n{cookie}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Member-Id: 999\r\nContent-Length: 40\r\n\r\nGET /api/post/smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    attack(raw, |answer, record| {
        let received = forwarded_alone(answer, record);
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
        assert_eq!(received.target, "/api/post/a");
        assert_eq!(received.body, b"hello");
        assert_eq!(received.header("x-member-id"), ["1"]);
    })
    .await;
}

#[tokio::test]
async fn an_over_long_head_gets_431_and_a_closed_connection() {
    let raw = format!(
        "GET /api/post/a HTTP/1.1\r\nHost: a\r\n{{cookie}}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    attack(&raw, |answer, record| {
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        assert!(answer.contains(r#""errorCode":"GATE001""#), "{answer}");
        assert!(record.requests.is_empty());
    })
    .await;
}

#[tokio::test]
async fn too_many_header_lines_get_431_and_a_closed_connection() {
    let lines: String = (0..120).map(|i| format!("X-{i}: {i}\r\n")).collect();
    let raw = format!("GET /api/post/a HTTP/1.1\r\nHost: a\r\n{{cookie}}\r\n{lines}\r\n");
    attack(&raw, |answer, record| {
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        assert!(record.requests.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_connection_past_the_cap_gets_503_and_is_closed() {
    let (upstream, _record) = recording_upstream().await;
    let gateway = Harness::with(Setup {
        post: Some(host_port(upstream)),
        max_connections: 1,
        ..Setup::default()
    })
    .await;
    let mut held = TcpStream::connect(gateway.addr).await.unwrap();
    held.write_all(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0_u8; 15];
    held.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK");
    // The gateway answers a connection past the cap without waiting for a request.
    let answer = common::exchange_raw(gateway.addr, b"").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""errorCode":"GATE503""#), "{answer}");
}

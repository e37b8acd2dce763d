//! The connection rules of the shared HTTP server, over real sockets on port 0: head deadline,
//! idle keep-alive timeout, body rate, head size, one `Host`, connection cap.

#![expect(
    clippy::unwrap_used,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use platform::CancellationToken;
use platform::http::ConnectionRules;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod support;
use support::CODES;

/// Far longer than any rule below: only a broken rule makes a test wait this long.
const SAFETY: Duration = Duration::from_secs(20);

fn rules() -> ConnectionRules {
    ConnectionRules {
        head_timeout: Duration::from_millis(500),
        body_allowance: Duration::from_millis(500),
        body_min_rate: 100,
        max_head: 16 * 1024,
        max_connections: 1,
    }
}

async fn start(rules: ConnectionRules) -> (SocketAddr, CancellationToken) {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(platform::http::server::serve(
        listener,
        app,
        stop.clone(),
        Duration::from_secs(1),
        rules,
        CODES,
    ));
    (addr, stop)
}

/// Everything the server sends until it closes the connection.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let read = tokio::time::timeout(SAFETY, stream.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&all).into_owned()
}

/// Reads one whole response of a known small size (its head and body arrive together).
async fn one_response(stream: &mut TcpStream) -> String {
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(SAFETY, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Sends `bytes` one at a time with `pause` between them, stopping when the server has closed.
async fn trickle(stream: &mut TcpStream, bytes: &[u8], pause: Duration) {
    for byte in bytes {
        if stream.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

#[tokio::test]
async fn a_head_trickling_in_is_cut_off_at_the_head_deadline() {
    let (addr, _stop) = start(rules()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "GET / HTTP/1.1\r\nhost: x\r\nx-slow: ".to_owned() + &"a".repeat(100);
    trickle(&mut stream, head.as_bytes(), Duration::from_millis(20)).await;
    let answer = until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop) = start(rules()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(one_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    assert_eq!(until_closed(&mut stream).await, "");
}

#[tokio::test]
async fn a_body_trickling_in_below_the_minimum_rate_is_cut_off() {
    let (addr, _stop) = start(rules()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n")
        .await
        .unwrap();
    // 10 bytes per second, a tenth of the minimum; the whole body would take 100 s.
    trickle(&mut stream, &[b'a'; 1000], Duration::from_millis(100)).await;
    let answer = until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn a_head_over_the_limit_answers_431() {
    let (addr, _stop) = start(rules()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn two_host_headers_answer_400_in_the_error_shape() {
    let (addr, _stop) = start(rules()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#""errorCode":"GX005""#), "{answer}");
}

#[tokio::test]
async fn a_connection_over_the_cap_waits_until_another_closes() {
    let (addr, _stop) = start(rules()).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(one_response(&mut first).await.starts_with("HTTP/1.1 200"));
    let mut second = TcpStream::connect(addr).await.unwrap();
    second
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0; 64];
    let early = tokio::time::timeout(Duration::from_millis(100), second.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "the second connection was served while the first was open"
    );
    drop(first);
    assert!(one_response(&mut second).await.starts_with("HTTP/1.1 200"));
}

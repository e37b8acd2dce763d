//! The gateway's own HTTP/1.1 front end, through a real socket: keep-alive after a chunked answer,
//! pipelining, heads that trickle in or end lines with a bare line feed, and the requests it hands
//! to hyper (HTTP/1.0, chunked uploads, `Expect`).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::{get, post};
use common::WithPost;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A post service that streams an answer of unknown length (sent chunked) and echoes body sizes.
fn post_service() -> Router {
    let parts = ["one ", "two ", "three"].map(|s| Ok::<_, Infallible>(Bytes::from(s)));
    Router::new()
        .route(
            "/api/post/stream",
            get(move || async move { Body::from_stream(futures::stream::iter(parts)) }),
        )
        .route(
            "/api/post/echo",
            post(|body: Bytes| async move { format!("got {}", body.len()) }),
        )
}

/// A gateway in front of `post_service`, a raw connection to it, and the `Cookie:` line of its
/// signed-in member; the gateway lives as long as the returned fixture.
async fn open() -> (WithPost, TcpStream, String) {
    let fixture = common::with_post(post_service()).await;
    let stream = TcpStream::connect(fixture.harness.addr).await.unwrap();
    let cookie = format!("Cookie: {}", fixture.cookie);
    (fixture, stream, cookie)
}

/// A POST to the echo route from the member of `cookie` (its `Cookie:` line), framed by the header
/// lines `framing` and followed by `body`.
fn echo(cookie: &str, framing: &str, body: &str) -> String {
    format!("POST /api/post/echo HTTP/1.1\r\nhost: a\r\n{cookie}\r\n{framing}\r\n\r\n{body}")
}

/// Writes `request` and reads until `marker` has appeared once.
async fn ask(stream: &mut TcpStream, request: &str, marker: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    read_until(stream, marker, 1).await
}

/// The answer has `status_line` first and `tail` last.
fn assert_answer(answer: &str, status_line: &str, tail: &str) {
    assert!(answer.starts_with(status_line), "{answer}");
    assert!(answer.ends_with(tail), "{answer}");
}

/// Reads until `marker` has appeared `count` times (or the connection ends).
async fn read_until(stream: &mut TcpStream, marker: &str, count: usize) -> String {
    let mut seen = Vec::new();
    let reading = async {
        let mut buf = [0_u8; 4096];
        while String::from_utf8_lossy(&seen).matches(marker).count() < count {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), reading)
        .await
        .expect("answer in time");
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn a_chunked_answer_is_relayed_whole_and_the_connection_serves_the_next_request() {
    let (_fixture, mut stream, cookie) = open().await;
    let request = format!("GET /api/post/stream HTTP/1.1\r\nhost: a\r\n{cookie}\r\n\r\n");
    let first = ask(&mut stream, &request, "0\r\n\r\n").await;
    let second = ask(&mut stream, &request, "0\r\n\r\n").await;
    for answer in [first, second] {
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains("transfer-encoding: chunked\r\n"),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let text: String = body.split("\r\n").skip(1).step_by(2).collect();
        assert_eq!(text, "one two three", "{answer}");
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (_fixture, mut stream, cookie) = open().await;
    let requests = [
        echo(&cookie, "content-length: 3", "abc"),
        echo(&cookie, "content-length: 5", "hello"),
        echo(&cookie, "content-length: 0\r\nconnection: close", ""),
    ]
    .concat();
    stream.write_all(requests.as_bytes()).await.unwrap();
    let answers = read_until(&mut stream, "got ", 99).await;
    let bodies: Vec<&str> = answers.matches("got ").collect();
    assert_eq!(bodies.len(), 3, "{answers}");
    let order: Vec<usize> = ["got 3", "got 5", "got 0"]
        .iter()
        .map(|b| answers.find(b).unwrap_or(usize::MAX))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{answers}");
}

#[tokio::test]
async fn an_http_1_0_request_is_answered_through_the_fallback() {
    let (_fixture, mut stream, cookie) = open().await;
    let request = format!("GET /api/post/stream HTTP/1.0\r\n{cookie}\r\n\r\n");
    let answer = ask(&mut stream, &request, "three").await;
    assert_answer(&answer, "HTTP/1.0 200 OK\r\n", "one two three");
}

#[tokio::test]
async fn a_chunked_upload_is_forwarded_through_the_fallback() {
    let (_fixture, mut stream, cookie) = open().await;
    let chunks = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let request = echo(&cookie, "transfer-encoding: chunked", chunks);
    let answer = ask(&mut stream, &request, "got ").await;
    assert_answer(&answer, "HTTP/1.1 200 OK\r\n", "got 11");
}

#[tokio::test]
async fn an_upload_that_expects_100_continue_gets_it_and_is_forwarded() {
    let (_fixture, mut stream, cookie) = open().await;
    let head = echo(&cookie, "content-length: 4\r\nexpect: 100-continue", "");
    let interim = ask(&mut stream, &head, "\r\n\r\n").await;
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
    let answer = ask(&mut stream, "data", "got ").await;
    assert!(answer.ends_with("got 4"), "{answer}");
}

#[tokio::test]
async fn a_head_that_arrives_a_byte_at_a_time_is_answered() {
    let (_fixture, mut stream, cookie) = open().await;
    stream.set_nodelay(true).unwrap();
    let request = echo(&cookie, "content-length: 2", "hi");
    for byte in request.as_bytes() {
        stream.write_all(&[*byte]).await.unwrap();
        tokio::task::yield_now().await;
    }
    let answer = read_until(&mut stream, "got ", 1).await;
    assert_answer(&answer, "HTTP/1.1 200 OK\r\n", "got 2");
}

#[tokio::test]
async fn a_head_with_bare_line_feeds_is_answered() {
    let (_fixture, mut stream, cookie) = open().await;
    let request =
        format!("POST /api/post/echo HTTP/1.1\nhost: a\n{cookie}\ncontent-length: 3\n\nabc");
    let answer = ask(&mut stream, &request, "got ").await;
    assert_answer(&answer, "HTTP/1.1 200 OK\r\n", "got 3");
}

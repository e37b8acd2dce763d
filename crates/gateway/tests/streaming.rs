//! Bodies stream through the gateway both ways: the upstream sees the first chunk of an upload
//! before the client has sent the rest, the client sees the first chunk of a download before the
//! upstream has produced the rest, and 50 MB pass without being held whole.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::routing::{get, post};
use bytes::Bytes;
use common::{Harness, client, serve};
use futures::StreamExt;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use platform::CancellationToken;
use tokio::sync::{mpsc, oneshot};

const CHUNK: usize = 1 << 20;
const CHUNKS: usize = 50;
const WAIT: Duration = Duration::from_secs(20);

type Signal = Arc<Mutex<Option<oneshot::Sender<()>>>>;

fn fire(signal: &Signal) {
    if let Some(tx) = signal.lock().unwrap().take() {
        let _ = tx.send(());
    }
}

/// `POST /api/post/upload` counts the bytes it receives and signals its first chunk;
/// `GET /api/post/download` sends one chunk, waits for the test's go, then the rest.
fn streaming_upstream(first_seen: Signal, go: Arc<Mutex<Option<oneshot::Receiver<()>>>>) -> Router {
    Router::new()
        .route(
            "/api/post/upload",
            post(move |request: Request| async move {
                let mut body = request.into_body().into_data_stream();
                let mut total = 0usize;
                while let Some(chunk) = body.next().await {
                    total += chunk.unwrap().len();
                    fire(&first_seen);
                }
                total.to_string()
            }),
        )
        .route(
            "/api/post/download",
            get(move || async move {
                let go = go.lock().unwrap().take().unwrap();
                let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
                tokio::spawn(async move {
                    tx.send(Ok(Bytes::from(vec![1u8; CHUNK]))).await.unwrap();
                    go.await.unwrap();
                    for _ in 1..CHUNKS {
                        tx.send(Ok(Bytes::from(vec![2u8; CHUNK]))).await.unwrap();
                    }
                });
                Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|item| (item, rx))
                }))
            }),
        )
}

async fn harness(first_seen: Signal, go: oneshot::Receiver<()>) -> (Harness, CancellationToken) {
    let stop = CancellationToken::new();
    let upstream = serve(
        streaming_upstream(first_seen, Arc::new(Mutex::new(Some(go)))),
        &stop,
    )
    .await;
    let gw = Harness::in_front_of_post(upstream).await;
    (gw, stop)
}

#[tokio::test]
async fn a_50_mb_upload_reaches_the_service_while_the_client_is_still_sending() {
    let (first_tx, first_rx) = oneshot::channel();
    let (_go_tx, go_rx) = oneshot::channel();
    let (gw, _stop) = harness(Arc::new(Mutex::new(Some(first_tx))), go_rx).await;
    let (token, _) = gw.login(31).await;

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let request = http::Request::builder()
        .method(Method::POST)
        .uri(gw.url("/api/post/upload"))
        .header("cookie", format!("gallery_cookie={token}"))
        .body(body)
        .unwrap();
    let response = tokio::spawn(client().request(request));

    tx.send(Ok(Bytes::from(vec![7u8; CHUNK]))).await.unwrap();
    tokio::time::timeout(WAIT, first_rx)
        .await
        .expect("the service saw nothing before the upload finished: the gateway buffers")
        .unwrap();
    for _ in 1..CHUNKS {
        tx.send(Ok(Bytes::from(vec![7u8; CHUNK]))).await.unwrap();
    }
    drop(tx);

    let response = response.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, (CHUNK * CHUNKS).to_string().as_bytes());
}

#[tokio::test]
async fn a_50_mb_download_reaches_the_client_while_the_service_is_still_producing() {
    let (go_tx, go_rx) = oneshot::channel();
    let (gw, _stop) = harness(Arc::default(), go_rx).await;
    let request = http::Request::get(gw.url("/api/post/download"))
        .body(Body::empty())
        .unwrap();
    let response = client().request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();

    let first = tokio::time::timeout(WAIT, body.frame())
        .await
        .expect("no byte arrived before the service finished: the gateway buffers")
        .unwrap()
        .unwrap();
    let mut total = first.into_data().unwrap().len();
    go_tx.send(()).unwrap();
    while let Some(frame) = body.frame().await {
        total += frame.unwrap().into_data().map_or(0, |d| d.len());
    }
    assert_eq!(total, CHUNK * CHUNKS);
}

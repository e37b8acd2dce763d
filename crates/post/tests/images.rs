//! `GET /api/post/image/{key}`: content type, cache headers, and refused traversal attempts.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Form, Harness, PostPart, png};

async fn get(h: &Harness, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let (status, headers, bytes) = h.send(request).await;
    (status, headers, bytes.to_vec())
}

#[tokio::test]
async fn the_default_image_is_served_as_png_with_cache_headers() {
    let h = Harness::mysql().await;
    let (status, headers, body) = get(&h, "/api/post/image/Default.png").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(body, post::images::DEFAULT_IMAGE);
}

#[tokio::test]
async fn an_uploaded_image_is_served_with_its_bytes() {
    let h = Harness::mysql().await;
    h.gallery(1, 7, 1).await;
    let id = h.post_ids(1).await[0];
    let mut part = PostPart::new(id, 1);
    part.image = Some(png(4096));
    h.patch_posts(1, 7, Form::default().post(0, &part)).await;
    let key = h
        .stored_files()
        .into_iter()
        .find(|k| k != "Default.png")
        .unwrap();
    let (status, headers, body) = get(&h, &format!("/api/post/image/{key}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(body, png(4096));
}

#[tokio::test]
async fn an_unknown_key_is_not_found() {
    let h = Harness::mysql().await;
    let key = format!("{}.png", uuid::Uuid::new_v4());
    let (status, _, body) = get(&h, &format!("/api/post/image/{key}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorCode"], "GP007");
}

#[tokio::test]
async fn traversal_attempts_are_refused() {
    let h = Harness::mysql().await;
    std::fs::write(
        h.images.path().parent().unwrap().join("secret.txt"),
        "secret",
    )
    .ok();
    for uri in [
        "/api/post/image/..%2Fsecret.txt",
        "/api/post/image/%2E%2E%2Fsecret.txt",
        "/api/post/image/..",
        "/api/post/image/..%5Csecret.txt",
        "/api/post/image/a%2Fb.png",
        "/api/post/image/../secret.txt",
        "/api/post/image/%2Fetc%2Fpasswd",
    ] {
        let (status, _, body) = get(&h, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(!String::from_utf8_lossy(&body).contains("secret"), "{uri}");
    }
}

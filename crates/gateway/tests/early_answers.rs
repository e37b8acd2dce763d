//! A service that answers before reading a request's body closes that connection: the client must
//! get the service's answer, and the request that the pool sends next must still arrive, not fail
//! with 502.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::routing::{patch, post};
use common::{Answer, WithPost, send};
use http::{Method, StatusCode};

fn impatient_post_service() -> Router {
    Router::new()
        // Refuses at once without reading the upload, as an ownership check does.
        .route(
            "/api/post/list/{id}",
            patch(|| async { (StatusCode::NOT_FOUND, "no") }),
        )
        .route(
            "/api/post/comment",
            post(|body: String| async move { format!("got {}", body.len()) }),
        )
}

/// Uploads `size` bytes to the route the service refuses without reading.
async fn unread_upload(fixture: &WithPost, size: usize) -> Answer {
    send(
        &fixture.harness.url("/api/post/list/1"),
        Method::PATCH,
        &[
            ("cookie", &fixture.cookie),
            ("content-type", "application/octet-stream"),
        ],
        Body::from(vec![7_u8; size]),
    )
    .await
}

#[tokio::test]
async fn a_small_request_after_an_unread_upload_still_reaches_the_service() {
    let fixture = common::with_post(impatient_post_service()).await;
    for round in 0..20 {
        let upload = unread_upload(&fixture, 100 * 1024).await;
        assert_eq!(upload.status, StatusCode::NOT_FOUND, "round {round}");
        let comment = send(
            &fixture.harness.url("/api/post/comment"),
            Method::POST,
            &[
                ("cookie", &fixture.cookie),
                ("content-type", "application/json"),
            ],
            Body::from(r#"{"postId":1,"content":"hi"}"#),
        )
        .await;
        assert_eq!(
            comment.status,
            StatusCode::OK,
            "round {round}: {}",
            comment.text()
        );
    }
}

#[tokio::test]
async fn a_large_upload_the_service_refuses_without_reading_gets_the_services_answer() {
    let fixture = common::with_post(impatient_post_service()).await;
    // Far beyond what socket buffers hold, so the service's answer arrives mid-upload.
    let upload = unread_upload(&fixture, 16 * 1024 * 1024).await;
    assert_eq!(upload.status, StatusCode::NOT_FOUND, "{}", upload.text());
}

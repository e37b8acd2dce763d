//! CORS from configuration: preflights answered without authentication, allowed origins echoed
//! with credentials, others get no CORS headers.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use common::{Harness, Setup, quiet_policy};
use gateway::config::{Cors, Policy};
use http::{Method, StatusCode};

async fn harness() -> Harness {
    Harness::with(Setup {
        policy: Policy {
            cors: Cors {
                origins: vec!["https://thegallery.site".into()],
                allow_credentials: true,
            },
            ..quiet_policy()
        },
        ..Setup::default()
    })
    .await
}

#[tokio::test]
async fn a_preflight_to_a_protected_route_is_answered_without_a_cookie_and_not_forwarded() {
    let gw = harness().await;
    let answer = gw
        .send(
            Method::OPTIONS,
            "/api/member",
            &[
                ("origin", "https://thegallery.site"),
                ("access-control-request-method", "PATCH"),
                ("access-control-request-headers", "content-type"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://thegallery.site")
    );
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        answer
            .header("access-control-allow-methods")
            .unwrap()
            .contains("PATCH")
    );
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert!(gw.take_seen().is_empty());
}

#[tokio::test]
async fn a_preflight_answer_carries_neither_a_body_nor_a_length() {
    let gw = harness().await;
    let answer = gw
        .send(
            Method::OPTIONS,
            "/api/post/comment",
            &[
                ("origin", "https://thegallery.site"),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.header("content-length"), None);
    assert_eq!(answer.text(), "");
}

#[tokio::test]
async fn responses_to_an_allowed_origin_carry_cors_headers_even_on_errors() {
    let gw = harness().await;
    let answer = gw
        .send(
            Method::GET,
            "/api/member",
            &[("origin", "https://thegallery.site")],
        )
        .await;
    assert_eq!(answer.code(), "GATE004");
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://thegallery.site")
    );
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers() {
    let gw = harness().await;
    let preflight = gw
        .send(
            Method::OPTIONS,
            "/api/member",
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await;
    assert!(preflight.header("access-control-allow-origin").is_none());
    let answer = gw
        .send(
            Method::GET,
            "/api/post/list/1",
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.header("access-control-allow-origin").is_none());
}

//! CORS from configuration: preflights answered without authentication, allowed origins echoed
//! with credentials, others get no CORS headers.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use common::{Answer, Harness, quiet_policy};
use gateway::config::{Cors, Policy};
use http::{Method, StatusCode};

/// The one allowed origin.
const SITE: &str = "https://thegallery.site";

async fn harness() -> Harness {
    Harness::with_policy(Policy {
        cors: Cors {
            origins: vec![SITE.into()],
            allow_credentials: true,
        },
        ..quiet_policy()
    })
    .await
}

/// Asks, as a browser at `origin` would, whether `method` may go to `path`, naming `headers` when
/// the request would carry some.
async fn preflight(
    gw: &Harness,
    origin: &str,
    path: &str,
    method: &str,
    headers: Option<&str>,
) -> Answer {
    let mut asked = vec![
        ("origin", origin),
        ("access-control-request-method", method),
    ];
    asked.extend(headers.map(|h| ("access-control-request-headers", h)));
    gw.send(Method::OPTIONS, path, &asked).await
}

/// The answer lets pages of `SITE` read it, credentials included.
fn assert_open_to_the_site(answer: &Answer) {
    assert_eq!(answer.header("access-control-allow-origin"), Some(SITE));
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
}

#[tokio::test]
async fn a_preflight_to_a_protected_route_is_answered_without_a_cookie_and_not_forwarded() {
    let gw = harness().await;
    let answer = preflight(&gw, SITE, "/api/member", "PATCH", Some("content-type")).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_open_to_the_site(&answer);
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
    let answer = preflight(&gw, SITE, "/api/post/comment", "POST", None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.header("content-length"), None);
    assert_eq!(answer.text(), "");
}

#[tokio::test]
async fn responses_to_an_allowed_origin_carry_cors_headers_even_on_errors() {
    let gw = harness().await;
    let answer = gw.get_with("/api/member", &[("origin", SITE)]).await;
    assert_eq!(answer.code(), "GATE004");
    assert_open_to_the_site(&answer);
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers() {
    let gw = harness().await;
    let evil = "https://evil.example";
    let asked = preflight(&gw, evil, "/api/member", "GET", None).await;
    assert!(asked.header("access-control-allow-origin").is_none());
    let answer = gw.get_with("/api/post/list/1", &[("origin", evil)]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.header("access-control-allow-origin").is_none());
}

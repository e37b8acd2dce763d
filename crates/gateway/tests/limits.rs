//! Rate limits (docs/gateway.md, "Rate limits") on the shared Redis bucket: 429 GATE005 with
//! `Retry-After` and `X-RateLimit-*`, per member for writes, per client address for public reads
//! and sign-in.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::time::Duration;

use common::{Answer, Harness};
use gateway::config::{Limits, Policy, Rate};
use http::{Method, StatusCode};

/// A gateway with the one limit `on` switches on, and one trusted proxy hop, so `X-Forwarded-For`
/// names the client.
async fn limited(on: impl FnOnce(&mut Limits)) -> Harness {
    let mut limits = Limits::off();
    on(&mut limits);
    Harness::with_policy(Policy {
        limits,
        forwarded_hops: 1,
        ..common::quiet_policy()
    })
    .await
}

/// `method` on the signed-in member's own profile.
async fn profile(gw: &Harness, method: Method, token: &str) -> Answer {
    gw.with_cookie(method, "/api/member", token).await
}

/// A sign-in from the client at `ip`.
async fn sign_in(gw: &Harness, ip: &str) -> Answer {
    let from = [("x-forwarded-for", ip)];
    gw.send(Method::POST, "/api/member/signin", &from).await
}

/// A member id no other run uses, so buckets left in Redis by earlier runs do not interfere.
fn fresh_member() -> i64 {
    i64::from_str_radix(&testkit::unique()[..10], 16).unwrap()
}

fn fresh_address() -> String {
    let n = fresh_member();
    format!("10.{}.{}.{}", n % 250, (n / 250) % 250, (n / 62_500) % 250)
}

/// The answer is the gateway's 429 GATE005.
fn assert_limited(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.code(), "GATE005");
}

#[tokio::test]
async fn the_fourth_comment_in_a_burst_is_refused_with_the_original_message_and_headers() {
    let gw = limited(|limits| limits.comment = Some(Rate::new(3, 2, Duration::from_secs(3)))).await;
    let (token, _) = gw.login(fresh_member()).await;
    for remaining in ["2", "1", "0"] {
        let answer = gw
            .with_cookie(Method::POST, "/api/post/comment", &token)
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(answer.header("x-ratelimit-remaining"), Some(remaining));
    }
    let refused = gw
        .with_cookie(Method::POST, "/api/post/comment", &token)
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.json,
        serde_json::json!({
            "errorType": "Too Many Requests",
            "errorCode": "GATE005",
            "message": "짧은 시간에 많은 댓글을 작성할 수 없습니다. \n잠시후 다시 시도해주세요."
        })
    );
    assert_eq!(refused.header("retry-after"), Some("2"));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        gw.take_seen().len(),
        3,
        "the refused comment never reached post"
    );
}

#[tokio::test]
async fn write_limits_count_per_member() {
    let gw = limited(|limits| limits.write = Some(Rate::new(1, 1, Duration::from_secs(60)))).await;
    let (alice, _) = gw.login(fresh_member()).await;
    let (bob, _) = gw.login(fresh_member()).await;
    assert_eq!(
        profile(&gw, Method::PATCH, &alice).await.status,
        StatusCode::OK
    );
    let again = profile(&gw, Method::PATCH, &alice).await;
    assert_limited(&again);
    assert_eq!(again.header("retry-after"), Some("60"));
    assert_eq!(
        profile(&gw, Method::PATCH, &bob).await.status,
        StatusCode::OK
    );
    assert_eq!(
        profile(&gw, Method::GET, &alice).await.status,
        StatusCode::OK,
        "authenticated reads are not limited"
    );
}

#[tokio::test]
async fn sign_in_is_limited_per_client_address() {
    let gw = limited(|limits| limits.signin = Some(Rate::new(2, 2, Duration::from_secs(60)))).await;
    let (one, two) = (fresh_address(), fresh_address());
    assert_eq!(sign_in(&gw, &one).await.status, StatusCode::OK);
    assert_eq!(sign_in(&gw, &one).await.status, StatusCode::OK);
    let refused = sign_in(&gw, &one).await;
    assert_limited(&refused);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        sign_in(&gw, &two).await.status,
        StatusCode::OK,
        "another address has its own bucket"
    );
}

#[tokio::test]
async fn public_reads_are_limited_per_client_address() {
    let gw =
        limited(|limits| limits.public_read = Some(Rate::new(1, 1, Duration::from_secs(60)))).await;
    let ip = fresh_address();
    let headers = [("x-forwarded-for", ip.as_str())];
    assert_eq!(
        gw.get_with("/api/gallery/1", &headers).await.status,
        StatusCode::OK
    );
    let refused = gw.get_with("/api/post/list/1", &headers).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.header("x-ratelimit-limit"), Some("1"));
}

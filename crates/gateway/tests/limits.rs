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

use common::{Harness, Setup};
use gateway::config::{Limits, Policy, Rate};
use http::{Method, StatusCode};

fn policy(limits: Limits) -> Policy {
    Policy {
        limits,
        forwarded_hops: 1,
        ..common::quiet_policy()
    }
}

/// A member id no other run uses, so buckets left in Redis by earlier runs do not interfere.
fn fresh_member() -> i64 {
    i64::from_str_radix(&testkit::unique()[..10], 16).unwrap()
}

fn fresh_address() -> String {
    let n = fresh_member();
    format!("10.{}.{}.{}", n % 250, (n / 250) % 250, (n / 62_500) % 250)
}

#[tokio::test]
async fn the_fourth_comment_in_a_burst_is_refused_with_the_original_message_and_headers() {
    let gw = Harness::with(Setup {
        policy: policy(Limits {
            comment: Some(Rate::new(3, 2, Duration::from_secs(3))),
            ..Limits::off()
        }),
        ..Setup::default()
    })
    .await;
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
    let gw = Harness::with(Setup {
        policy: policy(Limits {
            write: Some(Rate::new(1, 1, Duration::from_secs(60))),
            ..Limits::off()
        }),
        ..Setup::default()
    })
    .await;
    let (alice, _) = gw.login(fresh_member()).await;
    let (bob, _) = gw.login(fresh_member()).await;
    assert_eq!(
        gw.with_cookie(Method::PATCH, "/api/member", &alice)
            .await
            .status,
        StatusCode::OK
    );
    let again = gw.with_cookie(Method::PATCH, "/api/member", &alice).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.code(), "GATE005");
    assert_eq!(again.header("retry-after"), Some("60"));
    assert_eq!(
        gw.with_cookie(Method::PATCH, "/api/member", &bob)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        gw.with_cookie(Method::GET, "/api/member", &alice)
            .await
            .status,
        StatusCode::OK,
        "authenticated reads are not limited"
    );
}

#[tokio::test]
async fn sign_in_is_limited_per_client_address() {
    let gw = Harness::with(Setup {
        policy: policy(Limits {
            signin: Some(Rate::new(2, 2, Duration::from_secs(60))),
            ..Limits::off()
        }),
        ..Setup::default()
    })
    .await;
    let (one, two) = (fresh_address(), fresh_address());
    let from = |ip: &str| vec![("x-forwarded-for", ip.to_owned())];
    let sign_in = |headers: Vec<(&'static str, String)>| {
        let gw = &gw;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            gw.send(Method::POST, "/api/member/signin", &headers).await
        }
    };
    assert_eq!(sign_in(from(&one)).await.status, StatusCode::OK);
    assert_eq!(sign_in(from(&one)).await.status, StatusCode::OK);
    let refused = sign_in(from(&one)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "GATE005");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        sign_in(from(&two)).await.status,
        StatusCode::OK,
        "another address has its own bucket"
    );
}

#[tokio::test]
async fn public_reads_are_limited_per_client_address() {
    let gw = Harness::with(Setup {
        policy: policy(Limits {
            public_read: Some(Rate::new(1, 1, Duration::from_secs(60))),
            ..Limits::off()
        }),
        ..Setup::default()
    })
    .await;
    let ip = fresh_address();
    let headers = [("x-forwarded-for", ip.as_str())];
    assert_eq!(
        gw.send(Method::GET, "/api/gallery/1", &headers)
            .await
            .status,
        StatusCode::OK
    );
    let refused = gw.send(Method::GET, "/api/post/list/1", &headers).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.header("x-ratelimit-limit"), Some("1"));
}

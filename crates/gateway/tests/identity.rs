//! Identity propagation: client-sent identity headers never reach a service; protected routes get
//! them from the verified token, with the token itself; `X-Forwarded-*` and request ids are set.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use common::Harness;
use http::{Method, StatusCode};

const SPOOFED: &[(&str, &str)] = &[
    ("X-Member-ID", "999"),
    ("x-member-role", "ROLE_ADMIN"),
    ("X-SESSION-ID", "forged"),
    ("X-Access-Token", "forged"),
    ("x-member-id", "1000"),
];

#[tokio::test]
async fn spoofed_identity_headers_on_a_public_route_never_reach_the_service() {
    let gw = Harness::start().await;
    let answer = gw.get_with("/api/post/list/1", SPOOFED).await;
    assert_eq!(answer.status, StatusCode::OK);
    let seen = gw.take_seen().remove(0);
    for name in [
        "x-member-id",
        "x-member-role",
        "x-session-id",
        "x-access-token",
    ] {
        assert!(
            !seen.headers.contains_key(name),
            "{name} leaked: {:?}",
            seen.headers
        );
    }
}

#[tokio::test]
async fn on_a_protected_route_identity_headers_come_from_the_token_not_the_client() {
    let gw = Harness::start().await;
    let (token, session) = gw.login(77).await;
    let cookie = format!("theme=dark; gallery_cookie={token}");
    let mut headers = SPOOFED.to_vec();
    headers.push(("cookie", &cookie));
    let answer = gw.send(Method::PATCH, "/api/member", &headers).await;
    assert_eq!(answer.status, StatusCode::OK);
    let seen = gw.take_seen().remove(0);
    let values = |name: &str| -> Vec<&str> {
        seen.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    };
    assert_eq!(values("x-member-id"), ["77"]);
    assert_eq!(values("x-member-role"), ["ROLE_USER"]);
    assert_eq!(values("x-session-id"), [session.sid.as_str()]);
    assert!(values("x-access-token").is_empty());
    assert_eq!(
        values("authorization"),
        [format!("Bearer {token}").as_str()]
    );
    assert_eq!(values("cookie"), [cookie.as_str()], "the cookie travels on");
}

#[tokio::test]
async fn a_bearer_token_is_accepted_like_the_cookie() {
    let gw = Harness::start().await;
    let (token, _) = gw.login(78).await;
    let bearer = format!("Bearer {token}");
    let answer = gw
        .get_with("/api/gallery/list", &[("authorization", &bearer)])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(gw.take_seen()[0].headers["x-member-id"], "78");
}

#[tokio::test]
async fn forwarded_headers_describe_the_client_and_replace_what_it_claimed() {
    let gw = Harness::start().await;
    let headers = [
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-host", "evil.example"),
        ("connection", "x-hop"),
        ("x-hop", "secret"),
    ];
    gw.get_with("/api/gallery/3", &headers).await;
    let seen = gw.take_seen().remove(0);
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(
        seen.headers["x-forwarded-host"],
        gw.addr.to_string().as_str()
    );
    assert!(
        !seen.headers.contains_key("x-hop"),
        "hop-by-hop headers stop at the gateway"
    );
}

#[tokio::test]
async fn a_request_id_is_generated_passed_on_and_returned_or_kept_when_the_client_sent_one() {
    let gw = Harness::start().await;
    let answer = gw.get("/api/post/health").await;
    let generated = answer.header("x-request-id").unwrap().to_owned();
    assert_eq!(
        gw.take_seen()[0].headers["x-request-id"],
        generated.as_str()
    );

    let answer = gw
        .get_with("/api/post/health", &[("x-request-id", "trace-42")])
        .await;
    assert_eq!(answer.header("x-request-id"), Some("trace-42"));
    assert_eq!(gw.take_seen()[0].headers["x-request-id"], "trace-42");
}

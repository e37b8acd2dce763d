//! Failures around the gateway: Redis unreachable (503 on protected routes only, recovery without
//! restart), an upstream that refuses (502) or is too slow (504), all in the error shape.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::time::Duration;

use common::{
    Answer, Harness, Setup, closed_port, nothing_listening, quiet_policy, redis_on, redis_switch,
    switched,
};
use gateway::config::{Limits, Policy};
use http::{Method, StatusCode};

/// The answer is `status` in the gateway's error shape, with `error_type` and `code`.
fn assert_error(answer: &Answer, status: StatusCode, error_type: &str, code: &str) {
    assert_eq!(answer.status, status);
    assert_eq!(answer.json["errorType"], error_type);
    assert_eq!(answer.code(), code);
}

#[tokio::test]
async fn with_redis_unreachable_protected_routes_answer_503_public_routes_200_and_the_gateway_stays_ready()
 {
    let gw = Harness::with(Setup {
        redis: redis_on(closed_port().await),
        policy: Policy::default(), // limits on: they must fail open, not break public routes
        ..Setup::default()
    })
    .await;
    let (token, _) = gw.login(21).await;
    let protected = gw.with_cookie(Method::GET, "/api/member", &token).await;
    assert_error(
        &protected,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
        "GATE503",
    );
    assert_eq!(
        gw.get("/api/gallery/place/list").await.status,
        StatusCode::OK
    );
    assert_eq!(
        gw.send(Method::POST, "/api/member/signin", &[])
            .await
            .status,
        StatusCode::OK
    );
    let ready = gw.get("/readyz").await;
    assert_eq!(
        ready.status,
        StatusCode::OK,
        "public routes are still served"
    );
    assert_ne!(ready.json["checks"]["redis"], "ok");
}

#[tokio::test]
async fn after_a_redis_outage_protected_routes_recover_without_a_restart() {
    let switch = redis_switch().await;
    let gw = Harness::with(Setup {
        redis: switched(&switch),
        ..Setup::default()
    })
    .await;
    let (token, _) = gw.login(22).await;
    assert_eq!(
        gw.with_cookie(Method::GET, "/api/member", &token)
            .await
            .status,
        StatusCode::OK
    );

    switch.down();
    let during = gw.with_cookie(Method::GET, "/api/member", &token).await;
    assert_eq!(during.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(gw.get("/api/post/list/1").await.status, StatusCode::OK);

    switch.up();
    testkit::eventually("protected routes work again", || async {
        let status = gw
            .with_cookie(Method::GET, "/api/member", &token)
            .await
            .status;
        assert!(
            [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&status),
            "{status}"
        );
        (status == StatusCode::OK).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_upstream_that_refuses_connections_gives_502_in_the_error_shape() {
    let gw = Harness::with(Setup {
        member: Some(nothing_listening().await),
        ..Setup::default()
    })
    .await;
    let answer = gw.get("/api/member/health").await;
    assert_error(&answer, StatusCode::BAD_GATEWAY, "Bad Gateway", "GATE502");
    assert!(answer.header("x-request-id").is_some());
}

#[tokio::test]
async fn an_upstream_slower_than_the_response_timeout_gives_504_in_the_error_shape() {
    let gw = Harness::with_policy(Policy {
        response_timeout: Duration::from_millis(300),
        limits: Limits::off(),
        ..quiet_policy()
    })
    .await;
    let answer = gw.get("/api/post/list/1/slow").await;
    assert_error(
        &answer,
        StatusCode::GATEWAY_TIMEOUT,
        "Gateway Timeout",
        "GATE504",
    );
}

#[tokio::test]
async fn an_upstream_that_resets_the_connection_gives_502() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            #[expect(
                deprecated,
                reason = "A zero linger turns the close into a reset; it cannot block, which is the deprecation's worry."
            )]
            socket.set_linger(Some(Duration::ZERO)).unwrap();
            drop(socket);
        }
    });
    let gw = Harness::in_front_of_post(addr).await;
    let answer = gw.get("/api/post/list/1").await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(answer.code(), "GATE502");
}

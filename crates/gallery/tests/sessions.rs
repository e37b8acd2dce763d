//! Gallery honours a token only while its session lives and belongs to the token's subject, as
//! the gateway does (defence in depth): with the embedded store (standalone) and with Redis
//! (distributed), where an unreachable Redis answers 503 on protected routes until it is back.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::http::StatusCode;
use common::{Service, redis_config};
use platform::auth::SessionSource;
use serde_json::json;
use testkit::Switch;

const ALICE: i64 = 1;
const BOB: i64 = 2;

/// Sends `POST /api/gallery` with `token` as the cookie.
async fn create_with(s: &Service, token: &str, name: &str) -> common::Answer {
    let body = axum::body::Body::from(json!({"placeId": 1, "name": name}).to_string());
    let method = axum::http::Method::POST;
    let body = Some(("application/json", body));
    s.request(testkit::request(method, "/api/gallery", Some(token), body))
        .await
}

async fn galleries_of(s: &Service, member: i64) -> usize {
    let answer = s.get("/api/gallery/list", Some(member)).await;
    answer.json["data"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_token_carrying_another_members_session_is_refused_with_gate003() {
    let s = Service::sqlite().await;
    let bobs_session = s.members.sid_of(BOB).await;
    let forged = s.members.sign(ALICE, &bobs_session);
    let answer = create_with(&s, &forged, "남의 세션").await;
    answer.assert_error(401, "GATE003", "invalid token");
    assert_eq!(galleries_of(&s, ALICE).await, 0);
    assert_eq!(galleries_of(&s, BOB).await, 0);
}

#[tokio::test]
async fn a_token_whose_session_does_not_exist_is_refused_with_gate003() {
    let s = Service::sqlite().await;
    let answer = create_with(&s, &s.members.sign(ALICE, "no-such-session"), "없는 세션").await;
    answer.assert_error(401, "GATE003", "invalid token");
}

#[tokio::test]
async fn a_token_whose_session_was_revoked_is_refused_with_gate003() {
    let s = Service::sqlite().await;
    let token = s.token(ALICE).await;
    s.state
        .sessions
        .delete(&s.members.sid_of(ALICE).await)
        .await
        .unwrap();
    let answer = create_with(&s, &token, "로그아웃 후").await;
    answer.assert_error(401, "GATE003", "invalid token");
}

#[tokio::test]
async fn with_redis_a_live_session_of_the_subject_is_accepted() {
    let s = Service::sqlite_with(SessionSource::Redis(redis_config())).await;
    let answer = create_with(&s, &s.token(ALICE).await, "레디스").await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
}

#[tokio::test]
async fn with_redis_a_token_carrying_another_members_session_is_refused_with_gate003() {
    let s = Service::sqlite_with(SessionSource::Redis(redis_config())).await;
    let forged = s.members.sign(ALICE, &s.members.sid_of(BOB).await);
    let answer = create_with(&s, &forged, "레디스 위조").await;
    answer.assert_error(401, "GATE003", "invalid token");
}

#[tokio::test]
async fn without_redis_protected_routes_answer_503_public_ones_work_and_both_recover() {
    let mut config = redis_config();
    let relay = Switch::start(format!("{}:{}", config.host, config.port)).await;
    config.port = relay.port();
    let s = Service::sqlite_with(SessionSource::Redis(config)).await;
    let token = s.token(ALICE).await;

    relay.down();
    let answer = create_with(&s, &token, "정전").await;
    answer.assert_error(
        503,
        "GG001",
        "일시적으로 서비스를 사용할 수 없습니다. 잠시 후 다시 시도해주세요",
    );
    let public = s.get("/api/gallery/place/list", None).await;
    assert_eq!(public.status, StatusCode::OK);

    relay.up();
    testkit::eventually("creating a gallery works again", || async {
        let answer = create_with(&s, &token, "복구").await;
        assert!(
            [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&answer.status),
            "{}",
            answer.text()
        );
        (answer.status == StatusCode::OK).then_some(())
    })
    .await;
}

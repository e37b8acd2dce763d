//! Post honours a token only while its session lives and belongs to the token's subject, as the
//! gateway does (defence in depth): with the embedded store (standalone) and with Redis
//! (distributed), where an unreachable Redis answers 503 on protected routes until it is back.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Harness, redis_config};
use platform::auth::SessionSource;
use serde_json::{Value, json};
use testkit::Switch;

use common::{GALLERY, OWNER, VISITOR};

/// Comments on the gallery's first post with `token` as the cookie.
async fn comment_with(h: &Harness, token: &str) -> (StatusCode, Value) {
    let post = h.post_ids(GALLERY).await[0];
    let request = Request::post("/api/post/comment")
        .header(header::COOKIE, format!("gallery_cookie={token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"postId": post, "content": "안녕"}).to_string(),
        ))
        .unwrap();
    let (status, _, bytes) = h.send(request).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn assert_refused(answer: &(StatusCode, Value)) {
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{:?}", answer.1);
    assert_eq!(answer.1["errorCode"], "GATE003");
}

async fn comments(h: &Harness) -> usize {
    let post = h.post_ids(GALLERY).await[0];
    let uri = format!("/api/post/comment/list/{post}");
    let (_, body) = h.get(&uri).await;
    body["data"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_token_carrying_another_members_session_is_refused_with_gate003() {
    let h = Harness::sqlite().await;
    h.gallery(GALLERY, OWNER, 1).await;
    let forged = h.members.sign(OWNER, &h.members.sid_of(VISITOR).await);
    assert_refused(&comment_with(&h, &forged).await);
    assert_eq!(comments(&h).await, 0);
}

#[tokio::test]
async fn a_token_whose_session_does_not_exist_is_refused_with_gate003() {
    let h = Harness::sqlite().await;
    h.gallery(GALLERY, OWNER, 1).await;
    assert_refused(&comment_with(&h, &h.members.sign(OWNER, "no-such-session")).await);
}

#[tokio::test]
async fn with_redis_a_live_session_of_the_subject_is_accepted() {
    let h = Harness::sqlite_with_sessions(SessionSource::Redis(redis_config())).await;
    h.gallery(GALLERY, OWNER, 1).await;
    let answer = comment_with(&h, &h.token(OWNER).await).await;
    assert_eq!(answer.0, StatusCode::OK, "{:?}", answer.1);
}

#[tokio::test]
async fn with_redis_a_token_carrying_another_members_session_is_refused_with_gate003() {
    let h = Harness::sqlite_with_sessions(SessionSource::Redis(redis_config())).await;
    h.gallery(GALLERY, OWNER, 1).await;
    let forged = h.members.sign(OWNER, &h.members.sid_of(VISITOR).await);
    assert_refused(&comment_with(&h, &forged).await);
}

#[tokio::test]
async fn without_redis_protected_routes_answer_503_public_ones_work_and_both_recover() {
    let mut config = redis_config();
    let relay = Switch::start(format!("{}:{}", config.host, config.port)).await;
    config.port = relay.port();
    let h = Harness::sqlite_with_sessions(SessionSource::Redis(config)).await;
    h.gallery(GALLERY, OWNER, 1).await;
    let token = h.token(OWNER).await;

    relay.down();
    let (status, body) = comment_with(&h, &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body:?}");
    assert_eq!(body["errorCode"], "GP001");
    let uri = format!("/api/post/list/{GALLERY}");
    assert_eq!(h.get(&uri).await.0, StatusCode::OK);

    relay.up();
    testkit::eventually("commenting works again", || async {
        let (status, body) = comment_with(&h, &token).await;
        assert!(
            [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&status),
            "{status} {body:?}"
        );
        (status == StatusCode::OK).then_some(())
    })
    .await;
}

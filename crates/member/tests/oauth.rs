//! Kakao and Google sign-in (`POST /api/member/login`, `POST /api/member/callback`) against a local provider stand-in, on MariaDB and Redis.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::collections::HashMap;

use common::{Backend, TestApp, enc, jwt_parts, unique_id};
use redis::AsyncCommands;

/// Asks for the authorize URL of provider `kind`; returns it and its query.
async fn authorize_url(app: &TestApp, kind: &str) -> (url::Url, HashMap<String, String>) {
    let answer = app.post(&format!("/api/member/login?type={kind}")).await;
    answer.assert_ok("리다이렉트 URL 발급 성공");
    let url = url::Url::parse(answer.json["data"].as_str().unwrap()).unwrap();
    let query = url.query_pairs().into_owned().collect();
    (url, query)
}

/// The callback of provider `kind` with this (unencoded) code.
async fn callback(app: &TestApp, kind: &str, code: &str) -> common::Answer {
    app.post(&format!(
        "/api/member/callback?type={kind}&code={}",
        enc(code)
    ))
    .await
}

#[tokio::test]
async fn the_kakao_authorize_url_carries_client_redirect_and_a_state() {
    let app = TestApp::start(Backend::MariaDb).await;
    let (url, query) = authorize_url(&app, "kakao").await;
    assert_eq!(url.path(), "/kakao/authorize");
    assert_eq!(query["client_id"], "kakao-client");
    assert_eq!(query["redirect_uri"], "https://thegallery.test/oauth/kakao");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["state"].len(), 32);
}

#[tokio::test]
async fn the_google_authorize_url_asks_for_the_profile_scope() {
    let app = TestApp::start(Backend::MariaDb).await;
    let (_, query) = authorize_url(&app, "GOOGLE").await;
    assert_eq!(query["client_id"], "google-client");
    assert!(query["scope"].contains("profile"));
}

common::refusal_tests! {
    login_without_a_type_is_a_missing_parameter: MariaDb, POST [
        "/api/member/login",
        "/api/member/login?type=",
        "/api/member/login?type=%20",
    ] => 400, "GA004", "파라미터를 확인해주세요";
    login_with_an_unknown_provider_is_refused: MariaDb, POST ["/api/member/login?type=naver"]
        => 400, "GA005", "지원하지 않는 소셜 로그인입니다";
    a_callback_without_a_code_is_a_missing_parameter: MariaDb, POST [
        "/api/member/callback?type=kakao",
        "/api/member/callback?type=kakao&code=%20",
    ] => 400, "GA004", "파라미터를 확인해주세요";
    a_provider_failure_is_a_server_error_without_details: MariaDb, POST [
        "/api/member/callback?type=kakao&code=boom",
    ] => 500, "GA001", "서버 에러";
}

#[tokio::test]
async fn a_kakao_callback_sets_the_cookie_and_answers_the_expiration_date() {
    let app = TestApp::start(Backend::MariaDb).await;
    let answer = app.kakao_login(unique_id(), "홍길동").await;
    answer.assert_ok("로그인 성공");
    let cookie = answer.set_cookie();
    assert!(cookie.starts_with("gallery_cookie=ey"), "{cookie}");
    for attribute in [
        "Max-Age=28800",
        "Path=/",
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
    ] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing from {cookie}"
        );
    }
    let expiration = answer.json["data"]["expirationDate"].as_str().unwrap();
    assert_eq!(
        expiration.len(),
        "2024-02-01T19:54:22.123+00:00".len(),
        "{expiration}"
    );
    assert!(expiration.ends_with("+00:00"));
    assert_eq!(answer.json["data"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn the_token_carries_member_session_role_issuer_audience_and_eight_hours() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.kakao_login(unique_id(), "tester").await.token();
    let (header, claims) = jwt_parts(&token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], app.key.kid());
    assert_eq!(claims["role"], "ROLE_USER");
    assert_eq!(claims["iss"], "thegallery");
    assert_eq!(claims["aud"], "thegallery");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        28_800
    );
    let member_id = TestApp::member_id(&token);
    assert_eq!(app.active_member(member_id).await.member_id, member_id);
    let verified = app.key.verifying_keys().verify(&token).unwrap();
    assert_eq!(verified.sid, TestApp::sid(&token));
}

#[tokio::test]
async fn the_session_lives_in_redis_with_the_token_lifetime() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.kakao_login(unique_id(), "tester").await.token();
    let key = format!("session:{}", TestApp::sid(&token));
    let mut redis = app.redis.clone().unwrap();
    let ttl: i64 = redis.ttl(&key).await.unwrap();
    assert!((28_790..=28_800).contains(&ttl), "ttl {ttl}");
    let stored: String = redis.get(&key).await.unwrap();
    let session: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(session["member_id"], TestApp::member_id(&token));
}

#[tokio::test]
async fn the_code_exchange_is_a_form_post_with_client_and_redirect() {
    let app = TestApp::start(Backend::MariaDb).await;
    app.kakao_login(unique_id(), "tester")
        .await
        .assert_ok("로그인 성공");
    let log = app.providers.log.lock().unwrap();
    let form = log.token_forms.last().unwrap();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["client_id"], "kakao-client");
    assert_eq!(form["redirect_uri"], "https://thegallery.test/oauth/kakao");
}

#[tokio::test]
async fn a_new_member_gets_the_provider_name_plus_a_number_and_a_registered_event() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.kakao_login(unique_id(), "홍길동").await.token();
    let member = app.active_member(TestApp::member_id(&token)).await;
    let suffix = member.nickname.strip_prefix("홍길동").unwrap();
    assert!(
        !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit()),
        "{}",
        member.nickname
    );
    let events = app.outbox().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "member.registered");
    assert_eq!(events[0].1, member.member_id.to_string());
    assert_eq!(events[0].2["nickname"], member.nickname);
}

#[tokio::test]
async fn a_returning_member_keeps_the_same_account_without_a_new_event() {
    let app = TestApp::start(Backend::MariaDb).await;
    let kakao_id = unique_id();
    let first = TestApp::member_id(&app.kakao_login(kakao_id, "tester").await.token());
    let second = TestApp::member_id(&app.kakao_login(kakao_id, "tester").await.token());
    assert_eq!(first, second);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn a_google_login_stores_the_subject_apart_from_kakao_ids() {
    let app = TestApp::start(Backend::MariaDb).await;
    let answer = callback(&app, "google", "good:109876543210987654321:Jane Doe").await;
    answer.assert_ok("로그인 성공");
    let member = app.active_member(TestApp::member_id(&answer.token())).await;
    assert_eq!(member.google_sub.as_deref(), Some("109876543210987654321"));
    assert_eq!(member.kakao_id, None);
    assert!(member.nickname.starts_with("JaneDo"), "{}", member.nickname);
    let log = app.providers.log.lock().unwrap();
    assert_eq!(
        log.token_forms.last().unwrap()["client_secret"],
        "google-secret"
    );
}

#[tokio::test]
async fn a_code_the_provider_refuses_is_an_invalid_code() {
    let app = TestApp::start(Backend::MariaDb).await;
    let answer = callback(&app, "kakao", "stale").await;
    answer.assert_error(400, "GA005", "유효하지 않은 인가 코드");
    assert!(answer.set_cookie().is_empty());
}

#[tokio::test]
async fn an_issued_state_is_accepted_once() {
    let app = TestApp::start(Backend::MariaDb).await;
    let (_, query) = authorize_url(&app, "kakao").await;
    let code = enc(&format!("good:{}:tester", unique_id()));
    let uri = format!(
        "/api/member/callback?type=kakao&code={code}&state={}",
        query["state"]
    );
    app.post(&uri).await.assert_ok("로그인 성공");
    let replay = app.post(&uri).await;
    replay.assert_error(400, "GA005", "유효하지 않은 로그인 요청입니다");
}

#[tokio::test]
async fn a_state_that_was_never_issued_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let code = enc(&format!("good:{}:tester", unique_id()));
    let uri = format!("/api/member/callback?type=kakao&code={code}&state=forged");
    let answer = app.post(&uri).await;
    answer.assert_error(400, "GA005", "유효하지 않은 로그인 요청입니다");
}

#[tokio::test]
async fn a_withdrawn_member_who_returns_is_reactivated_with_a_new_nickname() {
    let app = TestApp::start(Backend::MariaDb).await;
    let kakao_id = unique_id();
    let token = app.kakao_login(kakao_id, "tester").await.token();
    let member_id = TestApp::member_id(&token);
    let before = app.active_member(member_id).await;
    app.withdraw(&token)
        .await
        .assert_ok("성공적으로 삭제되었습니다");
    let again = app.kakao_login(kakao_id, "tester").await.token();
    assert_eq!(TestApp::member_id(&again), member_id);
    let after = app.active_member(member_id).await;
    assert!(after.nickname.starts_with("tester"));
    assert_eq!(after.created_date, before.created_date);
    let types: Vec<_> = app.outbox().await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        types,
        ["member.registered", "member.withdrawn", "member.registered"]
    );
}

#[tokio::test]
async fn standalone_kakao_login_keeps_the_session_in_the_database() {
    let app = TestApp::start(Backend::Sqlite).await;
    let token = app.kakao_login(unique_id(), "tester").await.token();
    let session = app.session(&token).await.unwrap();
    assert_eq!(session.member_id, TestApp::member_id(&token));
    let me = app.profile(&token).await;
    me.assert_ok("회원 정보 조회 성공");
}

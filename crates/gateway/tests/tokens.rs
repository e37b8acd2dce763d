//! Token cases of the gateway's refusals (docs/gateway.md, "Refusals"): each refusal has its exact
//! code and body, and nothing reaches a service.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Answer, Harness, now, sessions};
use http::{Method, StatusCode};
use platform::auth::{Claims, Role, SessionStore, SigningKey};

async fn protected_with(gw: &Harness, token: &str) -> Answer {
    gw.with_cookie(Method::GET, "/api/member", token).await
}

/// A gateway with `member_id` signed in, and claims naming that member's live session issued at
/// `issued_at`, for a test to alter and sign.
async fn claims_of_a_live_session(member_id: i64, issued_at: i64) -> (Harness, Claims) {
    let gw = Harness::start().await;
    let (_, session) = gw.login(member_id).await;
    let claims = Claims::new(member_id, Role::User, session.sid, issued_at);
    (gw, claims)
}

/// `token` on a protected route gets 401 GATE003 "invalid token".
async fn assert_refused_as_invalid(gw: &Harness, token: &str, case: &str) {
    let answer = protected_with(gw, token).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
    assert_eq!(
        answer.json,
        serde_json::json!({"errorType": "Unauthorized", "errorCode": "GATE003", "message": "invalid token"}),
        "{case}"
    );
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn claims(member_id: i64, sid: &str) -> serde_json::Value {
    serde_json::to_value(Claims::new(member_id, Role::User, sid, now())).unwrap()
}

#[tokio::test]
async fn an_empty_cookie_is_refused_with_gate002() {
    let gw = Harness::start().await;
    let answer = protected_with(&gw, "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.json,
        serde_json::json!({"errorType": "Unauthorized", "errorCode": "GATE002", "message": "missing token"})
    );
}

#[tokio::test]
async fn another_cookie_without_ours_is_refused_with_gate004() {
    let gw = Harness::start().await;
    let answer = gw
        .get_with("/api/member", &[("cookie", "theme=dark")])
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "GATE004");
    assert_eq!(answer.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let gw = Harness::start().await;
    let (token, session) = gw.login(5).await;
    let kid = token
        .split('.')
        .next()
        .map(|h| URL_SAFE_NO_PAD.decode(h).unwrap())
        .unwrap();
    let kid: serde_json::Value = serde_json::from_slice(&kid).unwrap();
    let header = serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid["kid"]});
    let forged = format!("{}.{}.", b64(&header), b64(&claims(5, &session.sid)));
    assert_refused_as_invalid(&gw, &forged, "alg none").await;
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let gw = Harness::start().await;
    let (_, session) = gw.login(6).await;
    let public_pem = gw.key.public_pem().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(gw.key.kid().to_owned());
    let forged = jsonwebtoken::encode(
        &header,
        &claims(6, &session.sid),
        &jsonwebtoken::EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    assert_refused_as_invalid(&gw, &forged, "HS256 with the public key").await;
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused() {
    let (gw, claims) = claims_of_a_live_session(7, now()).await;
    let stranger = SigningKey::generate().unwrap();
    let forged = stranger.sign(&claims).unwrap();
    assert_refused_as_invalid(&gw, &forged, "unknown kid").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (gw, mut old) = claims_of_a_live_session(8, now() - 9 * 3600).await;
    old.exp = now() - 60;
    let token = gw.key.sign(&old).unwrap();
    assert_refused_as_invalid(&gw, &token, "expired").await;
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let (gw, future) = claims_of_a_live_session(9, now() + 3600).await;
    let token = gw.key.sign(&future).unwrap();
    assert_refused_as_invalid(&gw, &token, "not yet valid").await;
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let gw = Harness::start().await;
    let (token, session) = gw.login(10).await;
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&claims(1, &session.sid)),
        parts[2]
    );
    assert_refused_as_invalid(&gw, &forged, "tampered").await;
}

#[tokio::test]
async fn a_token_whose_session_was_revoked_is_refused_at_once() {
    let gw = Harness::start().await;
    let (token, session) = gw.login(11).await;
    assert_eq!(protected_with(&gw, &token).await.status, StatusCode::OK);
    sessions().await.delete(&session.sid).await.unwrap();
    assert_refused_as_invalid(&gw, &token, "revoked").await;
}

#[tokio::test]
async fn a_valid_token_of_a_withdrawn_member_is_refused() {
    let gw = Harness::start().await;
    let member = 900_000 + i64::from(std::process::id() % 1000);
    let (token, _) = gw.login(member).await;
    let (other, _) = gw.login(member).await;
    sessions().await.delete_all(member).await.unwrap();
    assert_refused_as_invalid(&gw, &token, "withdrawn").await;
    assert_refused_as_invalid(&gw, &other, "withdrawn, second device").await;
    gw.take_seen();
}

#[tokio::test]
async fn garbage_in_the_cookie_is_refused() {
    let gw = Harness::start().await;
    for junk in ["abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
        assert_refused_as_invalid(&gw, junk, junk).await;
    }
    assert!(gw.take_seen().is_empty());
}

#[tokio::test]
async fn a_token_signed_with_our_key_carrying_alices_session_and_bobs_subject_is_refused() {
    let gw = Harness::start().await;
    let (alice_token, alice) = gw.login(21).await;
    // Alice's session is now in the gateway's cache; the check must hold there too.
    assert_eq!(
        protected_with(&gw, &alice_token).await.status,
        StatusCode::OK
    );
    gw.take_seen();
    let forged = gw
        .key
        .sign(&Claims::new(22, Role::User, alice.sid.clone(), now()))
        .unwrap();
    assert_refused_as_invalid(&gw, &forged, "alice's sid, bob's sub").await;
    assert!(gw.take_seen().is_empty());
}

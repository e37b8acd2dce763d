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

fn assert_invalid(answer: &Answer, case: &str) {
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
    let answer = gw
        .send(Method::GET, "/api/member", &[("cookie", "gallery_cookie=")])
        .await;
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
        .send(Method::GET, "/api/member", &[("cookie", "theme=dark")])
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
    assert_invalid(&protected_with(&gw, &forged).await, "alg none");
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
    assert_invalid(
        &protected_with(&gw, &forged).await,
        "HS256 with the public key",
    );
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused() {
    let gw = Harness::start().await;
    let (_, session) = gw.login(7).await;
    let stranger = SigningKey::generate().unwrap();
    let forged = stranger
        .sign(&Claims::new(7, Role::User, session.sid, now()))
        .unwrap();
    assert_invalid(&protected_with(&gw, &forged).await, "unknown kid");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let gw = Harness::start().await;
    let (_, session) = gw.login(8).await;
    let mut old = Claims::new(8, Role::User, session.sid, now() - 9 * 3600);
    old.exp = now() - 60;
    let token = gw.key.sign(&old).unwrap();
    assert_invalid(&protected_with(&gw, &token).await, "expired");
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let gw = Harness::start().await;
    let (_, session) = gw.login(9).await;
    let future = Claims::new(9, Role::User, session.sid, now() + 3600);
    let token = gw.key.sign(&future).unwrap();
    assert_invalid(&protected_with(&gw, &token).await, "not yet valid");
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
    assert_invalid(&protected_with(&gw, &forged).await, "tampered");
}

#[tokio::test]
async fn a_token_whose_session_was_revoked_is_refused_at_once() {
    let gw = Harness::start().await;
    let (token, session) = gw.login(11).await;
    assert_eq!(protected_with(&gw, &token).await.status, StatusCode::OK);
    sessions().await.delete(&session.sid).await.unwrap();
    assert_invalid(&protected_with(&gw, &token).await, "revoked");
}

#[tokio::test]
async fn a_valid_token_of_a_withdrawn_member_is_refused() {
    let gw = Harness::start().await;
    let member = 900_000 + i64::from(std::process::id() % 1000);
    let (token, _) = gw.login(member).await;
    let (other, _) = gw.login(member).await;
    sessions().await.delete_all(member).await.unwrap();
    assert_invalid(&protected_with(&gw, &token).await, "withdrawn");
    assert_invalid(
        &protected_with(&gw, &other).await,
        "withdrawn, second device",
    );
    gw.take_seen();
}

#[tokio::test]
async fn garbage_in_the_cookie_is_refused() {
    let gw = Harness::start().await;
    for junk in ["abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
        assert_invalid(&protected_with(&gw, junk).await, junk);
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
    assert_invalid(
        &protected_with(&gw, &forged).await,
        "alice's sid, bob's sub",
    );
    assert!(gw.take_seen().is_empty());
}

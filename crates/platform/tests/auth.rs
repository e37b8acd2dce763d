//! Tokens, keys, cookies and both session stores behave as the gateway and member rely on.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use platform::auth::{
    Claims, DbSessions, RedisSessions, Role, Session, SessionStore, SigningKey, TokenError,
    TokenSource, VerifyingKeys, token_from_headers,
};
use platform::config::{DatabaseConfig, RedisConfig, Vars};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn a_signed_token_verifies_with_the_matching_public_key() {
    let key = SigningKey::generate().unwrap();
    let claims = Claims::new(42, Role::User, "sid-1", now());
    let token = key.sign(&claims).unwrap();
    assert_eq!(key.verifying_keys().verify(&token).unwrap(), claims);
    assert_eq!(claims.exp - claims.iat, 8 * 3600);
}

#[test]
fn keys_survive_a_round_trip_through_pem() {
    let key = SigningKey::generate().unwrap();
    let again = SigningKey::from_pem(&key.to_pem().unwrap()).unwrap();
    assert_eq!(again.kid(), key.kid());
    let public = VerifyingKeys::from_pem_bundle(&key.public_pem().unwrap()).unwrap();
    let token = again
        .sign(&Claims::new(1, Role::Admin, "s", now()))
        .unwrap();
    assert_eq!(public.verify(&token).unwrap().role, Role::Admin);
}

#[test]
fn a_bundle_of_two_public_keys_accepts_tokens_of_both() {
    let old = SigningKey::generate().unwrap();
    let new = SigningKey::generate().unwrap();
    let bundle = format!(
        "{}\n{}",
        old.public_pem().unwrap(),
        new.public_pem().unwrap()
    );
    let keys = VerifyingKeys::from_pem_bundle(&bundle).unwrap();
    for key in [&old, &new] {
        let token = key.sign(&Claims::new(7, Role::User, "s", now())).unwrap();
        assert!(keys.verify(&token).is_ok());
    }
}

#[test]
fn a_token_of_an_unknown_key_is_refused() {
    let signer = SigningKey::generate().unwrap();
    let other = SigningKey::generate().unwrap();
    let token = signer
        .sign(&Claims::new(1, Role::User, "s", now()))
        .unwrap();
    assert_eq!(
        other.verifying_keys().verify(&token),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn an_expired_token_is_refused_beyond_the_leeway() {
    let key = SigningKey::generate().unwrap();
    let mut claims = Claims::new(1, Role::User, "s", now() - 9 * 3600);
    claims.exp = now() - 10;
    let token = key.sign(&claims).unwrap();
    assert_eq!(
        key.verifying_keys().verify(&token),
        Err(TokenError::Expired)
    );
}

#[test]
fn a_token_issued_in_the_future_is_refused_beyond_the_leeway() {
    let key = SigningKey::generate().unwrap();
    let token = key
        .sign(&Claims::new(1, Role::User, "s", now() + 60))
        .unwrap();
    assert_eq!(
        key.verifying_keys().verify(&token),
        Err(TokenError::Invalid)
    );
}

#[test]
fn a_token_issued_within_the_leeway_ahead_is_accepted() {
    let key = SigningKey::generate().unwrap();
    let token = key
        .sign(&Claims::new(1, Role::User, "s", now() + 2))
        .unwrap();
    assert!(key.verifying_keys().verify(&token).is_ok());
}

#[test]
fn a_token_for_another_audience_is_refused() {
    let key = SigningKey::generate().unwrap();
    let mut claims = Claims::new(1, Role::User, "s", now());
    claims.aud = "someone-else".into();
    let token = key.sign(&claims).unwrap();
    assert_eq!(
        key.verifying_keys().verify(&token),
        Err(TokenError::Invalid)
    );
}

#[test]
fn an_unsigned_or_hmac_token_is_refused() {
    let key = SigningKey::generate().unwrap();
    let claims = Claims::new(1, Role::User, "s", now());
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid().to_owned());
    let hmac = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert_eq!(key.verifying_keys().verify(&hmac), Err(TokenError::Invalid));
    let signed = key.sign(&claims).unwrap();
    let parts: Vec<&str> = signed.split('.').collect();
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert!(key.verifying_keys().verify(&unsigned).is_err());
}

#[test]
fn public_keys_are_read_from_the_environment_with_escaped_newlines() {
    let key = SigningKey::generate().unwrap();
    let escaped = key.public_pem().unwrap().replace('\n', "\\n");
    let env = [("JWT_PUBLIC_KEYS", escaped.as_str())];
    let mut vars = Vars::new(&env);
    let keys = VerifyingKeys::read(&mut vars).unwrap();
    let token = key.sign(&Claims::new(1, Role::User, "s", now())).unwrap();
    assert!(keys.verify(&token).is_ok());
}

#[test]
fn a_garbage_private_key_is_a_configuration_problem() {
    let env = [("JWT_PRIVATE_KEY", "not a pem")];
    let mut vars = Vars::new(&env);
    assert!(SigningKey::read(&mut vars).is_none());
    let error = vars.finish(|| Some(())).unwrap_err();
    assert_eq!(error.variables(), ["JWT_PRIVATE_KEY"]);
    assert!(!error.to_string().contains("not a pem"));
}

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(name.clone(), HeaderValue::from_str(value).unwrap());
    }
    map
}

#[test]
fn the_token_is_found_in_the_cookie_among_others() {
    let h = headers(&[(header::COOKIE, "a=1; gallery_cookie=tok.en.x; b=2")]);
    assert_eq!(token_from_headers(&h), TokenSource::Token("tok.en.x"));
}

#[test]
fn an_empty_cookie_and_a_missing_cookie_are_told_apart() {
    let empty = headers(&[(header::COOKIE, "gallery_cookie=")]);
    assert_eq!(token_from_headers(&empty), TokenSource::Empty);
    let other = headers(&[(header::COOKIE, "other=1")]);
    assert_eq!(token_from_headers(&other), TokenSource::Missing);
}

#[test]
fn a_bearer_header_is_accepted() {
    let h = headers(&[(header::AUTHORIZATION, "Bearer abc.def.ghi")]);
    assert_eq!(token_from_headers(&h), TokenSource::Token("abc.def.ghi"));
}

#[test]
fn the_session_cookie_has_the_attributes_of_the_design() {
    let cookie = platform::auth::session_cookie("t", true).unwrap();
    assert_eq!(
        cookie,
        "gallery_cookie=t; Max-Age=28800; Path=/; HttpOnly; SameSite=Lax; Secure"
    );
    let insecure = platform::auth::session_cookie("t", false).unwrap();
    assert!(!insecure.to_str().unwrap().contains("Secure"));
}

async fn store_scenario(store: &dyn SessionStore) {
    let member = i64::from(rand_id());
    let a = Session::start(member, Role::User, Duration::from_secs(3600));
    let b = Session::start(member, Role::User, Duration::from_secs(3600));
    let other = Session::start(member + 1, Role::User, Duration::from_secs(3600));
    for s in [&a, &b, &other] {
        store.create(s).await.unwrap();
    }
    assert_eq!(store.get(&a.sid).await.unwrap().unwrap().member_id, member);
    store.delete(&a.sid).await.unwrap();
    assert!(!store.exists(&a.sid).await.unwrap());
    assert!(store.exists(&b.sid).await.unwrap());
    assert_eq!(store.delete_all(member).await.unwrap(), 1);
    assert!(!store.exists(&b.sid).await.unwrap());
    assert!(
        store.exists(&other.sid).await.unwrap(),
        "another member's session survives"
    );
    store.delete(&"missing".repeat(2)).await.unwrap();
}

fn rand_id() -> u32 {
    u32::from_str_radix(&testkit::unique()[..7], 16).unwrap()
}

async fn redis() -> platform::redis_client::SharedRedis {
    let env = testkit::dev_env();
    let mut vars = Vars::new(&env);
    let config = RedisConfig::read(&mut vars).unwrap();
    platform::redis_client::connect(&config).await.unwrap()
}

#[tokio::test]
async fn redis_sessions_create_find_and_revoke() {
    store_scenario(&RedisSessions(redis().await)).await;
}

#[tokio::test]
async fn a_redis_session_expires_with_its_token() {
    let mut redis = redis().await;
    let session = Session::start(1, Role::User, Duration::from_secs(8 * 3600));
    RedisSessions(redis.clone()).create(&session).await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(platform::auth::sessions::session_key(&session.sid))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!((8 * 3600 - 5..=8 * 3600).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn sqlite_sessions_create_find_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let db = platform::db::connect(&DatabaseConfig::sqlite(dir.path().join("s.db")))
        .await
        .unwrap();
    store_scenario(&DbSessions::open(db).await.unwrap()).await;
}

#[tokio::test]
async fn mariadb_sessions_create_find_and_revoke() {
    let database = testkit::MySqlDatabase::create().await;
    let mut vars = Vars::new(&database.env);
    let config = DatabaseConfig::read(&mut vars, "x").unwrap();
    let db = platform::db::connect(&config).await.unwrap();
    store_scenario(&DbSessions::open(db.clone()).await.unwrap()).await;
    DbSessions::open(db).await.expect("opening twice is fine");
    database.drop_now().await;
}

#[tokio::test]
async fn a_session_store_that_cannot_be_reached_reports_unavailable() {
    let env = [("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", "1")];
    let mut vars = Vars::new(&env);
    let config = RedisConfig::read(&mut vars).unwrap();
    assert!(platform::redis_client::connect(&config).await.is_err());
}

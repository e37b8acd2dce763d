//! `member::connect` in both modes: distributed (MariaDB, Redis, Kafka; configuration read from
//! the environment pairs) and standalone (SQLite, database sessions, in-process bus).
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use member::Config;
use member::config::AuthConfig;
use platform::auth::SigningKey;
use platform::config::{DatabaseConfig, ServiceConfig};
use tower::ServiceExt;

async fn signup_and_signin(app: &axum::Router) -> String {
    let email = common::unique_email();
    for (uri, body) in [
        (
            "/api/member/signup",
            serde_json::json!({ "email": email, "password": "gallery by night", "nickname": "연결시험" }),
        ),
        (
            "/api/member/signin",
            serde_json::json!({ "email": email, "password": "gallery by night" }),
        ),
    ] {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        if uri.ends_with("signin") {
            return response.headers()[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .to_owned();
        }
    }
    unreachable!()
}

#[tokio::test]
async fn distributed_mode_connects_to_mariadb_redis_and_kafka_and_is_ready() {
    let mysql = testkit::MySqlDatabase::create().await;
    let key = SigningKey::generate().unwrap();
    let mut env: Vec<(String, String)> = mysql.env.clone().into_iter().collect();
    env.push(("JWT_PRIVATE_KEY".into(), key.to_pem().unwrap()));
    env.push((
        "KAFKA_TOPIC_PREFIX".into(),
        format!("test{}.", testkit::unique()),
    ));
    env.push(("COOKIE_SECURE".into(), "false".into()));
    let env: std::collections::HashMap<String, String> = env.into_iter().collect();
    let config = Config::from_env(&env).unwrap();
    let bus = events::Bus::kafka(config.service.kafka.clone().unwrap());
    let connected = member::connect(&config, &bus).await.unwrap();
    let checks = connected.readiness.check().await;
    assert!(checks.values().all(Result::is_ok), "{checks:?}");
    assert_eq!(checks.len(), 3);
    let app = member::router(connected.state);
    let cookie = signup_and_signin(&app).await;
    assert!(!cookie.contains("Secure"));
}

#[tokio::test]
async fn standalone_mode_keeps_sessions_in_sqlite_and_needs_no_servers() {
    let dir = tempfile::tempdir().unwrap();
    let key = member::config::load_or_create_key(dir.path()).unwrap();
    let config = Config {
        service: ServiceConfig::local(DatabaseConfig::sqlite(dir.path().join("member.db"))),
        redis: None,
        auth: AuthConfig::standalone(key),
    };
    let connected = member::connect(&config, &events::Bus::in_process())
        .await
        .unwrap();
    let sessions = connected.state.sessions.clone();
    let app = member::router(connected.state);
    let cookie = signup_and_signin(&app).await;
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("gallery_cookie=");
    let sid = common::jwt_parts(token).1["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sessions.get(&sid).await.unwrap().is_some());
}

//! Redis: authenticated round trips against the local server, and clear errors.

#![expect(
    clippy::expect_used,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use platform::config::{RedisConfig, Vars};
use platform::http::Probe;
use platform::redis_client::{RedisProbe, connect};
use platform::{ExposeSecret, SecretString};

fn config(password: Option<&str>) -> RedisConfig {
    let env = testkit::dev_env();
    let mut vars = Vars::new(&env);
    let mut config = RedisConfig::read(&mut vars).expect("REDIS_HOST in dev-services.env");
    if let Some(p) = password {
        config.password = Some(SecretString::from(p));
    }
    config
}

#[tokio::test]
async fn an_authenticated_connection_round_trips_a_value() {
    let mut redis = connect(&config(None)).await.unwrap();
    let key = format!("test:{}", testkit::unique());
    redis::cmd("SET")
        .arg(&key)
        .arg("갤러리")
        .arg("EX")
        .arg(60)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    let value: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(value, "갤러리");
}

#[tokio::test]
async fn a_wrong_password_gives_an_error_naming_the_server_and_the_cause() {
    let wrong = config(Some("not-the-password"));
    let error = connect(&wrong).await.unwrap_err();
    let chain = platform::http::ErrorChain(&error).to_string();
    assert!(
        chain.contains(&format!("{}:{}", wrong.host, wrong.port)),
        "{chain}"
    );
    assert!(
        chain.to_lowercase().contains("auth") || chain.contains("WRONGPASS"),
        "{chain}"
    );
    assert!(!chain.contains(wrong.password.unwrap().expose_secret()));
}

#[tokio::test]
async fn the_readiness_probe_passes_against_a_live_server() {
    let redis = connect(&config(None)).await.unwrap();
    assert_eq!(RedisProbe(redis).check().await, Ok(()));
}

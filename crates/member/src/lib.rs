//! The member service: accounts, sessions, tokens, profile and withdrawal.

pub mod config;
pub mod migration;

use axum::Router;
use axum::routing::get;
use platform::CancellationToken;
use platform::db::DatabaseProbe;
use platform::http::{Readiness, ServiceCodes, ops_routes, service_app};
use platform::redis_client::RedisProbe;
use sea_orm::DatabaseConnection;

pub use config::Config;

/// Error codes of framework-level rejections in member (API.md E3, GA004/GA005).
pub const CODES: ServiceCodes = ServiceCodes {
    service: "member",
    missing_parameter: "GA004",
    missing_parameter_message: "파라미터를 확인해주세요",
    bad_request: "GA005",
    internal: "GA001",
};

const BODY_LIMIT: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The member database.
    pub db: DatabaseConnection,
}

/// The member API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/api/member/health", get(|| async { "member 서버 ok" }))
        .with_state(state);
    service_app(routes, CODES, BODY_LIMIT)
}

/// Connects to the database (migrating it) and to Redis and Kafka when configured.
pub async fn connect(config: &Config) -> anyhow::Result<(AppState, Readiness)> {
    let db = platform::db::connect(&config.database).await?;
    platform::db::migrate::<migration::Migrator>(&db).await?;
    let mut readiness = Readiness::new().with(DatabaseProbe(db.clone()));
    if let Some(redis) = &config.redis {
        let redis = platform::redis_client::connect(redis).await?;
        readiness = readiness.with(RedisProbe(redis));
    }
    if let Some(kafka) = &config.kafka {
        events::kafka::ensure_topics(kafka, &["member"]).await?;
        readiness = readiness.with(events::kafka::KafkaProbe::new(kafka)?);
    }
    Ok((AppState { db }, readiness))
}

/// Runs the member service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (state, readiness) = connect(&config).await?;
    let app = router(state).merge(ops_routes(readiness));
    platform::shutdown::run_http("member", config.http.addr(), app, shutdown).await?;
    Ok(())
}

//! The gallery service: places, galleries and search.

pub mod config;
pub mod migration;

use axum::Router;
use axum::routing::get;
use platform::CancellationToken;
use platform::db::DatabaseProbe;
use platform::http::{Readiness, ServiceCodes, ops_routes, service_app};
use sea_orm::DatabaseConnection;

pub use config::Config;

/// Error codes of framework-level rejections in gallery (GG005).
pub const CODES: ServiceCodes = ServiceCodes {
    service: "gallery",
    missing_parameter: "GG005",
    missing_parameter_message: "필수 파라미터 누락",
    bad_request: "GG005",
    internal: "GG001",
};

const BODY_LIMIT: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The gallery database.
    pub db: DatabaseConnection,
}

/// The gallery API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/api/gallery/health", get(|| async { "Gallery App ok" }))
        .with_state(state);
    service_app(routes, CODES, BODY_LIMIT)
}

/// Connects to the database (migrating it) and to Kafka when configured.
pub async fn connect(config: &Config) -> anyhow::Result<(AppState, Readiness)> {
    let db = platform::db::connect(&config.database).await?;
    platform::db::migrate::<migration::Migrator>(&db).await?;
    let mut readiness = Readiness::new().with(DatabaseProbe(db.clone()));
    if let Some(kafka) = &config.kafka {
        events::kafka::ensure_topics(kafka, &["gallery"]).await?;
        readiness = readiness.with(events::kafka::KafkaProbe::new(kafka)?);
    }
    Ok((AppState { db }, readiness))
}

/// Runs the gallery service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (state, readiness) = connect(&config).await?;
    let app = router(state).merge(ops_routes(readiness));
    platform::shutdown::run_http("gallery", config.http.addr(), app, shutdown).await?;
    Ok(())
}

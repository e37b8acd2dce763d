//! The post service: artwork frames, images, comments and music.

pub mod config;
pub mod migration;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use object_store::ObjectStore;
use platform::CancellationToken;
use platform::db::DatabaseProbe;
use platform::http::{Readiness, ServiceCodes, ops_routes, service_app};
use sea_orm::DatabaseConnection;

pub use config::Config;

/// Error codes of framework-level rejections in post (GP004/GP005).
pub const CODES: ServiceCodes = ServiceCodes {
    service: "post",
    missing_parameter: "GP004",
    missing_parameter_message: "필수 파라미터 누락",
    bad_request: "GP005",
    internal: "GP001",
};

/// One request may carry up to 50 MB of images (API.md A.1 "Images").
const BODY_LIMIT: usize = 50 * 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The post database.
    pub db: DatabaseConnection,
    /// Image storage.
    pub images: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .field("images", &self.images.to_string())
            .finish()
    }
}

/// The post API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/api/post/health", get(|| async { "게시물 서버 OK !!!" }))
        .with_state(state);
    service_app(routes, CODES, BODY_LIMIT)
}

/// Connects to the database (migrating it), the image store, and Kafka when configured.
pub async fn connect(config: &Config) -> anyhow::Result<(AppState, Readiness)> {
    let db = platform::db::connect(&config.database).await?;
    platform::db::migrate::<migration::Migrator>(&db).await?;
    let images = platform::storage::open(&config.storage)?;
    let mut readiness = Readiness::new().with(DatabaseProbe(db.clone()));
    if let Some(kafka) = &config.kafka {
        readiness = readiness.with(events::kafka::KafkaProbe::new(kafka)?);
    }
    Ok((AppState { db, images }, readiness))
}

/// Runs the post service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (state, readiness) = connect(&config).await?;
    let app = router(state).merge(ops_routes(readiness));
    platform::shutdown::run_http("post", config.http.addr(), app, shutdown).await?;
    Ok(())
}

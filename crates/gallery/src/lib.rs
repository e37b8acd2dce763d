//! The gallery service: places, galleries and search.

pub mod config;
pub mod domain;
pub mod entity;
pub mod error;
pub mod events;
pub mod migration;
pub mod routes;
pub mod store;
pub mod time;

use axum::Router;
use axum::routing::get;
use platform::CancellationToken;
use platform::auth::{VerifyingKeys, auth_keys};
use platform::db::DatabaseProbe;
use platform::http::{Readiness, ServiceCodes, ops_routes, service_app};
use sea_orm::DatabaseConnection;

pub use config::{Config, PublicBaseUrl};

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
    /// Prefix of the place image URIs.
    pub public_base_url: PublicBaseUrl,
    /// Zone of rendered timestamps.
    pub timezone: chrono_tz::Tz,
    /// Keys that verify members' tokens.
    pub keys: VerifyingKeys,
}

/// The gallery API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    use routes::{galleries, openapi, places, search};
    let keys = auth_keys(state.keys.clone());
    let routes = Router::new()
        .route("/api/gallery/health", get(|| async { "Gallery App ok" }))
        .route("/api/gallery/openapi.json", get(openapi::document))
        .route("/api/gallery/place/list", get(places::list))
        .route(places::IMAGE_ROUTE, get(places::image))
        .route("/api/gallery", axum::routing::post(galleries::create))
        .route("/api/gallery/list", get(galleries::mine))
        .route("/api/gallery/check/name", get(galleries::check_name))
        .route("/api/gallery/search", get(search::search))
        .route(
            "/api/gallery/{gallery_id}",
            get(galleries::get)
                .patch(galleries::update)
                .delete(galleries::delete),
        )
        .with_state(state)
        .layer(keys);
    service_app(routes, CODES, BODY_LIMIT)
}

/// Connects to the database (migrating it) and to Kafka when configured.
pub async fn connect(config: &Config) -> anyhow::Result<(AppState, Readiness)> {
    let db = platform::db::connect(&config.database).await?;
    platform::db::migrate::<migration::Migrator>(&db).await?;
    let mut readiness = Readiness::new().with(DatabaseProbe(db.clone()));
    if let Some(kafka) = &config.kafka {
        events::kafka_topics(kafka).await?;
        readiness = readiness.with(::events::kafka::KafkaProbe::new(kafka)?);
    }
    let state = AppState {
        db,
        public_base_url: config.public_base_url.clone(),
        timezone: config.timezone,
        keys: config.keys.clone(),
    };
    Ok((state, readiness))
}

/// Runs the gallery service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (state, readiness) = connect(&config).await?;
    let app = router(state).merge(ops_routes(readiness));
    platform::shutdown::run_http("gallery", config.http.addr(), app, shutdown).await?;
    Ok(())
}

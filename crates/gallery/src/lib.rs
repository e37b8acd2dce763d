//! The gallery service: places, galleries and search.

pub mod config;
pub mod domain;
pub mod entity;
pub mod error;
pub mod events;
pub mod migration;
pub mod routes;
pub mod search_index;
pub mod store;

use ::events::{Bus, Consumer, GALLERY_TOPIC, Outbox, Purger, Relay, Workers};
use axum::Router;
use axum::routing::get;
use platform::CancellationToken;
use std::sync::Arc;

use platform::auth::{SessionStore, VerifyingKeys, authentication};
use platform::db::DatabaseProbe;
use platform::http::{Readiness, ServiceCodes, ops_routes, service_app};
use sea_orm::DatabaseConnection;

pub use config::Config;
use search_index::{IndexBuilder, SearchIndex};

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
    /// Writes `gallery.*` events inside the handlers' transactions.
    pub outbox: Outbox,
    /// Prefix of the place image URIs.
    pub public_base_url: platform::http::PublicBaseUrl,
    /// Zone of rendered timestamps.
    pub timezone: chrono_tz::Tz,
    /// Keys that verify members' tokens.
    pub keys: VerifyingKeys,
    /// The sessions a token must name, of its own subject (read only).
    pub sessions: Arc<dyn SessionStore>,
    /// Whether title search may use the substring index yet.
    pub search_index: SearchIndex,
}

/// The gallery API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    use routes::{galleries, openapi, places, search};
    let auth = authentication(state.keys.clone(), Arc::clone(&state.sessions));
    let routes = Router::new()
        .route("/api/gallery/health", get(|| async { "Gallery App ok" }))
        .route("/api/gallery/openapi.json", get(openapi::document))
        .merge(platform::http::docs::routes("gallery"))
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
        .layer(auth);
    service_app(routes, CODES, BODY_LIMIT)
}

/// A connected gallery service: its state, probes, outbox relay and member-event consumer (the
/// last two not yet started, so tests can step them).
#[derive(Debug)]
pub struct Connected {
    /// Handler state.
    pub state: AppState,
    /// Readiness probes.
    pub readiness: Readiness,
    /// Publishes `gallery.*` events from the outbox.
    pub relay: Relay,
    /// Applies `member.*` events.
    pub consumer: Consumer,
    /// Keeps the outbox and inbox bounded.
    pub purger: Purger,
    /// Indexes the galleries that predate the search index.
    pub index_builder: IndexBuilder,
}

impl Connected {
    /// The state, the probes, and the relay and consumer as workers to start. The index backfill
    /// starts here on its own task, which ends when the backfill is complete; stopped early with
    /// the process, its open batch rolls back and the next start resumes from the stored position.
    pub fn split(self) -> (AppState, Readiness, Workers) {
        tokio::spawn(self.index_builder.run(CancellationToken::new()));
        let workers = Workers::new()
            .with_relay(self.relay)
            .with_consumer(self.consumer)
            .with_purger(self.purger);
        (self.state, self.readiness, workers)
    }
}

/// Connects to the database (migrating it) and builds the relay and consumer on `bus` (Kafka in
/// distributed mode, the process's in-process bus in standalone mode).
pub async fn connect(config: &Config, bus: &Bus) -> anyhow::Result<Connected> {
    let db = platform::db::connect(&config.database).await?;
    platform::db::migrate::<migration::Migrator>(&db).await?;
    let mut readiness = Readiness::new().with(DatabaseProbe(db.clone()));
    if let Some(kafka) = &config.kafka {
        readiness = readiness.with_reported(::events::BrokerWatch::start(kafka)?);
    }
    let (sessions, redis) = config.sessions.open().await?;
    if let Some(probe) = redis {
        readiness = readiness.with_reported(probe);
    }
    let relay = bus.relay(db.clone(), &[GALLERY_TOPIC]).await?;
    let outbox = relay.outbox();
    let options = events::consumer_options();
    let consumer = events::member_consumer(bus, db.clone(), outbox.clone(), options).await?;
    let purger = bus.purger(db.clone(), config.retention);
    let search_index = SearchIndex::new();
    let index_builder = IndexBuilder::new(db.clone(), search_index.clone(), IndexBuilder::BATCH);
    let state = AppState {
        db,
        outbox,
        public_base_url: config.presentation.public_base_url.clone(),
        timezone: config.presentation.timezone,
        keys: config.keys.clone(),
        sessions,
        search_index,
    };
    Ok(Connected {
        state,
        readiness,
        relay,
        consumer,
        purger,
        index_builder,
    })
}

/// Runs the gallery service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let bus = Bus::from_config(config.kafka.as_ref(), &Bus::in_process());
    let connected = connect(&config, &bus).await?;
    let backfill = tokio::spawn(connected.index_builder.run(shutdown.clone()));
    let workers = Workers::new()
        .with_relay(connected.relay)
        .with_consumer(connected.consumer)
        .with_purger(connected.purger);
    let (state, readiness) = (connected.state, connected.readiness);
    let running = workers.spawn(&shutdown);
    let app = router(state).merge(ops_routes(readiness));
    let stop = shutdown.clone();
    let served = platform::shutdown::run_http(CODES, config.http.addr(), app, shutdown).await;
    // A server that failed to start must still stop the workers.
    stop.cancel();
    running.join().await;
    if let Err(error) = backfill.await {
        tracing::error!(%error, "the search index backfill panicked");
    }
    served?;
    Ok(())
}

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

use ::events::{Bus, GALLERY_TOPIC, Outbox, Workers};
use platform::CancellationToken;
use std::sync::Arc;

use platform::auth::{SessionStore, VerifyingKeys};
use platform::http::ServiceCodes;
use sea_orm::DatabaseConnection;

pub use config::Config;
pub use routes::router;
use search_index::{IndexBuilder, SearchIndex};

/// Error codes of framework-level rejections in gallery (GG005).
pub const CODES: ServiceCodes = ServiceCodes {
    service: "gallery",
    missing_parameter: "GG005",
    missing_parameter_message: "필수 파라미터 누락",
    bad_request: "GG005",
    internal: "GG001",
};

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

/// A connected gallery service: its workers are the outbox relay of `gallery.*`, the consumer of
/// `member.*`, the event-table purger and the search index backfill. The backfill ends when every
/// gallery is indexed; stopped early with the process, its open batch rolls back and the next
/// start resumes from the stored position.
pub type Connected = ::events::Connected<AppState>;

/// Connects to the database (migrating it) and builds the relay and consumer on `bus` (Kafka in
/// distributed mode, the process's in-process bus in standalone mode).
pub async fn connect(config: &Config, bus: &Bus) -> anyhow::Result<Connected> {
    let (db, mut readiness) =
        ::events::open_database::<migration::Migrator>(&config.service).await?;
    let (sessions, redis) = config.sessions.open().await?;
    if let Some(probe) = redis {
        readiness = readiness.with_reported(probe);
    }
    let relay = bus.relay(db.clone(), &[GALLERY_TOPIC]).await?;
    let outbox = relay.outbox();
    let options = events::consumer_options();
    let consumer = events::member_consumer(bus, db.clone(), outbox.clone(), options).await?;
    let purger = bus.purger(db.clone(), config.service.retention);
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
    let workers = Workers::new()
        .with_relay(relay)
        .with_consumer(consumer)
        .with_purger(purger)
        .with_task("search index backfill", |shutdown| {
            index_builder.run(shutdown)
        });
    Ok(Connected::new(state, readiness, workers))
}

/// Runs the gallery service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let connect = async |bus: &Bus| connect(&config, bus).await;
    ::events::run_service(&config.service, connect, router, CODES, shutdown).await
}

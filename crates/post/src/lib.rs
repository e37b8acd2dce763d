//! The post service: artwork frames, images, comments and music.

pub mod config;
pub mod domain;
pub mod entity;
pub mod error;
pub mod images;
pub mod limit;
pub mod migration;
pub mod music;
pub mod reactions;
pub mod routes;
pub mod store;

use std::sync::Arc;

use events::{Bus, Workers};
use platform::CancellationToken;
use platform::auth::{SessionStore, VerifyingKeys};
use platform::config::StorageConfig;
use platform::http::ServiceCodes;
use sea_orm::DatabaseConnection;

pub use config::{Config, Settings};
use images::ImageStore;
use limit::CommentLimiter;
use music::MusicClient;
pub use routes::router;

/// Error codes of framework-level rejections in post (GP004/GP005).
pub const CODES: ServiceCodes = ServiceCodes {
    service: "post",
    missing_parameter: "GP004",
    missing_parameter_message: "필수 파라미터 누락",
    bad_request: "GP005",
    internal: "GP001",
};

/// The frame update (`PATCH /api/post/list/{galleryId}`) only: up to 50 MB of images per request (checked while streaming), plus
/// room for the form's text parts and multipart framing, so the image limit answers first with
/// its own message.
pub const UPLOAD_LIMIT: usize = 51 * 1024 * 1024;

/// Every other route: JSON bodies are read whole before parsing, so their limit bounds the memory
/// of parallel requests (the same as member's and gallery's).
pub const BODY_LIMIT: usize = 64 * 1024;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The post database.
    pub db: DatabaseConnection,
    /// Image storage.
    pub images: ImageStore,
    /// Image URLs, time zone, providers.
    pub settings: Arc<Settings>,
    /// Spotify and YouTube.
    pub music: Arc<MusicClient>,
    /// Comment-creation limit.
    pub comment_limit: Arc<CommentLimiter>,
    /// Public keys that verify members' tokens.
    pub auth: VerifyingKeys,
    /// The sessions a token must name, of its own subject (read only).
    pub sessions: Arc<dyn SessionStore>,
}

impl AppState {
    /// State over an open database and store; `local` says whether this service serves the images.
    pub fn new(
        db: DatabaseConnection,
        images: Arc<dyn object_store::ObjectStore>,
        local: bool,
        settings: Settings,
        auth: VerifyingKeys,
        sessions: Arc<dyn SessionStore>,
    ) -> Self {
        let music = MusicClient::new(settings.spotify.clone(), settings.youtube.clone());
        Self {
            db,
            images: ImageStore::new(images, local),
            settings: Arc::new(settings),
            music: Arc::new(music),
            comment_limit: Arc::new(CommentLimiter::default()),
            auth,
            sessions,
        }
    }
}

/// A connected post service: its workers are the consumer of `gallery.*` and `member.*`, the
/// event-table purger and the image sweeper.
pub type Connected = events::Connected<AppState>;

/// Connects to the database (migrating it), the image store (placing `Default.png`), Redis and
/// Kafka when configured, and builds the consumer on `bus` (Kafka in distributed mode, the
/// process's in-process bus in standalone mode).
pub async fn connect(config: &Config, bus: &Bus) -> anyhow::Result<Connected> {
    let (db, mut readiness) = events::open_database::<migration::Migrator>(&config.service).await?;
    let store = platform::storage::open(&config.storage)?;
    let local = matches!(config.storage, StorageConfig::Local { .. });
    let (sessions, redis) = config.sessions.open().await?;
    let state = AppState::new(
        db.clone(),
        store,
        local,
        config.settings.clone(),
        config.auth.clone(),
        sessions,
    );
    state.images.ensure_default().await?;
    if let Some(probe) = redis {
        readiness = readiness.with_reported(probe);
    }
    // The consumer registers with the bus here, so in standalone mode no purger can take a topic's
    // rows for consumed while post's consumer is still missing.
    let consumer = reactions::consumer(&state, bus, reactions::consumer_options()).await?;
    let sweeping = state.clone();
    let workers = Workers::new()
        .with_consumer(consumer)
        .with_purger(bus.purger(db, config.service.retention))
        .with_task("image sweeper", move |shutdown| {
            reactions::sweep_images_until(sweeping, shutdown)
        });
    Ok(Connected::new(state, readiness, workers))
}

/// Runs the post service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let connect = async |bus: &Bus| connect(&config, bus).await;
    events::run_service(&config.service, connect, router, CODES, shutdown).await
}

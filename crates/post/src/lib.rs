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

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use platform::CancellationToken;
use platform::auth::{SessionStore, VerifyingKeys, authentication};
use platform::config::StorageConfig;
use platform::db::DatabaseProbe;
use platform::http::{Readiness, ServiceCodes, ops_routes, service_app};
use sea_orm::DatabaseConnection;

pub use config::{Config, Settings};
use images::ImageStore;
use limit::CommentLimiter;
use music::MusicClient;

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

/// The post API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    let auth = authentication(state.auth.clone(), Arc::clone(&state.sessions));
    let routes = Router::new()
        .route("/api/post/health", get(|| async { "게시물 서버 OK !!!" }))
        .route("/api/post/openapi.json", get(routes::openapi::document))
        .merge(platform::http::docs::routes("post"))
        .route(
            "/api/post/list/{galleryId}",
            get(routes::posts::list)
                .patch(routes::posts::update)
                .layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/api/post/dummy", post(routes::posts::dummy))
        .route("/api/post/comment", post(routes::comments::create))
        .route(
            "/api/post/comment/list/{postId}",
            get(routes::comments::list),
        )
        .route(
            "/api/post/comment/{commentId}",
            patch(routes::comments::edit).delete(routes::comments::delete),
        )
        .route("/api/post/music/list", get(routes::music::search))
        .route("/api/post/music", post(routes::music::lookup))
        .route("/api/post/image/{key}", get(routes::images::serve))
        .with_state(state)
        .layer(auth);
    service_app(routes, CODES, BODY_LIMIT)
}

/// Connects to the database (migrating it), the image store (placing `Default.png`), and Kafka
/// when configured.
pub async fn connect(config: &Config) -> anyhow::Result<(AppState, Readiness)> {
    let db = platform::db::connect(&config.database).await?;
    platform::db::migrate::<migration::Migrator>(&db).await?;
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
    let mut readiness = Readiness::new().with(DatabaseProbe(db));
    if let Some(probe) = redis {
        readiness = readiness.with_reported(probe);
    }
    if let Some(kafka) = &config.kafka {
        readiness = readiness.with_reported(events::BrokerWatch::start(kafka)?);
    }
    Ok((state, readiness))
}

/// The background work of the post service: its event consumer on `bus`, the event-table purger
/// and the image sweeper.
/// Standalone mode calls this with the process's in-process bus.
pub async fn spawn_workers(
    state: &AppState,
    bus: &events::Bus,
    retention: platform::config::RetentionConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<(events::Running, tokio::task::JoinHandle<()>)> {
    let consumer = reactions::consumer(state, bus, reactions::consumer_options()).await?;
    let running = events::Workers::new()
        .with_consumer(consumer)
        .with_purger(bus.purger(state.db.clone(), retention))
        .spawn(shutdown);
    let sweeper = reactions::spawn_image_sweeper(state.clone(), shutdown.clone());
    Ok((running, sweeper))
}

/// Runs the post service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (state, readiness) = connect(&config).await?;
    let workers = match &config.kafka {
        Some(kafka) => {
            let bus = events::Bus::kafka(kafka.clone());
            Some(spawn_workers(&state, &bus, config.retention, &shutdown).await?)
        }
        None => None,
    };
    let app = router(state).merge(ops_routes(readiness));
    let served =
        platform::shutdown::run_http(CODES, config.http.addr(), app, shutdown.clone()).await;
    shutdown.cancel();
    if let Some((running, sweeper)) = workers {
        running.join().await;
        if let Err(error) = sweeper.await {
            tracing::error!(%error, "the image sweeper panicked");
        }
    }
    served?;
    Ok(())
}

//! The member service: accounts (Kakao, Google, e-mail and password), sessions, tokens, profile
//! and withdrawal.

pub mod config;
pub mod domain;
pub mod entity;
pub mod error;
pub mod migration;
pub mod oauth;
pub mod password;
pub mod routes;
pub mod store;
pub mod throttle;

use std::sync::Arc;

use events::{Bus, MEMBER_TOPIC, Outbox, Workers};
use platform::CancellationToken;
use platform::auth::{DbSessions, RedisSessions, SessionStore, SigningKey};
use platform::http::ServiceCodes;
use platform::redis_client::RedisProbe;
use sea_orm::DatabaseConnection;

pub use config::Config;
pub use routes::router;

use crate::config::AuthConfig;
use crate::oauth::OAuth;
use crate::password::Passwords;
use crate::store::MemberStore;
use crate::throttle::{Ephemeral, MemoryEphemeral, RedisEphemeral, Throttle};

/// Error codes of framework-level rejections in member: GA004 for a missing query parameter,
/// GA005 for a malformed body or value, GA001 for an internal error (docs/api.md, "Errors").
pub const CODES: ServiceCodes = ServiceCodes {
    service: "member",
    missing_parameter: "GA004",
    missing_parameter_message: "파라미터를 확인해주세요",
    bad_request: "GA005",
    internal: "GA001",
};

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Members and their outbox.
    pub store: MemberStore,
    /// Sessions (Redis, or the database in standalone mode).
    pub sessions: Arc<dyn SessionStore>,
    /// Sign-in throttling and OAuth `state` values.
    pub throttle: Throttle,
    /// The bounded password-hashing pool.
    pub passwords: Passwords,
    /// OAuth providers.
    pub oauth: OAuth,
    /// Signs tokens.
    pub signing_key: Arc<SigningKey>,
    /// Whether the cookie carries `Secure`.
    pub cookie_secure: bool,
    /// Zone of rendered timestamps.
    pub timezone: chrono_tz::Tz,
}

impl AppState {
    /// Assembles the state from its parts.
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        sessions: Arc<dyn SessionStore>,
        ephemeral: Arc<dyn Ephemeral>,
        auth: AuthConfig,
    ) -> Self {
        Self {
            store: MemberStore::new(db, outbox),
            sessions,
            throttle: Throttle::new(ephemeral),
            passwords: Passwords::default(),
            oauth: OAuth::new(auth.kakao, auth.google),
            signing_key: Arc::new(auth.signing_key),
            cookie_secure: auth.cookie_secure,
            timezone: auth.timezone,
        }
    }
}

/// A connected member service: its workers are the outbox relay of `member.*` and the event-table
/// purger.
pub type Connected = events::Connected<AppState>;

/// Connects to the database (migrating it), to Redis when configured, and builds the outbox relay
/// on `bus`. Without Redis, sessions live in the database and throttles in memory (standalone).
pub async fn connect(config: &Config, bus: &Bus) -> anyhow::Result<Connected> {
    let (db, mut readiness) = events::open_database::<migration::Migrator>(&config.service).await?;
    let (sessions, ephemeral): (Arc<dyn SessionStore>, Arc<dyn Ephemeral>) = match &config.redis {
        Some(redis) => {
            let redis = platform::redis_client::connect(redis).await?;
            // Reported, not required: without Redis, sign-up, nickname checks and the internal
            // lookups still work and session routes answer the contract's 503 themselves, while
            // an unready member (every replica at once, Redis being shared) would answer nothing.
            readiness = readiness.with_reported(RedisProbe(redis.clone()));
            (
                Arc::new(RedisSessions(redis.clone())),
                Arc::new(RedisEphemeral(redis)),
            )
        }
        None => (
            Arc::new(DbSessions::open(db.clone()).await?),
            Arc::new(MemoryEphemeral::default()),
        ),
    };
    let relay = bus.relay(db.clone(), &[MEMBER_TOPIC]).await?;
    let outbox = relay.outbox();
    let workers = Workers::new()
        .with_relay(relay)
        .with_purger(bus.purger(db.clone(), config.service.retention));
    let state = AppState::new(db, outbox, sessions, ephemeral, config.auth.clone());
    Ok(Connected::new(state, readiness, workers))
}

/// Runs the member service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let connect = async |bus: &Bus| connect(&config, bus).await;
    events::run_service(&config.service, connect, router, CODES, shutdown).await
}

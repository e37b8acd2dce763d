//! A Redis connection made on first use, so the gateway starts (and serves public routes) while
//! Redis is down, and picks it up by itself once it answers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use platform::config::RedisConfig;
use platform::redis_client::SharedRedis;
use tokio::sync::OnceCell;

/// After a failed attempt, requests fail fast for this long instead of each waiting on a connect.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// When connecting last failed: within [`RETRY_AFTER_FAILURE`] of it, callers fail at once
/// instead of each waiting out a connect to a server that is down.
#[derive(Debug, Default)]
pub(crate) struct RecentFailure(Mutex<Option<Instant>>);

impl RecentFailure {
    /// Notes a failed connect now.
    pub(crate) fn record(&self) {
        *self.lock() = Some(Instant::now());
    }

    /// Whether a connect failed moments ago.
    pub(crate) fn is_recent(&self) -> bool {
        self.lock()
            .is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The shared, lazily connected Redis of the gateway.
pub struct LazyRedis {
    config: RedisConfig,
    manager: OnceCell<SharedRedis>,
    last_failure: RecentFailure,
}

impl std::fmt::Debug for LazyRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyRedis")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("connected", &self.manager.initialized())
            .finish()
    }
}

impl LazyRedis {
    /// Not connected yet.
    pub fn new(config: RedisConfig) -> Self {
        Self {
            config,
            manager: OnceCell::new(),
            last_failure: RecentFailure::default(),
        }
    }

    /// The connection; once made, it reconnects by itself after Redis comes back.
    pub async fn connection(&self) -> Result<SharedRedis, redis::RedisError> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        if self.last_failure.is_recent() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis was unreachable moments ago",
            )));
        }
        let result = self
            .manager
            .get_or_try_init(|| async {
                platform::redis_client::connect(&self.config)
                    .await
                    .map_err(|e| e.source)
            })
            .await;
        if result.is_err() {
            self.last_failure.record();
        }
        result.cloned()
    }
}

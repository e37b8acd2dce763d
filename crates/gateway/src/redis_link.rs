//! A Redis connection made on first use, so the gateway starts (and serves public routes) while
//! Redis is down, and picks it up by itself once it answers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use platform::config::RedisConfig;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

/// After a failed attempt, requests fail fast for this long instead of each waiting on a connect.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// The shared, lazily connected Redis of the gateway.
pub struct LazyRedis {
    config: RedisConfig,
    manager: OnceCell<ConnectionManager>,
    last_failure: Mutex<Option<Instant>>,
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
            last_failure: Mutex::new(None),
        }
    }

    /// The connection; once made, it reconnects by itself after Redis comes back.
    pub async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        if self.failed_recently() {
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
            *self.lock_failure() = Some(Instant::now());
        }
        result.cloned()
    }

    fn failed_recently(&self) -> bool {
        self.lock_failure()
            .is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE)
    }

    fn lock_failure(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

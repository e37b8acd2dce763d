//! A Redis connection made on first use, so the gateway starts (and serves public routes) while
//! Redis is down, and picks it up by itself once it answers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use platform::config::RedisConfig;
use redis::aio::ConnectionManager;

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
    /// The manager, once made; dropped again by [`LazyRedis::failed`].
    manager: tokio::sync::Mutex<Option<ConnectionManager>>,
    last_failure: RecentFailure,
}

impl std::fmt::Debug for LazyRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyRedis")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("connected", &self.manager.try_lock().map(|m| m.is_some()).ok())
            .finish()
    }
}

impl LazyRedis {
    /// Not connected yet.
    pub fn new(config: RedisConfig) -> Self {
        Self {
            config,
            manager: tokio::sync::Mutex::new(None),
            last_failure: RecentFailure::default(),
        }
    }

    /// The connection; once made, it reconnects by itself after Redis comes back.
    pub async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let mut manager = self.manager.lock().await;
        if let Some(manager) = manager.as_ref() {
            return Ok(manager.clone());
        }
        if self.last_failure.is_recent() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis was unreachable moments ago",
            )));
        }
        match platform::redis_client::connect(&self.config).await {
            Ok(made) => Ok(manager.insert(made).clone()),
            Err(e) => {
                self.last_failure.record();
                Err(e.source)
            }
        }
    }

    /// Reports a command's failure. Anything but the server's own error reply drops the manager,
    /// so the next command connects afresh: the manager reconnects after a closed connection, but
    /// not after one whose replies no longer parse, which a Kubernetes pod kill left behind
    /// (the readiness probe then failed for good).
    pub async fn failed(&self, error: &redis::RedisError) {
        if !matches!(error.kind(), redis::ErrorKind::Server(_)) {
            tracing::warn!(error = %error, "Redis command failed; reconnecting");
            *self.manager.lock().await = None;
        }
    }
}

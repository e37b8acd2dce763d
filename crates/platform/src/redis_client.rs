//! The Redis connection shared by a process: authenticated, multiplexed, reconnecting by itself.

use std::time::Duration;

use redis::IntoConnectionInfo;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;

use crate::config::RedisConfig;
use crate::http::Probe;

/// Why Redis could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to Redis at {target}")]
pub struct RedisError {
    /// `host:port`.
    pub target: String,
    /// The cause (refused, timed out, wrong password, …).
    #[source]
    pub source: redis::RedisError,
}

/// A client for `config`'s server and password speaking `protocol` (RESP3 for pushes); it
/// connects when asked to.
pub fn client(
    config: &RedisConfig,
    protocol: redis::ProtocolVersion,
) -> Result<redis::Client, redis::RedisError> {
    let info = (config.host.as_str(), config.port).into_connection_info()?;
    let mut settings = info.redis_settings().clone().set_protocol(protocol);
    if let Some(password) = &config.password {
        settings = settings.set_password(password.expose_secret());
    }
    redis::Client::open(info.set_redis_settings(settings))
}

/// Connects and authenticates; the manager reconnects with backoff after the server goes away.
pub async fn connect(config: &RedisConfig) -> Result<ConnectionManager, RedisError> {
    let error = |source| RedisError {
        target: format!("{}:{}", config.host, config.port),
        source,
    };
    let client = client(config, redis::ProtocolVersion::RESP2).map_err(error)?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    ConnectionManager::new_with_config(client, manager_config)
        .await
        .map_err(error)
}

/// Readiness probe: Redis answers `PING`.
#[derive(Clone)]
pub struct RedisProbe(pub ConnectionManager);

impl std::fmt::Debug for RedisProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisProbe")
    }
}

#[async_trait::async_trait]
impl Probe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        let mut connection = self.0.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

//! The Redis connection shared by a process: authenticated, multiplexed, reconnecting by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::IntoConnectionInfo;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;
use tracing::Instrument as _;

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

/// Connects and authenticates; the connection reconnects with backoff after the server goes away,
/// and starts over when its replies stop making sense ([`SharedRedis`]).
pub async fn connect(config: &RedisConfig) -> Result<SharedRedis, RedisError> {
    let manager = connect_manager(config).await?;
    Ok(SharedRedis {
        shared: Arc::new(Shared {
            config: config.clone(),
            manager: RwLock::new(manager),
            rebuilding: AtomicBool::new(false),
        }),
    })
}

async fn connect_manager(config: &RedisConfig) -> Result<ConnectionManager, RedisError> {
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

/// The process's Redis connection, cheap to clone. The manager inside reconnects after a closed
/// connection, but not after one whose replies no longer parse — which a Redis pod kill on a
/// Kubernetes node left behind for good (every command then failed with a parse error). Any
/// failure other than the server's own error reply therefore makes a new manager in the
/// background, and commands use it as soon as it is connected.
#[derive(Clone)]
pub struct SharedRedis {
    shared: Arc<Shared>,
}

struct Shared {
    config: RedisConfig,
    manager: RwLock<ConnectionManager>,
    rebuilding: AtomicBool,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRedis")
            .field("host", &self.shared.config.host)
            .field("port", &self.shared.config.port)
            .finish()
    }
}

impl SharedRedis {
    fn manager(&self) -> ConnectionManager {
        self.shared
            .manager
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The client span of a call `describe` names (operation, batch size); `describe` runs only
    /// when spans are exported, so every other call pays nothing for its name.
    fn span(&self, describe: impl FnOnce() -> (String, Option<usize>)) -> tracing::Span {
        if !crate::telemetry::exporting() {
            return tracing::Span::none();
        }
        let (operation, batch) = describe();
        command_span(&self.shared.config, &operation, batch)
    }

    fn observe<T>(&self, result: &redis::RedisResult<T>) {
        let Err(error) = result else { return };
        record_failure(error);
        if matches!(error.kind(), redis::ErrorKind::Server(_)) {
            return;
        }
        if self.shared.rebuilding.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!(error = %error, "Redis command failed; connecting afresh");
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            match connect_manager(&shared.config).await {
                Ok(manager) => {
                    *shared
                        .manager
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = manager;
                }
                Err(e) => {
                    tracing::warn!(error = %crate::http::ErrorChain(&e), "Redis still unreachable");
                }
            }
            shared.rebuilding.store(false, Ordering::Release);
        });
    }
}

impl redis::aio::ConnectionLike for SharedRedis {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let mut manager = self.manager();
        let span = self.span(|| (command_name(cmd), None));
        Box::pin(
            async move {
                let result = manager.req_packed_command(cmd).await;
                self.observe(&result);
                result
            }
            .instrument(span),
        )
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let mut manager = self.manager();
        let span = self.span(|| ("PIPELINE".to_owned(), Some(pipeline.cmd_iter().count())));
        Box::pin(
            async move {
                let result = manager.req_packed_commands(pipeline, offset, count).await;
                self.observe(&result);
                result
            }
            .instrument(span),
        )
    }

    fn get_db(&self) -> i64 {
        self.manager().get_db()
    }
}

/// A client span for one command (or a pipeline of `batch` commands) to the Redis of `config`,
/// when spans are exported; a disabled span otherwise, which costs nothing.
pub fn command_span(config: &RedisConfig, operation: &str, batch: Option<usize>) -> tracing::Span {
    if !crate::telemetry::exporting() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        target: crate::telemetry::CLIENT_SPANS,
        "redis",
        otel.name = operation,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        db.system.name = "redis",
        db.operation.name = operation,
        db.operation.batch.size = batch,
        db.namespace = "0",
        server.address = config.host.as_str(),
        server.port = config.port,
    )
}

/// Marks the current span (a [`command_span`]) failed with `error`.
pub fn record_failure(error: &redis::RedisError) {
    let span = tracing::Span::current();
    span.record("otel.status_code", "ERROR");
    span.record("error.type", tracing::field::debug(error.kind()));
}

/// The command's name (`GET`, `EVALSHA`, …) for its span: never its arguments, which hold keys
/// and session data.
fn command_name(cmd: &redis::Cmd) -> String {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => String::from_utf8_lossy(name).to_ascii_uppercase(),
        _ => "COMMAND".to_owned(),
    }
}

/// Readiness probe: Redis answers `PING`.
#[derive(Clone)]
pub struct RedisProbe(pub SharedRedis);

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

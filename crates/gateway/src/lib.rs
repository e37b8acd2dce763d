//! The gateway: the single entry point in front of member, gallery and post (docs/gateway.md).
//!
//! Every request is classified by path ([`routes`]), authenticated when protected ([`auth`]),
//! rate-limited ([`limit`]) and forwarded with streaming bodies ([`proxy`]). The same code fronts
//! HTTP upstreams in distributed mode and in-process routers in standalone mode.

pub mod access_log;
pub mod auth;
pub mod balance;
pub mod config;
pub mod connections;
pub mod cors;
mod forwarding;
pub mod framing;
pub mod limit;
mod pool;
pub mod proxy;
pub mod redis_link;
pub mod routes;
pub mod session_cache;
mod trace;

mod handler;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use platform::CancellationToken;
use platform::auth::{SessionStore, VerifyingKeys};
use platform::http::{Probe, Readiness, ServiceCodes, ops_routes};

pub use config::{Config, Policy};
pub use handler::{Gateway, GatewayError};
pub use wire::serve;

use crate::auth::{Authenticator, Sessions};
use crate::balance::{Balancer, Resolve, SystemResolver};
use crate::limit::{Limiter, MemoryBuckets};
use crate::proxy::{Upstream, Upstreams};
use crate::redis_link::LazyRedis;
use crate::routes::Service;
use crate::session_cache::TrackedSessions;

/// Error codes of the gateway's own rejections.
pub const CODES: ServiceCodes = ServiceCodes {
    service: "gateway",
    missing_parameter: "GATE001",
    missing_parameter_message: "missing parameter",
    bad_request: "GATE001",
    internal: "GATE500",
};

/// The text of `GET /health` (docs/gateway.md, "What happens to a request").
pub const HEALTH_TEXT: &str = "게이트웨이 서버 ok";

/// The gateway as a router: `GET /health` and everything under `/api/<service>/**`.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new().fallback(handler::handle).with_state(gateway)
}

/// In-process services mounted under their prefixes, as standalone mode runs them.
#[derive(Debug)]
pub struct InProcess {
    /// Routes of member (`/api/member/**`).
    pub member: Router,
    /// Routes of gallery (`/api/gallery/**`).
    pub gallery: Router,
    /// Routes of post (`/api/post/**`).
    pub post: Router,
    /// Public keys of the tokens member signs.
    pub keys: VerifyingKeys,
    /// The session store member writes (the database one in standalone).
    pub sessions: Arc<dyn SessionStore>,
    /// CORS, rate limits and proxy trust, as the distributed gateway reads them.
    pub policy: Policy,
}

/// The gateway in front of in-process services: the same checks, limits in memory.
pub fn in_process(services: InProcess) -> Router {
    let policy = services.policy;
    let upstreams = Upstreams::new(
        Upstream::Local(services.member),
        Upstream::Local(services.gallery),
        Upstream::Local(services.post),
        &policy,
    );
    let auth = Authenticator::new(services.keys, Sessions::Store(services.sessions));
    let limiter = Limiter::Memory(MemoryBuckets::default());
    router(Arc::new(Gateway::new(upstreams, auth, limiter, policy)))
}

/// Builds the distributed gateway from its configuration; connects to nothing yet, so it starts
/// (and serves public routes) while Redis is down. Upstream names are resolved on the current
/// runtime, first at once and then every `resolve_interval`.
pub fn connect(config: &Config) -> anyhow::Result<(Arc<Gateway>, Readiness)> {
    connect_with(config, &(Arc::new(SystemResolver) as Arc<dyn Resolve>))
}

/// [`connect`] with another name resolver.
pub fn connect_with(
    config: &Config,
    resolver: &Arc<dyn Resolve>,
) -> anyhow::Result<(Arc<Gateway>, Readiness)> {
    let balancer = |service, list: &platform::config::HostPortList| {
        let balancer = Arc::new(Balancer::new(service, &list.0, Arc::clone(resolver))?);
        balancer.spawn_refresher(config.resolve_interval);
        anyhow::Ok(balancer)
    };
    let upstreams = Upstreams::http(
        balancer(Service::Member, &config.member)?,
        balancer(Service::Gallery, &config.gallery)?,
        balancer(Service::Post, &config.post)?,
        &config.policy,
    );
    let redis = Arc::new(LazyRedis::new(config.redis.clone()));
    let sessions = Sessions::Tracked(Arc::new(TrackedSessions::new(config.redis.clone())));
    let auth = Authenticator::new(config.keys.clone(), sessions);
    let limiter = Limiter::Redis(Arc::clone(&redis));
    let gateway = Gateway::new(upstreams, auth, limiter, config.policy.clone())
        .with_max_connections(config.max_connections);
    // Reported, not required: without Redis the gateway still routes every public request and
    // answers protected ones 503 itself; unready, every replica (Redis being shared) would leave
    // the Service at once and nothing would be answered.
    Ok((
        Arc::new(gateway),
        Readiness::new().with_reported(RedisReady(redis)),
    ))
}

/// Runs the gateway until `shutdown` is cancelled: one single-threaded runtime per available core,
/// each accepting on its own `SO_REUSEPORT` socket of the same address (nginx's worker model).
///
/// Why not the caller's multi-threaded runtime: the gateway's work is short and I/O-bound, and a
/// thread that owns its connections end to end spends ≈ 15 % less CPU per request (work-stealing
/// queues, atomics and cross-thread wake-ups are gone; measured with bench/gateway).
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (gateway, readiness) = connect(&config)?;
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let listeners = bind_workers(config.http.addr(), workers)?;
    let addr = listeners
        .first()
        .map(std::net::TcpListener::local_addr)
        .transpose()?;
    tracing::info!(service = "gateway", addr = ?addr, workers, "listening");
    let ops = ops_routes(readiness);
    let mut stopped = Vec::with_capacity(workers);
    for (index, listener) in listeners.into_iter().enumerate() {
        let (done, finished) = tokio::sync::oneshot::channel();
        let (gateway, ops, shutdown) = (Arc::clone(&gateway), ops.clone(), shutdown.clone());
        std::thread::Builder::new()
            .name(format!("gateway-{index}"))
            .spawn(move || {
                let _ = done.send(worker(listener, gateway, ops, shutdown));
            })
            .map_err(|e| anyhow::anyhow!("cannot start gateway worker {index}: {e}"))?;
        stopped.push(finished);
    }
    for finished in stopped {
        finished
            .await
            .map_err(|_| anyhow::anyhow!("a gateway worker died"))??;
    }
    tracing::info!(service = "gateway", "stopped");
    Ok(())
}

/// `count` listening sockets on `addr` sharing its port (the first fixes the port when it is 0).
fn bind_workers(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<std::net::TcpListener>> {
    let mut listeners: Vec<std::net::TcpListener> = Vec::with_capacity(count);
    for _ in 0..count {
        let at = listeners
            .first()
            .map_or(Ok(addr), std::net::TcpListener::local_addr)?;
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(at),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket
            .bind(&at.into())
            .map_err(|e| anyhow::anyhow!("cannot listen on {at}: {e}"))?;
        socket.listen(1024)?;
        listeners.push(socket.into());
    }
    Ok(listeners)
}

fn worker(
    listener: std::net::TcpListener,
    gateway: Arc<Gateway>,
    ops: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let grace = platform::shutdown::DEFAULT_GRACE;
        serve(listener, gateway, ops, shutdown, grace).await?;
        Ok(())
    })
}

/// Readiness: Redis answers `PING` (connecting on demand).
#[derive(Debug)]
struct RedisReady(Arc<LazyRedis>);

#[async_trait::async_trait]
impl Probe for RedisReady {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        let mut connection = self.0.connection().await.map_err(|e| e.to_string())?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

//! The processes of the gateway benchmark (bench/gateway/run.sh): the trivial upstream every peer
//! proxies to, a signed-in member (key, session, token) for the authenticated runs, and the gateway
//! itself, configured from the environment exactly as `thegallery gateway` is, and a collector
//! stand-in that takes the traced gateways' OTLP exports.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use platform::auth::{Claims, RedisSessions, Role, Session, SessionStore, SigningKey, TOKEN_TTL};
use platform::config::{ProcessEnv, RedisConfig, TelemetryConfig, Vars};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new()?;
    match args.first().map(String::as_str) {
        Some("upstream") => runtime.block_on(upstream(
            args.get(1)
                .map_or("127.0.0.1:9101", String::as_str)
                .parse()?,
        )),
        Some("mint") => {
            runtime.block_on(mint(PathBuf::from(args.get(1).map_or(".", String::as_str))))
        }
        Some("gateway") => runtime.block_on(gateway()),
        Some("otlp-sink") => runtime.block_on(otlp_sink(
            args.get(1)
                .map_or("127.0.0.1:4318", String::as_str)
                .parse()?,
        )),
        _ => anyhow::bail!("usage: bench_peer upstream ADDR | mint DIR | gateway | otlp-sink ADDR"),
    }
}

/// 200 `{"message":"ok"}` for every request, as small and fast as a service can be.
async fn upstream(addr: SocketAddr) -> anyhow::Result<()> {
    let app = Router::new().fallback(|| async {
        (
            [("content-type", "application/json")],
            r#"{"message":"ok"}"#,
        )
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// Accepts every OTLP/HTTP export with the empty success answer (an empty protobuf message) and
/// counts them: `GET /count` gives `{"exports":N,"bytes":M}`. A stand-in rather than a trace
/// backend because a backend's own work (decoding, indexing, storing 30k spans a second) would
/// take the CPU the load generator shares with it; the gateway's side of an export is the same.
async fn otlp_sink(addr: SocketAddr) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::routing::{get, post};

    #[derive(Default)]
    struct Counts {
        exports: AtomicU64,
        bytes: AtomicU64,
    }
    async fn export(
        State(counts): State<Arc<Counts>>,
        body: Bytes,
    ) -> impl axum::response::IntoResponse {
        counts.exports.fetch_add(1, Ordering::Relaxed);
        counts.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        ([("content-type", "application/x-protobuf")], Bytes::new())
    }
    async fn count(State(counts): State<Arc<Counts>>) -> String {
        format!(
            r#"{{"exports":{},"bytes":{}}}"#,
            counts.exports.load(Ordering::Relaxed),
            counts.bytes.load(Ordering::Relaxed)
        )
    }
    let app = Router::new()
        .route("/v1/traces", post(export))
        .route("/count", get(count))
        .with_state(Arc::new(Counts::default()));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// Writes `public.pem` and `token` into `dir`, with the token's session stored in Redis.
async fn mint(dir: PathBuf) -> anyhow::Result<()> {
    let mut vars = Vars::new(&ProcessEnv);
    let redis = RedisConfig::read(&mut vars);
    let redis = vars.finish(|| redis)?;
    let key = SigningKey::generate()?;
    let session = Session::start(1, Role::User, TOKEN_TTL);
    RedisSessions(platform::redis_client::connect(&redis).await?)
        .create(&session)
        .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let token = key.sign(&Claims::new(
        1,
        Role::User,
        session.sid,
        i64::try_from(now)?,
    ))?;
    std::fs::write(dir.join("public.pem"), key.public_pem()?)?;
    std::fs::write(dir.join("token"), token)?;
    Ok(())
}

async fn gateway() -> anyhow::Result<()> {
    let mut vars = Vars::new(&ProcessEnv);
    let telemetry = TelemetryConfig::read(&mut vars);
    platform::telemetry::init(&vars.finish(|| Some(telemetry))?);
    let config = gateway::Config::from_env(&ProcessEnv)?;
    gateway::run(config, platform::shutdown::on_signal()).await
}

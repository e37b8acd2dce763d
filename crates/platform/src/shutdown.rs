//! Graceful shutdown: a token cancelled by SIGTERM/SIGINT, and serving that drains in-flight
//! requests within a bound once it is cancelled.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http::{ConnectionRules, ServiceCodes};

/// How long in-flight requests may take to finish after shutdown starts.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(20);

/// A token cancelled when the process receives SIGTERM or SIGINT.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        cancel.cancel();
    });
    token
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot install signal handlers; only Ctrl-C stops this process");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Binds `addr`, with context in the error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serves `app` under the default connection rules until `shutdown` is cancelled, then stops
/// accepting and lets in-flight requests finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    crate::http::server::serve(
        listener,
        app,
        shutdown,
        grace,
        ConnectionRules::default(),
        ServiceCodes::default(),
    )
    .await
}

/// Binds the configured address and serves `app` until `shutdown`, logging where it listens;
/// refusals before routing answer with `codes`.
pub async fn run_http(
    codes: ServiceCodes,
    addr: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let service = codes.service;
    let listener = bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(service, addr = %local, "listening");
    crate::http::server::serve(
        listener,
        app,
        shutdown,
        DEFAULT_GRACE,
        ConnectionRules::default(),
        codes,
    )
    .await?;
    tracing::info!(service, "stopped");
    Ok(())
}

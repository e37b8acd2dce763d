//! After shutdown starts, in-flight requests finish and new connections are refused.

#![expect(
    clippy::unwrap_used,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use platform::CancellationToken;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// `app` served on a loopback port with `grace` for in-flight requests once `shutdown` is
/// cancelled.
struct Served {
    addr: SocketAddr,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

async fn serve(app: Router, grace: Duration) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(platform::shutdown::serve(
        listener,
        app,
        shutdown.clone(),
        grace,
    ));
    Served {
        addr,
        shutdown,
        server,
    }
}

/// A route at `path` whose handler tells `entered` it has started, then holds its request until
/// `release` is notified; answered `(router, entered, release)`.
fn held(path: &str) -> (Router, Arc<Notify>, Arc<Notify>) {
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (entered_in, release_in) = (Arc::clone(&entered), Arc::clone(&release));
    let app = Router::new().route(
        path,
        get(move || async move {
            entered_in.notify_one();
            release_in.notified().await;
            "finished"
        }),
    );
    (app, entered, release)
}

#[tokio::test]
async fn a_slow_in_flight_request_completes_after_shutdown_starts_and_new_connections_are_refused()
{
    let (app, entered, release) = held("/slow");
    let Served {
        addr,
        shutdown,
        server,
    } = serve(app, Duration::from_secs(10)).await;

    let in_flight = tokio::spawn(async move {
        reqwest::get(format!("http://{addr}/slow"))
            .await?
            .text()
            .await
    });
    entered.notified().await;
    shutdown.cancel();
    // Accepting stops as soon as the token is cancelled; wait until the listener is gone.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "a new connection was still accepted after shutdown"
    );
    assert!(
        !server.is_finished(),
        "the server stopped before its in-flight request"
    );

    release.notify_one();
    assert_eq!(in_flight.await.unwrap().unwrap(), "finished");
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_that_outlive_the_grace_period() {
    // Never released: the request outlives any grace period.
    let (app, entered, _release) = held("/stuck");
    let Served {
        addr,
        shutdown,
        server,
    } = serve(app, Duration::from_millis(200)).await;
    let _stuck = tokio::spawn(reqwest::get(format!("http://{addr}/stuck")));
    entered.notified().await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returned after the grace period")
        .unwrap()
        .unwrap();
}

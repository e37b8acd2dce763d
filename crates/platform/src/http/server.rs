//! The HTTP/1.1 server of every process that serves an axum router (the services, and standalone
//! mode in front of them), with the connection rules of docs/api.md ("Connections"): a deadline
//! for each request head (which is also the idle keep-alive timeout), a minimum rate for request
//! bodies, a largest head, exactly one `Host` (RFC 9112 §3.2) and a cap on open connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use bytes::Bytes;
use http::{Request, Version, header};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::app::ServiceCodes;

/// How long a client may take over its connection; every field has a safe default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRules {
    /// A complete request head must arrive within this time from the connection's start or from
    /// the end of the previous response; so it is also how long an idle keep-alive connection
    /// stays open.
    pub head_timeout: Duration,
    /// Time a request body has before it must keep up with [`Self::body_min_rate`].
    pub body_allowance: Duration,
    /// Bytes per second a request body must average after [`Self::body_allowance`].
    pub body_min_rate: u64,
    /// Largest request head; a longer one answers 431.
    pub max_head: usize,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ConnectionRules {
    fn default() -> Self {
        Self {
            head_timeout: Duration::from_secs(30),
            body_allowance: Duration::from_secs(10),
            body_min_rate: 16 * 1024,
            max_head: 64 * 1024,
            max_connections: 4096,
        }
    }
}

/// Serves `app` on `listener` under `rules` until `shutdown`, then stops accepting and lets
/// in-flight requests finish for at most `grace`. Refusals before routing use `codes`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
    rules: ConnectionRules,
    codes: ServiceCodes,
) -> std::io::Result<()> {
    let accepting = Accepting {
        shutdown: shutdown.clone(),
        grace,
        max_connections: Some(rules.max_connections),
    };
    accept_loop(listener, accepting, |stream, peer| {
        let served = Connection {
            app: app.clone(),
            rules,
            codes,
            peer,
        };
        served.run(stream, shutdown.clone())
    })
    .await
}

/// How an accept loop runs: until `shutdown`, with `grace` for the connections in progress then,
/// and at most `max_connections` served at once (further ones wait in the listen backlog; `None`
/// for a server that answers past its own cap instead, as the gateway does).
#[derive(Debug, Clone)]
pub struct Accepting {
    /// Stops accepting when cancelled.
    pub shutdown: CancellationToken,
    /// How long connections in progress at shutdown may still take.
    pub grace: Duration,
    /// Connections served at once, if limited here.
    pub max_connections: Option<usize>,
}

/// The accept loop of every server (the services' and the gateway's front end): each accepted
/// connection (Nagle off: answers are written whole) is served by `serve` on a task of its own;
/// after `shutdown` nothing more is accepted and the tasks get `grace` to finish.
pub async fn accept_loop<S, F>(
    listener: TcpListener,
    accepting: Accepting,
    mut serve: S,
) -> std::io::Result<()>
where
    S: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let Accepting {
        shutdown,
        grace,
        max_connections,
    } = accepting;
    let permits = max_connections.map(|max| Arc::new(Semaphore::new(max)));
    let connections = TaskTracker::new();
    loop {
        let permit = match &permits {
            Some(permits) => match next_permit(permits, &shutdown).await {
                Some(permit) => Some(permit),
                None => break,
            },
            None => None,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let served = serve(stream, peer);
                connections.spawn(async move {
                    served.await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of file descriptors or similar: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "in-flight requests did not finish in time; closing them"
        );
    }
    Ok(())
}

async fn next_permit(
    permits: &Arc<Semaphore>,
    shutdown: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    tokio::select! {
        permit = Arc::clone(permits).acquire_owned() => permit.ok(),
        () = shutdown.cancelled() => None,
    }
}

/// One accepted connection.
struct Connection {
    app: Router,
    rules: ConnectionRules,
    codes: ServiceCodes,
    peer: SocketAddr,
}

impl Connection {
    async fn run(self, stream: TcpStream, shutdown: CancellationToken) {
        let Self {
            app,
            rules,
            codes,
            peer,
        } = self;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            answer(app.clone(), rules, codes, peer, request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(rules.head_timeout)
            .max_buf_size(rules.max_head.max(8192))
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = shutdown.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

async fn answer(
    app: Router,
    rules: ConnectionRules,
    codes: ServiceCodes,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    let hosts = request.headers().get_all(header::HOST).iter().count();
    if hosts > 1 || (hosts == 0 && request.version() == Version::HTTP_11) {
        let mut refused = codes
            .bad_request_with("요청에는 Host 헤더가 하나 있어야 합니다")
            .into_response();
        refused
            .headers_mut()
            .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
        return Ok(refused);
    }
    let mut request = request.map(|body| Body::new(Progressing::new(body, rules)));
    request.extensions_mut().insert(ConnectInfo(peer));
    app.oneshot(request).await
}

/// A request body that fails once it falls behind the minimum rate, so that a client trickling
/// its body cannot hold a connection and a handler for ever.
struct Progressing {
    inner: Incoming,
    received: u64,
    started: Option<Instant>,
    deadline: Pin<Box<Sleep>>,
    rules: ConnectionRules,
}

/// The error a too slow body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
pub struct BodyTooSlow;

impl Progressing {
    fn new(inner: Incoming, rules: ConnectionRules) -> Self {
        Self {
            inner,
            received: 0,
            started: None,
            deadline: Box::pin(tokio::time::sleep(rules.body_allowance)),
            rules,
        }
    }

    fn due(&self, started: Instant) -> Instant {
        let rate = self.rules.body_min_rate.max(1);
        started + self.rules.body_allowance + Duration::from_secs(self.received / rate)
    }
}

impl HttpBody for Progressing {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let started = *this.started.get_or_insert_with(|| {
            let now = Instant::now();
            this.deadline
                .as_mut()
                .reset(now + this.rules.body_allowance);
            now
        });
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let due = this.due(started);
                    this.deadline.as_mut().reset(due);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTooSlow)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

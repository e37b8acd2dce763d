//! Idle keep-alive connections to the upstreams, newest first, dropped before the services' own
//! idle timeout can close them under a request.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http::uri::Authority;
use tokio::net::TcpStream;

use crate::proxy::ProxyError;
use crate::routes::Service;

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 512;
/// The services' hyper servers close connections idle for 30 s; reusing one at that moment
/// fails the request, so the pool lets go of them well before.
const IDLE_FOR: Duration = Duration::from_secs(15);

struct Idle {
    stream: TcpStream,
    since: Instant,
}

/// The connection pool of one gateway.
pub(crate) struct Pool {
    idle: [Mutex<Vec<Idle>>; 3],
    connect_timeout: Duration,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(connect_timeout: Duration) -> Self {
        Self {
            idle: Default::default(),
            connect_timeout,
        }
    }

    fn slot(&self, service: Service) -> MutexGuard<'_, Vec<Idle>> {
        let index = match service {
            Service::Member => 0,
            Service::Gallery => 1,
            Service::Post => 2,
        };
        self.idle[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used idle connection that is still open, if any.
    pub(crate) fn checkout(&self, service: Service) -> Option<TcpStream> {
        let mut idle = self.slot(service);
        while let Some(candidate) = idle.pop() {
            if candidate.since.elapsed() >= IDLE_FOR {
                // Everything below is older still.
                idle.clear();
                return None;
            }
            if is_quiet(&candidate.stream) {
                return Some(candidate.stream);
            }
        }
        None
    }

    /// Keeps `stream` for the next request to `service`.
    pub(crate) fn checkin(&self, service: Service, stream: TcpStream) {
        let mut idle = self.slot(service);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                stream,
                since: Instant::now(),
            });
        }
    }

    /// A new connection (504 when it takes longer than the connect timeout, 502 when refused).
    pub(crate) async fn connect(&self, authority: &Authority) -> Result<TcpStream, ProxyError> {
        let connecting = TcpStream::connect(authority.as_str());
        let stream = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Err(_elapsed) => return Err(ProxyError::TimedOut(None)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(ProxyError::TimedOut(Some(Box::new(e))));
            }
            Ok(Err(e)) => return Err(ProxyError::Unreachable(Box::new(e))),
            Ok(Ok(stream)) => stream,
        };
        // Small heads and bodies go out at once instead of waiting on the peer's delayed ACK.
        stream
            .set_nodelay(true)
            .map_err(|e| ProxyError::Unreachable(Box::new(e)))?;
        Ok(stream)
    }
}

/// An idle connection must have nothing to read: data or end of stream means the upstream closed
/// it (or broke protocol).
fn is_quiet(stream: &TcpStream) -> bool {
    let mut probe = [0_u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

//! Idle keep-alive connections to the upstream endpoints, newest first, dropped before the
//! services' own idle timeout can close them under a request. One pool per gateway worker serves
//! both front ends: the wire one relays over these connections itself, the hyper path runs
//! hyper's client codec over them ([`crate::proxy`]), and either may reuse what the other checked
//! in.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::proxy::ProxyError;

/// Idle connections kept per endpoint.
const MAX_IDLE: usize = 512;
/// The services' hyper servers close connections idle for 30 s; reusing one at that moment
/// fails the request, so the pool lets go of them well before.
const IDLE_FOR: Duration = Duration::from_secs(15);
/// Check-ins between two sweeps for endpoints that get no more requests (gone from DNS): their
/// connections are closed instead of being kept open.
const SWEEP_EVERY: u32 = 1024;

struct Idle {
    stream: TcpStream,
    since: Instant,
}

/// The idle connections of one endpoint.
struct Lane {
    endpoint: u64,
    idle: Vec<Idle>,
}

#[derive(Default)]
struct Lanes {
    lanes: Vec<Lane>,
    checkins: u32,
}

/// The connection pool of one gateway worker (its connections belong to the worker's runtime, so
/// workers do not share one).
pub(crate) struct Pool {
    lanes: Mutex<Lanes>,
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
            lanes: Mutex::default(),
            connect_timeout,
        }
    }

    fn lanes(&self) -> MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used idle connection to `endpoint` that is still open, if any.
    pub(crate) fn checkout(&self, endpoint: u64) -> Option<TcpStream> {
        let mut lanes = self.lanes();
        let lane = lanes.lanes.iter_mut().find(|l| l.endpoint == endpoint)?;
        while let Some(candidate) = lane.idle.pop() {
            if candidate.since.elapsed() >= IDLE_FOR {
                // Everything below is older still.
                lane.idle.clear();
                return None;
            }
            if is_quiet(&candidate.stream) {
                return Some(candidate.stream);
            }
        }
        None
    }

    /// Keeps `stream` for the next request to `endpoint`.
    pub(crate) fn checkin(&self, endpoint: u64, stream: TcpStream) {
        let mut lanes = self.lanes();
        lanes.checkins = lanes.checkins.wrapping_add(1);
        if lanes.checkins.is_multiple_of(SWEEP_EVERY) {
            lanes.lanes.retain(|lane| {
                lane.endpoint == endpoint
                    || lane
                        .idle
                        .last()
                        .is_some_and(|i| i.since.elapsed() < IDLE_FOR)
            });
        }
        let index = match lanes.lanes.iter().position(|l| l.endpoint == endpoint) {
            Some(index) => index,
            None => {
                lanes.lanes.push(Lane {
                    endpoint,
                    idle: Vec::new(),
                });
                lanes.lanes.len() - 1
            }
        };
        let idle = &mut lanes.lanes[index].idle;
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                stream,
                since: Instant::now(),
            });
        }
    }

    /// A new connection (504 when it takes longer than the connect timeout, 502 when refused).
    pub(crate) async fn connect(&self, addr: SocketAddr) -> Result<TcpStream, ProxyError> {
        let connecting = TcpStream::connect(addr);
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

/// Whether a failed attempt may be made again at once on a new connection to the same endpoint:
/// when it went out on a reused connection that closed before sending any byte back, the service
/// had closed that connection (idle, or after answering early without reading a body) and never
/// saw the request; only a request still held whole can be sent again.
pub(crate) fn resend_on_new_connection(reused: bool, nothing_back: bool, whole: bool) -> bool {
    reused && nothing_back && whole
}

/// An idle connection must have nothing to read: data or end of stream means the upstream closed
/// it (or broke protocol).
fn is_quiet(stream: &TcpStream) -> bool {
    let mut probe = [0_u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

//! Balanced upstreams: every address of a service, re-resolved periodically; each request to the
//! better of two random endpoints by outstanding requests (power of two choices); endpoints that
//! refuse or reset ejected with backoff; one retry on another endpoint within a budget. Both
//! front ends (the wire one and the hyper path) pick through here.
//!
//! Why not the services' ClusterIP: a keep-alive pool behind one virtual address pins its
//! connections to whichever pods it reached first, keeps sending to a pod that is going away, and
//! turns a killed pod into 502s.

mod budget;
mod endpoint;
mod resolve;

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use http::Method;
use http::uri::Authority;
use platform::config::HostPort;

pub(crate) use self::endpoint::Fault;
use self::endpoint::{Endpoint, Usable};
use self::resolve::{Entry, Resolution};
pub use self::resolve::{Resolve, SystemResolver};
use crate::routes::Service;

/// The endpoints of one service.
#[derive(Debug)]
pub struct Balancer {
    service: Service,
    current: RwLock<Arc<Snapshot>>,
    /// Changed after each change of `current`: readers keep their copy until it moves.
    version: AtomicU64,
    /// Whether any configured host is a name (addresses alone never change).
    resolves: bool,
    resolution: tokio::sync::Mutex<Resolution>,
    budget: budget::Budget,
    /// Attempts of endpoints no longer listed, and retries: the budget's count of first attempts.
    retired_requests: AtomicU64,
    retries: AtomicU64,
}

/// The endpoints at one moment.
#[derive(Debug, Default)]
struct Snapshot {
    endpoints: Vec<Arc<Endpoint>>,
}

/// A reader's copy of the endpoints, refreshed only when they change: a connection keeps one per
/// service, so picking takes no lock.
#[derive(Debug, Default)]
pub(crate) struct View(Option<(u64, Arc<Snapshot>)>);

/// An attempt in progress on an endpoint; it counts as outstanding until dropped.
#[derive(Debug)]
pub(crate) struct Lease(Arc<Endpoint>);

/// How far a failed attempt got, for deciding whether the request may be sent elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// No byte of it was written to any upstream (connection refused, or not made in time).
    NotSent,
    /// Written, but the connection closed or reset before a complete answer.
    Unanswered,
    /// An answer came that cannot be relayed, or none came in time.
    Answered,
}

/// Requests whose body (by `Content-Length`) is at most this size are held whole by both front
/// ends until answered, so that they can be sent a second time.
pub(crate) const REPLAY_LIMIT: u64 = 256 * 1024;

/// The one retry rule of both front ends: a request that never reached an upstream may go to
/// another endpoint whatever it is; one that did only when it is safe (RFC 9110 §9.2.1: GET,
/// HEAD, OPTIONS, TRACE) and the gateway still holds all of it (`whole`). PUT and DELETE are
/// idempotent by the RFC but answer differently the second time (a 404 for a deleted gallery),
/// so they are not sent twice.
pub(crate) fn may_retry(method: &Method, reach: Reach, whole: bool) -> bool {
    match reach {
        Reach::NotSent => true,
        Reach::Unanswered => whole && method.is_safe(),
        Reach::Answered => false,
    }
}

impl Lease {
    fn new(endpoint: Arc<Endpoint>) -> Self {
        endpoint.begin();
        Self(endpoint)
    }

    /// Where to connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// The `Host` the service gets.
    pub(crate) fn authority(&self) -> &Authority {
        self.0.authority()
    }

    /// The endpoint's key for idle connections.
    pub(crate) fn endpoint_id(&self) -> u64 {
        self.0.id()
    }

    /// The endpoint answered (a response head arrived).
    pub(crate) fn succeeded(&self) {
        self.0.succeeded();
    }

    pub(crate) fn failed(&self, fault: Fault) {
        self.0.failed(fault);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl Balancer {
    /// The balancer of `service` over `upstreams`; names are resolved by the refresher
    /// ([`Self::spawn_refresher`]) or, until it has answered, by the first request.
    pub fn new(
        service: Service,
        upstreams: &[HostPort],
        resolver: Arc<dyn Resolve>,
    ) -> anyhow::Result<Self> {
        let entries = upstreams
            .iter()
            .map(Entry::new)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let resolution = Resolution::new(entries, resolver);
        let known = resolution.known();
        let balancer = Self {
            service,
            current: RwLock::default(),
            version: AtomicU64::new(0),
            resolves: resolution.has_names(),
            resolution: tokio::sync::Mutex::new(resolution),
            budget: budget::Budget::new(),
            retired_requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        };
        balancer.install(known);
        Ok(balancer)
    }

    /// Re-resolves every `interval` on the current runtime until the balancer is dropped.
    pub fn spawn_refresher(self: &Arc<Self>, interval: Duration) {
        if !self.resolves {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                service = self.service.name(),
                "no runtime: upstream names are resolved once, by the first request"
            );
            return;
        };
        let balancer = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(balancer) = balancer.upgrade() else {
                    return;
                };
                balancer.refresh().await;
            }
        });
    }

    async fn refresh(&self) {
        let found = self.resolution.lock().await.refresh().await;
        self.install(found);
    }

    /// Resolves now when no address is known yet (the refresher has not answered, or found none).
    async fn resolve_if_empty(&self) {
        let mut resolution = self.resolution.lock().await;
        if self.snapshot().endpoints.is_empty() {
            let found = resolution.refresh().await;
            self.install(found);
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the endpoints when the addresses changed; endpoints that stay keep their counts
    /// and ejection.
    fn install(&self, found: Vec<(SocketAddr, Authority)>) {
        let current = self.snapshot();
        let unchanged = found.len() == current.endpoints.len()
            && found
                .iter()
                .all(|(addr, _)| current.endpoints.iter().any(|e| e.addr() == *addr));
        if unchanged {
            return;
        }
        let endpoints: Vec<Arc<Endpoint>> = found
            .into_iter()
            .map(|(addr, authority)| {
                current
                    .endpoints
                    .iter()
                    .find(|e| e.addr() == addr)
                    .map_or_else(
                        || Arc::new(Endpoint::new(self.service, addr, authority)),
                        Arc::clone,
                    )
            })
            .collect();
        let gone: u64 = current
            .endpoints
            .iter()
            .filter(|old| !endpoints.iter().any(|e| e.addr() == old.addr()))
            .map(|old| old.requests())
            .sum();
        self.retired_requests.fetch_add(gone, Ordering::Relaxed);
        let addresses: Vec<SocketAddr> = endpoints.iter().map(|e| e.addr()).collect();
        tracing::info!(
            service = self.service.name(),
            ?addresses,
            "upstream endpoints"
        );
        metrics::gauge!("gateway_upstream_endpoints", "service" => self.service.name())
            .set(endpoints.len() as f64);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Arc::new(Snapshot { endpoints });
        // Numbered across balancers, so a view can never mistake another's endpoints for current.
        static VERSIONS: AtomicU64 = AtomicU64::new(1);
        let version = VERSIONS.fetch_add(1, Ordering::Relaxed);
        self.version.store(version, Ordering::Release);
    }

    /// `view`, brought up to date if the endpoints changed since it was taken.
    fn current<'v>(&self, view: &'v mut View) -> &'v Snapshot {
        let version = self.version.load(Ordering::Acquire);
        match &mut view.0 {
            Some((seen, _)) if *seen == version => {}
            slot => *slot = Some((version, self.snapshot())),
        }
        view.0.as_ref().map_or(&EMPTY, |(_, snapshot)| snapshot)
    }

    /// An endpoint for a new request; `None` when no address is known even after resolving.
    pub(crate) async fn lease(&self, view: &mut View) -> Option<Lease> {
        if let Some(lease) = choose(self.current(view), None) {
            return Some(lease);
        }
        self.resolve_if_empty().await;
        choose(self.current(view), None)
    }

    /// Another endpoint than `failed`'s for a retry, if there is one and the budget allows it.
    pub(crate) fn retry(&self, view: &mut View, failed: &Lease) -> Option<Lease> {
        let snapshot = self.current(view);
        if !snapshot
            .endpoints
            .iter()
            .any(|e| !Arc::ptr_eq(e, &failed.0))
        {
            return None;
        }
        let sent: u64 = snapshot.endpoints.iter().map(|e| e.requests()).sum();
        let first_attempts = (sent + self.retired_requests.load(Ordering::Relaxed))
            .saturating_sub(self.retries.load(Ordering::Relaxed));
        let service = self.service.name();
        if !self.budget.try_take(first_attempts) {
            metrics::counter!("gateway_upstream_retries_refused_total", "service" => service)
                .increment(1);
            tracing::warn!(service, "retry budget spent; not retrying");
            return None;
        }
        self.retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("gateway_upstream_retries_total", "service" => service).increment(1);
        choose(snapshot, Some(&failed.0))
    }
}

static EMPTY: Snapshot = Snapshot {
    endpoints: Vec::new(),
};

/// Power of two choices: of two distinct random endpoints in service, the one with fewer
/// outstanding requests. When neither is in service, any that is; when none is, any at all (an
/// ejected endpoint is better than a certain 502).
fn choose(snapshot: &Snapshot, avoid: Option<&Arc<Endpoint>>) -> Option<Lease> {
    let endpoints = &snapshot.endpoints;
    let allowed = |e: &&Arc<Endpoint>| avoid.is_none_or(|a| !Arc::ptr_eq(a, e));
    let n = endpoints.len();
    if n <= 1 {
        return endpoints.first().filter(allowed).cloned().map(Lease::new);
    }
    let (i, j) = two_of(n);
    let (mut x, mut y) = (&endpoints[i], &endpoints[j]);
    if y.outstanding() < x.outstanding() {
        std::mem::swap(&mut x, &mut y);
    }
    let others = (0..n).map(|k| &endpoints[(i + k) % n]).filter(allowed);
    [x, y]
        .into_iter()
        .filter(allowed)
        .find(|e| take(e))
        .or_else(|| others.clone().find(|e| take(e)))
        .or_else(|| others.min_by_key(|e| e.outstanding()))
        .map(|e| Lease::new(Arc::clone(e)))
}

/// Two distinct random indices below `n` (at least 2).
fn two_of(n: usize) -> (usize, usize) {
    let r = random();
    let n = n as u64;
    let i = r % n;
    let j = (i + 1 + (r >> 32) % (n - 1)) % n;
    (i as usize, j as usize)
}

/// Whether a request may go to `endpoint` now (taking its probe if it is due one).
fn take(endpoint: &Endpoint) -> bool {
    match endpoint.usable() {
        Usable::Yes => true,
        Usable::Probe => endpoint.claim_probe(),
        Usable::No => false,
    }
}

/// A fast per-thread generator (xorshift64*): the choice needs no quality, only no lock.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

fn seed() -> u64 {
    use std::hash::BuildHasher as _;
    std::collections::hash_map::RandomState::new().hash_one(std::thread::current().id()) | 1
}

#[cfg(test)]
mod tests;

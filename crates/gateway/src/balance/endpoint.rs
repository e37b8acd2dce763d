//! One address of an upstream service: its outstanding requests, whether it is ejected, and its
//! metrics.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::uri::Authority;

use crate::routes::Service;

/// First ejection; each further one in a row doubles it, up to [`MAX_EJECTION`].
const BASE_EJECTION: Duration = Duration::from_secs(1);
/// Longest ejection: a container restarted in place keeps its address and is tried again by then.
const MAX_EJECTION: Duration = Duration::from_secs(10);
/// While one request probes an endpoint whose ejection ended, others keep away this long.
const PROBE_HOLD: Duration = Duration::from_secs(1);

/// What went wrong with an attempt, for the endpoint's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Connection refused, reset or closed before an answer, or not established in time: the
    /// endpoint is ejected.
    Down,
    /// Anything else (an invalid answer): counted only.
    Other,
}

/// How a request may use an endpoint right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usable {
    Yes,
    /// Its ejection is over: one request may try it.
    Probe,
    No,
}

/// An address requests are sent to.
#[derive(Debug)]
pub(crate) struct Endpoint {
    outstanding: AtomicUsize,
    /// Attempts sent here, for the retry budget (the metric is kept by the recorder).
    requests: AtomicU64,
    /// Milliseconds on [`clock`] until which the endpoint gets no requests; 0 when in service.
    ejected_until: AtomicU64,
    /// Ejections in a row, for the backoff.
    strikes: AtomicU32,
    probing: AtomicBool,
    addr: SocketAddr,
    /// The configured `host:port` this address was found under: the `Host` services receive.
    authority: Authority,
    service: Service,
    id: u64,
    /// Made on first use: the recorder may be installed after the gateway is built.
    metrics: OnceLock<Metrics>,
}

#[derive(Debug)]
struct Metrics {
    requests: metrics::Counter,
    errors: metrics::Counter,
    ejections: metrics::Counter,
}

/// Milliseconds since the first call, never 0 (0 means "not ejected").
fn clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX) + 1
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Endpoint {
    pub(crate) fn new(service: Service, addr: SocketAddr, authority: Authority) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(1);
        Self {
            outstanding: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            ejected_until: AtomicU64::new(0),
            strikes: AtomicU32::new(0),
            probing: AtomicBool::new(false),
            addr,
            authority,
            service,
            id: IDS.fetch_add(1, Ordering::Relaxed),
            metrics: OnceLock::new(),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Unique in the process: idle connections are kept under it.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn metrics(&self) -> &Metrics {
        self.metrics.get_or_init(|| {
            let labels = [
                ("service", self.service.name().to_owned()),
                ("address", self.addr.to_string()),
            ];
            Metrics {
                requests: metrics::counter!("gateway_upstream_requests_total", &labels),
                errors: metrics::counter!("gateway_upstream_errors_total", &labels),
                ejections: metrics::counter!("gateway_upstream_ejections_total", &labels),
            }
        })
    }

    /// Counts an attempt starting here.
    pub(crate) fn begin(&self) {
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.metrics().requests.increment(1);
    }

    pub(crate) fn end(&self) {
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether a request may go here; `now` is read only for an ejected endpoint.
    pub(crate) fn usable(&self) -> Usable {
        match self.ejected_until.load(Ordering::Relaxed) {
            0 => Usable::Yes,
            until if clock() >= until => Usable::Probe,
            _ => Usable::No,
        }
    }

    /// Takes the one probe of an endpoint whose ejection is over; `false` when another request
    /// took it first.
    pub(crate) fn claim_probe(&self) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        let now = clock();
        if until == 0 || now < until {
            return until == 0;
        }
        let held = now + millis(PROBE_HOLD);
        let claimed = self
            .ejected_until
            .compare_exchange(until, held, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if claimed {
            self.probing.store(true, Ordering::Relaxed);
        }
        claimed
    }

    /// An answer came: back in service, backoff forgotten.
    pub(crate) fn succeeded(&self) {
        if self.ejected_until.load(Ordering::Relaxed) != 0 {
            self.ejected_until.store(0, Ordering::Relaxed);
            self.strikes.store(0, Ordering::Relaxed);
            self.probing.store(false, Ordering::Relaxed);
            tracing::info!(service = self.service.name(), address = %self.addr, "upstream endpoint back in service");
        }
    }

    /// An attempt failed; [`Fault::Down`] ejects the endpoint unless it is ejected already (then a
    /// request went here only because no endpoint was in service).
    pub(crate) fn failed(&self, fault: Fault) {
        self.metrics().errors.increment(1);
        if fault != Fault::Down {
            return;
        }
        let probe_failed = self.probing.swap(false, Ordering::Relaxed);
        let until = self.ejected_until.load(Ordering::Relaxed);
        if !probe_failed && until != 0 && clock() < until {
            return;
        }
        let strikes = self
            .strikes
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let backoff = BASE_EJECTION
            .saturating_mul(1 << strikes.saturating_sub(1).min(16))
            .min(MAX_EJECTION);
        self.ejected_until
            .store(clock() + millis(backoff), Ordering::Relaxed);
        self.metrics().ejections.increment(1);
        tracing::warn!(service = self.service.name(), address = %self.addr, ?backoff, "upstream endpoint ejected");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        Endpoint::new(Service::Post, addr, Authority::from_static("post:1"))
    }

    #[test]
    fn a_refusing_endpoint_is_ejected_and_one_request_probes_it_once_the_ejection_is_over() {
        let endpoint = endpoint();
        assert_eq!(endpoint.usable(), Usable::Yes);
        endpoint.failed(Fault::Down);
        assert_eq!(endpoint.usable(), Usable::No);
        endpoint.ejected_until.store(clock(), Ordering::Relaxed);
        assert_eq!(endpoint.usable(), Usable::Probe);
        assert!(endpoint.claim_probe());
        assert!(
            !endpoint.claim_probe(),
            "a second probe while the first runs"
        );
        assert_eq!(endpoint.usable(), Usable::No);
        endpoint.succeeded();
        assert_eq!(endpoint.usable(), Usable::Yes);
    }

    #[test]
    fn each_failed_probe_doubles_the_ejection_up_to_its_limit() {
        let endpoint = endpoint();
        let mut lengths = Vec::new();
        for _ in 0..6 {
            endpoint.ejected_until.store(clock(), Ordering::Relaxed);
            if endpoint.strikes.load(Ordering::Relaxed) > 0 {
                assert!(endpoint.claim_probe());
            }
            endpoint.failed(Fault::Down);
            let left = endpoint.ejected_until.load(Ordering::Relaxed) - clock();
            lengths.push((left + 500) / 1000);
        }
        assert_eq!(lengths, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn failures_while_ejected_and_invalid_answers_do_not_extend_the_ejection() {
        let endpoint = endpoint();
        endpoint.failed(Fault::Down);
        let until = endpoint.ejected_until.load(Ordering::Relaxed);
        endpoint.failed(Fault::Down);
        endpoint.failed(Fault::Other);
        assert_eq!(endpoint.ejected_until.load(Ordering::Relaxed), until);
        assert_eq!(endpoint.strikes.load(Ordering::Relaxed), 1);
    }
}

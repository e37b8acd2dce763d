//! Operational endpoints of every process: `/livez`, `/readyz`, `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;

/// One dependency whose state `/readyz` shows.
#[async_trait::async_trait]
pub trait Probe: Send + Sync {
    /// Name reported by `/readyz` (`database`, `redis`, `kafka`, …).
    fn name(&self) -> &'static str;
    /// `Ok` when the dependency answers; the error says why not.
    async fn check(&self) -> Result<(), String>;
}

/// Whether a probe decides readiness or is only shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Required,
    Reported,
}

/// The probes of one process. Only required probes decide readiness: in Kubernetes a failing
/// readiness probe takes the pod out of its Service, and a dependency every replica shares (the
/// broker) failing would take out all of them at once, although they can still answer requests.
#[derive(Clone, Default)]
pub struct Readiness {
    probes: Vec<(Role, Arc<dyn Probe>)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |role| -> Vec<_> {
            self.probes
                .iter()
                .filter(|(r, _)| *r == role)
                .map(|(_, p)| p.name())
                .collect()
        };
        f.debug_struct("Readiness")
            .field("required", &names(Role::Required))
            .field("reported", &names(Role::Reported))
            .finish()
    }
}

#[derive(Serialize)]
struct ReadyBody {
    status: &'static str,
    checks: BTreeMap<&'static str, String>,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Kubernetes gives a readiness probe one second by default: a reported dependency that hangs
/// must not make `/readyz` miss it, which would fail readiness after all.
const REPORTED_TIMEOUT: Duration = Duration::from_millis(500);

/// What one probe found.
struct Finding {
    name: &'static str,
    role: Role,
    result: Result<(), String>,
}

impl Readiness {
    /// No probes: always ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a required probe: the process is not ready while it fails.
    #[must_use]
    pub fn with(mut self, probe: impl Probe + 'static) -> Self {
        self.probes.push((Role::Required, Arc::new(probe)));
        self
    }

    /// Adds a reported probe: `/readyz` shows it (`degraded: …` when it fails) but it never makes
    /// the process unready. For what the process can serve requests without.
    #[must_use]
    pub fn with_reported(mut self, probe: impl Probe + 'static) -> Self {
        self.probes.push((Role::Reported, Arc::new(probe)));
        self
    }

    /// Adds every probe of `other`, each keeping its role.
    #[must_use]
    pub fn merge(mut self, other: Self) -> Self {
        self.probes.extend(other.probes);
        self
    }

    /// Runs every probe concurrently, each bounded by a timeout; required and reported alike.
    pub async fn check(&self) -> BTreeMap<&'static str, Result<(), String>> {
        self.findings()
            .await
            .into_iter()
            .map(|f| (f.name, f.result))
            .collect()
    }

    async fn findings(&self) -> Vec<Finding> {
        let runs = self.probes.iter().map(|(role, probe)| async move {
            let limit = match role {
                Role::Required => PROBE_TIMEOUT,
                Role::Reported => REPORTED_TIMEOUT,
            };
            let result = tokio::time::timeout(limit, probe.check())
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {limit:?}")));
            Finding {
                name: probe.name(),
                role: *role,
                result,
            }
        });
        futures::future::join_all(runs).await
    }

    async fn answer(self) -> Response {
        let findings = self.findings().await;
        let ready = findings
            .iter()
            .all(|f| f.role == Role::Reported || f.result.is_ok());
        let checks: BTreeMap<_, _> = findings.iter().map(|f| (f.name, shown(f))).collect();
        if !ready {
            let failed: Vec<_> = findings
                .iter()
                .filter(|f| f.role == Role::Required && f.result.is_err())
                .map(|f| format!("{} {}", f.name, shown(f)))
                .collect();
            tracing::warn!(failed = ?failed, "not ready");
        }
        let (status, word) = if ready {
            (StatusCode::OK, "ready")
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        };
        (
            status,
            axum::Json(ReadyBody {
                status: word,
                checks,
            }),
        )
            .into_response()
    }
}

/// `ok`, `failed: …` (a required probe) or `degraded: …` (a reported one).
fn shown(finding: &Finding) -> String {
    match (&finding.result, finding.role) {
        (Ok(()), _) => "ok".into(),
        (Err(e), Role::Required) => format!("failed: {e}"),
        (Err(e), Role::Reported) => format!("degraded: {e}"),
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may exist only in tests that build several apps; the handle of this
            // one still renders, so losing the race is harmless.
            let _ = metrics::set_global_recorder(recorder);
            start_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// Upper bounds in seconds of the buckets of every histogram (all of them are durations): from the
/// gateway's sub-millisecond answers to the slowest upload a client waits for.
///
/// Buckets rather than summaries, because a bucket count adds up across replicas, so dashboards and
/// alerts see a service, not its slowest pod; and because folding samples into a summary's sketch
/// is costly: 125,000 samples (5 s of the gateway at 25,000 req/s) took 12 ms, a stall of every
/// request on the core it ran on, against 0.6 ms into buckets.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often recorded histogram samples are folded into their buckets: often enough that one
/// fold is a short piece of work.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Histogram samples are kept one by one until folded into the buckets, which a scrape of
/// `/metrics` does; without scrapes they pile up (8 bytes a request: 12 MiB after 1.5 million
/// gateway requests, seen in bench/gateway). A thread of its own folds them regularly, whatever
/// runtime the process has.
fn start_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
                record_resident_memory();
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "metrics upkeep not started; histograms are folded only on scrapes");
    }
}

/// `process_resident_memory_bytes`, the gauge Prometheus' own clients call so: the resident set
/// from `/proc/self/statm` (pages), for the dashboards' memory panel and the memory alert.
fn record_resident_memory() {
    if let Some(bytes) = resident_bytes() {
        metrics::gauge!("process_resident_memory_bytes").set(bytes as f64);
    }
}

fn resident_bytes() -> Option<u64> {
    // The page size of every Linux target this is built for (x86-64, and arm64 as configured by
    // common distributions); reading it needs libc, and unsafe code is forbidden here.
    const PAGE: u64 = 4096;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * PAGE)
}

/// `/livez`, `/readyz` and `/metrics` for one process.
pub fn ops_routes(readiness: Readiness) -> Router {
    let metrics = metrics_handle();
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { readiness.answer().await }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_resident_set_of_this_process_is_read_from_proc() {
        let bytes = super::resident_bytes().unwrap();
        assert!(bytes > 1 << 20, "{bytes}");
    }
}

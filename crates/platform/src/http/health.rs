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

/// One dependency that must be reachable for the process to be ready.
#[async_trait::async_trait]
pub trait Probe: Send + Sync {
    /// Name reported by `/readyz` (`database`, `redis`, `kafka`, …).
    fn name(&self) -> &'static str;
    /// `Ok` when the dependency answers; the error says why not.
    async fn check(&self) -> Result<(), String>;
}

/// The probes of one process.
#[derive(Clone, Default)]
pub struct Readiness {
    probes: Vec<Arc<dyn Probe>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.probes.iter().map(|p| p.name()).collect();
        f.debug_struct("Readiness").field("probes", &names).finish()
    }
}

#[derive(Serialize)]
struct ReadyBody {
    status: &'static str,
    checks: BTreeMap<&'static str, String>,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl Readiness {
    /// No probes: always ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a probe.
    #[must_use]
    pub fn with(mut self, probe: impl Probe + 'static) -> Self {
        self.probes.push(Arc::new(probe));
        self
    }

    /// Adds every probe of `other`.
    #[must_use]
    pub fn merge(mut self, other: Self) -> Self {
        self.probes.extend(other.probes);
        self
    }

    /// Runs every probe concurrently, each bounded by a timeout.
    pub async fn check(&self) -> BTreeMap<&'static str, Result<(), String>> {
        let runs = self.probes.iter().map(|probe| async move {
            let result = tokio::time::timeout(PROBE_TIMEOUT, probe.check())
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")));
            (probe.name(), result)
        });
        futures::future::join_all(runs).await.into_iter().collect()
    }

    async fn answer(self) -> Response {
        let results = self.check().await;
        let ready = results.values().all(Result::is_ok);
        let checks = results
            .into_iter()
            .map(|(name, r)| {
                (
                    name,
                    r.map_or_else(|e| format!("failed: {e}"), |()| "ok".into()),
                )
            })
            .collect::<BTreeMap<_, _>>();
        if !ready {
            let failed: Vec<_> = checks
                .iter()
                .filter(|(_, v)| v.as_str() != "ok")
                .map(|(k, v)| format!("{k} {v}"))
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

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may exist only in tests that build several apps; the handle of this
            // one still renders, so losing the race is harmless.
            let _ = metrics::set_global_recorder(recorder);
            start_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// How often recorded histogram samples are folded into their summaries.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Histogram samples are kept one by one until folded into a summary, which a scrape of `/metrics`
/// does; without scrapes they pile up (8 bytes a request: 12 MiB after 1.5 million gateway
/// requests, seen in bench/gateway). A thread of its own folds them regularly, whatever runtime
/// the process has.
fn start_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "metrics upkeep not started; histograms are folded only on scrapes");
    }
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

//! `/livez`, `/readyz` and `/metrics` answer as probes and scrapers expect.

#![expect(
    clippy::unwrap_used,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use platform::http::{Probe, Readiness, ops_routes};
use tower::ServiceExt;

struct Fixed(&'static str, Result<(), String>);

#[async_trait::async_trait]
impl Probe for Fixed {
    fn name(&self) -> &'static str {
        self.0
    }

    async fn check(&self) -> Result<(), String> {
        self.1.clone()
    }
}

async fn get(readiness: Readiness, path: &str) -> (StatusCode, String) {
    let response = ops_routes(readiness)
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn livez_answers_200_without_checking_dependencies() {
    let failing = Readiness::new().with(Fixed("database", Err("down".into())));
    assert_eq!(get(failing, "/livez").await.0, StatusCode::OK);
}

#[tokio::test]
async fn readyz_answers_200_when_every_dependency_answers() {
    let ready = Readiness::new()
        .with(Fixed("database", Ok(())))
        .with(Fixed("redis", Ok(())));
    let (status, body) = get(ready, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#""redis":"ok""#), "{body}");
}

#[tokio::test]
async fn readyz_answers_503_naming_the_dependency_that_failed() {
    let partly = Readiness::new()
        .with(Fixed("database", Ok(())))
        .with(Fixed("kafka", Err("connection refused".into())));
    let (status, body) = get(partly, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["checks"]["database"], "ok");
    assert_eq!(json["checks"]["kafka"], "failed: connection refused");
}

struct Hangs(&'static str);

#[async_trait::async_trait]
impl Probe for Hangs {
    fn name(&self) -> &'static str {
        self.0
    }

    async fn check(&self) -> Result<(), String> {
        std::future::pending().await
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn a_failing_reported_probe_is_shown_degraded_and_leaves_the_process_ready() {
    let readiness = Readiness::new()
        .with(Fixed("database", Ok(())))
        .with_reported(Fixed("kafka", Err("broker unreachable".into())));
    let (status, body) = get(readiness, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json = json(&body);
    assert_eq!(json["status"], "ready");
    assert_eq!(json["checks"]["database"], "ok");
    assert_eq!(json["checks"]["kafka"], "degraded: broker unreachable");
}

#[tokio::test]
async fn a_failing_required_probe_makes_the_process_unready_whatever_the_reported_probes_say() {
    let readiness = Readiness::new()
        .with(Fixed("database", Err("connection refused".into())))
        .with_reported(Fixed("kafka", Ok(())));
    let (status, body) = get(readiness, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let json = json(&body);
    assert_eq!(json["status"], "unavailable");
    assert_eq!(json["checks"]["database"], "failed: connection refused");
    assert_eq!(json["checks"]["kafka"], "ok");
}

#[tokio::test]
async fn merged_readiness_keeps_each_probe_required_or_reported() {
    let member = Readiness::new().with_reported(Fixed("redis", Err("down".into())));
    let post = Readiness::new().with(Fixed("database", Ok(())));
    let (status, body) = get(member.merge(post), "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["checks"]["redis"], "degraded: down");
}

#[tokio::test]
async fn a_reported_probe_that_hangs_is_cut_short_so_readyz_answers_within_a_second() {
    let readiness = Readiness::new()
        .with(Fixed("database", Ok(())))
        .with_reported(Hangs("redis"));
    let started = std::time::Instant::now();
    let (status, body) = get(readiness, "/readyz").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(status, StatusCode::OK, "{body}");
    let shown = json(&body)["checks"]["redis"].as_str().unwrap().to_owned();
    assert!(shown.starts_with("degraded: no answer within"), "{shown}");
}

#[tokio::test]
async fn metrics_renders_prometheus_text_with_request_counters() {
    let app = platform::http::service_app(
        axum::Router::new().route("/x", axum::routing::get(|| async { "x" })),
        platform::http::ServiceCodes::default(),
        1024,
    );
    app.oneshot(Request::get("/x").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, body) = get(Readiness::new(), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("http_requests_total"), "{body}");
}

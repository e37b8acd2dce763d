//! The gateway: the single entry point in front of member, gallery and post.
//!
//! Routing, authentication and rate limits arrive with the gateway issue; for now it serves its
//! health text and, in standalone mode, dispatches `/api/<service>` to in-process routers.

pub mod config;

use axum::Router;
use axum::routing::get;
use platform::CancellationToken;
use platform::http::{Readiness, ServiceCodes, ops_routes, service_app};
use platform::redis_client::RedisProbe;

pub use config::Config;

/// Error codes of the gateway's own rejections.
pub const CODES: ServiceCodes = ServiceCodes {
    service: "gateway",
    missing_parameter: "GATE001",
    missing_parameter_message: "missing parameter",
    bad_request: "GATE001",
    internal: "GATE500",
};

/// The text of `GET /health` (API.md B §1).
pub const HEALTH_TEXT: &str = "게이트웨이 서버 ok";

/// The gateway's own routes.
pub fn router() -> Router {
    let routes = Router::new().route("/health", get(|| async { HEALTH_TEXT }));
    service_app(routes, CODES, 0)
}

/// In-process services mounted under their prefixes, as standalone mode runs them.
#[derive(Debug)]
pub struct InProcess {
    /// Routes of member (`/api/member/**`).
    pub member: Router,
    /// Routes of gallery (`/api/gallery/**`).
    pub gallery: Router,
    /// Routes of post (`/api/post/**`).
    pub post: Router,
}

/// The gateway in front of in-process services: paths are passed on unchanged.
pub fn in_process(services: InProcess) -> Router {
    let mut app = Router::new().route("/health", get(|| async { HEALTH_TEXT }));
    for (prefix, service) in [
        ("/api/member", services.member),
        ("/api/gallery", services.gallery),
        ("/api/post", services.post),
    ] {
        // As services, not nested routers, so that paths reach them unchanged.
        let service = service.into_service::<axum::body::Body>();
        app = app
            .route_service(prefix, service.clone())
            .route_service(&format!("{prefix}/{{*rest}}"), service);
    }
    service_app(app, CODES, 0)
}

/// Runs the gateway until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let redis = platform::redis_client::connect(&config.redis).await?;
    let app = router().merge(ops_routes(Readiness::new().with(RedisProbe(redis))));
    platform::shutdown::run_http("gateway", config.http.addr(), app, shutdown).await?;
    Ok(())
}

//! A local stand-in for YouTube's search API, so music can be attached without the internet.

use axum::Router;
use axum::routing::get;

/// Starts the stand-in on loopback; returns its search URL.
pub(crate) async fn start() -> String {
    start_on("127.0.0.1:0".parse().unwrap()).await
}

/// Starts the stand-in on `addr` (a cluster's pods reach it on the node's address); returns its
/// search URL.
pub async fn start_on(addr: std::net::SocketAddr) -> String {
    let app = Router::new().route(
        "/youtube/v3/search",
        get(|| async {
            axum::Json(serde_json::json!({
                "items": [{"id": {"videoId": "e2eVideo01"}, "snippet": {"title": "t"}}]
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/youtube/v3/search")
}

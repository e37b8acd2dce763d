//! The page at `/` when no frontend is served: a person who opens the address in a browser learns
//! what runs there, whether each part is healthy, and where the API and its documentation are.

use std::fmt::Write as _;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use platform::http::Readiness;

/// The services whose health the page shows, each with its own probes.
pub type Parts = Vec<(&'static str, Readiness)>;

/// `GET /`: the page, checked afresh on every request.
pub fn routes(parts: Parts) -> Router {
    Router::new().route(
        "/",
        get(move || {
            let parts = parts.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    page(&parts).await,
                )
                    .into_response()
            }
        }),
    )
}

async fn page(parts: &Parts) -> String {
    let mut health = String::new();
    for (service, readiness) in parts {
        for (probe, result) in readiness.check().await {
            let shown = match result {
                Ok(()) => "ok".to_owned(),
                Err(e) => format!("failing: {}", escape(&e)),
            };
            let _ = writeln!(
                health,
                "<tr><td>{service}</td><td>{probe}</td><td>{shown}</td></tr>"
            );
        }
    }
    let mut api = String::new();
    for service in ["member", "gallery", "post"] {
        let _ = writeln!(
            api,
            "<li>{service}: <a href=\"/api/{service}/docs/\">interactive documentation</a>, \
             <a href=\"/api/{service}/openapi.json\">OpenAPI document</a></li>"
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>thegallery</title>\
         <style>body{{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.5}}\
         td{{padding:0 1em 0 0}}</style></head><body>\n\
         <h1>thegallery</h1>\n\
         <p>The backend of The Gallery (더 갤러리), a social network of personal 3D exhibitions, \
         running in standalone mode: the gateway, member, gallery and post services in one process, \
         with its state under <code>DATA_DIR</code>. No frontend is served at this address; start \
         the process with <code>STATIC_DIR</code> set to a build of the original frontend to serve \
         it here (<code>docs/frontend.md</code> in the source tree says how).</p>\n\
         <h2>Health</h2>\n<table>\n{health}</table>\n\
         <p>Probes for machines: <a href=\"/livez\">/livez</a>, <a href=\"/readyz\">/readyz</a>, \
         <a href=\"/health\">/health</a>, <a href=\"/metrics\">/metrics</a>.</p>\n\
         <h2>API</h2>\n<ul>\n{api}</ul>\n\
         <h2>Documentation</h2>\n<p><code>README.md</code> and <code>docs/</code> in the source \
         tree: <code>api.md</code> (the HTTP contract), <code>architecture.md</code>, \
         <code>configuration.md</code> (every variable), <code>operations.md</code>, \
         <code>events.md</code>.</p>\n</body></html>\n"
    )
}

/// A probe's message inside HTML text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_probe_message_is_escaped() {
        assert_eq!(
            escape("<b>\"x\" & y</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;"
        );
    }
}

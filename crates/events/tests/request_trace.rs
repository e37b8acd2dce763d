//! An event enqueued while a service serves a request carries that request's id and trace context
//! in its outbox row: the shared request stack (`platform::http::service_app`) makes them the
//! current context of the handler. Span export is off here, so the caller's `traceparent` and
//! `tracestate` are stored as they came.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use events::{Bus, Outbox};
use platform::http::ServiceCodes;
use support::*;
use tower::ServiceExt;

const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn app(db: sea_orm::DatabaseConnection, outbox: Arc<Outbox>, topic: String) -> Router {
    let routes = Router::new().route(
        "/act",
        post(move || async move {
            commit(&db, &outbox, &topic, &[event("a", 1)]).await;
            "done"
        }),
    );
    platform::http::service_app(routes, ServiceCodes::default(), 1024)
}

async fn stored_headers(db: &sea_orm::DatabaseConnection) -> Vec<(String, String)> {
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT headers FROM outbox",
        ))
        .await
        .unwrap()
        .unwrap();
    let headers: String = row.try_get("", "headers").unwrap();
    serde_json::from_str(&headers).unwrap()
}

#[tokio::test]
async fn the_outbox_row_stores_the_request_id_and_the_trace_context_of_the_request_that_caused_it()
{
    let test = TestDb::sqlite().await;
    let relay = relay(&Bus::in_process(), &test.db, "t").await;
    let app = app(test.db.clone(), Arc::new(relay.outbox()), "t".into());
    let request = http::Request::post("/act")
        .header("x-request-id", "req-trace-1")
        .header("traceparent", PARENT)
        .header("tracestate", "vendor=opaque")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = stored_headers(&test.db).await;
    for pair in [
        ("x-request-id", "req-trace-1"),
        ("traceparent", PARENT),
        ("tracestate", "vendor=opaque"),
    ] {
        assert!(
            headers.contains(&(pair.0.to_owned(), pair.1.to_owned())),
            "{pair:?} not in {headers:?}"
        );
    }
    test.drop_now().await;
}

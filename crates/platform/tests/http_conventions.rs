//! Every malformed request answers in the contract's error shape, never a framework default.

#![expect(
    clippy::unwrap_used,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use platform::http::{ApiResponse, Json, Path, Query, service_app};
use serde::Deserialize;
use tower::ServiceExt;

mod support;
use support::CODES;

#[derive(Deserialize)]
struct Item {
    name: String,
    count: u32,
}

#[derive(Deserialize)]
struct Search {
    q: String,
}

fn app() -> Router {
    let routes = Router::new()
        .route(
            "/items",
            post(|Json(item): Json<Item>| async move {
                ApiResponse::data("ok", format!("{}:{}", item.name, item.count))
            }),
        )
        .route(
            "/items/{id}",
            get(|Path(id): Path<i64>| async move { ApiResponse::data("ok", id) }),
        )
        .route(
            "/search",
            get(|Query(s): Query<Search>| async move { ApiResponse::data("ok", s.q) }),
        )
        .route("/empty", get(|| async { ApiResponse::message("done") }))
        .route(
            "/panic",
            get(|| async {
                panic!("a secret internal detail");
                #[expect(unreachable_code, reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions")]
                "unreachable"
            }),
        );
    service_app(routes, CODES, 1024)
}

async fn send(request: Request<Body>) -> (StatusCode, serde_json::Value, http::HeaderMap) {
    let response = app().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("body is not JSON: {:?}", String::from_utf8_lossy(&bytes)));
    (status, body, headers)
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_json(body: impl Into<Body>) -> Request<Body> {
    Request::post("/items")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn assert_error(body: &serde_json::Value, error_type: &str, code: &str) {
    assert_eq!(body["errorType"], error_type, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        3,
        "exactly three keys: {body}"
    );
}

#[tokio::test]
async fn a_success_with_data_is_wrapped_in_the_envelope() {
    let (status, body, _) = send(post_json(r#"{"name":"a","count":2}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"message": "ok", "data": "a:2"}));
}

#[tokio::test]
async fn a_success_without_data_omits_the_data_key() {
    let (_, body, _) = send(get_req("/empty")).await;
    assert_eq!(body, serde_json::json!({"message": "done"}));
}

#[tokio::test]
async fn malformed_json_answers_400_in_the_error_shape() {
    let (status, body, _) = send(post_json("{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "Bad Request", "GX005");
}

#[tokio::test]
async fn a_field_of_the_wrong_type_answers_400_in_the_error_shape() {
    let (status, body, _) = send(post_json(r#"{"name":"a","count":"two"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "Bad Request", "GX005");
}

#[tokio::test]
async fn a_body_without_json_content_type_answers_415_in_the_error_shape() {
    let request = Request::post("/items")
        .body(Body::from(r#"{"name":"a","count":2}"#))
        .unwrap();
    let (status, body, _) = send(request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&body, "Unsupported Media Type", "GX005");
}

#[tokio::test]
async fn a_missing_query_parameter_answers_400_with_the_missing_parameter_code() {
    let (status, body, _) = send(get_req("/search")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "Bad Request", "GX004");
    assert_eq!(body["message"], "필수 파라미터 누락");
}

#[tokio::test]
async fn a_non_numeric_path_id_answers_400_in_the_error_shape() {
    let (status, body, _) = send(get_req("/items/12abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "Bad Request", "GX005");
}

#[tokio::test]
async fn an_unknown_route_answers_404_in_the_error_shape() {
    let (status, body, _) = send(get_req("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "Not Found", "GX005");
}

#[tokio::test]
async fn a_wrong_method_answers_405_in_the_error_shape() {
    let request = Request::delete("/search").body(Body::empty()).unwrap();
    let (status, body, _) = send(request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "Method Not Allowed", "GX005");
}

#[tokio::test]
async fn an_oversized_body_answers_413_in_the_error_shape() {
    let big = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(4096));
    let (status, body, _) = send(post_json(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&body, "Payload Too Large", "GX005");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_without_internals() {
    let (status, body, _) = send(get_req("/panic")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error(&body, "Internal Server Error", "GX001");
    assert!(!body.to_string().contains("secret internal detail"));
}

#[tokio::test]
async fn a_request_id_is_generated_when_the_client_sends_none() {
    let (_, _, first) = send(get_req("/empty")).await;
    let (_, _, second) = send(get_req("/empty")).await;
    let id = first["x-request-id"].as_bytes();
    assert!(platform::http::request_id::is_acceptable(id), "{id:?}");
    assert_ne!(first["x-request-id"], second["x-request-id"]);
}

#[tokio::test]
async fn a_client_request_id_is_returned_unchanged() {
    let request = Request::get("/empty")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let (_, _, headers) = send(request).await;
    assert_eq!(headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn an_unreasonable_client_request_id_is_replaced() {
    let request = Request::get("/empty")
        .header("x-request-id", "a".repeat(300))
        .body(Body::empty())
        .unwrap();
    let (_, _, headers) = send(request).await;
    assert_ne!(headers["x-request-id"], "a".repeat(300).as_str());
}

//! A service's API documentation: its OpenAPI document at `/api/<service>/openapi.json`, and
//! Swagger UI, bundled into the binary (it works offline), at `/api/<service>/docs/` reading it.

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::access::Service;

/// `/api/{service}/openapi.json` answering `document`, and `/api/{service}/docs` (a redirect to
/// the slash form) with everything below it.
pub fn routes<S>(service: Service, document: OpenApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let prefix = service.prefix();
    let ui =
        SwaggerUi::new(format!("{prefix}/docs")).url(format!("{prefix}/openapi.json"), document);
    Router::from(ui)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(path: &str) -> (u16, String) {
        let document = utoipa::openapi::OpenApiBuilder::new().build();
        let answer = super::routes::<()>(super::Service::Gallery, document)
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_page_is_served_from_the_binary_and_reads_the_services_own_document() {
        let (status, page) = get("/api/gallery/docs/").await;
        assert_eq!(status, 200);
        assert!(page.contains("swagger-ui"), "{page}");
        let (status, init) = get("/api/gallery/docs/swagger-initializer.js").await;
        assert_eq!(status, 200);
        assert!(init.contains("/api/gallery/openapi.json"), "{init}");
        let (status, bundle) = get("/api/gallery/docs/swagger-ui-bundle.js").await;
        assert_eq!(status, 200);
        assert!(
            bundle.len() > 100_000,
            "the script itself, not a link to a CDN"
        );
    }

    #[tokio::test]
    async fn the_document_is_served_beside_the_page() {
        let (status, document) = get("/api/gallery/openapi.json").await;
        assert_eq!(status, 200);
        assert!(document.contains("\"openapi\":\"3.1"), "{document}");
    }
}

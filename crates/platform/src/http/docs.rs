//! Interactive API documentation: Swagger UI, bundled into the binary (it works offline), at
//! `/api/<service>/docs/`, reading the service's own `/api/<service>/openapi.json`.

use axum::Router;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// `/api/{service}/docs` (a redirect to the slash form) and everything below it.
pub fn routes<S>(service: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let document = format!("/api/{service}/openapi.json");
    let ui = SwaggerUi::new(format!("/api/{service}/docs")).config(Config::new([document]));
    Router::from(ui)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(path: &str) -> (u16, String) {
        let answer = super::routes::<()>("gallery")
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
}

//! The OpenAPI 3.1 document of the gallery service, served at `/api/gallery/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use super::{GalleryInfo, PlaceBody, galleries, places, search};

/// The gallery API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "thegallery gallery service",
        description = "Places, galleries and search; HTTP conventions in docs/api.md."
    ),
    paths(
        places::list,
        places::image,
        galleries::create,
        galleries::mine,
        galleries::check_name,
        galleries::get,
        galleries::update,
        galleries::delete,
        search::search
    ),
    components(schemas(
        PlaceBody,
        GalleryInfo,
        galleries::GalleryForm,
        galleries::CreatedGallery,
        search::GallerySearchItem
    ))
)]
pub struct ApiDoc;

/// The document as served: generated, then completed with the shared conventions (security from
/// the gateway's access matrix).
pub fn api_document() -> utoipa::openapi::OpenApi {
    platform::http::openapi::document::<ApiDoc>(platform::http::access::Service::Gallery)
}

/// Serves the document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(api_document())
}

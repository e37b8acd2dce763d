//! The OpenAPI 3.1 document of the gallery service.

use utoipa::OpenApi;

use super::{GalleryInfo, PlaceBody, galleries, places, search};

/// The gallery service's API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "thegallery gallery",
        description = "Places, galleries and search"
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

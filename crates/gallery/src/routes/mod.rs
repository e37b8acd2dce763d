//! HTTP routes of the gallery service, one file per resource, and the response shapes.

pub mod galleries;
pub mod openapi;
pub mod places;
pub mod search;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use platform::auth::authentication;
use platform::http::{RequestOrigin, service_app};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::entity::place;
use crate::store::GalleryView;

/// Largest JSON body a gallery route accepts.
const BODY_LIMIT: usize = 64 * 1024;

/// The gallery API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    let auth = authentication(state.keys.clone(), Arc::clone(&state.sessions));
    let routes = Router::new()
        .route("/api/gallery/health", get(|| async { "Gallery App ok" }))
        .merge(platform::http::docs::routes(
            platform::http::access::Service::Gallery,
            openapi::api_document(),
        ))
        .route("/api/gallery/place/list", get(places::list))
        .route(places::IMAGE_ROUTE, get(places::image))
        .route("/api/gallery", post(galleries::create))
        .route("/api/gallery/list", get(galleries::mine))
        .route("/api/gallery/check/name", get(galleries::check_name))
        .route("/api/gallery/search", get(search::search))
        .route(
            "/api/gallery/{gallery_id}",
            get(galleries::get)
                .patch(galleries::update)
                .delete(galleries::delete),
        )
        .with_state(state)
        .layer(auth);
    service_app(routes, crate::CODES, BODY_LIMIT)
}

/// The success shapes `{message, data}` and `{message}` for the document, shared by every
/// service; handlers answer with `platform::http::ApiResponse`, which has this shape.
pub use platform::http::openapi::{Envelope, MessageOnly};

/// Every error answer: `{errorType, errorCode, message}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// HTTP reason phrase, e.g. `Not Found`.
    pub error_type: String,
    /// Contract code, e.g. `GG007`.
    pub error_code: String,
    /// Korean message shown to people.
    pub message: String,
}

/// A place as the contract shows it (`Place` in the document).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceBody {
    /// Place id.
    pub place_id: i64,
    /// Display name.
    pub name: String,
    /// Frames of a gallery in this place.
    pub maximum_frame_number: i32,
    /// Absolute URL of the floor plan image.
    pub two_dimension_image_uri: Option<String>,
    /// Absolute URL of the preview image.
    pub three_dimension_image_uri: Option<String>,
}

/// A gallery as `GET /api/gallery/list` and `GET /api/gallery/{galleryId}` show it (`GalleryInfo` in the document).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GalleryInfo {
    /// Gallery id.
    pub gallery_id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub content: Option<String>,
    /// Creation time, offset-less in `APP_TIMEZONE`.
    #[schema(example = "2024-02-01T11:54:22.123456")]
    pub created_date: String,
    /// Last change, offset-less in `APP_TIMEZONE`.
    pub modified_date: String,
    /// The place.
    pub place: PlaceBody,
}

impl AppState {
    /// `uri` as the browser behind `origin` reaches it: paths served here get the public base
    /// in front.
    fn absolute(&self, origin: &RequestOrigin, uri: Option<String>) -> Option<String> {
        uri.map(|u| {
            if u.starts_with('/') {
                self.public_base_url.join(origin, &u)
            } else {
                u
            }
        })
    }

    pub(crate) fn place_body(&self, origin: &RequestOrigin, row: place::Model) -> PlaceBody {
        PlaceBody {
            place_id: row.place_id,
            name: row.name,
            maximum_frame_number: row.maximum_frame_number,
            two_dimension_image_uri: self.absolute(origin, row.two_dimension_image_uri),
            three_dimension_image_uri: self.absolute(origin, row.three_dimension_image_uri),
        }
    }

    pub(crate) fn gallery_info(&self, origin: &RequestOrigin, view: GalleryView) -> GalleryInfo {
        let GalleryView { gallery, place } = view;
        GalleryInfo {
            gallery_id: gallery.gallery_id,
            name: gallery.name,
            content: gallery.content,
            created_date: platform::time::render(self.timezone, gallery.created_date),
            modified_date: platform::time::render(self.timezone, gallery.modified_date),
            place: self.place_body(origin, place),
        }
    }
}

//! `GET /api/gallery/place/list` (the place list) and the bundled place images it links to.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use platform::http::{ApiResponse, Path, RequestOrigin};

use super::{Envelope, ErrorBody, PlaceBody};
use crate::error::Result;
use crate::{AppState, CODES, store};

/// Where the bundled images are served.
pub const IMAGE_ROUTE: &str = "/api/gallery/place/image/{file}";

/// The served path of a place's image; `kind` is `2d` or `3d`.
pub fn image_path(place: i64, kind: &str) -> String {
    format!("/api/gallery/place/image/{place}-{kind}.png")
}

const IMAGES: [(&str, &[u8]); 6] = [
    ("1-2d.png", include_bytes!("../../assets/places/1-2d.png")),
    ("1-3d.png", include_bytes!("../../assets/places/1-3d.png")),
    ("2-2d.png", include_bytes!("../../assets/places/2-2d.png")),
    ("2-3d.png", include_bytes!("../../assets/places/2-3d.png")),
    ("3-2d.png", include_bytes!("../../assets/places/3-2d.png")),
    ("3-3d.png", include_bytes!("../../assets/places/3-3d.png")),
];

/// Every place, in id order.
#[utoipa::path(get, path = "/api/gallery/place/list", tag = "place",
    responses((status = 200, description = "`{message: \"공간 정보가 조회되었습니다.\", data: [Place]}`", body = Envelope<Vec<PlaceBody>>)))]
pub async fn list(
    State(state): State<AppState>,
    origin: RequestOrigin,
) -> Result<ApiResponse<Vec<PlaceBody>>> {
    let places = store::places(&state.db).await?;
    let body = places
        .into_iter()
        .map(|p| state.place_body(&origin, p))
        .collect();
    Ok(ApiResponse::data("공간 정보가 조회되었습니다.", body))
}

/// A bundled place image (public, cacheable).
#[utoipa::path(get, path = "/api/gallery/place/image/{file}", tag = "place",
    params(("file" = String, Path, description = "e.g. `1-3d.png`")),
    responses((status = 200, description = "PNG image", content_type = "image/png"),
        (status = 404, description = "unknown image", body = ErrorBody)))]
pub async fn image(Path(file): Path<String>) -> Response {
    match IMAGES.iter().find(|(name, _)| *name == file) {
        Some((_, bytes)) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => CODES.not_found().into_response(),
    }
}

//! `GET /api/post/image/{key}`: images of local storage (S3 images are served by the bucket).

use axum::extract::State;
use axum::response::Response;
use platform::http::Path;

use crate::AppState;
use crate::error::PostError;

/// Streams a stored image with its content type and long-lived cache headers.
#[utoipa::path(get, path = "/api/post/image/{key}", tag = "image",
    params(("key" = String, Path, description = "generated image key")),
    responses((status = 200, description = "the image"),
        (status = 404, description = "GP007 unknown or malformed key")))]
pub async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, PostError> {
    state.images.serve(&key).await
}

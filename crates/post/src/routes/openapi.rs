//! The OpenAPI document served at `/api/post/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use super::{comments, images, music, posts};

/// The post service's API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "thegallery post",
        description = "Artwork frames, images, comments and music"
    ),
    paths(
        posts::list,
        posts::update,
        posts::dummy,
        comments::create,
        comments::list,
        comments::edit,
        comments::delete,
        music::search,
        music::lookup,
        images::serve
    ),
    components(schemas(
        posts::PostInfo,
        posts::MusicInfo,
        comments::CommentInfo,
        comments::NewComment,
        comments::EditComment,
        music::TrackChoice,
        crate::music::TrackCandidate
    ))
)]
pub struct ApiDoc;

/// Serves the document.
/// Operations that need a member's token: those whose handler takes one, and those the gateway
/// protects (every route its table of public routes does not name).
const PROTECTED: &[&str] = &["update", "dummy", "create", "edit", "delete", "lookup"];

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    platform::http::openapi::conventions(&mut doc, PROTECTED);
    Json(doc)
}

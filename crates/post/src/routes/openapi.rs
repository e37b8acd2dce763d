//! The OpenAPI 3.1 document of the post service.

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

/// The document as served: generated, then completed with the shared conventions (security from
/// the gateway's access matrix).
pub fn api_document() -> utoipa::openapi::OpenApi {
    platform::http::openapi::document::<ApiDoc>(platform::http::access::Service::Post)
}

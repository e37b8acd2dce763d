//! HTTP routes of the post service, one file per resource.

pub mod comments;
pub mod images;
pub mod music;
pub mod openapi;
pub mod posts;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use platform::auth::authentication;
use platform::http::service_app;

use crate::AppState;

/// The post API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    let auth = authentication(state.auth.clone(), Arc::clone(&state.sessions));
    let api = Router::new()
        .route("/api/post/health", get(|| async { "게시물 서버 OK !!!" }))
        .merge(platform::http::docs::routes(
            platform::http::access::Service::Post,
            openapi::api_document(),
        ))
        .route(
            "/api/post/list/{galleryId}",
            get(posts::list)
                .patch(posts::update)
                .layer(DefaultBodyLimit::max(crate::UPLOAD_LIMIT)),
        )
        .route("/api/post/dummy", post(posts::dummy))
        .route("/api/post/comment", post(comments::create))
        .route("/api/post/comment/list/{postId}", get(comments::list))
        .route(
            "/api/post/comment/{commentId}",
            patch(comments::edit).delete(comments::delete),
        )
        .route("/api/post/music/list", get(music::search))
        .route("/api/post/music", post(music::lookup))
        .route("/api/post/image/{key}", get(images::serve))
        .with_state(state)
        .layer(auth);
    service_app(api, crate::CODES, crate::BODY_LIMIT)
}

//! The OpenAPI 3.1 document of the member service.

use axum::Json;
use utoipa::OpenApi;

use super::{auth, internal, profile};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "thegallery member",
        description = "Accounts, sessions, profile and withdrawal"
    ),
    paths(
        auth::login,
        auth::callback,
        auth::signup,
        auth::signin,
        auth::logout,
        auth::logout_all,
        profile::me,
        profile::check_nickname,
        profile::rename,
        profile::withdraw,
        internal::nickname,
        internal::member_id,
        internal::nicknames,
    ),
    components(schemas(
        auth::CallbackData,
        auth::SigninData,
        auth::SignupBody,
        auth::SigninBody,
        profile::MemberData,
        profile::RenameBody,
    ))
)]
struct MemberApi;

/// The document as served: generated, then completed with the shared conventions (security from
/// the gateway's access matrix).
pub fn api_document() -> utoipa::openapi::OpenApi {
    platform::http::openapi::document::<MemberApi>(platform::http::access::Service::Member)
}

/// Serves the document.
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(api_document())
}

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

/// `GET /api/member/openapi.json`.
/// Operations that need a member's token: those whose handler takes one, and those the gateway
/// protects (every route its table of public routes does not name).
const PROTECTED: &[&str] = &[
    "logout",
    "logout_all",
    "me",
    "rename",
    "withdraw",
    "nickname",
    "member_id",
    "nicknames",
];

pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = MemberApi::openapi();
    platform::http::openapi::conventions(&mut doc, PROTECTED);
    Json(doc)
}

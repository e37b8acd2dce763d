//! The OpenAPI 3.1 document of the member service.

use utoipa::OpenApi;

use super::{auth, internal, profile};

/// The member service's API.
#[derive(Debug, OpenApi)]
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
pub struct ApiDoc;

/// The document as served: generated, then completed with the shared conventions (security from
/// the gateway's access matrix).
pub fn api_document() -> utoipa::openapi::OpenApi {
    platform::http::openapi::document::<ApiDoc>(platform::http::access::Service::Member)
}

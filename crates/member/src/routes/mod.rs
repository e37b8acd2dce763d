//! The member API: one file per resource, the authenticated caller, and the OpenAPI document.

mod auth;
mod internal;
pub mod openapi;
mod profile;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};

use platform::auth::AuthMember;
use platform::http::{ApiError, service_app};

use crate::AppState;

/// Largest JSON body a member route accepts.
const BODY_LIMIT: usize = 64 * 1024;

/// The member API routes, without operational endpoints.
pub fn router(state: AppState) -> Router {
    let auth = platform::auth::authentication(
        state.signing_key.verifying_keys(),
        Arc::clone(&state.sessions),
    );
    let api = routes().with_state(state).layer(auth);
    service_app(api, crate::CODES, BODY_LIMIT)
}

/// Every member route.
fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/member/health", get(|| async { "member 서버 ok" }))
        .route("/api/member/login", post(auth::login))
        .route("/api/member/callback", post(auth::callback))
        .route("/api/member/signup", post(auth::signup))
        .route("/api/member/signin", post(auth::signin))
        .route("/api/member/logout", post(auth::logout))
        .route("/api/member/logout/all", post(auth::logout_all))
        .route(
            "/api/member",
            get(profile::me)
                .patch(profile::rename)
                .delete(profile::withdraw),
        )
        .route("/api/member/check/nickname", get(profile::check_nickname))
        .route("/api/member/nickname", get(internal::nickname))
        .route("/api/member/memberId", get(internal::member_id))
        .route("/api/member/nickname/list", post(internal::nicknames))
        .merge(platform::http::docs::routes(
            platform::http::access::Service::Member,
            openapi::api_document(),
        ))
}

/// The caller: a token verified with our key whose session still exists and is the token's
/// subject's (checked by `AuthMember`), so a logged-out or withdrawn token is refused even when
/// it reaches member directly.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Member id.
    pub member_id: i64,
    /// Session id.
    pub sid: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let member = AuthMember::from_request_parts(parts, state).await?;
        Ok(Self {
            member_id: member.member_id,
            sid: member.sid,
        })
    }
}

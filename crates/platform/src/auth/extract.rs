//! The authenticated member as an axum extractor: services verify the token themselves and never
//! trust identity headers alone (docs/gateway.md, "Identity propagation").

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::cookie::{TokenSource, token_from_headers};
use super::keys::VerifyingKeys;
use super::tokens::{Claims, Role};
use crate::http::ApiError;

/// Makes the verifying keys available to [`AuthMember`]: `router.layer(auth_keys(keys))`.
pub fn auth_keys(keys: VerifyingKeys) -> axum::Extension<Arc<VerifyingKeys>> {
    axum::Extension(Arc::new(keys))
}

/// The member a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthMember {
    /// Member id.
    pub member_id: i64,
    /// Role.
    pub role: Role,
    /// Session id.
    pub sid: String,
    /// The verified claims.
    pub claims: Claims,
}

fn unauthorized(message: &'static str, code: &'static str) -> ApiError {
    let status = if code == "GATE004" {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::UNAUTHORIZED
    };
    ApiError::new(status, code, message)
}

impl<S: Send + Sync> FromRequestParts<S> for AuthMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(keys) = parts.extensions.get::<Arc<VerifyingKeys>>().cloned() else {
            tracing::error!("AuthMember used on a router without auth_keys");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "서버 에러",
            ));
        };
        let token = match token_from_headers(&parts.headers) {
            TokenSource::Missing => return Err(unauthorized("missing cookie", "GATE004")),
            TokenSource::Empty => return Err(unauthorized("missing token", "GATE002")),
            TokenSource::Token(token) => token,
        };
        let claims = keys
            .verify(token)
            .map_err(|_| unauthorized("invalid token", "GATE003"))?;
        let member_id = claims
            .member_id()
            .map_err(|_| unauthorized("invalid token", "GATE003"))?;
        Ok(Self {
            member_id,
            role: claims.role,
            sid: claims.sid.clone(),
            claims,
        })
    }
}

//! The authenticated member as an axum extractor: services verify the token themselves and never
//! trust identity headers alone (docs/gateway.md, "Identity propagation"), and, like the gateway,
//! honour it only while its session lives and belongs to the token's subject — defence in depth
//! should a request reach a service past the gateway.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::cookie::{TokenSource, token_from_headers};
use super::keys::VerifyingKeys;
use super::sessions::SessionStore;
use super::tokens::{Claims, Role};
use crate::http::{ApiError, ServiceCodes};

/// What [`AuthMember`] checks a token with: the keys of its signature and the sessions it names.
#[derive(Debug)]
pub struct Authenticator {
    keys: VerifyingKeys,
    sessions: Arc<dyn SessionStore>,
}

/// Makes the keys and the session store available to [`AuthMember`]:
/// `router.layer(authentication(keys, sessions))`.
pub fn authentication(
    keys: VerifyingKeys,
    sessions: Arc<dyn SessionStore>,
) -> axum::Extension<Arc<Authenticator>> {
    axum::Extension(Arc::new(Authenticator { keys, sessions }))
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
        let Some(auth) = parts.extensions.get::<Arc<Authenticator>>().cloned() else {
            tracing::error!("AuthMember used on a router without authentication");
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
        let claims = auth
            .keys
            .verify(token)
            .map_err(|_| unauthorized("invalid token", "GATE003"))?;
        let member_id = claims
            .member_id()
            .map_err(|_| unauthorized("invalid token", "GATE003"))?;
        // Fail closed: without the store no token is honoured, with the gateway's answer (503).
        let owner = auth.sessions.owner(&claims.sid).await.map_err(|e| {
            let codes = parts.extensions.get::<ServiceCodes>().copied();
            ApiError::unavailable(codes.unwrap_or_default().internal, &e)
        })?;
        // A session of another member than the token's subject is as good as none.
        if owner != Some(member_id) {
            return Err(unauthorized("invalid token", "GATE003"));
        }
        Ok(Self {
            member_id,
            role: claims.role,
            sid: claims.sid.clone(),
            claims,
        })
    }
}

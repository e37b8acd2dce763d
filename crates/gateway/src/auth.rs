//! The gateway's token check (docs/gateway.md, "What happens to a request"): find the token, verify it with
//! `platform::auth`, then require its session to exist and to belong to the token's subject.
//!
//! Signature checks are cached per token string until the token expires: a token's content cannot
//! change, so re-verifying it on every request would only burn CPU. Session checks are cached too
//! in distributed mode, yet revocation still takes effect: the cache is kept by Redis client-side
//! caching, which pushes an invalidation for every session key it handed out before answering
//! anything later on that connection, and the cache is flushed whenever that connection is lost
//! (see [`crate::session_cache`]). Standalone mode looks the session up on every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use http::header::{HeaderName, HeaderValue};
use platform::auth::{
    Claims, LEEWAY_SECONDS, SessionError, SessionStore, TokenSource, VerifyingKeys,
};

use crate::session_cache::TrackedSessions;

/// Who a request comes from, as a verified token with a live session says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(Arc<Verified>);

/// A verified token: its claims and the headers that carry them to the services, built once per
/// token rather than on every request.
#[derive(Debug, PartialEq, Eq)]
struct Verified {
    claims: Claims,
    /// `X-Member-ID`, `X-Member-Role`, `X-Session-Id` and `Authorization: Bearer <token>`.
    headers: [(HeaderName, HeaderValue); 4],
}

impl Identity {
    /// The token's claims.
    pub fn claims(&self) -> &Claims {
        &self.0.claims
    }

    /// The identity headers a service receives (the token travels as a bearer token).
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.0.headers
    }
}

impl Verified {
    fn new(claims: Claims, token: &str) -> Option<Self> {
        let value = |text: &str| HeaderValue::from_str(text).ok();
        let headers = [
            (HeaderName::from_static("x-member-id"), value(&claims.sub)?),
            (
                HeaderName::from_static("x-member-role"),
                value(claims.role.as_str())?,
            ),
            (HeaderName::from_static("x-session-id"), value(&claims.sid)?),
            (
                http::header::AUTHORIZATION,
                value(&format!("Bearer {token}"))?,
            ),
        ];
        Some(Self { claims, headers })
    }
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Neither the cookie nor a bearer token (400 GATE004).
    #[error("missing cookie")]
    MissingCookie,
    /// Cookie or bearer present but empty (401 GATE002).
    #[error("missing token")]
    MissingToken,
    /// Bad, expired or revoked token (401 GATE003).
    #[error("invalid token")]
    InvalidToken,
    /// The session store did not answer (503).
    #[error("session store unavailable")]
    Unavailable(#[source] SessionError),
}

/// Where sessions are looked up.
#[derive(Debug, Clone)]
pub enum Sessions {
    /// Redis, connected on first use, with live sessions cached exactly (distributed mode).
    Tracked(Arc<TrackedSessions>),
    /// Any store, e.g. the database-backed one of standalone mode.
    Store(Arc<dyn SessionStore>),
}

impl Sessions {
    async fn owner(&self, sid: &str) -> Result<Option<i64>, SessionError> {
        match self {
            Self::Tracked(sessions) => sessions.owner(sid).await,
            Self::Store(store) => store.owner(sid).await,
        }
    }
}

/// Bound on cached verifications; the cache is emptied when full (cheap, and tokens re-verify).
const CACHE_LIMIT: usize = 4096;

/// Verifies tokens and sessions.
#[derive(Debug)]
pub struct Authenticator {
    keys: VerifyingKeys,
    sessions: Sessions,
    // foldhash, not SipHash: a token is ~300 bytes, and only tokens we signed are ever inserted, so
    // nobody can flood the map with chosen collisions.
    verified: RwLock<HashMap<String, Arc<Verified>, foldhash::fast::RandomState>>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn leeway() -> i64 {
    i64::try_from(LEEWAY_SECONDS).unwrap_or(0)
}

impl Authenticator {
    /// Checks tokens against `keys` and sessions in `sessions`.
    pub fn new(keys: VerifyingKeys, sessions: Sessions) -> Self {
        Self {
            keys,
            sessions,
            verified: RwLock::new(HashMap::default()),
        }
    }

    /// The identity of a request to a protected route, or why it is refused.
    pub async fn authenticate(&self, token: TokenSource<'_>) -> Result<Identity, AuthError> {
        let token = match token {
            TokenSource::Missing => return Err(AuthError::MissingCookie),
            TokenSource::Empty => return Err(AuthError::MissingToken),
            TokenSource::Token(token) => token,
        };
        let verified = self.verify(token)?;
        // The session must be the subject's own: a token carrying one member's session and
        // another's `sub` is refused even when signed with our key.
        let subject = verified.claims.member_id().ok();
        match self.sessions.owner(&verified.claims.sid).await {
            Ok(Some(owner)) if Some(owner) == subject => Ok(Identity(verified)),
            Ok(_) => Err(AuthError::InvalidToken),
            Err(e) => Err(AuthError::Unavailable(e)),
        }
    }

    fn verify(&self, token: &str) -> Result<Arc<Verified>, AuthError> {
        let now = now();
        let cached = self
            .verified
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned();
        if let Some(verified) = cached {
            return if verified.claims.exp + leeway() >= now {
                Ok(verified)
            } else {
                Err(AuthError::InvalidToken)
            };
        }
        let claims = self
            .keys
            .verify(token)
            .map_err(|_| AuthError::InvalidToken)?;
        // A token issued in the future was not made by our clock-synchronised member service.
        if claims.iat > now + leeway() || claims.member_id().is_err() || claims.sid.is_empty() {
            return Err(AuthError::InvalidToken);
        }
        let verified = Arc::new(Verified::new(claims, token).ok_or(AuthError::InvalidToken)?);
        let mut cache = self
            .verified
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(token.to_owned(), Arc::clone(&verified));
        Ok(verified)
    }
}

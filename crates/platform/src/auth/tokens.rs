//! The access token: an EdDSA JWT naming the member, their role and their session.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{SigningKey, VerifyingKeys};

/// Token lifetime, cookie Max-Age and session TTL: one value, so all three end together.
pub const TOKEN_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// `iss` of every token.
pub const ISSUER: &str = "thegallery";
/// `aud` of every token.
pub const AUDIENCE: &str = "thegallery";
/// Clock skew tolerated on `exp`.
pub const LEEWAY_SECONDS: u64 = 5;

/// A member's role, serialised as the original's enum names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// `ROLE_USER`.
    #[serde(rename = "ROLE_USER")]
    User,
    /// `ROLE_ADMIN`.
    #[serde(rename = "ROLE_ADMIN")]
    Admin,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "ROLE_USER",
            Self::Admin => "ROLE_ADMIN",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ROLE_USER" => Ok(Self::User),
            "ROLE_ADMIN" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Member id, as a string.
    pub sub: String,
    /// The member's role.
    pub role: Role,
    /// Session id; the session must still exist for the token to be accepted by the gateway.
    pub sid: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

impl Claims {
    /// Claims for a new session starting `now` (Unix seconds).
    pub fn new(member_id: i64, role: Role, sid: impl Into<String>, now: i64) -> Self {
        let ttl = i64::try_from(TOKEN_TTL.as_secs()).unwrap_or(i64::MAX);
        Self {
            sub: member_id.to_string(),
            role,
            sid: sid.into(),
            iat: now,
            exp: now.saturating_add(ttl),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        }
    }

    /// The member id in `sub`.
    pub fn member_id(&self) -> Result<i64, TokenError> {
        self.sub.parse().map_err(|_| TokenError::Invalid)
    }
}

/// Why a token was refused; the gateway answers every kind with the same GATE003.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, wrong algorithm, bad signature, wrong issuer or audience, missing claims.
    #[error("invalid token")]
    Invalid,
    /// Signed by a key this process does not know.
    #[error("token signed by an unknown key")]
    UnknownKey,
    /// Past its `exp` (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// Signing failed (a bug or a broken key).
    #[error("cannot sign token")]
    Sign,
}

impl SigningKey {
    /// Signs `claims` with this key, naming it in the header's `kid`.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid().to_owned());
        jsonwebtoken::encode(&header, claims, self.encoding()).map_err(|_| TokenError::Sign)
    }
}

impl VerifyingKeys {
    /// Checks signature (EdDSA only, known `kid`), `exp` (required, small leeway), `iss` and `aud`.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.get(&kid).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        // Member stamps `iat` from a synchronised clock; one from the future was not made by it.
        let now = jsonwebtoken::get_current_timestamp();
        let issued = u64::try_from(claims.iat).unwrap_or(u64::MAX);
        if issued > now.saturating_add(LEEWAY_SECONDS) {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

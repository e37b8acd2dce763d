//! Authentication shared by member (which issues tokens and sessions), the gateway (which checks
//! them on every protected request) and the services (which verify tokens themselves).

mod cookie;
mod extract;
pub mod keys;
pub mod sessions;
#[cfg(feature = "test-support")]
pub mod testing;
mod tokens;

pub use cookie::{
    COOKIE_NAME, TokenSource, clear_cookie, session_cookie, token_from_headers, token_from_values,
};
pub use extract::{AuthMember, Authenticator, authentication};
pub use keys::{KeyError, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, SigningKey, VerifyingKeys};
pub use sessions::{DbSessions, RedisSessions, Session, SessionError, SessionSource, SessionStore};
pub use tokens::{AUDIENCE, Claims, ISSUER, LEEWAY_SECONDS, Role, TOKEN_TTL, TokenError};

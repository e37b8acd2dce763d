//! The `gallery_cookie` that carries the token, and where a request's token comes from.

use axum::http::{HeaderMap, HeaderValue, header};

use super::tokens::TOKEN_TTL;

/// Name of the cookie holding the access token (docs/gateway.md, "What happens to a request").
pub const COOKIE_NAME: &str = "gallery_cookie";

/// `Set-Cookie` value for a new session (attributes in docs/configuration.md, `COOKIE_SECURE`).
pub fn session_cookie(token: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token}; Max-Age={}; Path=/; HttpOnly; SameSite=Lax{secure}",
        TOKEN_TTL.as_secs()
    ))
    .ok()
}

/// `Set-Cookie` value that removes the cookie (logout, withdrawal; docs/member.md, "Endpoints").
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("gallery_cookie=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax")
}

/// Where the request's token is, as the gateway's checks distinguish them (docs/gateway.md, "Refusals").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource<'a> {
    /// Neither a bearer token nor the cookie.
    Missing,
    /// The cookie (or bearer header) is present but empty.
    Empty,
    /// A token to verify.
    Token(&'a str),
}

/// Finds the token: `Authorization: Bearer` first, then the `gallery_cookie` cookie.
pub fn token_from_headers(headers: &HeaderMap) -> TokenSource<'_> {
    token_from_values(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// [`token_from_headers`] for a head that is not a header map (the gateway reads raw heads):
/// the first `Authorization` value and every `Cookie` value.
pub fn token_from_values<'a>(
    authorization: Option<&'a str>,
    cookies: impl Iterator<Item = &'a str>,
) -> TokenSource<'a> {
    if let Some(bearer) = authorization.and_then(|v| v.strip_prefix("Bearer ")) {
        let token = bearer.trim();
        return if token.is_empty() {
            TokenSource::Empty
        } else {
            TokenSource::Token(token)
        };
    }
    let mut found = TokenSource::Missing;
    for value in cookies {
        for pair in pairs(value) {
            if let Some((name, token)) = pair.trim().split_once('=')
                && name == COOKIE_NAME
            {
                let token = token.trim().trim_matches('"');
                if !token.is_empty() {
                    return TokenSource::Token(token);
                }
                found = TokenSource::Empty;
            }
        }
    }
    found
}

/// The `;`-separated pieces of a `Cookie` value, as `str::split(';')` gives them. The value is
/// mostly the token (hundreds of bytes), and the vectorised search for the separator is what keeps
/// this scan off the gateway's per-request profile.
fn pairs(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let current = rest?;
        match memchr::memchr(b';', current.as_bytes()) {
            Some(at) => {
                rest = current.get(at + 1..);
                current.get(..at)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::pairs;

    #[test]
    fn cookie_pieces_are_those_of_splitting_on_semicolons() {
        for value in [
            "",
            ";",
            "a=1",
            "a=1;",
            ";a=1",
            "a=1; b=2",
            "a=1;;b=2; ",
            " x ; y;z",
        ] {
            let ours: Vec<&str> = pairs(value).collect();
            let split: Vec<&str> = value.split(';').collect();
            assert_eq!(ours, split, "for {value:?}");
        }
    }
}

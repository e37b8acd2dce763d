//! The origin browsers reach this system at, for the absolute URLs the API returns (place images).
//!
//! With `PUBLIC_BASE_URL` set, that is the origin. Without it, each request's own origin: the
//! `X-Forwarded-Proto`/`X-Forwarded-Host` the gateway sets (it overwrites what a client sends
//! unless a trusted proxy is in front), else the `Host` header. So a standalone run answers
//! correct URLs on any port and host, and a request that names an odd host only gets that host
//! back in its own answer.

use std::convert::Infallible;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use http::request::Parts;

/// `PUBLIC_BASE_URL`: a fixed `http(s)://host[:port][/prefix]` without a trailing slash, or the
/// origin of each request when unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicBaseUrl(Option<String>);

impl PublicBaseUrl {
    /// Every URL starts with `base`.
    pub fn fixed(base: &str) -> Result<Self, String> {
        base.parse()
    }

    /// `path` (starting with `/`) as the browser that sent the request reaches it.
    ///
    /// Without a fixed base and without a usable host the path is returned as it is, which a
    /// browser resolves against the page's own origin.
    pub fn join(&self, origin: &RequestOrigin, path: &str) -> String {
        match (&self.0, &origin.0) {
            (Some(base), _) | (None, Some(base)) => format!("{base}{path}"),
            (None, None) => path.to_owned(),
        }
    }
}

impl FromStr for PublicBaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = url::Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("expected http(s)://host[:port][/prefix]".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not carry a query or fragment".into());
        }
        Ok(Self(Some(url.as_str().trim_end_matches('/').to_owned())))
    }
}

/// `scheme://host[:port]` a request was sent to, when its headers name one that is well formed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin(Option<String>);

impl RequestOrigin {
    /// The origin named by `headers`.
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                // A proxy chain lists one value per hop; the first is the client's.
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let host = text("x-forwarded-host").or_else(|| text("host"));
        let scheme = match text("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        Self(
            host.filter(|h| is_authority(h))
                .map(|h| format!("{scheme}://{h}")),
        )
    }
}

/// A host, optionally with a port: letters, digits, `.`, `-`, `:` and the brackets of an IPv6
/// literal. Anything else (a path, a user, spaces) would let a header rewrite the URL.
fn is_authority(host: &str) -> bool {
    host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(pairs: &[(&'static str, &'static str)]) -> RequestOrigin {
        let mut headers = http::HeaderMap::new();
        for (k, v) in pairs {
            headers.insert(*k, http::HeaderValue::from_static(v));
        }
        RequestOrigin::from_headers(&headers)
    }

    #[test]
    fn without_a_fixed_base_the_host_of_the_request_is_used() {
        let url = PublicBaseUrl::default().join(&origin(&[("host", "10.0.0.5:9000")]), "/a.png");
        assert_eq!(url, "http://10.0.0.5:9000/a.png");
    }

    #[test]
    fn the_forwarded_host_and_scheme_win_over_the_host() {
        let o = origin(&[
            ("host", "gallery:8002"),
            ("x-forwarded-host", "thegallery.site"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(
            PublicBaseUrl::default().join(&o, "/a"),
            "https://thegallery.site/a"
        );
    }

    #[test]
    fn a_fixed_base_ignores_the_request() {
        let base = PublicBaseUrl::fixed("https://cdn.example/g/").unwrap();
        let url = base.join(&origin(&[("host", "evil.example")]), "/a.png");
        assert_eq!(url, "https://cdn.example/g/a.png");
    }

    #[test]
    fn a_host_that_is_not_an_authority_leaves_the_path_relative() {
        let o = origin(&[("host", "evil.example/x?")]);
        assert_eq!(PublicBaseUrl::default().join(&o, "/a.png"), "/a.png");
    }

    #[test]
    fn a_base_with_a_query_or_another_scheme_is_refused() {
        assert!(PublicBaseUrl::fixed("ftp://example").is_err());
        assert!(PublicBaseUrl::fixed("https://example/?q=1").is_err());
    }
}

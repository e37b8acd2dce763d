//! The access matrix: which operations are public, matched on the method and the path only
//! (never the query string), segment by segment. Anything the table does not name needs a
//! member's token. One table for the two places that must agree: the gateway decides with it
//! whether a request needs a token, and every service's OpenAPI document derives each operation's
//! security requirement from it (`openapi::conventions`), so the two cannot drift.
//!
//! Matching is strict: an unusual spelling of a public path (encoded characters, a trailing slash,
//! `12abc` for an id) only makes a request stricter, never looser.

use http::Method;

/// The service behind a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `/api/member/**`.
    Member,
    /// `/api/gallery/**`.
    Gallery,
    /// `/api/post/**`.
    Post,
}

impl Service {
    /// Its name, as in metrics labels, logs and its path prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Gallery => "gallery",
            Self::Post => "post",
        }
    }

    /// `/api/<name>`, the prefix of its routes.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Member => "/api/member",
            Self::Gallery => "/api/gallery",
            Self::Post => "/api/post",
        }
    }
}

/// Whether an operation needs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Forwarded without a token.
    Public,
    /// Needs a valid token and a live session of the token's subject.
    Protected,
}

/// Which per-address limit of the gateway a public route counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicLimit {
    /// Login, callback, sign-in and sign-up.
    SignIn,
    /// Public reads.
    PublicRead,
}

/// A segment pattern of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// Exactly this text.
    Lit(&'static str),
    /// One or more ASCII digits (an id).
    Digits,
    /// One file name: letters, digits, `-`, `_` and a dot that is not the first character.
    File,
    /// Any number of further segments, none included; only last.
    Rest,
}

/// One public operation.
#[derive(Debug, Clone)]
pub struct PublicRoute {
    /// Whose route.
    pub service: Service,
    /// Its method.
    pub method: Method,
    /// The segments after the service's prefix.
    pub segments: &'static [Seg],
    /// The limit it counts against.
    pub limit: PublicLimit,
    /// Label for metrics and logs.
    pub name: &'static str,
}

use PublicLimit::{PublicRead, SignIn};
use Seg::{Digits, File, Lit, Rest};

const fn public(
    service: Service,
    method: Method,
    segments: &'static [Seg],
    limit: PublicLimit,
    name: &'static str,
) -> PublicRoute {
    PublicRoute {
        service,
        method,
        segments,
        limit,
        name,
    }
}

const M: Service = Service::Member;
const G: Service = Service::Gallery;
const P: Service = Service::Post;

/// Every public operation (docs/gateway.md, "Access"); everything else is protected.
pub static PUBLIC_ROUTES: &[PublicRoute] = &[
    public(
        M,
        Method::POST,
        &[Lit("login")],
        SignIn,
        "POST /api/member/login",
    ),
    public(
        M,
        Method::POST,
        &[Lit("callback")],
        SignIn,
        "POST /api/member/callback",
    ),
    public(
        M,
        Method::POST,
        &[Lit("signup")],
        SignIn,
        "POST /api/member/signup",
    ),
    public(
        M,
        Method::POST,
        &[Lit("signin")],
        SignIn,
        "POST /api/member/signin",
    ),
    public(
        M,
        Method::GET,
        &[Lit("check"), Lit("nickname")],
        PublicRead,
        "GET /api/member/check/nickname",
    ),
    public(
        M,
        Method::GET,
        &[Lit("health")],
        PublicRead,
        "GET /api/member/health",
    ),
    public(
        M,
        Method::GET,
        &[Lit("openapi.json")],
        PublicRead,
        "GET /api/member/openapi.json",
    ),
    public(
        M,
        Method::GET,
        &[Lit("docs"), Rest],
        PublicRead,
        "GET /api/member/docs/**",
    ),
    public(
        G,
        Method::GET,
        &[Lit("place"), Lit("list")],
        PublicRead,
        "GET /api/gallery/place/list",
    ),
    public(
        G,
        Method::GET,
        &[Lit("place"), Lit("image"), File],
        PublicRead,
        "GET /api/gallery/place/image/{file}",
    ),
    public(
        G,
        Method::GET,
        &[Lit("search")],
        PublicRead,
        "GET /api/gallery/search",
    ),
    public(
        G,
        Method::GET,
        &[Digits],
        PublicRead,
        "GET /api/gallery/{id}",
    ),
    public(
        G,
        Method::GET,
        &[Lit("health")],
        PublicRead,
        "GET /api/gallery/health",
    ),
    public(
        G,
        Method::GET,
        &[Lit("openapi.json")],
        PublicRead,
        "GET /api/gallery/openapi.json",
    ),
    public(
        G,
        Method::GET,
        &[Lit("docs"), Rest],
        PublicRead,
        "GET /api/gallery/docs/**",
    ),
    // As the original: every read of post is public (frames, comments, music search, images).
    public(P, Method::GET, &[Rest], PublicRead, "GET /api/post/**"),
];

impl Seg {
    fn matches(self, segment: &str) -> bool {
        match self {
            Self::Lit(lit) => segment == lit,
            Self::Digits => !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()),
            Self::File => {
                !segment.starts_with('.')
                    && !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            }
            Self::Rest => true,
        }
    }

    /// Whether a documented path's placeholder (`{galleryId}`) stands where this pattern is:
    /// only a pattern for values, never a literal, takes a placeholder.
    fn takes_placeholder(self) -> bool {
        !matches!(self, Self::Lit(_))
    }
}

fn segments_match(
    patterns: &[Seg],
    tail: &[&str],
    matches: impl Fn(Seg, &str) -> bool + Copy,
) -> bool {
    match (patterns.split_first(), tail.split_first()) {
        (Some((Seg::Rest, _)), _) => true,
        (None, None) => true,
        (Some((pattern, patterns)), Some((segment, tail))) => {
            matches(*pattern, segment) && segments_match(patterns, tail, matches)
        }
        _ => false,
    }
}

/// The public route `method` and the path segments after the service prefix (`tail`, as sent,
/// still percent-encoded) name, if any.
pub fn public_route(
    service: Service,
    method: &Method,
    tail: &[&str],
) -> Option<&'static PublicRoute> {
    PUBLIC_ROUTES.iter().find(|route| {
        route.service == service
            && route.method == method
            && segments_match(route.segments, tail, Seg::matches)
    })
}

/// The access of a documented operation: `path` is its template (`/api/gallery/{galleryId}`),
/// whose placeholders stand for values the table's value patterns accept.
pub fn documented_access(service: Service, method: &Method, path: &str) -> Access {
    let tail: Vec<&str> = path
        .strip_prefix(service.prefix())
        .map(|rest| rest.split('/').skip(1).collect())
        .unwrap_or_default();
    let matches = |pattern: Seg, segment: &str| {
        if segment.starts_with('{') && segment.ends_with('}') {
            pattern.takes_placeholder()
        } else {
            pattern.matches(segment)
        }
    };
    let public = PUBLIC_ROUTES.iter().any(|route| {
        route.service == service
            && route.method == method
            && segments_match(route.segments, &tail, matches)
    });
    if public {
        Access::Public
    } else {
        Access::Protected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numeric_gallery_read_is_public() {
        assert!(public_route(G, &Method::GET, &["12"]).is_some());
    }

    #[test]
    fn a_gallery_id_with_letters_is_protected() {
        assert!(public_route(G, &Method::GET, &["12abc"]).is_none());
    }

    #[test]
    fn a_literal_segment_is_not_an_id() {
        assert!(public_route(G, &Method::GET, &["list"]).is_none());
    }

    #[test]
    fn every_post_read_is_public_however_deep() {
        for tail in [&[][..], &["list", "7"], &["image", "a", "b"]] {
            assert!(public_route(P, &Method::GET, tail).is_some(), "{tail:?}");
        }
    }

    #[test]
    fn the_interactive_documentation_is_public_for_every_service() {
        for service in [M, G, P] {
            for tail in [&["docs"][..], &["docs", ""], &["docs", "swagger-ui.css"]] {
                let found = public_route(service, &Method::GET, tail);
                assert!(found.is_some(), "{service:?} {tail:?}");
            }
        }
    }

    #[test]
    fn a_post_write_is_protected() {
        assert!(public_route(P, &Method::POST, &["comment"]).is_none());
    }

    #[test]
    fn a_documented_placeholder_takes_the_place_of_an_id() {
        let access = documented_access(G, &Method::GET, "/api/gallery/{galleryId}");
        assert_eq!(access, Access::Public);
    }

    #[test]
    fn a_documented_update_of_a_gallery_is_protected() {
        let access = documented_access(G, &Method::PATCH, "/api/gallery/{galleryId}");
        assert_eq!(access, Access::Protected);
    }

    #[test]
    fn a_documented_literal_path_is_matched_literally() {
        assert_eq!(
            documented_access(G, &Method::GET, "/api/gallery/list"),
            Access::Protected
        );
        assert_eq!(
            documented_access(M, &Method::POST, "/api/member/signin"),
            Access::Public
        );
    }

    #[test]
    fn a_documented_path_of_another_service_is_protected() {
        let access = documented_access(G, &Method::GET, "/api/post/list/{galleryId}");
        assert_eq!(access, Access::Protected);
    }
}

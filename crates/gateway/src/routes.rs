//! Where a request goes, whether it needs a token and which rate limit applies: the access matrix
//! of docs/gateway.md, matched on the path only (never the query string), segment by segment.
//!
//! Anything the table does not name is protected, so an unusual spelling of a public path (encoded
//! characters, a trailing slash, `12abc` for an id) can only make a request stricter, never looser.

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
    /// Its name, as in metrics labels and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Gallery => "gallery",
            Self::Post => "post",
        }
    }
}

/// Whether a route needs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Forwarded without a token (identity headers are still removed).
    Public,
    /// Needs a valid token and a live session.
    Protected,
}

/// Which rate limit applies (docs/gateway.md, "Rate limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitRule {
    /// Login, callback, sign-in and sign-up, per client address.
    SignIn,
    /// Public reads, per client address.
    PublicRead,
    /// Authenticated writes, per member.
    Write,
    /// Comment creation, per member.
    Comment,
}

/// A request the gateway forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Where it goes.
    pub service: Service,
    /// Whether it needs a token.
    pub access: Access,
    /// The limit it counts against, if any.
    pub limit: Option<LimitRule>,
    /// Label for metrics: the table entry, or the prefix for protected routes.
    pub name: &'static str,
}

/// What the gateway does with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The gateway's own `GET /health`.
    Health,
    /// Forward upstream.
    Upstream(Route),
    /// Outside `/api/<service>/**`.
    NotFound,
    /// Dot segments or encoded separators, which upstreams and caches could read differently.
    BadPath,
}

/// A segment pattern of the public table.
#[derive(Debug, Clone, Copy)]
enum Seg {
    Lit(&'static str),
    Digits,
    /// One file name: letters, digits, `-`, `_` and a dot that is not the first character.
    File,
}

struct Public {
    service: Service,
    method: Method,
    segments: &'static [Seg],
    limit: LimitRule,
    name: &'static str,
}

use LimitRule::{PublicRead, SignIn};
use Seg::{Digits, File, Lit};

fn public_table() -> &'static [Public] {
    static TABLE: std::sync::OnceLock<Vec<Public>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let entry = |service, method, segments, limit, name| Public {
            service,
            method,
            segments,
            limit,
            name,
        };
        let (m, g) = (Service::Member, Service::Gallery);
        vec![
            entry(
                m,
                Method::POST,
                &[Lit("login")],
                SignIn,
                "POST /api/member/login",
            ),
            entry(
                m,
                Method::POST,
                &[Lit("callback")],
                SignIn,
                "POST /api/member/callback",
            ),
            entry(
                m,
                Method::POST,
                &[Lit("signup")],
                SignIn,
                "POST /api/member/signup",
            ),
            entry(
                m,
                Method::POST,
                &[Lit("signin")],
                SignIn,
                "POST /api/member/signin",
            ),
            entry(
                m,
                Method::GET,
                &[Lit("check"), Lit("nickname")],
                PublicRead,
                "GET /api/member/check/nickname",
            ),
            entry(
                m,
                Method::GET,
                &[Lit("health")],
                PublicRead,
                "GET /api/member/health",
            ),
            entry(
                m,
                Method::GET,
                &[Lit("openapi.json")],
                PublicRead,
                "GET /api/member/openapi.json",
            ),
            entry(
                g,
                Method::GET,
                &[Lit("place"), Lit("list")],
                PublicRead,
                "GET /api/gallery/place/list",
            ),
            entry(
                g,
                Method::GET,
                &[Lit("place"), Lit("image"), File],
                PublicRead,
                "GET /api/gallery/place/image/{file}",
            ),
            entry(
                g,
                Method::GET,
                &[Lit("search")],
                PublicRead,
                "GET /api/gallery/search",
            ),
            entry(
                g,
                Method::GET,
                &[Digits],
                PublicRead,
                "GET /api/gallery/{id}",
            ),
            entry(
                g,
                Method::GET,
                &[Lit("health")],
                PublicRead,
                "GET /api/gallery/health",
            ),
            entry(
                g,
                Method::GET,
                &[Lit("openapi.json")],
                PublicRead,
                "GET /api/gallery/openapi.json",
            ),
        ]
    })
}

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
        }
    }
}

/// True for `.` and `..`, also percent-encoded, and for segments hiding a separator.
fn is_suspicious(segment: &str) -> bool {
    if !segment.bytes().any(|b| matches!(b, b'.' | b'%' | b'\\')) {
        return false;
    }
    let lower = segment.to_ascii_lowercase();
    let decoded_dots = lower.replace("%2e", ".");
    decoded_dots == "."
        || decoded_dots == ".."
        || lower.contains("%2f")
        || lower.contains("%5c")
        || segment.contains('\\')
}

/// Classifies `method path` (path as sent, still percent-encoded, without the query).
pub fn classify(method: &Method, path: &str) -> Target {
    if path == "/health" && method == Method::GET {
        return Target::Health;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Target::BadPath;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| is_suspicious(s)) {
        return Target::BadPath;
    }
    let service = match segments.as_slice() {
        ["api", "member", ..] => Service::Member,
        ["api", "gallery", ..] => Service::Gallery,
        ["api", "post", ..] => Service::Post,
        _ => return Target::NotFound,
    };
    Target::Upstream(route(service, method, &segments[2..]))
}

fn route(service: Service, method: &Method, tail: &[&str]) -> Route {
    if service == Service::Post && method == Method::GET {
        return Route {
            service,
            access: Access::Public,
            limit: Some(PublicRead),
            name: "GET /api/post/**",
        };
    }
    let public = public_table().iter().find(|entry| {
        entry.service == service
            && entry.method == method
            && entry.segments.len() == tail.len()
            && entry.segments.iter().zip(tail).all(|(p, s)| p.matches(s))
    });
    if let Some(entry) = public {
        return Route {
            service,
            access: Access::Public,
            limit: Some(entry.limit),
            name: entry.name,
        };
    }
    protected(service, method, tail)
}

fn protected(service: Service, method: &Method, tail: &[&str]) -> Route {
    let reads = [Method::GET, Method::HEAD, Method::OPTIONS];
    let limit = if service == Service::Post && method == Method::POST && tail == ["comment"] {
        Some(LimitRule::Comment)
    } else if reads.contains(method) {
        None
    } else {
        Some(LimitRule::Write)
    };
    let name = match service {
        Service::Member => "/api/member/**",
        Service::Gallery => "/api/gallery/**",
        Service::Post => "/api/post/**",
    };
    Route {
        service,
        access: Access::Protected,
        limit,
        name,
    }
}

//! Where a request goes, whether it needs a token and which rate limit applies: the access matrix
//! of docs/gateway.md (`platform::http::access`, shared with the services' OpenAPI documents),
//! matched on the path only (never the query string), segment by segment.
//!
//! Anything the table does not name is protected, so an unusual spelling of a public path (encoded
//! characters, a trailing slash, `12abc` for an id) can only make a request stricter, never looser.

use http::Method;
use platform::http::access::{self, PublicLimit};
use smallvec::SmallVec;

/// The service behind a prefix, and whether a route needs a token: the shared access matrix,
/// which the services' OpenAPI documents read too.
pub use platform::http::access::{Access, Service};

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
    // On the stack for every path the API has (at most 6 segments): this runs on every request.
    let segments: SmallVec<[&str; 8]> = rest.split('/').collect();
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
    if let Some(entry) = access::public_route(service, method, tail) {
        let limit = match entry.limit {
            PublicLimit::SignIn => LimitRule::SignIn,
            PublicLimit::PublicRead => LimitRule::PublicRead,
        };
        return Route {
            service,
            access: Access::Public,
            limit: Some(limit),
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

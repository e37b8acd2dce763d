//! What every service's OpenAPI document says the same way: the envelope and error schemas, the
//! security schemes, and the error answers any operation can give — the framework's (malformed
//! input, oversized or mistyped bodies, internal errors) and the gateway's, which fronts every
//! route (docs/gateway.md, "Errors"). Applied to a generated document by [`conventions`].

use http::Method;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{OpenApi, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::access::{Access, Service, documented_access};

/// Name of the cookie security scheme: the cookie itself.
const COOKIE_SCHEME: &str = crate::auth::COOKIE_NAME;

/// A success answer with data: `{message, data}`.
#[derive(Debug, ToSchema)]
pub struct Envelope<T> {
    /// Message shown to people.
    pub message: String,
    /// The payload.
    pub data: T,
}

/// A success answer without data.
#[derive(Debug, ToSchema)]
pub struct MessageOnly {
    /// Message shown to people.
    pub message: String,
}

/// Every error answer: `{errorType, errorCode, message}`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ErrorBody {
    /// HTTP reason phrase, e.g. `Not Found`.
    pub error_type: String,
    /// Contract code, e.g. `GP007` or `GATE003`.
    pub error_code: String,
    /// Message shown to people.
    pub message: String,
}

/// Name of the bearer security scheme.
pub const BEARER_SCHEME: &str = "bearer";

/// Answers every operation can give, with their codes (`svc` is the service's prefix).
const EVERYWHERE: &[(&str, &str)] = &[
    (
        "400",
        "Malformed request: a parameter or body value of the wrong type or out of range (the service's validation code), or a path the gateway refuses (GATE001)",
    ),
    ("429", "GATE005: over a rate limit of the gateway"),
    ("500", "The service's internal error code"),
    ("502", "GATE502: the gateway could not reach the service"),
    (
        "503",
        "A dependency is unreachable (the service's code, or GATE503)",
    ),
    ("504", "GATE504: the service did not answer in time"),
];

/// Further answers of an operation that takes a body.
const WITH_BODY: &[(&str, &str)] = &[
    ("413", "The body is over the route's limit"),
    ("415", "The body is not of the documented content type"),
];

/// Further answers of an operation that needs a member's token.
const PROTECTED: &[(&str, &str)] = &[
    ("400", "GATE004: neither the cookie nor a bearer token"),
    (
        "401",
        "GATE002: an empty token; GATE003: an invalid, expired or revoked token",
    ),
];

/// The document of `service` as served: `A`'s, generated, then completed with [`conventions`].
pub fn document<A: utoipa::OpenApi>(service: Service) -> OpenApi {
    let mut doc = A::openapi();
    conventions(&mut doc, service);
    doc
}

/// Adds the shared schemas, security schemes and error answers to `doc`, the document of
/// `service`. Which operations need a member's token comes from the gateway's access matrix
/// ([`access`](super::access)), never from a list of its own.
pub fn conventions(doc: &mut OpenApi, service: Service) {
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("ErrorBody".to_owned(), ErrorBody::schema());
    // Path and query parameters refer to the id schemas without registering them.
    components.schemas.insert(
        crate::id::RawId::name().into_owned(),
        crate::id::RawId::schema(),
    );
    components.schemas.insert(
        crate::id::Id::<()>::name().into_owned(),
        crate::id::Id::<()>::schema(),
    );
    components.add_security_scheme(
        COOKIE_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            COOKIE_SCHEME,
            "The token member sets at sign-in",
        ))),
    );
    components.add_security_scheme(
        BEARER_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    for (path, item) in &mut doc.paths.paths {
        for (method, operation) in [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ] {
            if let Some(operation) = operation {
                let access = documented_access(service, &method, path);
                apply(operation, access == Access::Protected);
            }
        }
    }
}

fn apply(operation: &mut Operation, is_protected: bool) {
    let mut extra: Vec<(&str, &str)> = EVERYWHERE.to_vec();
    if operation.request_body.is_some() {
        extra.extend_from_slice(WITH_BODY);
    }
    if is_protected {
        extra.extend_from_slice(PROTECTED);
        operation.security = Some(vec![
            SecurityRequirement::new(COOKIE_SCHEME, Vec::<String>::new()),
            SecurityRequirement::new(BEARER_SCHEME, Vec::<String>::new()),
        ]);
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in extra {
        match responses.get_mut(status) {
            Some(RefOr::T(response)) => {
                if !response.description.contains(description) {
                    response.description = format!("{}; {description}", response.description);
                }
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                responses.insert(
                    status.to_owned(),
                    RefOr::T(ResponseBuilder::new().description(description).build()),
                );
            }
        }
    }
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, response) {
            response.content.insert(
                "application/json".to_owned(),
                RefOr::T(
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                ),
            );
        }
    }
}

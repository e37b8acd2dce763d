//! HTTP conventions shared by every service: envelope, errors, extractors, middleware, health.

pub mod access;
mod app;
pub mod docs;
mod envelope;
mod error;
mod extract;
mod health;
pub mod openapi;
mod origin;
pub mod paging;
pub mod request_id;
pub mod server;

pub use app::{ServiceCodes, request_context, service_app};
pub use envelope::ApiResponse;
pub use error::{ApiError, ErrorChain};
pub use extract::{Json, Path, PathId, Query};
pub use health::{Probe, Readiness, metrics_handle, ops_routes};
pub use origin::{PublicBaseUrl, RequestOrigin};
pub use paging::{Page, PageQuery, PagingError};
pub use request_id::request_id;
pub use server::ConnectionRules;

/// The request id header, accepted from clients and generated when absent.
pub const REQUEST_ID: &str = "x-request-id";

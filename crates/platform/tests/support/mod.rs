//! What several of platform's integration tests share.

use platform::http::ServiceCodes;

/// The error codes of a made-up service, so that a test can tell them from any real service's.
pub(crate) const CODES: ServiceCodes = ServiceCodes {
    service: "test",
    missing_parameter: "GX004",
    missing_parameter_message: "필수 파라미터 누락",
    bad_request: "GX005",
    internal: "GX001",
};

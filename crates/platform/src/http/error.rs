//! The one error body of the contract, `{errorType, errorCode, message}`, and its status.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer: status, the service's code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Contract code such as `GA005` or `GATE003`.
    pub code: Cow<'static, str>,
    /// Human-readable message, shown by the frontend.
    pub message: Cow<'static, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    error_type: &'a str,
    error_code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// The generic 500 answer; the cause is logged, never sent.
    pub fn internal(
        code: impl Into<Cow<'static, str>>,
        cause: &(dyn std::error::Error + 'static),
    ) -> Self {
        tracing::error!(error = %ErrorChain(cause), "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code, "서버 에러")
    }

    /// The 503 answer when a dependency is unreachable; the cause is logged, never sent.
    pub fn unavailable(
        code: impl Into<Cow<'static, str>>,
        cause: &(dyn std::error::Error + 'static),
    ) -> Self {
        tracing::warn!(error = %ErrorChain(cause), "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "일시적으로 서비스를 사용할 수 없습니다. 잠시 후 다시 시도해주세요",
        )
    }

    /// The reason phrase used as `errorType`.
    pub fn error_type(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    /// The JSON body, for callers that build responses by hand.
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody {
            error_type: self.error_type(),
            error_code: &self.code,
            message: &self.message,
        })
        .unwrap_or_else(|_| String::from("{}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error_type: self.error_type(),
                error_code: &self.code,
                message: &self.message,
            }),
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// Displays an error with its whole `source()` chain, for logs.
#[derive(Debug)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

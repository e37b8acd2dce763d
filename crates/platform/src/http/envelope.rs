//! The success envelope `{message, data}`; `data` is left out when there is none.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A 200 answer with a message for people and optional data.
#[derive(Debug, Clone, Serialize)]
pub struct ApiResponse<T: Serialize> {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
}

impl ApiResponse<()> {
    /// A message without data.
    pub fn message(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }
}

impl<T: Serialize> ApiResponse<T> {
    /// A message with data.
    pub fn data(message: impl Into<String>, data: T) -> Self {
        Self {
            message: message.into(),
            data: Some(data),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiResponse<T> {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

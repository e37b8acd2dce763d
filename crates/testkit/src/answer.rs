//! One answer of a service, read whole, and the assertions on the contract's shapes that every
//! crate's tests make of it.

use http::{HeaderMap, StatusCode, header};
use serde_json::Value;

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as JSON; `Value::Null` when it is empty or not JSON.
    pub json: Value,
    /// The body as sent.
    pub bytes: Vec<u8>,
}

impl Answer {
    /// The answer with `status`, `headers` and `bytes` as its body.
    pub fn new(status: StatusCode, headers: HeaderMap, bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            json,
            bytes,
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Header `name`, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type`, or `""`.
    pub fn content_type(&self) -> &str {
        self.header(header::CONTENT_TYPE.as_str())
            .unwrap_or_default()
    }

    /// The `Set-Cookie` header, or `""`.
    pub fn set_cookie(&self) -> &str {
        self.header(header::SET_COOKIE.as_str()).unwrap_or_default()
    }

    /// The token the answer sets as `gallery_cookie`; panics when it sets none.
    #[track_caller]
    pub fn token(&self) -> String {
        let cookie = self.set_cookie().split(';').next().unwrap_or_default();
        match cookie.strip_prefix("gallery_cookie=") {
            Some(token) => token.to_owned(),
            None => panic!(
                "no gallery_cookie in {:?}: {}",
                self.set_cookie(),
                self.text()
            ),
        }
    }

    /// `data` of the envelope.
    pub fn data(&self) -> &Value {
        &self.json["data"]
    }

    /// `errorCode` of an error body, or `""`.
    pub fn code(&self) -> &str {
        self.json["errorCode"].as_str().unwrap_or_default()
    }

    /// Panics with the body unless the status is `expected`.
    #[track_caller]
    pub fn expect(self, expected: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected answer: {}",
            self.text()
        );
        self
    }

    /// Asserts an answer in the contract's error shape: this status, its reason as `errorType`,
    /// this `errorCode` and `message`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, message: &str) {
        let (status, body) = error_body(status, code, message);
        assert_eq!(self.status, status, "{}", self.text());
        for field in ["errorType", "errorCode", "message"] {
            assert_eq!(self.json[field], body[field], "{field} of {}", self.text());
        }
    }

    /// Asserts a 200 with this `message`.
    #[track_caller]
    pub fn assert_ok(&self, message: &str) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        assert_eq!(self.json["message"], message, "{}", self.text());
    }
}

/// The status and body of an error answer in the contract's shape.
pub fn error_body(status: u16, code: &str, message: &str) -> (StatusCode, Value) {
    let status = StatusCode::from_u16(status).expect("a valid status");
    let body = serde_json::json!({
        "errorType": status.canonical_reason().unwrap_or_default(),
        "errorCode": code,
        "message": message,
    });
    (status, body)
}

//! The one request-id rule of every process (services, standalone mode and the gateway): a
//! client's `x-request-id` is kept when it is sane, otherwise one is generated.

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderValue;

/// Whether a client's request id may be kept: 1–128 characters of `[A-Za-z0-9-_.:]`, so that it
/// is safe in a log line and a header, and cannot be used to forge either.
pub fn is_acceptable(value: &[u8]) -> bool {
    (1..=128).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// The client's request id (`client`, as received) when [`is_acceptable`], or a new one.
pub fn request_id(client: Option<&[u8]>) -> HeaderValue {
    client
        .filter(|v| is_acceptable(v))
        .and_then(|v| HeaderValue::from_bytes(v).ok())
        .unwrap_or_else(generate)
}

/// A new id: a random prefix fixed for the process and a counter. Unique without a system call
/// or a random draw per request, which the gateway does on every request it forwards.
pub fn generate() -> HeaderValue {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Formatted on the stack: one allocation (the header's) instead of two.
    let mut text = [0_u8; 32];
    let mut cursor = std::io::Cursor::new(&mut text[..]);
    let _ = write!(cursor, "{prefix}-{n:x}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    HeaderValue::from_bytes(&text[..len]).unwrap_or(HeaderValue::from_static("generated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_client_id_is_kept_and_anything_else_replaced_by_a_fresh_one() {
        assert_eq!(request_id(Some(b"abc-1.2:3_x")), "abc-1.2:3_x");
        let long = [b'a'; 129];
        for bad in [&b""[..], b"a b", b"a\"b", b"\xc3\xa9", &long] {
            let replaced = request_id(Some(bad));
            assert_ne!(replaced.as_bytes(), bad);
            assert!(is_acceptable(replaced.as_bytes()), "{replaced:?}");
        }
        assert_ne!(request_id(None), request_id(None));
    }
}

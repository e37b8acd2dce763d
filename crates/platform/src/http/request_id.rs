//! The one request-id rule of every process (services, standalone mode and the gateway): a
//! client's `x-request-id` is kept when it is sane, otherwise one is generated.

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
    // Written on the stack by hand: one allocation (the header's), and no trip through the
    // formatting machinery, which cost more than the rest of this function.
    let mut text = [0_u8; 32];
    text[..prefix.len()].copy_from_slice(prefix.as_bytes());
    text[prefix.len()] = b'-';
    let len = prefix.len() + 1 + write_hex(&mut text[prefix.len() + 1..], n);
    HeaderValue::from_bytes(&text[..len]).unwrap_or(HeaderValue::from_static("generated"))
}

/// `n` in lower-case hex at the start of `out` (room for 16 digits); returns the digits' count.
fn write_hex(out: &mut [u8], n: u64) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let count = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    for (i, slot) in out[..count].iter_mut().enumerate() {
        let shift = 4 * (count - 1 - i);
        *slot = DIGITS[((n >> shift) & 0xf) as usize];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_written_in_lower_case_hex() {
        for n in [0, 1, 15, 16, 0xabc, u64::MAX] {
            let mut out = [0_u8; 16];
            let len = write_hex(&mut out, n);
            assert_eq!(&out[..len], format!("{n:x}").as_bytes());
        }
    }

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

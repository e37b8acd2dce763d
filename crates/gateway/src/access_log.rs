//! The access log: one JSON line per request on stderr (timestamp, request id, method, path without
//! query, status, duration, member id, route), buffered like nginx's `access_log buffer=`.
//!
//! Formatting through `tracing` and writing each line with its own system call cost about a
//! quarter of the gateway's CPU per request; here lines are appended to a buffer that is written
//! when it fills or every 200 ms by a background thread, so the hot path does no I/O.

use std::io::Write;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Buffer size that triggers a write from the request path.
const FLUSH_AT: usize = 32 * 1024;
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// One request, as logged.
#[derive(Debug)]
pub struct Entry<'a> {
    /// `x-request-id`, as the request-id rule made it (nothing in it needs escaping).
    pub request_id: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// Path, without the query (which may carry OAuth codes).
    pub path: &'a str,
    /// Response status.
    pub status: u16,
    /// Time to the response head, in milliseconds.
    pub duration_ms: f64,
    /// The authenticated member, if any.
    pub member_id: Option<&'a str>,
    /// The route label (as in the metrics).
    pub route: &'a str,
}

/// The buffered access log of one gateway.
#[derive(Debug)]
pub struct AccessLog {
    buffer: Mutex<Vec<u8>>,
}

impl AccessLog {
    /// A log flushed by a background thread until the log is dropped.
    pub fn start() -> Arc<Self> {
        let log = Arc::new(Self {
            buffer: Mutex::new(Vec::with_capacity(FLUSH_AT * 2)),
        });
        let weak = Arc::downgrade(&log);
        let spawned = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || flush_periodically(&weak));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "access log flusher not started; lines are written when the buffer fills");
        }
        log
    }

    /// Appends one line; writes the buffer out when it is full.
    pub fn record(&self, entry: &Entry<'_>) {
        let full = {
            let mut buffer = self.lock();
            write_line(&mut buffer, entry);
            (buffer.len() >= FLUSH_AT).then(|| std::mem::take(&mut *buffer))
        };
        if let Some(lines) = full {
            write_out(&lines);
        }
    }

    /// Writes whatever is buffered.
    pub fn flush(&self) {
        let lines = std::mem::take(&mut *self.lock());
        if !lines.is_empty() {
            write_out(&lines);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.flush();
    }
}

fn flush_periodically(log: &Weak<AccessLog>) {
    loop {
        std::thread::sleep(FLUSH_EVERY);
        match log.upgrade() {
            Some(log) => log.flush(),
            None => return,
        }
    }
}

fn write_out(lines: &[u8]) {
    // A log that cannot be written must not fail requests.
    let _ = std::io::stderr().lock().write_all(lines);
}

fn write_line(buffer: &mut Vec<u8>, entry: &Entry<'_>) {
    buffer.extend_from_slice(b"{\"timestamp\":\"");
    write_timestamp(buffer);
    buffer
        .extend_from_slice(b"\",\"level\":\"INFO\",\"target\":\"gateway::access\",\"request_id\":");
    write_plain(buffer, entry.request_id);
    buffer.extend_from_slice(b",\"method\":");
    write_plain(buffer, entry.method);
    buffer.extend_from_slice(b",\"path\":");
    write_string(buffer, entry.path);
    // Milliseconds with three decimals, from integer microseconds. Digits are written by hand:
    // `write!` cost 5 % of the gateway's user-space instructions per request (callgrind).
    let micros = (entry.duration_ms * 1000.0).round() as u64;
    buffer.extend_from_slice(b",\"status\":");
    write_decimal(buffer, u64::from(entry.status));
    buffer.extend_from_slice(b",\"duration_ms\":");
    write_decimal(buffer, micros / 1000);
    buffer.push(b'.');
    write_padded(buffer, micros % 1000, 3);
    buffer.extend_from_slice(b",\"member_id\":");
    write_string(buffer, entry.member_id.unwrap_or("-"));
    buffer.extend_from_slice(b",\"route\":");
    write_plain(buffer, entry.route);
    buffer.extend_from_slice(b"}\n");
}

/// A JSON string of a value that never needs escaping, by the rules that made it: a request id
/// (`[A-Za-z0-9-_.:]` only, [`platform::http::request_id`]), a method (an HTTP token) or a route
/// label (this crate's tables). Checking them byte by byte cost as much as the rest of the line.
fn write_plain(buffer: &mut Vec<u8>, value: &str) {
    debug_assert!(
        !value.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'),
        "{value:?} needs escaping"
    );
    buffer.push(b'"');
    buffer.extend_from_slice(value.as_bytes());
    buffer.push(b'"');
}

/// A JSON string; values without characters to escape (nearly all) are copied as they are.
fn write_string(buffer: &mut Vec<u8>, value: &str) {
    let plain = value
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f);
    if plain {
        buffer.push(b'"');
        buffer.extend_from_slice(value.as_bytes());
        buffer.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *buffer, value);
    }
}

/// RFC 3339 UTC with microseconds; the part up to the second is formatted once per second.
fn write_timestamp(buffer: &mut Vec<u8>) {
    thread_local! {
        static SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    let second = now.timestamp();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            *cached = second;
            *text = now.format("%Y-%m-%dT%H:%M:%S").to_string();
        }
        buffer.extend_from_slice(text.as_bytes());
    });
    buffer.push(b'.');
    write_padded(
        buffer,
        u64::from(now.timestamp_subsec_micros().min(999_999)),
        6,
    );
    buffer.push(b'Z');
}

/// `n` in decimal.
fn write_decimal(buffer: &mut Vec<u8>, n: u64) {
    let mut digits = [0_u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    buffer.extend_from_slice(&digits[at..]);
}

/// `n` in decimal with leading zeros to `width` (at most 20) digits; `n` has at most `width`.
fn write_padded(buffer: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut rest = n;
    let start = digits.len().saturating_sub(width);
    for slot in digits[start..].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    buffer.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_every_field() {
        let mut buffer = Vec::new();
        write_line(
            &mut buffer,
            &Entry {
                request_id: "r-1",
                method: "GET",
                path: "/api/member/\"odd\"",
                status: 200,
                duration_ms: 1.5,
                member_id: Some("7"),
                route: "/api/member/**",
            },
        );
        assert_eq!(buffer.last(), Some(&b'\n'));
        let line: serde_json::Value = serde_json::from_slice(&buffer).unwrap_or_default();
        assert_eq!(line["path"], "/api/member/\"odd\"");
        assert_eq!(line["status"], 200);
        assert_eq!(line["member_id"], "7");
        assert_eq!(line["route"], "/api/member/**");
        assert_eq!(line["duration_ms"], 1.5);
    }

    #[test]
    fn the_timestamp_is_rfc3339_utc_with_microseconds() {
        let mut buffer = Vec::new();
        write_timestamp(&mut buffer);
        let text = String::from_utf8(buffer).unwrap_or_default();
        let parsed = chrono::DateTime::parse_from_rfc3339(&text);
        assert!(parsed.is_ok() && text.len() == 27, "{text}");
    }

    #[test]
    fn numbers_are_written_in_decimal_and_padded_to_their_width() {
        let mut buffer = Vec::new();
        for (n, width) in [(0, 1), (7, 3), (42, 3), (999, 3), (5, 6), (123_456, 6)] {
            write_padded(&mut buffer, n, width);
            buffer.push(b' ');
        }
        write_decimal(&mut buffer, u64::MAX);
        assert_eq!(
            String::from_utf8(buffer).unwrap_or_default(),
            format!("0 007 042 999 000005 123456 {}", u64::MAX)
        );
    }

    #[test]
    fn strings_with_quotes_or_control_characters_are_escaped() {
        let mut buffer = Vec::new();
        write_string(&mut buffer, "a\"b\\c\n");
        assert_eq!(buffer, br#""a\"b\\c\n""#);
    }
}

//! The cap on concurrent client connections of the distributed gateway, shared by its workers:
//! past it a new connection gets 503 GATE503 and is closed, so a flood of idle or slow
//! connections cannot take every file descriptor (and with them the upstream connections).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Open client connections against the cap (`GATEWAY_MAX_CONNECTIONS`).
#[derive(Debug, Clone)]
pub struct ConnectionCap {
    open: Arc<AtomicUsize>,
    max: usize,
}

impl ConnectionCap {
    /// At most `max` connections at once.
    pub fn new(max: usize) -> Self {
        Self {
            open: Arc::default(),
            max,
        }
    }

    /// A place for one more connection, held until dropped; `None` at the cap (counted in
    /// `gateway_connections_refused_total`).
    pub fn admit(&self) -> Option<Admitted> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            });
        if taken.is_err() {
            metrics::counter!("gateway_connections_refused_total").increment(1);
            return None;
        }
        metrics::gauge!("gateway_client_connections").increment(1.0);
        Some(Admitted {
            open: Arc::clone(&self.open),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Default for ConnectionCap {
    fn default() -> Self {
        Self::new(usize::MAX)
    }
}

/// One admitted connection; its place is given back on drop.
#[derive(Debug)]
pub struct Admitted {
    open: Arc<AtomicUsize>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!("gateway_client_connections").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_given_back_can_be_taken_again_and_none_past_the_cap() {
        let cap = ConnectionCap::new(2);
        let first = cap.admit();
        let second = cap.admit();
        assert!(first.is_some() && second.is_some());
        assert!(cap.admit().is_none());
        drop(first);
        assert!(cap.admit().is_some());
        assert_eq!(cap.open(), 1);
    }
}

//! A deadline that is cheap to move later on every request.

use std::time::Duration;

/// A deadline whose timer moves lazily: setting a later deadline (every request does) only records
/// it, and the timer, when it fires early, re-arms itself for the recorded time. Arming and
/// cancelling a timer for every request cost more than the rest of the request bookkeeping.
pub(super) struct Deadline {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    at: tokio::time::Instant,
}

impl Deadline {
    pub(super) fn new() -> Self {
        let far = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);
        Self {
            timer: Box::pin(tokio::time::sleep_until(far)),
            at: far,
        }
    }

    pub(super) fn set(&mut self, at: impl Into<tokio::time::Instant>) {
        self.at = at.into();
        if self.at < self.timer.deadline() {
            self.timer.as_mut().reset(self.at);
        }
    }

    /// Completes once the recorded deadline has passed.
    pub(super) async fn passed(&mut self) {
        loop {
            self.timer.as_mut().await;
            if tokio::time::Instant::now() >= self.at {
                return;
            }
            let at = self.at;
            self.timer.as_mut().reset(at);
        }
    }
}

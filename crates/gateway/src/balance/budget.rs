//! How many retries a service may receive: a fifth of its recent requests, plus a few per second
//! so that a quiet service can retry too (Finagle's retry budget).
//!
//! Why a budget: when a whole service is failing, retrying every request would double its load at
//! the worst moment. Why not a cap on concurrent retries (Envoy's): when a replica dies, all its
//! in-flight requests fail at once and a burst of retries is exactly what is needed.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Retries allowed per request sent.
const RATIO: f64 = 0.2;
/// Retries allowed per second whatever the traffic.
const FLOOR_PER_SECOND: f64 = 5.0;
/// How long a request keeps counting towards the budget (deposits fade with this time constant).
const WINDOW: Duration = Duration::from_secs(10);

/// Tokens refilled lazily: the requests counter is read only when a retry asks, so requests pay
/// nothing for the budget.
#[derive(Debug)]
pub(crate) struct Budget {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    /// First attempts counted so far.
    seen: u64,
    at: Instant,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                // What the floor alone accumulates, so that the first failures can be retried.
                tokens: FLOOR_PER_SECOND * WINDOW.as_secs_f64(),
                seen: 0,
                at: Instant::now(),
            }),
        }
    }

    /// Takes one retry if the budget allows it; `first_attempts` is the service's count of
    /// requests sent (retries excluded) since start.
    pub(crate) fn try_take(&self, first_attempts: u64) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.at).as_secs_f64();
        let new = first_attempts.saturating_sub(state.seen) as f64;
        state.tokens = refill(state.tokens, new, elapsed);
        state.seen = state.seen.max(first_attempts);
        state.at = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// `tokens` after `elapsed` seconds in which `new` requests arrived, taken as spread evenly: each
/// deposit fades from when it was made, so a long quiet stretch does not build a large allowance.
fn refill(tokens: f64, new: f64, elapsed: f64) -> f64 {
    let window = WINDOW.as_secs_f64();
    let kept = (-elapsed / window).exp();
    // The share of an even stream of deposits over `elapsed` that is left at its end.
    let left = if elapsed > 1e-6 {
        window * (1.0 - kept) / elapsed
    } else {
        1.0
    };
    tokens * kept + (RATIO * new + FLOOR_PER_SECOND * elapsed) * left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifth_of_the_requests_can_be_retried_once_the_initial_allowance_is_spent() {
        let budget = Budget::new();
        let initial = (0..1000).take_while(|_| budget.try_take(0)).count();
        assert_eq!(initial, 50);
        let granted = (0..100).filter(|_| budget.try_take(400)).count();
        assert!(
            (79..=81).contains(&granted),
            "{granted} retries for 400 requests"
        );
    }

    #[test]
    fn deposits_fade_so_a_long_quiet_history_builds_no_large_allowance() {
        let stale = refill(0.0, 1_000_000.0, 3600.0);
        let floor = FLOOR_PER_SECOND * WINDOW.as_secs_f64();
        // An hour of a million requests leaves what its last ten seconds deposited.
        let last_ten_seconds = RATIO * 1_000_000.0 / 360.0;
        assert!((stale - floor - last_ten_seconds).abs() < 1.0, "{stale}");
    }
}

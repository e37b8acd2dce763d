//! The comment-creation limit: 3 tokens per member, 2 refilled every 3 seconds.
//!
//! The refill is stepwise, as documented in docs/api.md: two tokens come back together at the end
//! of each 3-second period, not one every 1.5 s. That is why this is not `governor`, whose GCRA
//! refills continuously and would answer other `Retry-After` values.
//!
//! Buckets live in this process's memory: with several replicas each grants its own tokens, so a
//! member could write up to N times the burst across N replicas. The gateway's Redis limit still
//! bounds writes globally; this one keeps the original's per-member message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket per member.
#[derive(Debug)]
pub struct CommentLimiter {
    capacity: u32,
    refill: u32,
    every: Duration,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    since: Instant,
}

/// How many buckets may exist before full ones are dropped (they carry no information).
const PRUNE_AT: usize = 10_000;

impl Default for CommentLimiter {
    fn default() -> Self {
        Self::new(3, 2, Duration::from_secs(3))
    }
}

impl CommentLimiter {
    /// `capacity` tokens, `refill` more every `every` (never beyond capacity).
    pub fn new(capacity: u32, refill: u32, every: Duration) -> Self {
        Self {
            capacity,
            refill,
            every,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `member` at `now`; `Err` carries the seconds until one is back.
    pub fn try_take(&self, member: i64, now: Instant) -> Result<(), u64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| self.refilled(*b, now).tokens < self.capacity);
        }
        let fresh = Bucket {
            tokens: self.capacity,
            since: now,
        };
        let bucket = self.refilled(*buckets.get(&member).unwrap_or(&fresh), now);
        if bucket.tokens == 0 {
            buckets.insert(member, bucket);
            let wait = self
                .every
                .saturating_sub(now.saturating_duration_since(bucket.since));
            return Err(wait.as_secs().max(1));
        }
        buckets.insert(
            member,
            Bucket {
                tokens: bucket.tokens - 1,
                since: bucket.since,
            },
        );
        Ok(())
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(bucket.since);
        let periods = (elapsed.as_nanos() / self.every.as_nanos().max(1)) as u32;
        if periods == 0 {
            return bucket;
        }
        if bucket.tokens >= self.capacity {
            return Bucket {
                tokens: bucket.tokens,
                since: now,
            };
        }
        Bucket {
            tokens: (bucket.tokens + periods.saturating_mul(self.refill)).min(self.capacity),
            since: bucket.since + self.every * periods,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_comments_pass_and_the_fourth_waits() {
        let limiter = CommentLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.try_take(1, t0), Ok(()));
        }
        assert_eq!(limiter.try_take(1, t0), Err(3));
        assert_eq!(
            limiter.try_take(2, t0),
            Ok(()),
            "other members are not affected"
        );
    }

    #[test]
    fn two_tokens_come_back_every_three_seconds() {
        let limiter = CommentLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.try_take(1, t0).ok();
        }
        let later = t0 + Duration::from_secs(3);
        assert_eq!(limiter.try_take(1, later), Ok(()));
        assert_eq!(limiter.try_take(1, later), Ok(()));
        assert!(limiter.try_take(1, later).is_err());
    }
}

//! Short-lived counters and markers: failed sign-ins per account (throttling) and issued OAuth
//! `state` values. Redis holds them in distributed mode, so every replica sees the same counts;
//! memory holds them in standalone mode, where there is one process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The store is unreachable; callers answer 503.
#[derive(Debug, thiserror::Error)]
#[error("throttle store unavailable")]
pub struct ThrottleError(#[source] pub redis::RedisError);

/// Expiring counters by key.
#[async_trait::async_trait]
pub trait Ephemeral: Send + Sync + std::fmt::Debug {
    /// Adds one to `key`; a new counter lives for `ttl`. Returns the new count.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, ThrottleError>;
    /// The count of `key` and how long it still lives (zero and zero when absent).
    async fn count(&self, key: &str) -> Result<(u64, Duration), ThrottleError>;
    /// Removes `key`; returns whether it existed.
    async fn remove(&self, key: &str) -> Result<bool, ThrottleError>;
}

/// Counters in Redis (`INCR` + `EXPIRE NX`).
#[derive(Clone)]
pub struct RedisEphemeral(pub platform::redis_client::SharedRedis);

impl std::fmt::Debug for RedisEphemeral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisEphemeral")
    }
}

#[async_trait::async_trait]
impl Ephemeral for RedisEphemeral {
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, ThrottleError> {
        let mut redis = self.0.clone();
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(key, 1)
            .cmd("EXPIRE")
            .arg(key)
            .arg(ttl.as_secs().max(1))
            .arg("NX")
            .ignore()
            .query_async(&mut redis)
            .await
            .map_err(ThrottleError)?;
        Ok(count)
    }

    async fn count(&self, key: &str) -> Result<(u64, Duration), ThrottleError> {
        let mut redis = self.0.clone();
        let (count, ttl): (Option<u64>, i64) = redis::pipe()
            .get(key)
            .ttl(key)
            .query_async(&mut redis)
            .await
            .map_err(ThrottleError)?;
        let ttl = Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
        Ok((count.unwrap_or(0), ttl))
    }

    async fn remove(&self, key: &str) -> Result<bool, ThrottleError> {
        let mut redis = self.0.clone();
        let removed: u64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut redis)
            .await
            .map_err(ThrottleError)?;
        Ok(removed > 0)
    }
}

/// Counters in this process's memory (standalone mode).
#[derive(Debug, Clone, Default)]
pub struct MemoryEphemeral(Arc<Mutex<HashMap<String, (u64, Instant)>>>);

impl MemoryEphemeral {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (u64, Instant)>) -> T) -> T {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, (_, until)| *until > now);
        f(&mut map)
    }
}

#[async_trait::async_trait]
impl Ephemeral for MemoryEphemeral {
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, ThrottleError> {
        Ok(self.with(|map| {
            let entry = map
                .entry(key.to_owned())
                .or_insert((0, Instant::now() + ttl));
            entry.0 += 1;
            entry.0
        }))
    }

    async fn count(&self, key: &str) -> Result<(u64, Duration), ThrottleError> {
        Ok(self.with(|map| {
            map.get(key).map_or((0, Duration::ZERO), |(count, until)| {
                (*count, until.saturating_duration_since(Instant::now()))
            })
        }))
    }

    async fn remove(&self, key: &str) -> Result<bool, ThrottleError> {
        Ok(self.with(|map| map.remove(key).is_some()))
    }
}

/// Failed sign-ins allowed per account within [`FAILURE_WINDOW`] before answering 429.
pub const MAX_FAILURES: u64 = 5;
/// How long failures are remembered, and so how long an account stays throttled.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long an issued OAuth `state` may be sent back.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// Throttling of sign-ins per account, and the OAuth `state` values issued by `POST /api/member/login`.
#[derive(Debug, Clone)]
pub struct Throttle {
    store: Arc<dyn Ephemeral>,
    max_failures: u64,
}

fn failures_key(email: &str) -> String {
    format!("login_failures:{email}")
}

fn state_key(state: &str) -> String {
    format!("oauth_state:{state}")
}

impl Throttle {
    /// Throttling over `store` with the default policy.
    pub fn new(store: Arc<dyn Ephemeral>) -> Self {
        Self {
            store,
            max_failures: MAX_FAILURES,
        }
    }

    /// `Some(seconds to wait)` when the account has failed too often recently.
    pub async fn blocked_for(&self, email: &str) -> Result<Option<u64>, ThrottleError> {
        let (count, ttl) = self.store.count(&failures_key(email)).await?;
        Ok((count >= self.max_failures).then(|| ttl.as_secs().max(1)))
    }

    /// Records a failed sign-in.
    pub async fn failed(&self, email: &str) -> Result<(), ThrottleError> {
        self.store
            .increment(&failures_key(email), FAILURE_WINDOW)
            .await
            .map(drop)
    }

    /// Forgets the failures after a successful sign-in.
    pub async fn succeeded(&self, email: &str) -> Result<(), ThrottleError> {
        self.store.remove(&failures_key(email)).await.map(drop)
    }

    /// Remembers a newly issued OAuth `state`.
    pub async fn issue_state(&self, state: &str) -> Result<(), ThrottleError> {
        self.store
            .increment(&state_key(state), STATE_TTL)
            .await
            .map(drop)
    }

    /// Consumes a `state`; `false` when it was never issued, expired or was used already.
    pub async fn take_state(&self, state: &str) -> Result<bool, ThrottleError> {
        self.store.remove(&state_key(state)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_account_is_blocked_after_the_allowed_failures() {
        let throttle = Throttle::new(Arc::new(MemoryEphemeral::default()));
        for _ in 0..MAX_FAILURES {
            assert_eq!(throttle.blocked_for("a@b.c").await.unwrap(), None);
            throttle.failed("a@b.c").await.unwrap();
        }
        assert!(throttle.blocked_for("a@b.c").await.unwrap().is_some());
        assert_eq!(throttle.blocked_for("other@b.c").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_state_can_be_taken_once() {
        let throttle = Throttle::new(Arc::new(MemoryEphemeral::default()));
        throttle.issue_state("s1").await.unwrap();
        assert!(throttle.take_state("s1").await.unwrap());
        assert!(!throttle.take_state("s1").await.unwrap());
        assert!(!throttle.take_state("never").await.unwrap());
    }
}

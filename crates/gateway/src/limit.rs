//! Token-bucket rate limits (docs/gateway.md, "Rate limits"): one atomic Lua script on Redis in
//! distributed mode, an in-memory map in standalone mode, the same arithmetic in both.
//!
//! The in-memory twin is hand-written rather than `governor`'s keyed limiter on purpose: it
//! mirrors the Lua script step for step, so standalone and distributed gateways send the same
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset` for the same history. `governor`'s GCRA admits
//! the same requests but tells the time to the next token only on a refusal, and cannot replace
//! the script, whose state every replica shares.
//!
//! When Redis cannot be reached the limiter fails open: the request is served unlimited, a warning
//! is logged and `gateway_rate_limit_unavailable_total` counts it. Protected routes are already
//! refused with 503 by the session check in that state, so this only keeps public routes working.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{Limits, Rate};
use crate::redis_link::LazyRedis;
use crate::routes::LimitRule;

/// The answer of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may pass.
    pub allowed: bool,
    /// Capacity of the bucket (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Whole tokens left (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Until the next token (`Retry-After`, `X-RateLimit-Reset`); zero when one is left.
    pub retry_after: Duration,
}

/// Where buckets live.
#[derive(Debug)]
pub enum Limiter {
    /// Shared by every gateway replica.
    Redis(std::sync::Arc<LazyRedis>),
    /// One process (standalone).
    Memory(MemoryBuckets),
}

/// Why a limit could not be checked.
#[derive(Debug, thiserror::Error)]
#[error("rate-limit store unavailable")]
pub struct LimitError(#[source] pub redis::RedisError);

// Refill is continuous: `refill` tokens per `period`, capped at `burst`. Redis' own clock keeps
// replicas consistent. Returns {allowed, remaining, milliseconds until the next token}.
const SCRIPT: &str = r"
local burst = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * refill / period)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
local wait = 0
if tokens < 1 then
  wait = math.ceil((1 - tokens) * period / refill)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * period / refill) + 1000)
return {allowed, math.floor(tokens), wait}
";

fn rule_key(rule: LimitRule) -> &'static str {
    match rule {
        LimitRule::SignIn => "signin",
        LimitRule::PublicRead => "read",
        LimitRule::Write => "write",
        LimitRule::Comment => "comment",
    }
}

/// The configured rate of `rule`, if it is on.
pub fn rate_of(limits: &Limits, rule: LimitRule) -> Option<Rate> {
    match rule {
        LimitRule::SignIn => limits.signin,
        LimitRule::PublicRead => limits.public_read,
        LimitRule::Write => limits.write,
        LimitRule::Comment => limits.comment,
    }
}

fn period_ms(rate: Rate) -> u64 {
    u64::try_from(rate.period.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl Limiter {
    /// Takes one token from the bucket of `subject` under `rule`.
    pub async fn take(
        &self,
        rule: LimitRule,
        rate: Rate,
        subject: &str,
    ) -> Result<Decision, LimitError> {
        match self {
            Self::Redis(redis) => take_redis(redis, rule, rate, subject).await,
            Self::Memory(buckets) => Ok(buckets.take(rule, rate, subject, Instant::now())),
        }
    }
}

async fn take_redis(
    redis: &LazyRedis,
    rule: LimitRule,
    rate: Rate,
    subject: &str,
) -> Result<Decision, LimitError> {
    static SCRIPT_HANDLE: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let script = SCRIPT_HANDLE.get_or_init(|| redis::Script::new(SCRIPT));
    let mut connection = redis.connection().await.map_err(LimitError)?;
    let (allowed, remaining, wait_ms): (i64, i64, i64) = script
        .key(format!("ratelimit:{}:{subject}", rule_key(rule)))
        .arg(rate.burst)
        .arg(rate.refill)
        .arg(period_ms(rate))
        .invoke_async(&mut connection)
        .await
        .map_err(LimitError)?;
    Ok(Decision {
        allowed: allowed == 1,
        limit: rate.burst,
        remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
        retry_after: Duration::from_millis(u64::try_from(wait_ms.max(0)).unwrap_or(0)),
    })
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets of one process.
#[derive(Debug, Default)]
pub struct MemoryBuckets {
    buckets: Mutex<HashMap<(LimitRule, String), Bucket>>,
}

/// Beyond this many buckets, full ones (idle subjects) are dropped.
const MAX_BUCKETS: usize = 100_000;

impl MemoryBuckets {
    fn take(&self, rule: LimitRule, rate: Rate, subject: &str, now: Instant) -> Decision {
        let burst = f64::from(rate.burst);
        let per_ms = f64::from(rate.refill) / period_ms(rate) as f64;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_millis() as f64 * per_ms < burst
            });
        }
        let bucket = buckets.entry((rule, subject.to_owned())).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed_ms = now.duration_since(bucket.at).as_secs_f64() * 1000.0;
        let mut tokens = (bucket.tokens + elapsed_ms * per_ms).min(burst);
        let allowed = tokens >= 1.0;
        if allowed {
            tokens -= 1.0;
        }
        *bucket = Bucket { tokens, at: now };
        let wait_ms = if tokens < 1.0 {
            ((1.0 - tokens) / per_ms).ceil()
        } else {
            0.0
        };
        Decision {
            allowed,
            limit: rate.burst,
            remaining: tokens.floor() as u32,
            retry_after: Duration::from_millis(wait_ms as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_bucket_refuses_beyond_its_burst_and_refills_over_time() {
        let buckets = MemoryBuckets::default();
        let rate = Rate::new(3, 2, Duration::from_secs(3));
        let start = Instant::now();
        let taken: Vec<bool> = (0..4)
            .map(|_| buckets.take(LimitRule::Comment, rate, "7", start).allowed)
            .collect();
        assert_eq!(taken, [true, true, true, false]);
        let later = start + Duration::from_millis(1500);
        assert!(buckets.take(LimitRule::Comment, rate, "7", later).allowed);
        assert!(buckets.take(LimitRule::Comment, rate, "8", start).allowed);
    }

    #[test]
    fn a_refused_take_says_how_long_until_the_next_token() {
        let buckets = MemoryBuckets::default();
        let rate = Rate::new(1, 2, Duration::from_secs(3));
        let now = Instant::now();
        buckets.take(LimitRule::Write, rate, "1", now);
        let refused = buckets.take(LimitRule::Write, rate, "1", now);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_millis(1500));
    }
}

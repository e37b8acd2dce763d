//! The gateway's session cache against the real Redis: hits stay off the network, and logout,
//! withdrawal, expiry and lost connections all end a cached session.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{redis_config, redis_switch, sessions, switched};
use gateway::session_cache::TrackedSessions;
use platform::auth::sessions::session_key;
use platform::auth::{Role, Session, SessionStore, TOKEN_TTL};
use platform::config::RedisConfig;

/// How long a test waits for a push Redis sends at once.
const PUSH_DEADLINE: Duration = Duration::from_secs(5);

async fn logged_in(member_id: i64) -> Session {
    let session = Session::start(member_id, Role::User, TOKEN_TTL);
    sessions().await.create(&session).await.unwrap();
    session
}

/// A member id no other test (or concurrent run) uses.
fn unique_member() -> i64 {
    let nanos = Utc::now().timestamp_subsec_nanos();
    800_000_000 + i64::from(std::process::id() % 1000) * 1_000_000 + i64::from(nanos % 1_000_000)
}

/// Writes `session` under its key as member would, but with a key that outlives its `expires_at`.
async fn write_raw(session: &Session) {
    let mut redis = platform::redis_client::connect(&redis_config())
        .await
        .unwrap();
    redis::cmd("SET")
        .arg(session_key(&session.sid))
        .arg(serde_json::to_string(session).unwrap())
        .arg("EX")
        .arg(60)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
}

/// Waits, on invalidations rather than on time, until `done` holds.
async fn until(cache: &TrackedSessions, done: impl Fn(&TrackedSessions) -> bool) {
    tokio::time::timeout(PUSH_DEADLINE, async {
        loop {
            let seen = cache.invalidations();
            if done(cache) {
                return;
            }
            cache.invalidated_since(seen).await;
        }
    })
    .await
    .expect("no invalidation from Redis");
}

/// Makes `change`, then waits until the cache has applied an invalidation (a push from Redis, or
/// the flush of a lost connection); `missing` says what it means when none comes.
async fn invalidated_by(
    cache: &TrackedSessions,
    change: impl std::future::Future<Output = ()>,
    missing: &str,
) {
    let seen = cache.invalidations();
    change.await;
    tokio::time::timeout(PUSH_DEADLINE, cache.invalidated_since(seen))
        .await
        .expect(missing);
}

/// A cache on `redis` that has looked up a fresh session of `member_id`, and that session.
async fn cached(redis: RedisConfig, member_id: i64) -> (TrackedSessions, Session) {
    let cache = TrackedSessions::new(redis);
    let session = logged_in(member_id).await;
    assert!(cache.exists(&session.sid).await.unwrap());
    (cache, session)
}

/// Like `cached`, but through a relay to Redis that is then cut, once the cache has noticed.
async fn cached_then_cut(member_id: i64) -> (testkit::Switch, TrackedSessions, Session) {
    let switch = redis_switch().await;
    let (cache, session) = cached(switched(&switch), member_id).await;
    invalidated_by(&cache, async { switch.down() }, "the cut was not noticed").await;
    (switch, cache, session)
}

#[tokio::test]
async fn a_second_lookup_of_a_live_session_is_answered_without_a_redis_round_trip() {
    let (cache, session) = cached(redis_config(), 31).await;
    let after_first = cache.round_trips();
    assert!(cache.exists(&session.sid).await.unwrap());
    assert_eq!(cache.round_trips(), after_first);
}

#[tokio::test]
async fn an_unknown_session_is_refused_and_not_remembered() {
    let cache = TrackedSessions::new(redis_config());
    assert!(!cache.exists("no-such-session").await.unwrap());
    assert_eq!(cache.cached_sessions(), 0);
}

#[tokio::test]
async fn a_session_deleted_by_logout_is_refused_once_the_invalidation_arrives() {
    let (cache, session) = cached(redis_config(), 32).await;
    let logout = async { sessions().await.delete(&session.sid).await.unwrap() };
    invalidated_by(&cache, logout, "no invalidation from Redis").await;
    assert!(!cache.exists(&session.sid).await.unwrap());
}

#[tokio::test]
async fn every_session_of_a_withdrawn_member_is_refused() {
    let cache = TrackedSessions::new(redis_config());
    let member = unique_member();
    let (phone, laptop) = (logged_in(member).await, logged_in(member).await);
    assert!(cache.exists(&phone.sid).await.unwrap());
    assert!(cache.exists(&laptop.sid).await.unwrap());
    sessions().await.delete_all(member).await.unwrap();
    until(&cache, |c| c.cached_sessions() == 0).await;
    assert!(!cache.exists(&phone.sid).await.unwrap());
    assert!(!cache.exists(&laptop.sid).await.unwrap());
}

#[tokio::test]
async fn a_session_past_its_expiry_is_refused_while_its_key_still_exists() {
    let cache = TrackedSessions::new(redis_config());
    let mut session = Session::start(33, Role::User, TOKEN_TTL);
    session.expires_at = Utc::now() + chrono::Duration::milliseconds(300);
    write_raw(&session).await;
    assert!(cache.exists(&session.sid).await.unwrap());
    let round_trips = cache.round_trips();
    // The passing of time is the event here; nothing can be awaited instead.
    let wait = (session.expires_at - Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(10)).await;
    assert!(!cache.exists(&session.sid).await.unwrap());
    assert_eq!(cache.round_trips(), round_trips, "refused from the cache");
    sessions().await.delete(&session.sid).await.unwrap();
}

#[tokio::test]
async fn a_session_deleted_while_the_connection_was_cut_is_refused_after_redis_comes_back() {
    let (switch, cache, session) = cached_then_cut(34).await;
    sessions().await.delete(&session.sid).await.unwrap();
    switch.up();
    assert!(!cache.exists(&session.sid).await.unwrap());
}

#[tokio::test]
async fn with_redis_unreachable_lookups_fail_and_work_again_when_it_returns() {
    let (switch, cache, session) = cached_then_cut(35).await;
    assert!(cache.exists(&session.sid).await.is_err());
    assert!(cache.exists(&session.sid).await.is_err(), "fails fast");

    switch.up();
    let live = testkit::eventually("the cache reaches Redis again", || async {
        cache.exists(&session.sid).await.ok()
    })
    .await;
    assert!(live);
    let round_trips = cache.round_trips();
    assert!(cache.exists(&session.sid).await.unwrap());
    assert_eq!(cache.round_trips(), round_trips, "tracking is on again");
}

#[tokio::test]
async fn a_session_rewritten_in_redis_is_read_again() {
    let (cache, session) = cached(redis_config(), 36).await;
    let mut shortened = session.clone();
    shortened.expires_at = Utc::now() - chrono::Duration::seconds(1);
    write_raw(&shortened).await;
    until(&cache, |c| c.cached_sessions() == 0).await;
    assert!(!cache.exists(&session.sid).await.unwrap());
    sessions().await.delete(&session.sid).await.unwrap();
}

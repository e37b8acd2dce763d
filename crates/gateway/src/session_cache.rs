//! A cache of live sessions that saves the gateway a Redis round trip per request, and stays exact
//! because Redis itself tells it what to forget: the connection that reads `session:<sid>` has
//! `CLIENT TRACKING ON` (RESP3), so once Redis changes or deletes a key this connection read, it
//! pushes an invalidation on the same connection, ahead of every reply to a later command.
//!
//! Why a cached "yes" cannot outlive the session:
//! - The push is applied synchronously in the connection's read loop ([`AsyncPushSender`]), so it
//!   is in effect before any reply read after it is delivered.
//! - A reply and a later invalidation can still overtake the task that asked: every invalidation
//!   bumps an epoch under the map's lock, and a lookup inserts only if the epoch it read before
//!   sending its `GET` is unchanged at insertion.
//! - A dropped connection loses the tracking, so a disconnection (push, command error, or a failed
//!   heartbeat) flushes everything before the link is replaced; a `GET` on a link that has already
//!   been given up cannot insert, because the flush moved the epoch.
//! - Redis expires keys lazily, so a hit also requires `now < expires_at`.
//!
//! Misses (absent keys) are not cached: a login creates a new sid, and a miss costs what it did
//! before. The remaining window is the network: an invalidation Redis has sent but the gateway
//! has not yet read (microseconds on a healthy link; a silently dead link is noticed by the
//! heartbeat within [`HEARTBEAT`] plus [`TIMEOUT`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use platform::auth::sessions::session_key;
use platform::auth::{Session, SessionError};
use platform::config::RedisConfig;
use platform::redis_client;
use redis::aio::{AsyncPushSender, MultiplexedConnection, SendError};
use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, RedisError, Value};
use tokio::sync::Notify;
use tracing::Instrument as _;

use crate::redis_link::RecentFailure;

/// Most sessions kept; when full the map is emptied (simple, and still exact).
const CAPACITY: usize = 65_536;
/// How long connecting and each command may take before Redis counts as unreachable.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle-looking link is proven alive, so a silently dead one is noticed.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Sessions looked up in Redis and remembered until Redis says they changed.
pub struct TrackedSessions {
    shared: Arc<Shared>,
    config: RedisConfig,
    connecting: tokio::sync::Mutex<()>,
    last_failure: RecentFailure,
}

impl std::fmt::Debug for TrackedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedSessions")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("cached", &self.cached_sessions())
            .field("invalidations", &self.invalidations())
            .finish_non_exhaustive()
    }
}

/// The tracked connection in use, with an id so a late disconnect of an older one is told apart.
#[derive(Clone)]
struct Link {
    id: u64,
    connection: MultiplexedConnection,
}

/// A live session as remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// Unix milliseconds.
    expires_at: i64,
    member_id: i64,
}

/// What the push handler and the lookups share.
struct Shared {
    /// sid → when it expires and whose it is.
    entries: RwLock<HashMap<String, Entry, foldhash::fast::RandomState>>,
    /// Bumped (under the `entries` write lock) on every invalidation, flush and disconnect.
    epoch: AtomicU64,
    changed: Notify,
    link: Mutex<Option<Link>>,
    next_link: AtomicU64,
    round_trips: AtomicU64,
    /// `session:` as platform names the keys, to map invalidated keys back to sids.
    prefix: String,
}

impl TrackedSessions {
    /// Connects on first use, never here, so the gateway starts while Redis is down.
    pub fn new(config: RedisConfig) -> Self {
        Self {
            shared: Arc::new(Shared::new()),
            config,
            connecting: tokio::sync::Mutex::new(()),
            last_failure: RecentFailure::default(),
        }
    }

    /// Whether the session exists and has not expired; `Err` when Redis cannot be asked.
    pub async fn exists(&self, sid: &str) -> Result<bool, SessionError> {
        Ok(self.owner(sid).await?.is_some())
    }

    /// The member whose live session `sid` is, if it is one.
    pub async fn owner(&self, sid: &str) -> Result<Option<i64>, SessionError> {
        if let Some(Entry {
            expires_at,
            member_id,
        }) = self.shared.cached(sid)
        {
            return Ok((now_millis() < expires_at).then_some(member_id));
        }
        self.look_up(sid).await
    }

    /// Invalidations (including flushes and disconnects) applied so far.
    pub fn invalidations(&self) -> u64 {
        self.shared.epoch.load(Ordering::Acquire)
    }

    /// Returns once [`Self::invalidations`] exceeds `seen`.
    pub async fn invalidated_since(&self, seen: u64) {
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.invalidations() > seen {
                return;
            }
            changed.await;
        }
    }

    /// `GET`s sent to Redis so far (hits send none).
    pub fn round_trips(&self) -> u64 {
        self.shared.round_trips.load(Ordering::Relaxed)
    }

    /// Sessions currently remembered.
    pub fn cached_sessions(&self) -> usize {
        read(&self.shared.entries).len()
    }

    async fn look_up(&self, sid: &str) -> Result<Option<i64>, SessionError> {
        // Read before the link is taken: a flush after this point forbids the insert below.
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        let Link { id, mut connection } = self.link().await?;
        self.shared.round_trips.fetch_add(1, Ordering::Relaxed);
        let span = redis_client::command_span(&self.config, "GET", None);
        let reply = async {
            let reply = redis::cmd("GET")
                .arg(session_key(sid))
                .query_async::<Option<String>>(&mut connection)
                .await;
            if let Err(e) = &reply {
                redis_client::record_failure(e);
            }
            reply
        };
        let json = match reply.instrument(span).await {
            Ok(json) => json,
            Err(e) => {
                self.shared.disconnect(id);
                return Err(SessionError(Box::new(e)));
            }
        };
        let Some(entry) = json
            .and_then(|j| serde_json::from_str::<Session>(&j).ok())
            .map(|s| Entry {
                expires_at: s.expires_at.timestamp_millis(),
                member_id: s.member_id,
            })
            .filter(|e| now_millis() < e.expires_at)
        else {
            return Ok(None);
        };
        self.shared.insert(sid, entry, epoch);
        Ok(Some(entry.member_id))
    }

    async fn link(&self) -> Result<Link, SessionError> {
        if let Some(link) = self.shared.current() {
            return Ok(link);
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(link) = self.shared.current() {
            return Ok(link);
        }
        if self.last_failure.is_recent() {
            return Err(unavailable("Redis was unreachable moments ago"));
        }
        match self.open().await {
            Ok(link) => {
                *lock(&self.shared.link) = Some(link.clone());
                tokio::spawn(heartbeat(Arc::downgrade(&self.shared), link.clone()));
                Ok(link)
            }
            Err(e) => {
                self.last_failure.record();
                Err(SessionError(Box::new(e)))
            }
        }
    }

    /// A RESP3 connection whose pushes reach [`Shared::on_push`], with tracking on.
    async fn open(&self) -> Result<Link, RedisError> {
        let client = platform::redis_client::client(&self.config, ProtocolVersion::RESP3)?;
        let id = self.shared.next_link.fetch_add(1, Ordering::Relaxed);
        let pushes = PushHandler {
            shared: Arc::downgrade(&self.shared),
            link: id,
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_push_sender(pushes);
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .query_async::<()>(&mut connection)
            .await?;
        Ok(Link { id, connection })
    }
}

impl Shared {
    fn new() -> Self {
        Self {
            entries: RwLock::new(HashMap::default()),
            epoch: AtomicU64::new(0),
            changed: Notify::new(),
            link: Mutex::new(None),
            next_link: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            prefix: session_key(""),
        }
    }

    fn cached(&self, sid: &str) -> Option<Entry> {
        read(&self.entries).get(sid).copied()
    }

    fn current(&self) -> Option<Link> {
        lock(&self.link).clone()
    }

    /// Remembers a session read at `epoch`, unless anything was invalidated since.
    fn insert(&self, sid: &str, entry: Entry, epoch: u64) {
        let mut entries = write(&self.entries);
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if entries.len() >= CAPACITY && !entries.contains_key(sid) {
            entries.clear();
        }
        entries.insert(sid.to_owned(), entry);
    }

    fn on_push(&self, link: u64, push: &PushInfo) {
        match push.kind {
            PushKind::Invalidate => self.invalidate(push.data.first()),
            PushKind::Disconnection => self.disconnect(link),
            _ => {}
        }
    }

    /// Forgets the named keys; a null list (FLUSHALL, FLUSHDB) or anything unexpected forgets all.
    fn invalidate(&self, keys: Option<&Value>) {
        let mut entries = write(&self.entries);
        match keys {
            Some(Value::Array(keys)) => {
                for key in keys {
                    match self.sid_of(key) {
                        Some(sid) => drop(entries.remove(sid)),
                        None => entries.clear(),
                    }
                }
            }
            _ => entries.clear(),
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        drop(entries);
        self.changed.notify_waiters();
    }

    fn sid_of<'a>(&self, key: &'a Value) -> Option<&'a str> {
        let key = match key {
            Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?,
            Value::SimpleString(text) => text.as_str(),
            _ => return None,
        };
        key.strip_prefix(self.prefix.as_str())
    }

    /// The link lost its tracking: stop using it, then forget everything it vouched for. In this
    /// order, a lookup that reads the epoch after the flush can no longer pick up this link.
    fn disconnect(&self, link: u64) {
        let dropped = {
            let mut current = lock(&self.link);
            if current.as_ref().is_some_and(|l| l.id == link) {
                current.take()
            } else {
                None
            }
        };
        self.invalidate(None);
        drop(dropped);
    }
}

/// Applies pushes in the connection's read loop, before the replies that follow them.
struct PushHandler {
    shared: Weak<Shared>,
    link: u64,
}

impl AsyncPushSender for PushHandler {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        let shared = self.shared.upgrade().ok_or(SendError)?;
        shared.on_push(self.link, &info);
        Ok(())
    }
}

/// Proves the link alive every [`HEARTBEAT`]; a link that does not answer is dropped (and the
/// cache flushed), since invalidations may be stuck on it. Ends when the link is replaced.
async fn heartbeat(shared: Weak<Shared>, link: Link) {
    let Link { id, mut connection } = link;
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.current().is_none_or(|l| l.id != id) {
            return;
        }
        let ping = redis::cmd("PING")
            .query_async::<Value>(&mut connection)
            .await;
        if ping.is_err() {
            shared.disconnect(id);
            return;
        }
    }
}

fn unavailable(why: &'static str) -> SessionError {
    SessionError(Box::new(RedisError::from((redis::ErrorKind::Io, why))))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalidation(keys: &[&str]) -> PushInfo {
        let keys = keys
            .iter()
            .map(|k| Value::BulkString(k.as_bytes().to_vec()))
            .collect();
        PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(keys)],
        }
    }

    fn later() -> Entry {
        Entry {
            expires_at: now_millis() + 60_000,
            member_id: 1,
        }
    }

    #[test]
    fn an_invalidation_between_the_reply_and_the_insert_leaves_no_entry() {
        let shared = Shared::new();
        let read_at = shared.epoch.load(Ordering::Acquire);
        shared.on_push(0, &invalidation(&[&session_key("a")]));
        shared.insert("a", later(), read_at);
        assert_eq!(shared.cached("a"), None);
    }

    #[test]
    fn an_invalidation_of_another_key_also_blocks_the_insert() {
        let shared = Shared::new();
        let read_at = shared.epoch.load(Ordering::Acquire);
        shared.on_push(0, &invalidation(&[&session_key("b")]));
        shared.insert("a", later(), read_at);
        assert_eq!(shared.cached("a"), None);
    }

    #[test]
    fn an_invalidation_after_the_insert_removes_the_entry() {
        let shared = Shared::new();
        shared.insert("a", later(), shared.epoch.load(Ordering::Acquire));
        shared.insert("b", later(), shared.epoch.load(Ordering::Acquire));
        shared.on_push(0, &invalidation(&[&session_key("a")]));
        assert_eq!(shared.cached("a"), None);
        assert!(shared.cached("b").is_some());
    }

    #[test]
    fn a_null_key_list_forgets_every_session() {
        let shared = Shared::new();
        shared.insert("a", later(), shared.epoch.load(Ordering::Acquire));
        shared.on_push(
            0,
            &PushInfo {
                kind: PushKind::Invalidate,
                data: vec![Value::Nil],
            },
        );
        assert_eq!(shared.cached("a"), None);
    }

    #[test]
    fn a_disconnection_forgets_every_session_and_a_read_from_before_it_cannot_insert() {
        let shared = Shared::new();
        shared.insert("a", later(), shared.epoch.load(Ordering::Acquire));
        let read_at = shared.epoch.load(Ordering::Acquire);
        shared.on_push(
            0,
            &PushInfo {
                kind: PushKind::Disconnection,
                data: vec![],
            },
        );
        shared.insert("b", later(), read_at);
        assert_eq!(shared.cached("a"), None);
        assert_eq!(shared.cached("b"), None);
    }

    #[test]
    fn a_full_map_is_emptied_before_a_new_session_goes_in() {
        let shared = Shared::new();
        let epoch = shared.epoch.load(Ordering::Acquire);
        for i in 0..CAPACITY {
            shared.insert(&i.to_string(), later(), epoch);
        }
        shared.insert("new", later(), epoch);
        assert_eq!(read(&shared.entries).len(), 1);
        assert!(shared.cached("new").is_some());
    }
}

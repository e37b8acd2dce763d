//! Made-up members with live sessions and valid tokens, as member would issue them at sign-in, for
//! the tests of the services that check tokens themselves (gallery, post). Built only with the
//! `test-support` feature, which only dev-dependencies turn on.

#![expect(
    clippy::expect_used,
    reason = "test support: a session store that fails must stop the test loudly"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{Claims, Role, Session, SessionStore, SigningKey};

/// Tokens signed with `key`, naming sessions kept in `sessions`.
pub struct Members {
    key: SigningKey,
    sessions: Arc<dyn SessionStore>,
    sids: Mutex<HashMap<i64, String>>,
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Members").finish_non_exhaustive()
    }
}

impl Members {
    /// Members whose tokens `key` signs and whose sessions live in `sessions`.
    pub fn new(key: SigningKey, sessions: Arc<dyn SessionStore>) -> Self {
        Self {
            key,
            sessions,
            sids: Mutex::default(),
        }
    }

    /// A valid token of `member`, naming a live session of theirs (created on first use).
    pub async fn token(&self, member: i64) -> String {
        let sid = self.sid_of(member).await;
        self.sign(member, &sid)
    }

    /// The id of `member`'s session, created on first use (random, like member's, so tests that
    /// share a Redis never meet).
    pub async fn sid_of(&self, member: i64) -> String {
        if let Some(sid) = self.sids().get(&member) {
            return sid.clone();
        }
        let session = Session::start(member, Role::User, Duration::from_secs(3600));
        self.sessions
            .create(&session)
            .await
            .expect("the session store takes the session");
        self.sids().insert(member, session.sid.clone());
        session.sid
    }

    /// A token with this subject and session id, whether or not they belong together.
    pub fn sign(&self, member: i64, sid: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        self.key
            .sign(&Claims::new(member, Role::User, sid, now))
            .expect("the key signs")
    }

    fn sids(&self) -> std::sync::MutexGuard<'_, HashMap<i64, String>> {
        self.sids.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `sessions` when a test names them, otherwise the embedded store (member's adapter in
/// standalone mode) on the test's own database.
pub async fn sessions_or_embedded(
    sessions: Option<super::SessionSource>,
    database: &crate::config::DatabaseConfig,
) -> super::SessionSource {
    if let Some(sessions) = sessions {
        return sessions;
    }
    let db = crate::db::connect(database)
        .await
        .expect("the test database opens");
    let store = super::DbSessions::open(db)
        .await
        .expect("the session table is created");
    super::SessionSource::Shared(Arc::new(store))
}

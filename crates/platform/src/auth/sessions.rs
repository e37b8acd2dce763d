//! Sessions: a login creates one, logout deletes it, withdrawal deletes all of a member's. The
//! gateway accepts a token only while its session exists. Redis holds them in distributed mode;
//! a database table (SQLite in standalone) holds them otherwise, so a restart keeps them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{ColumnDef, Expr, ExprTrait, Index, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};

use super::tokens::Role;
use crate::redis_client::RedisProbe;

/// One login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Session id (random, unguessable).
    pub sid: String,
    /// Whose session.
    pub member_id: i64,
    /// Role at login.
    pub role: Role,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// A new session with a random id, valid for `ttl` from now.
    pub fn start(member_id: i64, role: Role, ttl: Duration) -> Self {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8));
        Self {
            sid: uuid::Uuid::new_v4().simple().to_string(),
            member_id,
            role,
            expires_at: Utc::now() + ttl,
        }
    }

    fn remaining_seconds(&self) -> u64 {
        u64::try_from((self.expires_at - Utc::now()).num_seconds()).unwrap_or(0)
    }
}

/// The store is unreachable or failed; callers answer 503 and change nothing.
#[derive(Debug, thiserror::Error)]
#[error("session store unavailable")]
pub struct SessionError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Where sessions live.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Saves a new session.
    async fn create(&self, session: &Session) -> Result<(), SessionError>;
    /// The session, if it exists and has not expired.
    async fn get(&self, sid: &str) -> Result<Option<Session>, SessionError>;
    /// Deletes one session; deleting a missing one is not an error.
    async fn delete(&self, sid: &str) -> Result<(), SessionError>;
    /// Deletes every session of a member; returns how many there were.
    async fn delete_all(&self, member_id: i64) -> Result<u64, SessionError>;

    /// Whether the session exists and has not expired.
    async fn exists(&self, sid: &str) -> Result<bool, SessionError> {
        Ok(self.get(sid).await?.is_some())
    }

    /// The member whose live session `sid` is. A token is honoured only when this is its `sub`:
    /// a token carrying one member's session and another's subject is refused.
    async fn owner(&self, sid: &str) -> Result<Option<i64>, SessionError> {
        Ok(self.get(sid).await?.map(|s| s.member_id))
    }
}

/// Where a service that only checks sessions (gallery, post) finds them: Redis in distributed
/// mode, or the store of the process (member's embedded one) in standalone mode.
#[derive(Debug, Clone)]
pub enum SessionSource {
    /// `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`: the Redis member writes sessions to.
    Redis(crate::config::RedisConfig),
    /// A store already open in this process.
    Shared(Arc<dyn SessionStore>),
}

impl SessionSource {
    /// The store, and for Redis its probe (reported, not required: public routes work without
    /// it, and protected ones answer 503 until it is back; the connection reconnects by itself).
    pub async fn open(
        &self,
    ) -> Result<(Arc<dyn SessionStore>, Option<RedisProbe>), crate::redis_client::RedisError> {
        match self {
            Self::Redis(config) => {
                let redis = crate::redis_client::connect(config).await?;
                Ok((
                    Arc::new(RedisSessions(redis.clone())),
                    Some(RedisProbe(redis)),
                ))
            }
            Self::Shared(store) => Ok((Arc::clone(store), None)),
        }
    }
}

fn err(e: impl std::error::Error + Send + Sync + 'static) -> SessionError {
    SessionError(Box::new(e))
}

/// Sessions in Redis: `session:<sid>` (JSON, TTL = remaining lifetime) and `member_sessions:<id>`
/// (a set of sids, so withdrawal and logout-all find them all).
#[derive(Clone)]
pub struct RedisSessions(pub crate::redis_client::SharedRedis);

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisSessions")
    }
}

/// Key of one session.
pub fn session_key(sid: &str) -> String {
    format!("session:{sid}")
}

fn member_key(member_id: i64) -> String {
    format!("member_sessions:{member_id}")
}

#[async_trait::async_trait]
impl SessionStore for RedisSessions {
    async fn create(&self, session: &Session) -> Result<(), SessionError> {
        let json = serde_json::to_string(session).map_err(err)?;
        let ttl = Ord::max(session.remaining_seconds(), 1);
        let mut redis = self.0.clone();
        redis::pipe()
            .atomic()
            .set_ex(session_key(&session.sid), json, ttl)
            .sadd(member_key(session.member_id), &session.sid)
            .expire(
                member_key(session.member_id),
                i64::try_from(ttl).unwrap_or(i64::MAX),
            )
            .query_async::<()>(&mut redis)
            .await
            .map_err(err)
    }

    async fn get(&self, sid: &str) -> Result<Option<Session>, SessionError> {
        let mut redis = self.0.clone();
        let json: Option<String> = redis::cmd("GET")
            .arg(session_key(sid))
            .query_async(&mut redis)
            .await
            .map_err(err)?;
        Ok(json
            .and_then(|j| serde_json::from_str::<Session>(&j).ok())
            .filter(|s| s.expires_at > Utc::now()))
    }

    async fn delete(&self, sid: &str) -> Result<(), SessionError> {
        let session = self.get(sid).await?;
        let mut redis = self.0.clone();
        let mut pipe = redis::pipe();
        pipe.atomic().del(session_key(sid));
        if let Some(session) = session {
            pipe.srem(member_key(session.member_id), sid);
        }
        pipe.query_async::<()>(&mut redis).await.map_err(err)
    }

    async fn delete_all(&self, member_id: i64) -> Result<u64, SessionError> {
        let mut redis = self.0.clone();
        let sids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(member_key(member_id))
            .query_async(&mut redis)
            .await
            .map_err(err)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut deleted_keys = Vec::with_capacity(sids.len());
        for sid in &sids {
            deleted_keys.push(session_key(sid));
        }
        if !deleted_keys.is_empty() {
            pipe.del(&deleted_keys);
        }
        pipe.del(member_key(member_id));
        pipe.query_async::<()>(&mut redis).await.map_err(err)?;
        Ok(sids.len() as u64)
    }
}

/// Sessions in a database table (`auth_sessions`), created on open when missing.
#[derive(Debug, Clone)]
pub struct DbSessions(DatabaseConnection);

impl DbSessions {
    /// Uses `db`, creating the table and its index when missing.
    pub async fn open(db: DatabaseConnection) -> Result<Self, SessionError> {
        let table = Table::create()
            .table("auth_sessions")
            .if_not_exists()
            .col(
                ColumnDef::new("sid")
                    .string_len(64)
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new("member_id").big_integer().not_null())
            .col(ColumnDef::new("role").string_len(16).not_null())
            .col(ColumnDef::new("expires_at").big_integer().not_null())
            .to_owned();
        db.execute(&table).await.map_err(err)?;
        // MySQL has no CREATE INDEX IF NOT EXISTS, so look first.
        let schema = sea_orm_migration::SchemaManager::new(&db);
        if !schema
            .has_index("auth_sessions", "auth_sessions_member")
            .await
            .map_err(err)?
        {
            let index = Index::create()
                .name("auth_sessions_member")
                .table("auth_sessions")
                .col("member_id")
                .to_owned();
            db.execute(&index).await.map_err(err)?;
        }
        Ok(Self(db))
    }

    async fn purge_expired(&self) -> Result<(), SessionError> {
        let delete = Query::delete()
            .from_table("auth_sessions")
            .and_where(Expr::col("expires_at").lt(Utc::now().timestamp()))
            .to_owned();
        self.0.execute(&delete).await.map(drop).map_err(err)
    }
}

#[async_trait::async_trait]
impl SessionStore for DbSessions {
    async fn create(&self, session: &Session) -> Result<(), SessionError> {
        self.purge_expired().await?;
        let insert = Query::insert()
            .into_table("auth_sessions")
            .columns(["sid", "member_id", "role", "expires_at"])
            .values_panic([
                session.sid.clone().into(),
                session.member_id.into(),
                session.role.as_str().into(),
                session.expires_at.timestamp().into(),
            ])
            .to_owned();
        self.0.execute(&insert).await.map(drop).map_err(err)
    }

    async fn get(&self, sid: &str) -> Result<Option<Session>, SessionError> {
        let select = Query::select()
            .columns(["sid", "member_id", "role", "expires_at"])
            .from("auth_sessions")
            .and_where(Expr::col("sid").eq(sid))
            .and_where(Expr::col("expires_at").gt(Utc::now().timestamp()))
            .to_owned();
        let Some(row) = self.0.query_one(&select).await.map_err(err)? else {
            return Ok(None);
        };
        let role: String = row.try_get("", "role").map_err(err)?;
        let expires: i64 = row.try_get("", "expires_at").map_err(err)?;
        Ok(Some(Session {
            sid: row.try_get("", "sid").map_err(err)?,
            member_id: row.try_get("", "member_id").map_err(err)?,
            role: role.parse().unwrap_or(Role::User),
            expires_at: DateTime::from_timestamp(expires, 0).unwrap_or_default(),
        }))
    }

    async fn delete(&self, sid: &str) -> Result<(), SessionError> {
        let delete = Query::delete()
            .from_table("auth_sessions")
            .and_where(Expr::col("sid").eq(sid))
            .to_owned();
        self.0.execute(&delete).await.map(drop).map_err(err)
    }

    async fn delete_all(&self, member_id: i64) -> Result<u64, SessionError> {
        let delete = Query::delete()
            .from_table("auth_sessions")
            .and_where(Expr::col("member_id").eq(member_id))
            .to_owned();
        self.0
            .execute(&delete)
            .await
            .map(|r| r.rows_affected())
            .map_err(err)
    }
}

//! Persistence of members. Every change that others must hear about writes its event to the
//! outbox in the same transaction, so the change and its event exist together or not at all.

use chrono::NaiveDateTime;
use events::{Change, MemberEvent, Outbox, OutboxError};
use platform::time::now_utc;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, RuntimeErr, SqlErr,
};

use crate::domain::{Email, Nickname};
use crate::entity::{self, ActiveModel, Column, Entity as Members};

/// The database failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached; answered with 503.
    #[error("member database unavailable")]
    Unavailable(#[source] DbErr),
    /// A query failed.
    #[error("member database query failed")]
    Db(#[source] DbErr),
    /// The event could not be written, so the change was rolled back.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match &e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(RuntimeErr::SqlxError(_)) => {
                Self::Unavailable(e)
            }
            _ => Self::Db(e),
        }
    }
}

/// Which unique value another row already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// An active member has the nickname.
    Nickname,
    /// An account has the e-mail address.
    Email,
    /// An account has the provider identity (a concurrent first login).
    Identity,
}

/// A write that may hit a unique index.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A unique value is taken.
    #[error("unique value taken: {0:?}")]
    Conflict(Conflict),
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DbErr> for WriteError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(message)) => {
                let conflict = if message.contains("active_nickname") {
                    Conflict::Nickname
                } else if message.contains("email") {
                    Conflict::Email
                } else {
                    Conflict::Identity
                };
                Self::Conflict(conflict)
            }
            _ => Self::Store(e.into()),
        }
    }
}

impl From<OutboxError> for WriteError {
    fn from(e: OutboxError) -> Self {
        Self::Store(e.into())
    }
}

/// How an account signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Kakao user id.
    Kakao(i64),
    /// Google subject.
    Google(String),
    /// Local account: e-mail and password hash.
    Local {
        /// The address.
        email: Email,
        /// argon2id PHC string.
        password_hash: String,
    },
}

/// A member as the handlers see it.
pub type Member = entity::Model;

/// Member rows plus their outbox.
#[derive(Debug, Clone)]
pub struct MemberStore {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl MemberStore {
    /// A store over `db` whose events go to `outbox`.
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }

    /// The connection, for probes and tests.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// An active member by id.
    pub async fn find_active(&self, id: i64) -> Result<Option<Member>, StoreError> {
        Ok(Members::find_by_id(id)
            .filter(Column::IsDeleted.eq(false))
            .one(&self.db)
            .await?)
    }

    /// Any member (active or withdrawn) by id.
    pub async fn find_any(&self, id: i64) -> Result<Option<Member>, StoreError> {
        Ok(Members::find_by_id(id).one(&self.db).await?)
    }

    /// The account with this OAuth identity, active or withdrawn.
    pub async fn find_by_provider(
        &self,
        identity: &Identity,
    ) -> Result<Option<Member>, StoreError> {
        let query = match identity {
            Identity::Kakao(id) => Members::find().filter(Column::KakaoId.eq(*id)),
            Identity::Google(sub) => Members::find().filter(Column::GoogleSub.eq(sub.as_str())),
            Identity::Local { email, .. } => {
                Members::find().filter(Column::Email.eq(email.as_str()))
            }
        };
        Ok(query.one(&self.db).await?)
    }

    /// The local account with this e-mail, active or withdrawn.
    pub async fn find_by_email(&self, email: &Email) -> Result<Option<Member>, StoreError> {
        Ok(Members::find()
            .filter(Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await?)
    }

    /// Whether no active member has `nickname`.
    pub async fn nickname_free(&self, nickname: &Nickname) -> Result<bool, StoreError> {
        Ok(Members::find()
            .filter(Column::ActiveNickname.eq(nickname.as_str()))
            .one(&self.db)
            .await?
            .is_none())
    }

    /// Creates an account and writes `member.registered`.
    pub async fn register(
        &self,
        identity: Identity,
        nickname: &Nickname,
    ) -> Result<Member, WriteError> {
        let now = now_utc();
        let mut row = ActiveModel {
            nickname: Set(nickname.as_str().to_owned()),
            active_nickname: Set(Some(nickname.as_str().to_owned())),
            role: Set(platform::auth::Role::User.as_str().to_owned()),
            is_dormant: Set(false),
            is_deleted: Set(false),
            created_date: Set(now),
            modified_date: Set(now),
            last_date: Set(now),
            deleted_date: Set(None),
            ..Default::default()
        };
        match identity {
            Identity::Kakao(id) => row.kakao_id = Set(Some(id)),
            Identity::Google(sub) => row.google_sub = Set(Some(sub)),
            Identity::Local {
                email,
                password_hash,
            } => {
                row.email = Set(Some(email.as_str().to_owned()));
                row.password_hash = Set(Some(password_hash));
            }
        }
        let mut change = self.begin().await?;
        let member = row.insert(change.txn()).await?;
        announce_registered(&mut change, &member).await?;
        commit(change).await?;
        Ok(member)
    }

    /// Brings a withdrawn member back with a new nickname and writes `member.registered`.
    /// `None` when the member is not withdrawn (a concurrent login reactivated them first).
    pub async fn reactivate(
        &self,
        id: i64,
        nickname: &Nickname,
    ) -> Result<Option<Member>, WriteError> {
        let now = now_utc();
        let mut change = self.begin().await?;
        let values = vec![
            (Column::Nickname, Expr::value(nickname.as_str())),
            (Column::ActiveNickname, Expr::value(nickname.as_str())),
            (Column::IsDeleted, Expr::value(false)),
            (
                Column::DeletedDate,
                Expr::value(Option::<NaiveDateTime>::None),
            ),
            (Column::LastDate, Expr::value(now)),
        ];
        if !update_while(&change, id, true, values, now).await? {
            return Ok(None);
        }
        let member = Members::find_by_id(id)
            .one(change.txn())
            .await
            .map_err(StoreError::from)?;
        let Some(member) = member else {
            return Ok(None);
        };
        announce_registered(&mut change, &member).await?;
        commit(change).await?;
        Ok(Some(member))
    }

    /// Renames an active member and writes `member.nickname-changed`; `false` when the member is
    /// unknown or withdrawn.
    pub async fn change_nickname(&self, id: i64, nickname: &Nickname) -> Result<bool, WriteError> {
        let now = now_utc();
        let mut change = self.begin().await?;
        let values = vec![
            (Column::Nickname, Expr::value(nickname.as_str())),
            (Column::ActiveNickname, Expr::value(nickname.as_str())),
        ];
        if !update_while(&change, id, false, values, now).await? {
            return Ok(false);
        }
        let event = MemberEvent::NicknameChanged {
            member_id: id,
            nickname: nickname.as_str().to_owned(),
        };
        change.announce(&event).await?;
        commit(change).await?;
        Ok(true)
    }

    /// Soft-deletes an active member, freeing the nickname, and writes `member.withdrawn`;
    /// `false` when the member is unknown or withdrawn already.
    pub async fn withdraw(&self, id: i64) -> Result<bool, StoreError> {
        let now = now_utc();
        let mut change = self.begin().await?;
        let values = vec![
            (Column::IsDeleted, Expr::value(true)),
            (Column::ActiveNickname, Expr::value(Option::<String>::None)),
            (Column::DeletedDate, Expr::value(Some(now))),
        ];
        if !update_while(&change, id, false, values, now).await? {
            return Ok(false);
        }
        change
            .announce(&MemberEvent::Withdrawn { member_id: id })
            .await?;
        commit(change).await?;
        Ok(true)
    }

    /// A state change with the events announcing it ([`Change`]).
    async fn begin(&self) -> Result<Change, StoreError> {
        Ok(self.outbox.begin(&self.db).await?)
    }

    /// The member with this exact nickname, preferring the active one (`GET /api/member/memberId` includes withdrawn).
    pub async fn find_by_nickname(&self, nickname: &str) -> Result<Option<Member>, StoreError> {
        Ok(Members::find()
            .filter(Column::Nickname.eq(nickname))
            .order_by_asc(Column::IsDeleted)
            .order_by_desc(Column::ModifiedDate)
            .one(&self.db)
            .await?)
    }

    /// Nicknames of the given ids, withdrawn members included; unknown ids are left out.
    pub async fn nicknames(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = Members::find()
            .filter(Column::MemberId.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| (m.member_id, m.nickname))
            .collect())
    }
}

/// Sets `values` and `modified_date` on member `id` while its `is_deleted` is still `deleted`,
/// inside `change`; `false` when no row was. The condition is what makes reactivation, renaming
/// and withdrawal race-safe: of two at once, the second finds nothing to update.
async fn update_while(
    change: &Change,
    id: i64,
    deleted: bool,
    values: Vec<(Column, SimpleExpr)>,
    now: NaiveDateTime,
) -> Result<bool, DbErr> {
    let update = values
        .into_iter()
        .fold(Members::update_many(), |update, (column, value)| {
            update.col_expr(column, value)
        });
    let updated = update
        .col_expr(Column::ModifiedDate, Expr::value(now))
        .filter(Column::MemberId.eq(id))
        .filter(Column::IsDeleted.eq(deleted))
        .exec(change.txn())
        .await?;
    Ok(updated.rows_affected > 0)
}

async fn announce_registered(change: &mut Change, member: &Member) -> Result<(), OutboxError> {
    let event = MemberEvent::Registered {
        member_id: member.member_id,
        nickname: member.nickname.clone(),
    };
    change.announce(&event).await.map(drop)
}

async fn commit(change: Change) -> Result<(), StoreError> {
    Ok(change.commit().await?)
}

//! The `members` table.

use sea_orm::entity::prelude::*;

/// One account, active or withdrawn (soft-deleted).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    /// Member id.
    #[sea_orm(primary_key)]
    pub member_id: i64,
    /// Kakao user id, for Kakao accounts.
    #[sea_orm(unique)]
    pub kakao_id: Option<i64>,
    /// Google subject, for Google accounts.
    #[sea_orm(unique)]
    pub google_sub: Option<String>,
    /// Lower-cased e-mail, for local accounts.
    #[sea_orm(unique)]
    pub email: Option<String>,
    /// argon2id PHC string, for local accounts.
    pub password_hash: Option<String>,
    /// The current (or, once withdrawn, the last) nickname.
    pub nickname: String,
    /// The nickname while active, NULL once withdrawn: its unique index makes nicknames unique
    /// among active members only, so withdrawal frees a nickname (docs/member.md, "Decisions").
    #[sea_orm(unique)]
    pub active_nickname: Option<String>,
    /// `ROLE_USER` or `ROLE_ADMIN`.
    pub role: String,
    /// Always false; kept from the original schema.
    pub is_dormant: bool,
    /// Soft delete.
    pub is_deleted: bool,
    /// Registration time (UTC).
    pub created_date: DateTime,
    /// Last change (UTC).
    pub modified_date: DateTime,
    /// Last (re)activation (UTC).
    pub last_date: DateTime,
    /// Withdrawal time (UTC).
    pub deleted_date: Option<DateTime>,
}

/// No relations: other services refer to members by id only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

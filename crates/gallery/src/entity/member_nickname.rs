//! `member_nickname`: the local projection of member events (`member_id → nickname`).

use sea_orm::entity::prelude::*;

/// One active member's nickname.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_nickname")]
pub struct Model {
    /// The member, as the member service numbers it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    /// The current nickname.
    pub nickname: String,
}

/// Galleries point here; nothing points back.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

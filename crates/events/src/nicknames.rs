//! The nickname projection that every service reading `member` events keeps in its own database
//! (`member_nickname`: gallery finds galleries by their author's nickname, post shows comments'
//! authors), applied from those events in one place. Each service creates the table in its own
//! migrations, which were written before this module and stay as they were applied.

use std::collections::HashMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::MemberEvent;

/// The `member_nickname` table.
pub mod member_nickname {
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

    /// Other tables point here; nothing points back.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use member_nickname::{ActiveModel, Column, Entity};

/// Brings the projection up to date with `event`: a registration or a change records the
/// nickname, a withdrawal forgets it (so it no longer finds or names anything).
pub async fn apply(db: &impl ConnectionTrait, event: &MemberEvent) -> Result<(), DbErr> {
    match event {
        MemberEvent::Registered {
            member_id,
            nickname,
        }
        | MemberEvent::NicknameChanged {
            member_id,
            nickname,
        } => set(db, *member_id, nickname).await,
        MemberEvent::Withdrawn { member_id } => forget(db, *member_id).await,
    }
}

/// Records (or replaces) `member_id`'s nickname.
pub async fn set(db: &impl ConnectionTrait, member_id: i64, nickname: &str) -> Result<(), DbErr> {
    let row = ActiveModel {
        member_id: Set(member_id),
        nickname: Set(nickname.to_owned()),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::MemberId)
                .update_column(Column::Nickname)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Forgets `member_id`'s nickname.
pub async fn forget(db: &impl ConnectionTrait, member_id: i64) -> Result<(), DbErr> {
    Entity::delete_by_id(member_id).exec(db).await?;
    Ok(())
}

/// `member_id`'s nickname, when the projection knows it.
pub async fn of(db: &impl ConnectionTrait, member_id: i64) -> Result<Option<String>, DbErr> {
    Ok(Entity::find_by_id(member_id)
        .one(db)
        .await?
        .map(|row| row.nickname))
}

/// The nicknames the projection knows of `members`.
pub async fn of_each(
    db: &impl ConnectionTrait,
    members: Vec<i64>,
) -> Result<HashMap<i64, String>, DbErr> {
    if members.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(Entity::find()
        .filter(Column::MemberId.is_in(members))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.member_id, row.nickname))
        .collect())
}

/// The members whose nickname is exactly `nickname`.
pub async fn named(db: &impl ConnectionTrait, nickname: &str) -> Result<Vec<i64>, DbErr> {
    Ok(Entity::find()
        .filter(Column::Nickname.eq(nickname))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.member_id)
        .collect())
}

//! `gallery`: one member's exhibition in a place.

use sea_orm::entity::prelude::*;

/// One gallery row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gallery")]
pub struct Model {
    /// Id, assigned in insertion order (so a larger id is newer).
    #[sea_orm(primary_key)]
    pub gallery_id: i64,
    /// Owner.
    pub member_id: i64,
    /// Place, checked to exist on every write.
    pub place_id: i64,
    /// Name, unique per member.
    pub name: String,
    /// Description.
    pub content: Option<String>,
    /// Creation time, UTC.
    pub created_date: DateTime,
    /// Last change, UTC.
    pub modified_date: DateTime,
}

/// Logical references only: no foreign keys cross into the projection or the seed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The gallery's place.
    #[sea_orm(
        belongs_to = "super::place::Entity",
        from = "Column::PlaceId",
        to = "super::place::Column::PlaceId"
    )]
    Place,
    /// The owner's nickname, when the projection knows it.
    #[sea_orm(
        belongs_to = "events::nicknames::member_nickname::Entity",
        from = "Column::MemberId",
        to = "events::nicknames::member_nickname::Column::MemberId"
    )]
    Author,
}

impl Related<super::place::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Place.def()
    }
}

impl Related<events::nicknames::member_nickname::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Author.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

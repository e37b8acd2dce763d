//! `place`: the seeded spaces a gallery can be opened in.

use sea_orm::entity::prelude::*;

/// One place row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "place")]
pub struct Model {
    /// Id, chosen by the seed.
    #[sea_orm(primary_key, auto_increment = false)]
    pub place_id: i64,
    /// Display name.
    pub name: String,
    /// Frames a gallery in this place has.
    pub maximum_frame_number: i32,
    /// Floor plan image: a path served by this service (`/…`) or an absolute URL.
    pub two_dimension_image_uri: Option<String>,
    /// Preview image: a path served by this service (`/…`) or an absolute URL.
    pub three_dimension_image_uri: Option<String>,
}

/// Places are referenced by galleries only logically.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

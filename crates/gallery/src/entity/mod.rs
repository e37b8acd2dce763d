//! SeaORM entities of the gallery database.

pub mod gallery;
pub mod member_nickname;
pub mod place;

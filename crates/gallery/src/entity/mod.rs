//! SeaORM entities of the gallery database.

pub mod gallery;
pub mod place;

//! The gallery database's migrations, applied at start-up and by `thegallery migrate gallery`.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Every migration of the gallery database, oldest first.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(events::migration::CreateOutboxAndInbox)]
    }
}

//! The member database's migrations, applied at start-up and by `thegallery migrate member`.

use platform::db::schema::{index, table};
use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Every migration of the member database, oldest first.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        events::migration::followed_by(vec![Box::new(CreateMembers)])
    }
}

/// Creates `members` with the unique indexes that make registration and renaming race-safe.
#[derive(Debug)]
pub struct CreateMembers;

impl MigrationName for CreateMembers {
    fn name(&self) -> &str {
        "m20261126_000002_member_create_members"
    }
}

fn datetime(name: &str, backend: DbBackend) -> ColumnDef {
    let mut column = ColumnDef::new(Alias::new(name));
    // MySQL's plain DATETIME drops the microseconds the contract renders.
    if backend == DbBackend::MySql {
        column.custom(Alias::new("DATETIME(6)"));
    } else {
        column.date_time();
    }
    column
}

fn column(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}

#[expect(
    elided_lifetimes_in_paths,
    reason = "The trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl."
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateMembers {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                table("members")
                    .col(
                        column("member_id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(column("kakao_id").big_integer().null().unique_key())
                    .col(column("google_sub").string_len(255).null().unique_key())
                    .col(column("email").string_len(254).null().unique_key())
                    .col(column("password_hash").string_len(255).null())
                    .col(column("nickname").string_len(40).not_null())
                    .col(column("active_nickname").string_len(40).null().unique_key())
                    .col(column("role").string_len(16).not_null())
                    .col(column("is_dormant").boolean().not_null().default(false))
                    .col(column("is_deleted").boolean().not_null().default(false))
                    .col(datetime("created_date", backend).not_null())
                    .col(datetime("modified_date", backend).not_null())
                    .col(datetime("last_date", backend).not_null())
                    .col(datetime("deleted_date", backend).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("members_nickname", "members", &["nickname"]))
            .await
    }
}

//! The post database's migrations, applied at start-up and by `thegallery migrate post`.

use platform::db::schema::{index, table};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, boolean, string_len, text, text_null,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Every migration of the post database, oldest first.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        events::migration::followed_by(vec![Box::new(CreatePostTables)])
    }
}

/// Creates `post`, `comment`, `music`, `gallery_owner` and `member_nickname`.
#[derive(Debug)]
pub struct CreatePostTables;

impl MigrationName for CreatePostTables {
    fn name(&self) -> &str {
        "m20261126_000100_post_create_tables"
    }
}

/// `datetime(6)`: microseconds, as the original schema, on MySQL and SQLite alike.
fn micros(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .custom("datetime(6)")
        .not_null()
        .to_owned()
}

#[expect(
    elided_lifetimes_in_paths,
    reason = "The trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl."
)]
#[async_trait::async_trait]
impl MigrationTrait for CreatePostTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("music")
                    .col(big_pk_auto("id"))
                    .col(string_len("title", 255))
                    .col(string_len("artist", 255))
                    .col(string_len("video_id", 255))
                    .col(text_null("cover_url"))
                    .col(string_len("released_date", 255))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("music_artist_title", "music", &["artist", "title"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("post")
                    .col(big_pk_auto("id"))
                    .col(big_integer("gallery_id"))
                    .col(string_len("title", 50))
                    .col(text("content"))
                    .col(big_integer("orders"))
                    .col(string_len("image_key", 255))
                    .col(big_integer_null("music_id"))
                    .col(boolean("is_active"))
                    .col(micros("created_date"))
                    .col(micros("modified_date"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("post_music")
                            .from("post", "music_id")
                            .to("music", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "post_gallery_order",
                "post",
                &["gallery_id", "orders"],
            ))
            .await?;
        self.create_comment(manager).await?;
        self.create_projections(manager).await
    }
}

impl CreatePostTables {
    async fn create_comment(&self, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
        manager
            .create_table(
                table("comment")
                    .col(big_pk_auto("id"))
                    .col(big_integer("post_id"))
                    .col(big_integer("member_id"))
                    .col(string_len("content", 100))
                    .col(micros("created_date"))
                    .col(micros("modified_date"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("comment_post")
                            .from("comment", "post_id")
                            .to("post", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "comment_post_created",
                "comment",
                &["post_id", "created_date"],
            ))
            .await?;
        manager
            .create_index(index("comment_member", "comment", &["member_id"]))
            .await
    }

    async fn create_projections(&self, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
        manager
            .create_table(
                table("gallery_owner")
                    .col(big_integer("gallery_id").primary_key())
                    .col(big_integer("member_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("member_nickname")
                    .col(big_integer("member_id").primary_key())
                    .col(string_len("nickname", 255))
                    .to_owned(),
            )
            .await?;
        // Images of deleted galleries wait here until their deletion has committed.
        manager
            .create_table(
                table("image_trash")
                    .col(string_len("image_key", 255).primary_key())
                    .to_owned(),
            )
            .await
    }
}

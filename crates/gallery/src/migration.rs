//! The gallery database's migrations, applied at start-up and by `thegallery migrate gallery`.

use platform::db::schema::{index, table};
use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, date_time, integer, string_len, string_len_null, text_null,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Every migration of the gallery database, oldest first.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        events::migration::followed_by(vec![
            Box::new(CreateGalleryTables),
            Box::new(SeedPlaces),
            Box::new(CreateSearchIndex),
        ])
    }
}

/// Creates `place`, `gallery` and the `member_nickname` projection with their indexes.
#[derive(Debug)]
pub struct CreateGalleryTables;

impl MigrationName for CreateGalleryTables {
    fn name(&self) -> &str {
        "m20261126_000101_gallery_create_tables"
    }
}

/// A datetime column holding UTC with microseconds (`datetime(6)` on MySQL).
fn utc_time(backend: DbBackend, name: &'static str) -> ColumnDef {
    match backend {
        DbBackend::MySql => ColumnDef::new(name)
            .custom(Alias::new("datetime(6)"))
            .not_null()
            .to_owned(),
        _ => date_time(name),
    }
}

/// Text compared byte for byte, so uniqueness and equality treat every character (emoji
/// included) as distinct, the same on MySQL as on SQLite.
fn exact_text(backend: DbBackend, name: &'static str, chars: u32) -> ColumnDef {
    match backend {
        DbBackend::MySql => ColumnDef::new(name)
            .custom(Alias::new(format!(
                "varchar({chars}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )))
            .not_null()
            .to_owned(),
        _ => string_len(name, chars),
    }
}

#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl"
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateGalleryTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                table("place")
                    .col(big_integer("place_id").primary_key())
                    .col(string_len("name", 50))
                    .col(integer("maximum_frame_number"))
                    .col(string_len_null("two_dimension_image_uri", 255))
                    .col(string_len_null("three_dimension_image_uri", 255))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("gallery")
                    .col(big_pk_auto("gallery_id"))
                    .col(big_integer("member_id"))
                    .col(big_integer("place_id"))
                    .col(exact_text(backend, "name", 50))
                    .col(text_null("content"))
                    .col(utc_time(backend, "created_date"))
                    .col(utc_time(backend, "modified_date"))
                    .to_owned(),
            )
            .await?;
        // Race-safe per-member uniqueness; also serves "galleries of member X".
        let mut member_name = index("gallery_member_name", "gallery", &["member_id", "name"]);
        manager
            .create_index(member_name.unique().to_owned())
            .await?;
        manager
            .create_table(
                table("member_nickname")
                    .col(big_integer("member_id").primary_key())
                    .col(exact_text(backend, "nickname", 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "member_nickname_nickname",
                "member_nickname",
                &["nickname"],
            ))
            .await
    }
}

/// Seeds the three places the original frontend draws (see [`PLACES`]) with the images this
/// service bundles.
#[derive(Debug)]
pub struct SeedPlaces;

impl MigrationName for SeedPlaces {
    fn name(&self) -> &str {
        "m20261126_000102_gallery_seed_places"
    }
}

/// The seeded places: id, name; each has 10 frames and the bundled images `<id>-2d/3d.png`.
pub const PLACES: [(i64, &str); 3] = [(1, "초원"), (2, "갤러리"), (3, "교토")];

/// Frames of every seeded place.
pub const FRAMES_PER_PLACE: i32 = 10;

#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl"
)]
#[async_trait::async_trait]
impl MigrationTrait for SeedPlaces {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut insert = Query::insert();
        insert.into_table("place").columns([
            "place_id",
            "name",
            "maximum_frame_number",
            "two_dimension_image_uri",
            "three_dimension_image_uri",
        ]);
        for (id, name) in PLACES {
            insert.values_panic([
                id.into(),
                name.into(),
                FRAMES_PER_PLACE.into(),
                crate::routes::places::image_path(id, "2d").into(),
                crate::routes::places::image_path(id, "3d").into(),
            ]);
        }
        manager.exec_stmt(insert.to_owned()).await
    }
}

/// Creates the substring index of titles (`gallery_gram`, see [`crate::search_index`]) and its
/// backfill position. Only the empty tables: the galleries that already exist are indexed
/// afterwards, in batches, by [`crate::search_index::IndexBuilder`] while the service serves
/// (searches keep the plain `LIKE` until it is done). A database without galleries starts done.
#[derive(Debug)]
pub struct CreateSearchIndex;

impl MigrationName for CreateSearchIndex {
    fn name(&self) -> &str {
        "m20261203_000103_gallery_search_index"
    }
}

#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl"
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateSearchIndex {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // The key serves both the walk of one gram's galleries newest first and the point checks;
        // no second index, so a row costs its key alone.
        let grams = "CREATE TABLE IF NOT EXISTS gallery_gram (gram BIGINT NOT NULL, \
                     gallery_id BIGINT NOT NULL, PRIMARY KEY (gram, gallery_id))";
        let grams = match manager.get_database_backend() {
            DbBackend::MySql => format!("{grams} ENGINE=InnoDB"),
            _ => format!("{grams} WITHOUT ROWID"),
        };
        db.execute_unprepared(&grams).await?;
        db.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS gallery_search_index (id INTEGER NOT NULL PRIMARY KEY, \
             next_gallery_id BIGINT NOT NULL, done BOOLEAN NOT NULL)",
        )
        .await?;
        // Guarded, so a migration interrupted after this statement can run again.
        db.execute_unprepared(
            "INSERT INTO gallery_search_index (id, next_gallery_id, done) \
             SELECT 1, 0, NOT EXISTS (SELECT 1 FROM gallery) \
             FROM (SELECT 1 AS one) seed \
             WHERE NOT EXISTS (SELECT 1 FROM gallery_search_index)",
        )
        .await?;
        Ok(())
    }
}

//! The outbox and inbox tables, part of every service's migration set.

use platform::db::schema::{index, table};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, char_len, char_len_uniq, integer, string_len, string_len_null, text,
    text_null, timestamp, timestamp_null,
};

/// Creates `outbox` (events waiting to be published) and `inbox` (events already applied).
#[derive(Debug)]
pub struct CreateOutboxAndInbox;

impl MigrationName for CreateOutboxAndInbox {
    fn name(&self) -> &str {
        "m20261126_000001_events_create_outbox_and_inbox"
    }
}

#[expect(
    elided_lifetimes_in_paths,
    reason = "The trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl."
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateOutboxAndInbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("outbox")
                    .col(big_pk_auto("id"))
                    .col(char_len_uniq("event_id", 36))
                    .col(string_len("topic", 100))
                    .col(string_len("aggregate_id", 64))
                    .col(string_len("event_type", 100))
                    .col(text("payload"))
                    .col(text_null("headers"))
                    .col(timestamp("created_at"))
                    .col(timestamp_null("published_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "outbox_unpublished",
                "outbox",
                &["published_at", "id"],
            ))
            .await?;
        manager
            .create_table(
                table("inbox")
                    .col(char_len("event_id", 36))
                    .col(string_len("consumer", 100))
                    .col(timestamp("processed_at"))
                    .primary_key(Index::create().col("event_id").col("consumer"))
                    .to_owned(),
            )
            .await
    }
}

/// Adds what the consumers keep beside the inbox: `event_cursor` (the in-process bus's committed
/// position per consumer and topic) and `dead_letter` (messages the in-process bus gave up on).
#[derive(Debug)]
pub struct CreateCursorAndDeadLetter;

impl MigrationName for CreateCursorAndDeadLetter {
    fn name(&self) -> &str {
        "m20261126_000002_events_create_cursor_and_dead_letter"
    }
}

#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl"
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateCursorAndDeadLetter {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("event_cursor")
                    .col(string_len("consumer", 100))
                    .col(string_len("topic", 100))
                    .col(big_integer("position"))
                    .primary_key(Index::create().col("consumer").col("topic"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("dead_letter")
                    .col(big_pk_auto("id"))
                    .col(string_len("consumer", 100))
                    .col(string_len("topic", 100))
                    .col(string_len_null("event_id", 36))
                    .col(string_len_null("aggregate_id", 64))
                    .col(text("body"))
                    .col(text_null("headers"))
                    .col(text("error"))
                    .col(integer("attempts"))
                    .col(timestamp("created_at"))
                    .col(timestamp_null("replay_requested_at"))
                    .col(timestamp_null("replayed_at"))
                    .to_owned(),
            )
            .await
    }
}

/// Adds `outbox_relay_lock`, one row the relays of several replicas take turns on (with
/// `FOR UPDATE SKIP LOCKED`), so only one publishes at a time and per-aggregate order holds.
#[derive(Debug)]
pub struct CreateRelayLock;

impl MigrationName for CreateRelayLock {
    fn name(&self) -> &str {
        "m20261126_000003_events_create_relay_lock"
    }
}

#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl"
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateRelayLock {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("outbox_relay_lock")
                    .col(string_len("name", 50).primary_key())
                    .to_owned(),
            )
            .await?;
        let insert = Query::insert()
            .into_table("outbox_relay_lock")
            .columns(["name"])
            .values_panic(["relay".into()])
            .to_owned();
        manager.exec_stmt(insert).await
    }
}

/// Adds the index the retention purge reads inbox rows by age with (without it each batch would
/// scan the table).
#[derive(Debug)]
pub struct IndexInboxByAge;

impl MigrationName for IndexInboxByAge {
    fn name(&self) -> &str {
        "m20261203_000001_events_index_inbox_by_age"
    }
}

#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl"
)]
#[async_trait::async_trait]
impl MigrationTrait for IndexInboxByAge {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index("inbox_processed_at", "inbox", &["processed_at"]))
            .await
    }
}

/// Every migration of this crate, in order; a service's `Migrator` appends its own after these.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(CreateOutboxAndInbox),
        Box::new(CreateCursorAndDeadLetter),
        Box::new(CreateRelayLock),
        Box::new(IndexInboxByAge),
    ]
}

/// A migrator of the event tables alone, for a database that holds nothing else: this crate's own
/// tests and benchmarks.
#[derive(Debug)]
pub struct EventTables;

impl MigratorTrait for EventTables {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }
}

/// A service's migration set: the event tables first, which its own tables come after.
pub fn followed_by(own: Vec<Box<dyn MigrationTrait>>) -> Vec<Box<dyn MigrationTrait>> {
    let mut all = migrations();
    all.extend(own);
    all
}

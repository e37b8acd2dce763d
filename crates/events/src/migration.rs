//! The outbox and inbox tables, part of every service's migration set.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, char_len, char_len_uniq, string_len, text, text_null, timestamp, timestamp_null,
};

/// Creates `outbox` (events waiting to be published) and `inbox` (events already applied).
#[derive(Debug)]
pub struct CreateOutboxAndInbox;

impl MigrationName for CreateOutboxAndInbox {
    fn name(&self) -> &str {
        "m20261126_000001_events_create_outbox_and_inbox"
    }
}

// The trait is declared with an elided `SchemaManager` lifetime; naming it breaks the impl.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateOutboxAndInbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("outbox")
                    .if_not_exists()
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
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("outbox_unpublished")
                    .table("outbox")
                    .col("published_at")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("inbox")
                    .if_not_exists()
                    .col(char_len("event_id", 36))
                    .col(string_len("consumer", 100))
                    .col(timestamp("processed_at"))
                    .primary_key(Index::create().col("event_id").col("consumer"))
                    .to_owned(),
            )
            .await
    }
}

//! Retention: the purge removes exactly the outbox and inbox rows past their retention, in
//! batches, and never a row a consumer or a redelivery still needs.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod support;

use std::sync::Arc;

use chrono::{Duration as Age, NaiveDateTime, Utc};
use events::{Bus, Purged};
use platform::config::RetentionConfig;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use support::*;

fn ago(age: Age) -> NaiveDateTime {
    Utc::now().naive_utc() - age
}

async fn execute(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
    .unwrap();
}

/// Marks outbox row `id` published at `at`.
async fn published(db: &DatabaseConnection, id: i64, at: NaiveDateTime) {
    let sql = "UPDATE outbox SET published_at = ? WHERE id = ?";
    execute(db, sql, vec![at.into(), id.into()]).await;
}

async fn outbox_ids(db: &DatabaseConnection) -> Vec<i64> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM outbox ORDER BY id",
        ))
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get("", "id").unwrap()).collect()
}

async fn inbox_row(db: &DatabaseConnection, event_id: &str, consumer: &str, at: NaiveDateTime) {
    let sql = "INSERT INTO inbox (event_id, consumer, processed_at) VALUES (?, ?, ?)";
    execute(db, sql, vec![event_id.into(), consumer.into(), at.into()]).await;
}

async fn inbox_ids(db: &DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT event_id FROM inbox ORDER BY event_id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get("", "event_id").unwrap())
        .collect()
}

fn batches_of(batch_size: u32) -> RetentionConfig {
    RetentionConfig {
        batch_size,
        ..RetentionConfig::default()
    }
}

/// Six events: 1–3 published 8 days ago, 4 an hour ago, 5 and 6 never (created long ago).
async fn aged_outbox(db: &DatabaseConnection) {
    let outbox = events::Outbox::default();
    let batch: Vec<_> = (0..6).map(|i| event("a", i)).collect();
    commit(db, &outbox, "t", &batch).await;
    execute(
        db,
        "UPDATE outbox SET created_at = ?",
        vec![ago(Age::days(30)).into()],
    )
    .await;
    let ids = outbox_ids(db).await;
    for id in &ids[..3] {
        published(db, *id, ago(Age::days(8))).await;
    }
    published(db, ids[3], ago(Age::hours(1))).await;
}

#[tokio::test]
async fn on_kafka_a_purge_removes_published_outbox_rows_past_retention_and_nothing_else() {
    let test = TestDb::mariadb().await;
    aged_outbox(&test.db).await;
    let kept = outbox_ids(&test.db).await[3..].to_vec();

    let purged = kafka()
        .purger(test.db.clone(), RetentionConfig::default())
        .purge()
        .await;

    assert_eq!(
        purged.unwrap(),
        Purged {
            outbox: 3,
            inbox: 0
        }
    );
    assert_eq!(outbox_ids(&test.db).await, kept);
    test.drop_now().await;
}

async fn inbox_past_retention_is_purged(test: &TestDb, bus: &Bus) {
    inbox_row(&test.db, "a-15-days", "gallery", ago(Age::days(15))).await;
    inbox_row(&test.db, "b-15-days", "post", ago(Age::days(15))).await;
    inbox_row(&test.db, "c-13-days", "post", ago(Age::days(13))).await;
    inbox_row(&test.db, "d-now", "post", ago(Age::zero())).await;

    let purged = bus
        .purger(test.db.clone(), RetentionConfig::default())
        .purge()
        .await;

    assert_eq!(purged.unwrap().inbox, 2);
    assert_eq!(inbox_ids(&test.db).await, ["c-13-days", "d-now"]);
}

#[tokio::test]
async fn inbox_rows_older_than_the_inbox_retention_are_purged_on_mariadb() {
    let test = TestDb::mariadb().await;
    inbox_past_retention_is_purged(&test, &kafka()).await;
    test.drop_now().await;
}

#[tokio::test]
async fn inbox_rows_older_than_the_inbox_retention_are_purged_on_sqlite() {
    let test = TestDb::sqlite().await;
    inbox_past_retention_is_purged(&test, &Bus::in_process()).await;
}

#[tokio::test]
async fn one_batch_deletes_at_most_the_batch_size_and_a_purge_goes_on_until_none_is_left() {
    let test = TestDb::sqlite().await;
    for i in 0..5 {
        inbox_row(&test.db, &format!("old-{i}"), "post", ago(Age::days(20))).await;
    }
    let purger = Bus::in_process().purger(test.db.clone(), batches_of(2));

    assert_eq!(purger.purge_batch().await.unwrap().inbox, 2);
    assert_eq!(purger.purge().await.unwrap().inbox, 3);
    assert!(inbox_ids(&test.db).await.is_empty());
}

#[tokio::test]
async fn in_process_outbox_rows_stay_until_every_consumer_of_their_topic_has_passed_them() {
    let bus = Bus::in_process();
    let (producer, first, second) = (
        TestDb::sqlite().await,
        TestDb::sqlite().await,
        TestDb::sqlite().await,
    );
    let relay = relay(&bus, &producer.db, "t").await;
    commit(
        &producer.db,
        &relay.outbox(),
        "t",
        &(0..4).map(|i| event("a", i)).collect::<Vec<_>>(),
    )
    .await;
    publish_all(&relay).await;
    for id in outbox_ids(&producer.db).await {
        published(&producer.db, id, ago(Age::days(8))).await;
    }
    let ahead = consumer(&bus, &first.db, "ahead", "t", Arc::default()).await;
    consume_until(&ahead, &first.db, 4).await;
    let mut options = options("behind", "t");
    options.batch_size = 2;
    let behind = bus
        .consumer(second.db.clone(), options, Arc::new(Recorder::default()))
        .await
        .unwrap();
    let purger = bus.purger(producer.db.clone(), RetentionConfig::default());

    assert!(
        purger.purge().await.unwrap().is_empty(),
        "`behind` has read nothing yet"
    );
    behind.process_batch().await.unwrap();
    assert_eq!(purger.purge().await.unwrap().outbox, 2);
    consume_until(&behind, &second.db, 4).await;
    assert_eq!(purger.purge().await.unwrap().outbox, 2);
    assert!(outbox_ids(&producer.db).await.is_empty());
}

#[tokio::test]
async fn a_redelivered_event_is_still_recognised_after_a_purge_within_the_inbox_retention() {
    let bus = Bus::in_process();
    let test = TestDb::sqlite().await;
    let relay = relay(&bus, &test.db, "t").await;
    commit(
        &test.db,
        &relay.outbox(),
        "t",
        &[event("a", 0), event("a", 1)],
    )
    .await;
    publish_all(&relay).await;
    let consumer = consumer(&bus, &test.db, "g", "t", Arc::default()).await;
    consume_until(&consumer, &test.db, 2).await;
    // Older than the outbox retention, within the inbox's.
    let sql = "UPDATE inbox SET processed_at = ?";
    execute(&test.db, sql, vec![ago(Age::days(10)).into()]).await;

    bus.purger(test.db.clone(), RetentionConfig::default())
        .purge()
        .await
        .unwrap();
    execute(&test.db, "UPDATE event_cursor SET position = 0", Vec::new()).await;
    consume_idle(&consumer).await;

    assert_eq!(effects(&test.db).await, 2, "a redelivery was applied twice");
}

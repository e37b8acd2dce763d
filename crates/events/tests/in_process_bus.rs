//! The in-process bus of standalone mode on SQLite keeps the same guarantees as Kafka.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod support;

use std::sync::Arc;

use events::Bus;
use sea_orm::ConnectionTrait;
use support::scenarios;
use support::*;

#[tokio::test]
async fn events_written_by_many_transactions_arrive_in_per_aggregate_order() {
    scenarios::per_aggregate_order(&Bus::in_process(), "t", "g").await;
}

#[tokio::test]
async fn a_rolled_back_business_transaction_publishes_nothing() {
    scenarios::rolled_back_publishes_nothing(&Bus::in_process(), "t", "g").await;
}

#[tokio::test]
async fn a_relay_stopped_between_commit_and_publish_publishes_everything_when_started_again() {
    scenarios::relay_restart_publishes_everything(&Bus::in_process(), "t", "g").await;
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_the_next_is_processed_and_a_replay_applies_it_once() {
    scenarios::poison_dead_lettered_then_replayed_once(&Bus::in_process(), "t", "g").await;
}

#[tokio::test]
async fn a_consumer_restarted_mid_stream_resumes_with_nothing_lost() {
    scenarios::restarted_consumer_resumes(&Bus::in_process(), "t", "g").await;
}

#[tokio::test]
async fn the_relay_backlog_counts_unpublished_rows_and_the_age_of_the_oldest_until_they_are_published()
 {
    scenarios::backlog_counts_unpublished_rows(&Bus::in_process(), "t").await;
}

#[tokio::test]
async fn a_rewound_cursor_applies_nothing_twice() {
    let bus = Bus::in_process();
    let test = TestDb::sqlite().await;
    let relay = relay(&bus, &test.db, "t").await;
    let batch: Vec<_> = (0..20).map(|i| event("r", i)).collect();
    commit(&test.db, &relay.outbox(), "t", &batch).await;
    publish_all(&relay).await;
    let consumer = consumer(&bus, &test.db, "g", "t", Arc::default()).await;
    consume_until(&consumer, &test.db, 20).await;

    test.db
        .execute_unprepared("UPDATE event_cursor SET position = 0")
        .await
        .unwrap();
    assert_eq!(consumer.process_batch().await.unwrap(), 20);
    assert_eq!(effects(&test.db).await, 20);
}

#[tokio::test]
async fn an_undecodable_row_goes_to_the_dead_letters_at_once_and_the_next_is_processed() {
    let bus = Bus::in_process();
    let test = TestDb::sqlite().await;
    let relay = relay(&bus, &test.db, "t").await;
    test.db
        .execute_unprepared(
            "INSERT INTO outbox (event_id, topic, aggregate_id, event_type, payload, created_at) \
             VALUES ('x', 't', 'g', 'test.happened', '{not json', '2026-01-01 00:00:00')",
        )
        .await
        .unwrap();
    commit(&test.db, &relay.outbox(), "t", &[event("g", 1)]).await;
    publish_all(&relay).await;
    let consumer = consumer(&bus, &test.db, "g", "t", Arc::default()).await;
    consume_until(&consumer, &test.db, 1).await;
    let letters = events::dlq::list_local(&test.db, "g").await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, 1);
}

#[tokio::test]
async fn a_woken_relay_and_a_running_consumer_deliver_without_stepping() {
    let bus = Bus::in_process();
    let test = TestDb::sqlite().await;
    let relay = relay(&bus, &test.db, "t").await;
    let outbox = relay.outbox();
    let consumer = consumer(&bus, &test.db, "g", "t", Arc::default()).await;
    let stop = platform::CancellationToken::new();
    let running = events::Workers::new()
        .with_relay(relay)
        .with_consumer(consumer)
        .spawn(&stop);
    commit(&test.db, &outbox, "t", &[event("w", 1)]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while effects(&test.db).await < 1 {
        assert!(std::time::Instant::now() < deadline);
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.cancel();
    running.join().await;
}

//! The event backbone on the real Kafka broker with MariaDB: order, atomicity, restarts,
//! duplicates, rewinds, dead letters and trace headers.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use events::TraceContext;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::message::Headers;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use support::scenarios;
use support::*;

fn names(prefix: &str) -> (String, String) {
    (
        testkit::unique_topic(prefix),
        format!("group-{}", testkit::unique()),
    )
}

#[tokio::test]
async fn events_written_by_many_transactions_arrive_in_per_aggregate_order() {
    let (topic, group) = names("order");
    scenarios::per_aggregate_order(&kafka(), &topic, &group).await;
}

#[tokio::test]
async fn a_rolled_back_business_transaction_publishes_nothing() {
    let (topic, group) = names("rollback");
    scenarios::rolled_back_publishes_nothing(&kafka(), &topic, &group).await;
}

#[tokio::test]
async fn a_relay_stopped_between_commit_and_publish_publishes_everything_when_started_again() {
    let (topic, group) = names("relay-restart");
    scenarios::relay_restart_publishes_everything(&kafka(), &topic, &group).await;
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_the_next_is_processed_and_a_replay_applies_it_once() {
    let (topic, group) = names("poison");
    scenarios::poison_dead_lettered_then_replayed_once(&kafka(), &topic, &group).await;
}

#[tokio::test]
async fn a_consumer_restarted_mid_stream_resumes_with_nothing_lost() {
    let (topic, group) = names("resume");
    scenarios::restarted_consumer_resumes(&kafka(), &topic, &group).await;
}

#[tokio::test]
async fn the_relay_backlog_counts_unpublished_rows_and_the_age_of_the_oldest_until_they_are_published()
 {
    let (topic, _) = names("backlog");
    scenarios::backlog_counts_unpublished_rows(&kafka(), &topic).await;
}

fn raw_producer() -> FutureProducer {
    events::kafka::client_config(&kafka_config())
        .create()
        .unwrap()
}

async fn produce(topic: &str, key: &str, body: &[u8]) {
    raw_producer()
        .send(
            FutureRecord::to(topic).key(key).payload(body),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
}

#[tokio::test]
async fn the_same_event_delivered_twice_has_one_effect() {
    let (topic, group) = names("twice");
    let test = TestDb::mariadb().await;
    let consumer = consumer(&kafka(), &test.db, &group, &topic, Arc::default()).await;
    let once = event("a", 1).to_json();
    produce(&topic, "a", &once).await;
    produce(&topic, "a", &once).await;
    produce(&topic, "a", &event("a", 2).to_json()).await;
    consume_until(&consumer, &test.db, 2).await;
    consume_idle(&consumer).await;
    assert_eq!(effects(&test.db).await, 2);
    test.drop_now().await;
}

#[tokio::test]
async fn offsets_rewound_to_the_beginning_apply_nothing_twice() {
    let (topic, group) = names("rewind");
    let test = TestDb::mariadb().await;
    let bus = kafka();
    let relay = relay(&bus, &test.db, &topic).await;
    let batch: Vec<_> = (0..20).map(|i| event("r", i)).collect();
    commit(&test.db, &relay.outbox(), &topic, &batch).await;
    publish_all(&relay).await;
    let first = consumer(&bus, &test.db, &group, &topic, Arc::default()).await;
    consume_until(&first, &test.db, 20).await;
    drop(first);

    rewind(&group, &topic);
    let second = consumer(&bus, &test.db, &group, &topic, Arc::default()).await;
    let mut seen = 0;
    while seen < 20 {
        seen += second.process_batch().await.unwrap();
    }
    assert_eq!(effects(&test.db).await, 20);
    test.drop_now().await;
}

fn rewind(group: &str, topic: &str) {
    let client: BaseConsumer = events::kafka::client_config(&kafka_config())
        .set("group.id", group)
        .create()
        .unwrap();
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut offsets = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        offsets
            .add_partition_offset(topic, p.id(), Offset::Offset(0))
            .unwrap();
    }
    client
        .commit(&offsets, rdkafka::consumer::CommitMode::Sync)
        .unwrap();
}

#[tokio::test]
async fn an_undecodable_message_goes_to_the_dead_letters_at_once_and_the_next_is_processed() {
    let (topic, group) = names("garbage");
    let test = TestDb::mariadb().await;
    let consumer = consumer(&kafka(), &test.db, &group, &topic, Arc::default()).await;
    produce(&topic, "g", b"{not json").await;
    produce(&topic, "g", &event("g", 1).to_json()).await;
    consume_until(&consumer, &test.db, 1).await;
    let letters = events::dlq::list_kafka(&kafka_config(), &topic, &group)
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, 1);
    assert_eq!(letters[0].body, "{not json");
    assert!(
        letters[0].error.starts_with("undecodable"),
        "{}",
        letters[0].error
    );
    test.drop_now().await;
}

#[tokio::test]
async fn the_request_id_and_trace_context_with_its_state_travel_in_kafka_headers() {
    let (topic, _) = names("trace");
    let test = TestDb::mariadb().await;
    let relay = relay(&kafka(), &test.db, &topic).await;
    let context = TraceContext {
        request_id: Some("req-42".into()),
        traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        tracestate: Some("vendor=opaque".into()),
    };
    let outbox = relay.outbox();
    events::context::scope(context, async {
        let txn = sea_orm::TransactionTrait::begin(&test.db).await.unwrap();
        outbox
            .enqueue(&txn, &events::MemberEvent::Withdrawn { member_id: 7 })
            .await
            .unwrap();
        txn.commit().await.unwrap();
    })
    .await;
    // The typed event goes to its own topic; re-point it at the test topic.
    sea_orm::ConnectionTrait::execute_unprepared(
        &test.db,
        &format!("UPDATE outbox SET topic = '{topic}'"),
    )
    .await
    .unwrap();
    events::kafka::ensure_topics(&kafka_config(), &[&topic])
        .await
        .unwrap();
    publish_all(&relay).await;

    let reader: StreamConsumer = events::kafka::client_config(&kafka_config())
        .set("group.id", format!("reader-{}", testkit::unique()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    reader.subscribe(&[&topic]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), reader.recv())
        .await
        .unwrap()
        .unwrap();
    let headers: Vec<(String, String)> = message
        .headers()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h.key.to_owned(),
                String::from_utf8(h.value.unwrap().to_vec()).unwrap(),
            )
        })
        .collect();
    assert!(
        headers.contains(&("x-request-id".into(), "req-42".into())),
        "{headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "traceparent" && v.contains("0af7651916cd43dd8448eb211c80319c"))
    );
    assert!(
        headers.contains(&("tracestate".into(), "vendor=opaque".into())),
        "{headers:?}"
    );
    assert_eq!(message.key(), Some(b"7".as_slice()));
    test.drop_now().await;
}

#[tokio::test]
async fn two_relays_on_one_database_never_publish_the_same_rows() {
    let (topic, _) = names("replicas");
    let test = TestDb::mariadb().await;
    let bus = kafka();
    let options = events::RelayOptions {
        batch_size: 25,
        ..Default::default()
    };
    let one = bus
        .relay_with(test.db.clone(), &[&topic], options.clone())
        .await
        .unwrap();
    let two = bus
        .relay_with(test.db.clone(), &[&topic], options)
        .await
        .unwrap();
    let batch: Vec<_> = (0..400).map(|i| event(&format!("k{}", i % 5), i)).collect();
    commit(&test.db, &one.outbox(), &topic, &batch).await;

    let (a, b) = tokio::join!(drain_racing(&one, &test.db), drain_racing(&two, &test.db));
    assert_eq!(a + b, 400, "one published {a}, two published {b}");
    test.drop_now().await;
}

/// Publishes until the outbox is empty, counting only this relay's rows.
async fn drain_racing(relay: &events::Relay, db: &sea_orm::DatabaseConnection) -> usize {
    let mut total = 0;
    loop {
        total += relay.publish_batch().await.unwrap();
        let left = scalar(
            db,
            "SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL",
        )
        .await;
        if left == 0 {
            return total;
        }
        tokio::task::yield_now().await;
    }
}

//! Kafka is killed with SIGKILL in the middle of a 1,000-event burst and started again: every
//! event's effect is applied exactly once. Alone in its test binary so nothing else runs against
//! the broker meanwhile; a guard restarts the broker even when the test fails.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use platform::CancellationToken;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_mid_burst_and_restarted_leaves_every_effect_applied_exactly_once() {
    let topic = testkit::unique_topic("crash");
    let group = format!("group-{}", testkit::unique());
    let bus = kafka();
    let test = TestDb::mariadb().await;
    let db = test.db.clone();
    let relay = relay(&bus, &db, &topic).await;
    let outbox = relay.outbox();
    let consumer = consumer(&bus, &db, &group, &topic, Arc::default()).await;
    let stop = CancellationToken::new();
    let running = events::Workers::new()
        .with_relay(relay)
        .with_consumer(consumer)
        .spawn(&stop);

    let writer = {
        let (db, outbox, topic) = (db.clone(), outbox.clone(), topic.clone());
        tokio::spawn(async move {
            for t in 0..100 {
                let batch: Vec<_> = (0..10).map(|i| event(&format!("k{i}"), t)).collect();
                commit(&db, &outbox, &topic, &batch).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let published = "SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NOT NULL";
    while scalar(&db, published).await < 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let broker = testkit::KafkaOutage::begin();
    writer.await.unwrap();
    let unpublished = "SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL";
    assert!(
        scalar(&db, unpublished).await > 0,
        "the burst ended before the kill"
    );
    broker.end().await;

    let deadline = Instant::now() + Duration::from_secs(120);
    while effects(&db).await < 1000 {
        assert!(
            Instant::now() < deadline,
            "{} of 1000 effects",
            effects(&db).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    running.join().await;
    assert_eq!(effects(&db).await, 1000);
    assert_eq!(distinct_effects(&db).await, 1000);
    let sequences = sequences(&db).await;
    for (aggregate, seqs) in sequences {
        assert_eq!(seqs, (0..100).collect::<Vec<_>>(), "{aggregate}");
    }
    test.drop_now().await;
}

//! The delivery guarantees as scenarios, each run on Kafka and on the in-process bus.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use events::Bus;
use platform::CancellationToken;
use sea_orm::TransactionTrait;

use super::*;

/// Eight writers commit 25 events each for their own aggregate, one transaction per event,
/// while the relay runs; the consumer sees each aggregate's events in commit order.
pub async fn per_aggregate_order(bus: &Bus, topic: &str, group: &str) {
    let test = TestDb::for_bus(bus).await;
    let db = test.db.clone();
    let relay = relay(bus, &db, topic).await;
    let outbox = relay.outbox();
    let stop = CancellationToken::new();
    let running = relay.spawn(stop.clone());
    let writers: Vec<_> = (0..8)
        .map(|a| {
            let (db, outbox, topic) = (db.clone(), outbox.clone(), topic.to_owned());
            tokio::spawn(async move {
                for seq in 0..25 {
                    commit(&db, &outbox, &topic, &[event(&format!("agg-{a}"), seq)]).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let consumer = consumer(bus, &db, group, topic, Arc::default()).await;
    consume_until(&consumer, &db, 200).await;
    stop.cancel();
    running.await.unwrap();
    let sequences = sequences(&db).await;
    assert_eq!(sequences.len(), 8);
    for (aggregate, seqs) in sequences {
        assert_eq!(seqs, (0..25).collect::<Vec<_>>(), "{aggregate}");
    }
    test.drop_now().await;
}

/// A transaction that wrote an event and rolled back leaves nothing to publish.
pub async fn rolled_back_publishes_nothing(bus: &Bus, topic: &str, group: &str) {
    let test = TestDb::for_bus(bus).await;
    let db = &test.db;
    let relay = relay(bus, db, topic).await;
    let outbox = relay.outbox();
    let txn = db.begin().await.unwrap();
    outbox
        .enqueue_envelope(&txn, topic, &event("rolled-back", 1), &Default::default())
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    commit(db, &outbox, topic, &[event("committed", 2)]).await;

    assert_eq!(publish_all(&relay).await, 1);
    let consumer = consumer(bus, db, group, topic, Arc::default()).await;
    consume_until(&consumer, db, 1).await;
    consume_idle(&consumer).await;
    assert_eq!(
        sequences(db).await.keys().collect::<Vec<_>>(),
        ["committed"]
    );
    test.drop_now().await;
}

/// Events committed while no relay runs are all published by the next relay.
pub async fn relay_restart_publishes_everything(bus: &Bus, topic: &str, group: &str) {
    let test = TestDb::for_bus(bus).await;
    let db = &test.db;
    let stopped = relay(bus, db, topic).await;
    let outbox = stopped.outbox();
    let batch: Vec<_> = (0..50).map(|i| event("a", i)).collect();
    commit(db, &outbox, topic, &batch).await;
    drop(stopped);

    let restarted = relay(bus, db, topic).await;
    assert_eq!(publish_all(&restarted).await, 50);
    let unpublished = scalar(
        db,
        "SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL",
    );
    assert_eq!(unpublished.await, 0);
    let consumer = consumer(bus, db, group, topic, Arc::default()).await;
    consume_until(&consumer, db, 50).await;
    assert_eq!(distinct_effects(db).await, 50);
    test.drop_now().await;
}

/// A poison event goes to the dead letters after the retries, the next event is applied, and a
/// replay after the fix applies the poison event exactly once.
pub async fn poison_dead_lettered_then_replayed_once(bus: &Bus, topic: &str, group: &str) {
    let test = TestDb::for_bus(bus).await;
    let db = &test.db;
    let relay = relay(bus, db, topic).await;
    let outbox = relay.outbox();
    commit(db, &outbox, topic, &[poison("p"), event("p", 1)]).await;
    publish_all(&relay).await;
    let handler = Arc::new(Recorder::default());
    handler.sick.store(true, Ordering::SeqCst);
    let consumer = consumer(bus, db, group, topic, handler.clone()).await;
    consume_until(&consumer, db, 1).await;

    let letters = list_dead_letters(bus, db, topic, group).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].attempts, 3);
    assert!(
        letters[0].error.contains("poisoned on purpose"),
        "{}",
        letters[0].error
    );

    handler.sick.store(false, Ordering::SeqCst);
    replay_dead_letters(bus, db, topic, group).await;
    consume_until(&consumer, db, 2).await;
    replay_dead_letters(bus, db, topic, group).await;
    consume_idle(&consumer).await;
    assert_eq!(effects(db).await, 2);
    assert_eq!(distinct_effects(db).await, 2);
    test.drop_now().await;
}

pub async fn list_dead_letters(
    bus: &Bus,
    db: &sea_orm::DatabaseConnection,
    topic: &str,
    group: &str,
) -> Vec<events::dlq::DeadLetter> {
    match bus {
        Bus::Kafka(config) => events::dlq::list_kafka(config, topic, group).await.unwrap(),
        Bus::InProcess(_) => events::dlq::list_local(db, group).await.unwrap(),
    }
}

pub async fn replay_dead_letters(
    bus: &Bus,
    db: &sea_orm::DatabaseConnection,
    topic: &str,
    group: &str,
) {
    match bus {
        Bus::Kafka(config) => {
            events::dlq::replay_kafka(config, topic, group)
                .await
                .unwrap();
        }
        Bus::InProcess(_) => {
            events::dlq::request_replay_local(db, group).await.unwrap();
        }
    }
}

/// A consumer stopped after part of a stream and replaced by a new one in the same group applies
/// the rest, each event once.
pub async fn restarted_consumer_resumes(bus: &Bus, topic: &str, group: &str) {
    let test = TestDb::for_bus(bus).await;
    let db = &test.db;
    let relay = relay(bus, db, topic).await;
    let outbox = relay.outbox();
    let batch: Vec<_> = (0..100).map(|i| event(&format!("k{}", i % 7), i)).collect();
    commit(db, &outbox, topic, &batch).await;
    publish_all(&relay).await;

    let mut options = options(group, topic);
    options.batch_size = 10;
    let first = bus
        .consumer(db.clone(), options.clone(), Arc::new(Recorder::default()))
        .await
        .unwrap();
    consume_until(&first, db, 30).await;
    drop(first);
    let second = bus
        .consumer(db.clone(), options, Arc::new(Recorder::default()))
        .await
        .unwrap();
    consume_until(&second, db, 100).await;
    consume_idle(&second).await;
    assert_eq!(effects(db).await, 100);
    assert_eq!(distinct_effects(db).await, 100);
    test.drop_now().await;
}

/// The backlog counts the committed, unpublished rows and how old the oldest is; publishing
/// empties it, and a topic of the relay without rows shows zero.
pub async fn backlog_counts_unpublished_rows(bus: &Bus, topic: &str) {
    let test = TestDb::for_bus(bus).await;
    let db = &test.db;
    let relay = relay(bus, db, topic).await;
    let empty = relay.backlog().await.unwrap();
    assert_eq!(empty.len(), 1);
    assert_eq!((empty[0].topic.as_str(), empty[0].rows), (topic, 0));
    assert_eq!(empty[0].oldest, None);

    let batch: Vec<_> = (0..3).map(|i| event("b", i)).collect();
    commit(db, &relay.outbox(), topic, &batch).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let waiting = relay.backlog().await.unwrap();
    assert_eq!(waiting[0].rows, 3);
    let age = waiting[0].oldest.unwrap();
    assert!(age >= std::time::Duration::from_secs(1), "{age:?}");
    assert!(age < std::time::Duration::from_secs(60), "{age:?}");

    publish_all(&relay).await;
    let published = relay.backlog().await.unwrap();
    assert_eq!((published[0].rows, published[0].oldest), (0, None));
    test.drop_now().await;
}

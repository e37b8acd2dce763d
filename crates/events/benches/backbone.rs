//! Event backbone benchmark: relay throughput (events/s) and end-to-end latency from the business
//! commit to the consumer's committed effect at a fixed rate, on Kafka (MariaDB) and on the
//! in-process bus (SQLite). Run with `bench/events/run`; needs `scripts/dev-services up`.

#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark prints its figures and stops at the first unexpected error"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use events::{Bus, ConsumerOptions, Envelope, Handler, HandlerError, RelayOptions, TraceContext};
use platform::config::{DatabaseConfig, KafkaConfig, Vars};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use uuid::Uuid;

const THROUGHPUT_EVENTS: usize = 20_000;
const RATE: u64 = 200;
const LATENCY_SECONDS: u64 = 15;

/// Remembers which events the consumer applied in the current batch.
#[derive(Default)]
struct Collect {
    seen: Mutex<Vec<Uuid>>,
}

#[async_trait]
impl Handler for Collect {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        txn.execute_unprepared("UPDATE bench_effect SET n = n + 1")
            .await?;
        self.seen.lock().unwrap().push(event.event_id);
        Ok(())
    }
}

async fn database(
    kafka: bool,
    dir: &std::path::Path,
) -> (DatabaseConnection, Option<testkit::MySqlDatabase>) {
    let (config, mysql) = if kafka {
        let database = testkit::MySqlDatabase::create().await;
        let mut vars = Vars::new(&database.env);
        (
            DatabaseConfig::read(&mut vars, "bench").unwrap(),
            Some(database),
        )
    } else {
        (DatabaseConfig::sqlite(dir.join("bench.db")), None)
    };
    let db = platform::db::connect(&config).await.unwrap();
    platform::db::migrate::<events::migration::EventTables>(&db)
        .await
        .unwrap();
    db.execute_unprepared("CREATE TABLE bench_effect (n BIGINT NOT NULL)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO bench_effect (n) VALUES (0)")
        .await
        .unwrap();
    (db, mysql)
}

fn event(i: usize) -> Envelope {
    Envelope::new(
        "bench.happened",
        1,
        format!("agg-{}", i % 64),
        serde_json::json!({ "i": i }),
    )
}

async fn throughput(bus: &Bus, db: &DatabaseConnection, topic: &str) -> f64 {
    let relay = bus
        .relay_with(db.clone(), &[topic], RelayOptions::default())
        .await
        .unwrap();
    let outbox = relay.outbox();
    for chunk in (0..THROUGHPUT_EVENTS).collect::<Vec<_>>().chunks(1000) {
        let txn = db.begin().await.unwrap();
        for &i in chunk {
            outbox
                .enqueue_envelope(&txn, topic, &event(i), &TraceContext::current())
                .await
                .unwrap();
        }
        txn.commit().await.unwrap();
    }
    let started = Instant::now();
    let mut published = 0;
    while published < THROUGHPUT_EVENTS {
        published += relay.publish_batch().await.unwrap();
    }
    THROUGHPUT_EVENTS as f64 / started.elapsed().as_secs_f64()
}

/// `producer_db` holds the outbox, `db` the consumer's effects (the same database on Kafka, two
/// SQLite files on the in-process bus, as in standalone mode).
async fn latency(
    bus: &Bus,
    producer_db: &DatabaseConnection,
    db: &DatabaseConnection,
    topic: &str,
    group: &str,
) -> Vec<Duration> {
    let relay = bus
        .relay_with(producer_db.clone(), &[topic], RelayOptions::default())
        .await
        .unwrap();
    let outbox = relay.outbox();
    let handler = Arc::new(Collect::default());
    let mut options = ConsumerOptions::new(group, &[topic]);
    options.poll_timeout = Duration::from_millis(100);
    let consumer = bus
        .consumer(db.clone(), options, handler.clone())
        .await
        .unwrap();
    let stop = platform::CancellationToken::new();
    let relay_task = relay.spawn(stop.clone());
    // Warm up: the first delivery includes joining the consumer group, which is not latency.
    let txn = producer_db.begin().await.unwrap();
    outbox
        .enqueue_envelope(&txn, topic, &event(usize::MAX), &TraceContext::current())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    outbox.wake();
    while handler.seen.lock().unwrap().is_empty() {
        consumer.process_batch().await.unwrap();
    }
    handler.seen.lock().unwrap().clear();
    let committed: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let total = (RATE * LATENCY_SECONDS) as usize;

    let writer = {
        let (db, committed, topic) = (producer_db.clone(), committed.clone(), topic.to_owned());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
            for i in 0..total {
                tick.tick().await;
                let envelope = event(i);
                let txn = db.begin().await.unwrap();
                outbox
                    .enqueue_envelope(&txn, &topic, &envelope, &TraceContext::current())
                    .await
                    .unwrap();
                txn.commit().await.unwrap();
                committed
                    .lock()
                    .unwrap()
                    .insert(envelope.event_id, Instant::now());
                outbox.wake();
            }
        })
    };
    let mut samples = Vec::with_capacity(total);
    while samples.len() < total {
        consumer.process_batch().await.unwrap();
        let done = Instant::now();
        let seen: Vec<Uuid> = std::mem::take(&mut *handler.seen.lock().unwrap());
        let committed = committed.lock().unwrap();
        samples.extend(
            seen.iter()
                .filter_map(|id| committed.get(id))
                .map(|at| done - *at),
        );
    }
    writer.await.unwrap();
    stop.cancel();
    relay_task.await.unwrap();
    samples.sort();
    samples
}

fn percentile(samples: &[Duration], p: f64) -> f64 {
    let index = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[index].as_secs_f64() * 1000.0
}

async fn run(kafka: bool) {
    let dir = tempfile::tempdir().unwrap();
    let name = if kafka {
        "Kafka + MariaDB"
    } else {
        "in-process + SQLite"
    };
    let bus = if kafka {
        let env = testkit::dev_env();
        let mut vars = Vars::new(&env);
        Bus::kafka(KafkaConfig::read(&mut vars).unwrap())
    } else {
        Bus::in_process()
    };
    let (db, mysql) = database(kafka, dir.path()).await;
    let topic = testkit::unique_topic("bench");
    let rate = throughput(&bus, &db, &topic).await;
    let (producer, mysql2) = database(kafka, &dir.path().join("producer")).await;
    let (consumer, _) = if kafka {
        (producer.clone(), None)
    } else {
        database(false, &dir.path().join("consumer")).await
    };
    let topic2 = testkit::unique_topic("bench-latency");
    let group = format!("bench-{}", testkit::unique());
    let samples = latency(&bus, &producer, &consumer, &topic2, &group).await;
    println!(
        "{name}: relay {rate:.0} events/s ({THROUGHPUT_EVENTS} events); at {RATE} events/s for \
         {LATENCY_SECONDS} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
        samples.len()
    );
    for m in [mysql, mysql2].into_iter().flatten() {
        m.drop_now().await;
    }
}

#[tokio::main]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    if which == "all" || which == "kafka" {
        run(true).await;
    }
    if which == "all" || which == "in-process" {
        run(false).await;
    }
}

//! Broker-return benchmark: after a crashed Kafka broker (SIGKILL) accepts connections again, how
//! long until an event committed during the outage is published and applied by its consumer,
//! with the relay and consumer the services run (default options). Run with
//! `bench/events/run resume`, which starts a private broker for it (the shared one of
//! `scripts/dev-services` keeps serving the tests).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark prints its figures and stops at the first unexpected error"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use events::{Bus, ConsumerOptions, Envelope, Handler, HandlerError, Outbox, TraceContext};
use platform::config::{DatabaseConfig, Environment, KafkaConfig, Vars};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use tokio::sync::Notify;
use uuid::Uuid;

/// When each event was applied; `applied` is notified after every one.
#[derive(Default)]
struct Applied {
    at: Mutex<HashMap<Uuid, Instant>>,
    applied: Notify,
}

#[async_trait]
impl Handler for Applied {
    async fn handle(
        &self,
        _txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        self.at
            .lock()
            .unwrap()
            .insert(event.event_id, Instant::now());
        self.applied.notify_waiters();
        Ok(())
    }
}

impl Applied {
    async fn wait(&self, id: Uuid) -> Instant {
        loop {
            let notified = self.applied.notified();
            if let Some(at) = self.at.lock().unwrap().get(&id) {
                return *at;
            }
            // Created before the look, so an event applied in between still wakes it.
            notified.await;
        }
    }
}

/// The private broker, driven through `scripts/dev-services` with the environment the run script
/// set (its own state directory and ports).
struct Broker {
    script: String,
    address: String,
}

impl Broker {
    fn from_env() -> Self {
        Self {
            script: platform::config::ProcessEnv
                .get("DEV_SERVICES_SCRIPT")
                .expect("run through bench/events/run"),
            address: platform::config::ProcessEnv
                .get("BENCH_KAFKA_SERVER")
                .expect("run through bench/events/run"),
        }
    }

    fn kill(&self) {
        let status = std::process::Command::new(&self.script)
            .args(["kill", "kafka"])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "dev-services kill kafka failed");
    }

    /// Starts the broker and returns when its port accepts a connection (the moment the
    /// measurement starts), and the start command to await.
    async fn start(&self) -> (Instant, tokio::process::Child) {
        let child = tokio::process::Command::new(&self.script)
            .args(["up", "kafka"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        loop {
            if tokio::net::TcpStream::connect(&self.address).await.is_ok() {
                return (Instant::now(), child);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

struct Sample {
    down: Duration,
    published: Duration,
    applied: Duration,
}

async fn enqueue(db: &DatabaseConnection, outbox: &Outbox, topic: &str) -> Uuid {
    let envelope = Envelope::new("bench.happened", 1, "agg", serde_json::json!({}));
    let txn = db.begin().await.unwrap();
    outbox
        .enqueue_envelope(&txn, topic, &envelope, &TraceContext::current())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    outbox.wake();
    envelope.event_id
}

async fn published_at(db: &DatabaseConnection, id: Uuid) -> Instant {
    let sql =
        format!("SELECT 1 AS one FROM outbox WHERE event_id = '{id}' AND published_at IS NOT NULL");
    loop {
        let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql.clone());
        if db.query_one_raw(statement).await.unwrap().is_some() {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One outage: kill, commit an event, wait `down`, restart, measure from the port accepting.
async fn outage(
    broker: &Broker,
    db: &DatabaseConnection,
    outbox: &Outbox,
    handler: &Applied,
    topic: &str,
    down: Duration,
) -> Sample {
    broker.kill();
    let killed = Instant::now();
    let id = enqueue(db, outbox, topic).await;
    tokio::time::sleep(down.saturating_sub(killed.elapsed())).await;
    let (accepting, mut child) = broker.start().await;
    let (published, applied) = tokio::join!(published_at(db, id), handler.wait(id));
    assert!(
        child.wait().await.unwrap().success(),
        "dev-services up kafka failed"
    );
    Sample {
        down,
        published: published.saturating_duration_since(accepting),
        applied: applied.saturating_duration_since(accepting),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let broker = Broker::from_env();
    let mysql = testkit::MySqlDatabase::create().await;
    let mut vars = Vars::new(&mysql.env);
    let db = platform::db::connect(&DatabaseConfig::read(&mut vars, "bench").unwrap())
        .await
        .unwrap();
    platform::db::migrate::<events::migration::EventTables>(&db)
        .await
        .unwrap();
    let kafka_env = HashMap::from([("KAFKA_SERVER".to_owned(), broker.address.clone())]);
    let bus = Bus::kafka(KafkaConfig::read(&mut Vars::new(&kafka_env)).unwrap());
    let topic = testkit::unique_topic("resume");
    let group = format!("resume-{}", testkit::unique());
    let relay = bus.relay(db.clone(), &[topic.as_str()]).await.unwrap();
    let outbox = relay.outbox();
    let handler = Arc::new(Applied::default());
    let consumer = bus
        .consumer(
            db.clone(),
            ConsumerOptions::new(&group, &[topic.as_str()]),
            handler.clone(),
        )
        .await
        .unwrap();
    let stop = platform::CancellationToken::new();
    let tasks = [relay.spawn(stop.clone()), consumer.spawn(stop.clone())];
    // Warm up: the first delivery includes joining the consumer group.
    let first = enqueue(&db, &outbox, &topic).await;
    handler.wait(first).await;

    let mut downs = vec![Duration::from_secs(10); 5];
    downs.extend([Duration::from_secs(2), Duration::from_secs(60)]);
    let mut samples = Vec::new();
    for down in downs {
        let sample = outage(&broker, &db, &outbox, &handler, &topic, down).await;
        println!(
            "broker down {}: published {} and applied {} after its port accepted",
            seconds(sample.down),
            seconds(sample.published),
            seconds(sample.applied)
        );
        samples.push(sample);
    }
    let mut kills: Vec<Duration> = samples[..5].iter().map(|s| s.applied).collect();
    kills.sort();
    println!(
        "5 kills of 10 s: applied p50 {}, worst {}; down 2 s: {}; down 60 s: {}",
        seconds(kills[2]),
        seconds(kills[4]),
        seconds(samples[5].applied),
        seconds(samples[6].applied)
    );
    stop.cancel();
    for task in tasks {
        task.await.unwrap();
    }
    mysql.drop_now().await;
}

//! Shared test fixtures: a database with the events tables and an `effect` table, a handler that
//! records each event as one effect row, and helpers to write events and drive relay and consumer.

#![expect(
    unreachable_pub,
    reason = "a test crate's shared module has no public API"
)]
#![allow(
    dead_code,
    reason = "each test file uses a different part of this module, except kafka_bus, which uses \
              all of it: there `expect` would be unfulfilled"
)]

pub mod scenarios;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use events::{
    Bus, Consumer, ConsumerOptions, Envelope, Handler, HandlerError, Outbox, Relay, RelayOptions,
    RetryPolicy, TraceContext,
};
use platform::config::{DatabaseConfig, KafkaConfig, Vars};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait,
};

/// A database for one test, on MariaDB or SQLite.
pub struct TestDb {
    pub db: DatabaseConnection,
    mysql: Option<testkit::MySqlDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn mariadb() -> Self {
        let database = testkit::MySqlDatabase::create().await;
        let mut vars = Vars::new(&database.env);
        let config = DatabaseConfig::read(&mut vars, "unused").unwrap();
        let db = prepare(&config).await;
        Self {
            db,
            mysql: Some(database),
            _dir: None,
        }
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = prepare(&DatabaseConfig::sqlite(dir.path().join("events.db"))).await;
        Self {
            db,
            mysql: None,
            _dir: Some(dir),
        }
    }

    /// MariaDB for Kafka, SQLite for the in-process bus (its supported pairing).
    pub async fn for_bus(bus: &Bus) -> Self {
        match bus {
            Bus::Kafka(_) => Self::mariadb().await,
            Bus::InProcess(_) => Self::sqlite().await,
        }
    }

    pub async fn drop_now(self) {
        self.db.close().await.unwrap();
        if let Some(m) = self.mysql {
            m.drop_now().await;
        }
    }
}

async fn prepare(config: &DatabaseConfig) -> DatabaseConnection {
    let db = platform::db::connect(config).await.unwrap();
    platform::db::migrate::<events::migration::EventTables>(&db)
        .await
        .unwrap();
    let id = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        _ => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
    };
    db.execute_unprepared(&format!(
        "CREATE TABLE effect ({id}, event_id VARCHAR(36) NOT NULL, \
         aggregate_id VARCHAR(64) NOT NULL, seq BIGINT NOT NULL)"
    ))
    .await
    .unwrap();
    db
}

pub fn kafka_config() -> KafkaConfig {
    let env = testkit::dev_env();
    let mut vars = Vars::new(&env);
    KafkaConfig::read(&mut vars).unwrap()
}

pub fn kafka() -> Bus {
    Bus::kafka(kafka_config())
}

/// Records each event as a row of `effect`; fails on events whose payload says `poison` while
/// `sick` is set.
#[derive(Default)]
pub struct Recorder {
    pub sick: AtomicBool,
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        if event.payload["poison"] == true && self.sick.load(Ordering::SeqCst) {
            return Err(HandlerError::transient(anyhow::anyhow!(
                "poisoned on purpose"
            )));
        }
        let seq = event.payload["seq"].as_i64().unwrap_or(-1);
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO effect (event_id, aggregate_id, seq) VALUES (?, ?, ?)",
            [
                event.event_id.to_string().into(),
                event.aggregate_id.clone().into(),
                seq.into(),
            ],
        ))
        .await?;
        Ok(())
    }
}

pub fn event(aggregate: &str, seq: i64) -> Envelope {
    Envelope::new(
        "test.happened",
        1,
        aggregate,
        serde_json::json!({ "seq": seq }),
    )
}

pub fn poison(aggregate: &str) -> Envelope {
    Envelope::new(
        "test.happened",
        1,
        aggregate,
        serde_json::json!({ "seq": 0, "poison": true }),
    )
}

/// Writes `envelopes` to the outbox in one committed transaction.
pub async fn commit(db: &DatabaseConnection, outbox: &Outbox, topic: &str, envelopes: &[Envelope]) {
    let txn = db.begin().await.unwrap();
    for e in envelopes {
        outbox
            .enqueue_envelope(&txn, topic, e, &TraceContext::current())
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    outbox.wake();
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

pub fn options(group: &str, topic: &str) -> ConsumerOptions {
    let mut options = ConsumerOptions::new(group, &[topic]);
    options.retry = fast_retry();
    options.poll_timeout = Duration::from_millis(200);
    options
}

pub async fn relay(bus: &Bus, db: &DatabaseConnection, topic: &str) -> Relay {
    bus.relay_with(db.clone(), &[topic], RelayOptions::default())
        .await
        .unwrap()
}

pub async fn consumer(
    bus: &Bus,
    db: &DatabaseConnection,
    group: &str,
    topic: &str,
    handler: Arc<Recorder>,
) -> Consumer {
    bus.consumer(db.clone(), options(group, topic), handler)
        .await
        .unwrap()
}

/// Publishes until the outbox has nothing left.
pub async fn publish_all(relay: &Relay) -> usize {
    let mut total = 0;
    loop {
        let n = relay.publish_batch().await.unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

pub async fn effects(db: &DatabaseConnection) -> i64 {
    scalar(db, "SELECT COUNT(*) AS n FROM effect").await
}

pub async fn distinct_effects(db: &DatabaseConnection) -> i64 {
    scalar(db, "SELECT COUNT(DISTINCT event_id) AS n FROM effect").await
}

pub async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Steps the consumer until `want` effects exist (failing after a generous minute).
pub async fn consume_until(consumer: &Consumer, db: &DatabaseConnection, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while effects(db).await < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} effects",
            effects(db).await
        );
        consumer.process_batch().await.unwrap();
    }
}

/// Steps the consumer until a batch finds nothing more.
pub async fn consume_idle(consumer: &Consumer) {
    while consumer.process_batch().await.unwrap() > 0 {}
}

/// Sequence numbers per aggregate in the order their effects were applied.
pub async fn sequences(db: &DatabaseConnection) -> std::collections::BTreeMap<String, Vec<i64>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT aggregate_id, seq FROM effect ORDER BY id",
        ))
        .await
        .unwrap();
    let mut map: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for r in rows {
        let a: String = r.try_get("", "aggregate_id").unwrap();
        let s: i64 = r.try_get("", "seq").unwrap();
        map.entry(a).or_default().push(s);
    }
    map
}

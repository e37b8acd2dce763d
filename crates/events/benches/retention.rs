//! Retention benchmark: the event tables after 1,000,000 events (900,000 of them past retention),
//! their size on disk, and what purging them costs: total time, rows per second and the longest
//! single batch (how long a purge statement can hold its locks), on MariaDB and SQLite. Run with
//! `bench/events/run retention`; needs `scripts/dev-services up`.

#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark prints its figures and stops at the first unexpected error"
)]

use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use events::Bus;
use platform::config::{DatabaseConfig, RetentionConfig, Vars};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

const EVENTS: usize = 1_000_000;
const OLD: usize = 900_000;
const CHUNK: usize = 1_000;

/// A payload of the size of a typical event of ours (a withdrawal, a created gallery).
const PAYLOAD: &str = r#"{"eventId":"00000000-0000-0000-0000-000000000000","eventType":"gallery.created","version":1,"aggregateId":"123456","occurredAt":"2026-12-03T12:00:00Z","data":{"galleryId":123456,"memberId":42,"title":"첫 전시"}}"#;

fn timestamp(i: usize) -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    if i < OLD {
        now - chrono::Duration::days(20)
    } else {
        now - chrono::Duration::minutes(5)
    }
}

/// Fills outbox (published) and inbox with `EVENTS` rows each, the first `OLD` past retention.
async fn fill(db: &DatabaseConnection) -> Duration {
    let started = Instant::now();
    for start in (0..EVENTS).step_by(CHUNK) {
        let txn = db.begin().await.unwrap();
        let mut outbox = Vec::with_capacity(CHUNK);
        let mut inbox = Vec::with_capacity(CHUNK);
        for i in start..start + CHUNK {
            let at = timestamp(i).format("%Y-%m-%d %H:%M:%S");
            let id = uuid::Uuid::new_v4();
            outbox.push(format!(
                "('{id}', 'gallery', '{}', 'gallery.created', '{PAYLOAD}', '[]', '{at}', '{at}')",
                i % 5000
            ));
            inbox.push(format!("('{id}', 'post', '{at}')"));
        }
        let sql = format!(
            "INSERT INTO outbox (event_id, topic, aggregate_id, event_type, payload, headers, \
             created_at, published_at) VALUES {}",
            outbox.join(",")
        );
        txn.execute_unprepared(&sql).await.unwrap();
        let sql = format!(
            "INSERT INTO inbox (event_id, consumer, processed_at) VALUES {}",
            inbox.join(",")
        );
        txn.execute_unprepared(&sql).await.unwrap();
        txn.commit().await.unwrap();
    }
    started.elapsed()
}

/// Bytes of data and indexes of `table` (MariaDB).
async fn size(db: &DatabaseConnection, table: &str) -> u64 {
    let backend = db.get_database_backend();
    db.execute_unprepared(&format!("ANALYZE TABLE {table}"))
        .await
        .unwrap();
    let sql = format!(
        "SELECT CAST(data_length + index_length AS SIGNED) AS n FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = '{table}'"
    );
    scalar(db, Statement::from_string(backend, sql)).await
}

/// Bytes of the pages in use of the whole SQLite file (both tables and their indexes).
async fn sqlite_in_use(db: &DatabaseConnection) -> u64 {
    let sql = "SELECT (page_count - freelist_count) * page_size AS n \
               FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()";
    scalar(db, Statement::from_string(DbBackend::Sqlite, sql)).await
}

async fn scalar(db: &DatabaseConnection, statement: Statement) -> u64 {
    let row = db.query_one_raw(statement).await.unwrap().unwrap();
    u64::try_from(row.try_get::<i64>("", "n").unwrap_or(0)).unwrap_or(0)
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

async fn sizes(db: &DatabaseConnection) -> String {
    if db.get_database_backend() == DbBackend::Sqlite {
        return format!(
            "file in use {}, outbox {} rows, inbox {} rows",
            mib(sqlite_in_use(db).await),
            count(db, "outbox").await,
            count(db, "inbox").await
        );
    }
    format!(
        "outbox {} ({} rows), inbox {} ({} rows)",
        mib(size(db, "outbox").await),
        count(db, "outbox").await,
        mib(size(db, "inbox").await),
        count(db, "inbox").await
    )
}

async fn run(name: &str, db: &DatabaseConnection, bus: &Bus) {
    platform::db::migrate::<events::migration::EventTables>(db)
        .await
        .unwrap();
    let filled = fill(db).await;
    println!(
        "{name}: filled in {:.0} s: {}",
        filled.as_secs_f64(),
        sizes(db).await
    );
    let purger = bus.purger(db.clone(), RetentionConfig::default());
    let started = Instant::now();
    let (mut deleted, mut batches, mut longest) = (0, 0, Duration::ZERO);
    loop {
        let batch_started = Instant::now();
        let batch = purger.purge_batch().await.unwrap();
        longest = longest.max(batch_started.elapsed());
        if batch.is_empty() {
            break;
        }
        deleted += batch.outbox + batch.inbox;
        batches += 1;
    }
    let took = started.elapsed();
    println!(
        "{name}: purged {deleted} rows in {batches} batches of ≤1000 per table, {:.1} s \
         ({:.0} rows/s), longest batch {:.0} ms; after: {}",
        took.as_secs_f64(),
        deleted as f64 / took.as_secs_f64(),
        longest.as_secs_f64() * 1000.0,
        sizes(db).await
    );
}

#[tokio::main]
async fn main() {
    let mysql = testkit::MySqlDatabase::create().await;
    let mut vars = Vars::new(&mysql.env);
    let db = platform::db::connect(&DatabaseConfig::read(&mut vars, "bench").unwrap())
        .await
        .unwrap();
    let kafka = testkit::dev_env();
    let bus = Bus::kafka(platform::config::KafkaConfig::read(&mut Vars::new(&kafka)).unwrap());
    run("MariaDB (Kafka mode)", &db, &bus).await;
    mysql.drop_now().await;

    let dir = tempfile::tempdir().unwrap();
    let db = platform::db::connect(&DatabaseConfig::sqlite(dir.path().join("bench.db")))
        .await
        .unwrap();
    run("SQLite (Kafka-mode rules)", &db, &bus).await;
}

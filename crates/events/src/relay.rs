//! The relay: publishes committed outbox rows in batches, in id order, and marks them published.
//!
//! Several replicas may run against one MySQL/MariaDB database: a batch is published only by the
//! relay that took the `outbox_relay_lock` row with `SELECT … FOR UPDATE SKIP LOCKED`, in a
//! transaction held until the broker acknowledged the batch and the rows are marked. So two relays
//! never publish the same rows, per-aggregate order holds across replicas, and a crashed relay's
//! turn is released with its connection. SQLite has no row locks; there exactly one process
//! (standalone) owns the file and runs the one relay.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::CancellationToken;
use platform::config::KafkaConfig;
use platform::telemetry::propagation;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, IsolationLevel,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};
use tokio::sync::Notify;

use crate::bus::InProcessBus;
use crate::context::TraceContext;
use crate::kafka::Producer;
use crate::outbox::Outbox;

/// Why a batch was not published (it stays in the outbox and is retried).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The outbox could not be read or marked.
    #[error("outbox database error")]
    Database(#[from] DbErr),
    /// The topics could not be created.
    #[error("Kafka topics could not be created")]
    Topics(#[from] crate::kafka::KafkaError),
    /// The broker did not acknowledge a message.
    #[error("Kafka did not acknowledge event {event_id} on {topic}")]
    Publish {
        /// Topic of the first failed message.
        topic: String,
        /// Its event id.
        event_id: String,
        /// The cause.
        source: rdkafka::error::KafkaError,
    },
}

/// Tuning of a relay; the defaults suit production.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Rows claimed and published per batch.
    pub batch_size: u32,
    /// How long to wait for a wake-up before looking anyway (rows written by other replicas).
    pub fallback_poll: Duration,
    /// First delay after a failed batch; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest delay between attempts while the broker or database is down.
    pub max_backoff: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            fallback_poll: Duration::from_secs(1),
            initial_backoff: Duration::from_millis(100),
            // A batch already waits for the broker inside the producer (its message timeout);
            // longer pauses between attempts only delay the first publish after it returns.
            max_backoff: Duration::from_secs(1),
        }
    }
}

pub(crate) enum Sink {
    Kafka(KafkaSink),
    InProcess(InProcessBus),
}

/// The producer, replaced by a fresh one when librdkafka declares it fatally failed (an
/// idempotent producer can, e.g. after the broker lost acknowledged messages).
pub(crate) struct KafkaSink {
    config: KafkaConfig,
    producer: Mutex<Producer>,
    needed: crate::kafka::NeededTopics,
}

impl KafkaSink {
    pub(crate) fn new(
        config: KafkaConfig,
        needed: crate::kafka::NeededTopics,
    ) -> Result<Self, crate::kafka::KafkaError> {
        let producer = crate::bus::producer(&config)?;
        Ok(Self {
            config,
            producer: Mutex::new(producer),
            needed,
        })
    }

    fn current(&self) -> Producer {
        self.producer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn renew_if_fatal(&self) {
        use rdkafka::producer::Producer as _;
        let mut producer = self
            .producer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((code, reason)) = producer.client().fatal_error() {
            tracing::error!(?code, %reason, "Kafka producer failed fatally; creating a new one");
            match crate::bus::producer(&self.config) {
                Ok(fresh) => *producer = fresh,
                Err(error) => {
                    tracing::error!(error = %platform::http::ErrorChain(&error), "cannot create a Kafka producer");
                }
            }
        }
    }
}

/// Publishes one service's outbox. Build it with [`crate::Bus::relay`].
pub struct Relay {
    db: DatabaseConnection,
    sink: Sink,
    topics: Vec<String>,
    wake: Arc<Notify>,
    options: RelayOptions,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match self.sink {
            Sink::Kafka(_) => "kafka",
            Sink::InProcess(_) => "in-process",
        };
        f.debug_struct("Relay")
            .field("sink", &sink)
            .field("topics", &self.topics)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

struct Row {
    id: i64,
    event_id: String,
    topic: String,
    key: String,
    body: String,
    headers: Vec<(String, String)>,
}

/// One record on its way to Kafka: its producer span (a child of the span that enqueued the
/// event, when spans are exported) and the headers it is sent with, whose trace context is that
/// span's, so the consumer's span is a child of the send.
struct Send<'r> {
    span: tracing::Span,
    /// The row's own headers when spans are not exported.
    headers: Cow<'r, [(String, String)]>,
}

impl<'r> Send<'r> {
    fn of(row: &'r Row, topic: &str) -> Self {
        if !platform::telemetry::exporting() {
            return Self {
                span: tracing::Span::none(),
                headers: Cow::Borrowed(&row.headers),
            };
        }
        let span = tracing::info_span!(
            target: platform::telemetry::CLIENT_SPANS,
            "send",
            otel.name = %format_args!("send {topic}"),
            otel.kind = "producer",
            otel.status_code = tracing::field::Empty,
            messaging.system = "kafka",
            messaging.operation.type = "send",
            messaging.operation.name = "send",
            messaging.destination.name = topic,
            messaging.message.id = row.event_id.as_str(),
            messaging.kafka.message.key = row.key.as_str(),
        );
        let stored =
            TraceContext::from_pairs(row.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        propagation::continue_trace(&span, stored.wire().as_ref());
        let sent = match propagation::of_span(&span) {
            Some(wire) => TraceContext {
                traceparent: Some(wire.traceparent),
                tracestate: wire.tracestate,
                ..stored
            },
            None => stored,
        };
        Self {
            span,
            headers: Cow::Owned(sent.to_pairs()),
        }
    }
}

impl Relay {
    pub(crate) fn new(
        db: DatabaseConnection,
        sink: Sink,
        topics: Vec<String>,
        options: RelayOptions,
    ) -> Self {
        Self {
            db,
            sink,
            topics,
            wake: Arc::new(Notify::new()),
            options,
        }
    }

    /// The writer whose `wake()` reaches this relay; put it in the service state.
    pub fn outbox(&self) -> Outbox {
        Outbox::with_notify(self.wake.clone())
    }

    /// Publishes up to one batch of unpublished rows and marks them; returns how many. On error
    /// nothing is marked and the rows are tried again by the next batch.
    pub async fn publish_batch(&self) -> Result<usize, RelayError> {
        let txn = self.begin().await?;
        let rows = claim(&txn, self.options.batch_size).await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(0);
        }
        self.send(&rows).await?;
        mark_published(&txn, &rows).await?;
        txn.commit().await?;
        if let Sink::InProcess(bus) = &self.sink {
            for row in &rows {
                bus.published(&row.topic);
            }
        }
        metrics::counter!("events_published_total").increment(rows.len() as u64);
        Ok(rows.len())
    }

    /// READ COMMITTED on MySQL/MariaDB: marking the batch then locks only its rows, never a gap,
    /// so business transactions keep inserting while a batch waits for the broker.
    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self.db.get_database_backend() {
            // IMMEDIATE takes the write lock up front (waiting up to the busy timeout): a deferred
            // transaction that reads and then marks fails at once with SQLITE_BUSY whenever a
            // business transaction committed in between.
            DbBackend::Sqlite => {
                self.db
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..TransactionOptions::default()
                    })
                    .await
            }
            _ => {
                self.db
                    .begin_with_config(Some(IsolationLevel::ReadCommitted), None)
                    .await
            }
        }
    }

    async fn send(&self, rows: &[Row]) -> Result<(), RelayError> {
        let Sink::Kafka(sink) = &self.sink else {
            return Ok(());
        };
        sink.needed.ensure().await?;
        let result = Self::send_with(&sink.current(), &sink.config, rows).await;
        if result.is_err() {
            sink.renew_if_fatal();
        }
        result
    }

    async fn send_with(
        producer: &Producer,
        config: &KafkaConfig,
        rows: &[Row],
    ) -> Result<(), RelayError> {
        // Enqueue the whole batch before awaiting: the idempotent producer keeps per-partition
        // order and pipelines the sends.
        let mut pending = Vec::with_capacity(rows.len());
        let topics: Vec<String> = rows.iter().map(|row| config.topic(&row.topic)).collect();
        let sends: Vec<Send<'_>> = rows
            .iter()
            .zip(&topics)
            .map(|(row, topic)| Send::of(row, topic))
            .collect();
        for ((row, topic), send) in rows.iter().zip(&topics).zip(&sends) {
            let mut headers = OwnedHeaders::new_with_capacity(send.headers.len());
            for (key, value) in send.headers.iter() {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
            let record = FutureRecord::to(topic)
                .key(&row.key)
                .payload(&row.body)
                .headers(headers);
            pending.push(producer.send_result(record).map_err(|(source, _)| {
                RelayError::Publish {
                    topic: row.topic.clone(),
                    event_id: row.event_id.clone(),
                    source,
                }
            })?);
        }
        for ((row, delivery), send) in rows.iter().zip(pending).zip(&sends) {
            let failed = |source| {
                send.span.record("otel.status_code", "ERROR");
                RelayError::Publish {
                    topic: row.topic.clone(),
                    event_id: row.event_id.clone(),
                    source,
                }
            };
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((source, _))) => return Err(failed(source)),
                Err(_) => return Err(failed(rdkafka::error::KafkaError::Canceled)),
            }
        }
        Ok(())
    }

    /// Publishes until `shutdown`: at once when woken, at least every `fallback_poll`, backing
    /// off exponentially while the broker or database fails. Meanwhile measures the backlog for
    /// the gauges every few seconds, also while a batch waits for an absent broker.
    pub async fn run(self, shutdown: CancellationToken) {
        tokio::join!(self.publish_until(&shutdown), self.measure_until(&shutdown));
        if let Sink::Kafka(sink) = &self.sink {
            use rdkafka::producer::Producer as _;
            let _ = sink.current().flush(Duration::from_secs(5));
        }
    }

    async fn publish_until(&self, shutdown: &CancellationToken) {
        let mut backoff = self.options.initial_backoff;
        while !shutdown.is_cancelled() {
            let wait = match self.publish_batch().await {
                Ok(n) if n as u64 >= u64::from(self.options.batch_size) => continue,
                Ok(_) => {
                    backoff = self.options.initial_backoff;
                    tokio::select! {
                        () = self.wake.notified() => continue,
                        () = tokio::time::sleep(self.options.fallback_poll) => continue,
                        () = shutdown.cancelled() => break,
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        error = %platform::http::ErrorChain(&error),
                        retry_in_ms = backoff.as_millis() as u64,
                        "outbox relay failed; retrying"
                    );
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.options.max_backoff);
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => break,
            }
        }
    }

    async fn measure_until(&self, shutdown: &CancellationToken) {
        loop {
            self.measure().await;
            tokio::select! {
                () = tokio::time::sleep(MEASURE_EVERY) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Sets `events_relay_backlog` and `events_relay_oldest_unpublished_seconds` per topic.
    async fn measure(&self) {
        let backlog = match self.backlog().await {
            Ok(backlog) => backlog,
            Err(error) => {
                // The relay's own loop reports the database failing; once is enough.
                tracing::debug!(error = %platform::http::ErrorChain(&error), "backlog not measured");
                return;
            }
        };
        for topic in backlog {
            let oldest = topic.oldest.map_or(0.0, |age| age.as_secs_f64());
            metrics::gauge!("events_relay_backlog", "topic" => topic.topic.clone())
                .set(topic.rows as f64);
            metrics::gauge!("events_relay_oldest_unpublished_seconds", "topic" => topic.topic)
                .set(oldest);
        }
    }

    /// The unpublished rows per topic: this relay's topics (zero rows included) and any other
    /// topic the outbox holds rows of.
    pub async fn backlog(&self) -> Result<Vec<Backlog>, DbErr> {
        let mut found = unpublished(&self.db).await?;
        for topic in &self.topics {
            if !found.iter().any(|b| &b.topic == topic) {
                found.push(Backlog {
                    topic: topic.clone(),
                    rows: 0,
                    oldest: None,
                });
            }
        }
        found.sort_by(|a, b| a.topic.cmp(&b.topic));
        Ok(found)
    }

    /// Runs [`Relay::run`] on its own task.
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }
}

/// How often a running relay measures its backlog.
const MEASURE_EVERY: Duration = Duration::from_secs(5);

/// What the relay of one topic still has to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// The topic (logical name, without `KAFKA_TOPIC_PREFIX`).
    pub topic: String,
    /// Unpublished outbox rows.
    pub rows: u64,
    /// Age of the oldest of them; `None` when there is none.
    pub oldest: Option<Duration>,
}

pub(crate) async fn unpublished(db: &DatabaseConnection) -> Result<Vec<Backlog>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT topic, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox \
             WHERE published_at IS NULL GROUP BY topic",
        ))
        .await?;
    let now = Utc::now();
    rows.iter()
        .map(|r| {
            let oldest = oldest(r, db.get_database_backend())?;
            let rows: i64 = r.try_get("", "n")?;
            Ok(Backlog {
                topic: r.try_get("", "topic")?,
                rows: u64::try_from(rows).unwrap_or_default(),
                oldest: oldest.map(|t| (now - t).to_std().unwrap_or_default()),
            })
        })
        .collect()
}

/// `MIN(created_at)`: MySQL/MariaDB answer a `TIMESTAMP` (UTC on our connections), SQLite the
/// text the outbox wrote.
fn oldest(row: &sea_orm::QueryResult, backend: DbBackend) -> Result<Option<DateTime<Utc>>, DbErr> {
    match backend {
        DbBackend::Sqlite => {
            let naive: Option<chrono::NaiveDateTime> = row.try_get("", "oldest")?;
            Ok(naive.map(|t| t.and_utc()))
        }
        _ => row.try_get("", "oldest"),
    }
}

/// The next unpublished rows, if this relay holds the turn. On MySQL/MariaDB the turn is the one
/// `outbox_relay_lock` row: `SKIP LOCKED` lets a second replica see at once that another relay is
/// publishing (it returns nothing and tries again later) instead of waiting or taking later rows
/// of an aggregate whose earlier rows are still in flight.
async fn claim<C: ConnectionTrait>(txn: &C, limit: u32) -> Result<Vec<Row>, DbErr> {
    let backend = txn.get_database_backend();
    if backend != DbBackend::Sqlite {
        let turn = txn
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT name FROM outbox_relay_lock WHERE name = 'relay' FOR UPDATE SKIP LOCKED",
            ))
            .await?;
        if turn.is_none() {
            return Ok(Vec::new());
        }
    }
    let sql = format!(
        "SELECT id, event_id, topic, aggregate_id, payload, headers FROM outbox \
         WHERE published_at IS NULL ORDER BY id LIMIT {limit}"
    );
    let rows = txn
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    rows.iter()
        .map(|r| {
            let headers: Option<String> = r.try_get("", "headers")?;
            Ok(Row {
                id: r.try_get("", "id")?,
                event_id: r.try_get("", "event_id")?,
                topic: r.try_get("", "topic")?,
                key: r.try_get("", "aggregate_id")?,
                body: r.try_get("", "payload")?,
                headers: headers
                    .and_then(|h| serde_json::from_str(&h).ok())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

async fn mark_published<C: ConnectionTrait>(txn: &C, rows: &[Row]) -> Result<(), DbErr> {
    let placeholders = vec!["?"; rows.len()].join(",");
    let mut values: Vec<Value> = vec![Utc::now().naive_utc().into()];
    values.extend(rows.iter().map(|r| Value::from(r.id)));
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        format!("UPDATE outbox SET published_at = ? WHERE id IN ({placeholders})"),
        values,
    ))
    .await
    .map(drop)
}

//! The consumer runner: one consumer group per service; each event's effect and its inbox row
//! commit in one transaction, the position (Kafka offset or in-process cursor) advances only after
//! that commit, failures retry with exponential backoff and end in a dead-letter queue.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use platform::CancellationToken;
use rdkafka::Message;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, SqlErr, Statement};
use tracing::Instrument;

use crate::bus::InProcessBus;
use crate::context::TraceContext;
use crate::dlq;
use crate::envelope::Envelope;
use crate::handler::{Handler, HandlerError};
use crate::kafka::Producer;

/// How failed events are retried before they are dead-lettered.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Delay after the first failure; doubles each time.
    pub initial_backoff: Duration,
    /// Longest delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// What one consumer reads and how.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// The consumer group, one per service (`gallery`, `post`); also the inbox's `consumer` and
    /// the middle part of the dead-letter topic `<topic>.<group>.dlq`.
    pub group: String,
    /// Topics to read.
    pub topics: Vec<String>,
    /// Retries before dead-lettering.
    pub retry: RetryPolicy,
    /// Most messages handled by one [`Consumer::process_batch`].
    pub batch_size: usize,
    /// How long [`Consumer::process_batch`] waits for a first message before returning 0.
    pub poll_timeout: Duration,
    /// Longest wait of the in-process consumer without a wake-up (it then looks for dead-letter
    /// replays requested by another process); capped by `poll_timeout`.
    pub fallback_poll: Duration,
}

impl ConsumerOptions {
    /// Defaults for `group` reading `topics`.
    pub fn new(group: impl Into<String>, topics: &[&str]) -> Self {
        Self {
            group: group.into(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            retry: RetryPolicy::default(),
            batch_size: 200,
            poll_timeout: Duration::from_millis(500),
            fallback_poll: Duration::from_secs(1),
        }
    }
}

/// A failure of the consumer's own machinery (not of a handler); the position does not advance.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The consumer's or producer's database failed.
    #[error("consumer database error")]
    Database(#[from] DbErr),
    /// Kafka failed.
    #[error("Kafka consumer error")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Its topics or dead-letter topics could not be created.
    #[error("Kafka topics could not be created")]
    Topics(#[from] crate::kafka::KafkaError),
}

/// A Kafka consumer whose statistics feed `events_consumer_lag`.
pub(crate) type KafkaConsumer = StreamConsumer<crate::lag::LagContext>;

pub(crate) enum Source {
    Kafka {
        consumer: KafkaConsumer,
        producer: Producer,
        needed: crate::kafka::NeededTopics,
    },
    InProcess(InProcessBus),
}

/// Reads events of some topics for one service. Build it with [`crate::Bus::consumer`].
pub struct Consumer {
    wake_after_commit: Option<crate::Outbox>,
    db: DatabaseConnection,
    handler: Arc<dyn Handler>,
    options: ConsumerOptions,
    source: Source,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What became of one delivered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Applied,
    Duplicate,
    Dead { error: String, attempts: u32 },
}

/// What to record in the same transaction as the effect.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mark<'a> {
    /// Nothing: Kafka offsets are stored after the commit.
    Nothing,
    /// Advance the in-process cursor of `topic` to `position`.
    Cursor(&'a str, i64),
    /// A dead letter replayed successfully.
    Replayed(i64),
}

enum Failure {
    Infrastructure(DbErr),
    Handler(HandlerError),
}

impl Consumer {
    pub(crate) fn new(
        db: DatabaseConnection,
        handler: Arc<dyn Handler>,
        options: ConsumerOptions,
        source: Source,
    ) -> Self {
        Self {
            wake_after_commit: None,
            db,
            handler,
            options,
            source,
        }
    }

    /// Wakes `outbox`'s relay after each committed effect, for handlers that enqueue events in
    /// reaction (e.g. gallery deleting a withdrawn member's galleries): a wake from inside the
    /// handler comes before the commit, when the relay cannot see the rows yet.
    #[must_use]
    pub fn wake_after_commit(mut self, outbox: crate::Outbox) -> Self {
        self.wake_after_commit = Some(outbox);
        self
    }

    /// This consumer's options.
    pub fn options(&self) -> &ConsumerOptions {
        &self.options
    }

    /// Handles what is available now (waiting at most `poll_timeout` for a first message) and
    /// returns how many messages were taken care of: applied, skipped as duplicates or
    /// dead-lettered. Handler failures are retried inside; database outages are waited out.
    pub async fn process_batch(&self) -> Result<usize, ConsumerError> {
        match &self.source {
            Source::Kafka {
                consumer,
                producer,
                needed,
            } => {
                needed.ensure().await?;
                self.kafka_batch(consumer, producer).await
            }
            Source::InProcess(bus) => self.in_process_batch(bus).await,
        }
    }

    /// Consumes until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = self.options.retry.initial_backoff;
        while !shutdown.is_cancelled() {
            let result = tokio::select! {
                r = self.process_batch() => r,
                () = shutdown.cancelled() => break,
            };
            match result {
                Ok(_) => backoff = self.options.retry.initial_backoff,
                Err(error) => {
                    tracing::warn!(
                        group = %self.options.group,
                        error = %platform::http::ErrorChain(&error),
                        "consumer failed; retrying"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(self.options.retry.max_backoff);
                }
            }
        }
        if let Source::Kafka { consumer, .. } = &self.source {
            // Offsets stored since the last auto-commit must not be lost on a clean stop.
            let _ = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
        }
    }

    /// Runs [`Consumer::run`] on its own task.
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn kafka_batch(
        &self,
        consumer: &KafkaConsumer,
        producer: &Producer,
    ) -> Result<usize, ConsumerError> {
        let first = match tokio::time::timeout(self.options.poll_timeout, consumer.recv()).await {
            Err(_) => return Ok(0),
            Ok(Err(error)) if self.client_notice(&error) => return Ok(0),
            Ok(message) => message?,
        };
        self.kafka_message(consumer, producer, &first).await?;
        let mut handled = 1;
        while handled < self.options.batch_size {
            let next = match tokio::time::timeout(Duration::ZERO, consumer.recv()).await {
                Err(_) => break,
                Ok(Err(error)) if self.client_notice(&error) => break,
                Ok(next) => next?,
            };
            self.kafka_message(consumer, producer, &next).await?;
            handled += 1;
        }
        Ok(handled)
    }

    /// Whether `error` is librdkafka reporting on its connections (broker down, transport
    /// failure, …), which it recovers from by itself. Such notices queue up while the broker is
    /// away; backing off on each would leave the consumer draining stale notices long after the
    /// broker returned, so they are logged and passed over.
    fn client_notice(&self, error: &rdkafka::error::KafkaError) -> bool {
        let rdkafka::error::KafkaError::MessageConsumption(code) = error else {
            return false;
        };
        tracing::debug!(group = %self.options.group, ?code, "Kafka client notice");
        true
    }

    async fn kafka_message(
        &self,
        consumer: &KafkaConsumer,
        producer: &Producer,
        message: &BorrowedMessage<'_>,
    ) -> Result<(), ConsumerError> {
        let body = message.payload().unwrap_or_default();
        let context = kafka_context(message);
        let outcome = match Envelope::from_json(body) {
            Ok(envelope) => {
                let span = event_span(&self.options.group, message.topic(), &envelope, &context);
                let delivered = self.deliver(&envelope, Mark::Nothing).instrument(span);
                crate::context::scope(context, delivered).await
            }
            Err(error) => Outcome::Dead {
                error: format!("undecodable: {}", platform::http::ErrorChain(&error)),
                attempts: 1,
            },
        };
        if let Outcome::Dead { error, attempts } = &outcome {
            tracing::error!(
                group = %self.options.group,
                topic = message.topic(),
                offset = message.offset(),
                %error,
                attempts,
                "event dead-lettered"
            );
            count_dead_letter(&self.options.group, message.topic());
            dlq::publish_kafka(
                producer,
                &self.options.group,
                message,
                error,
                *attempts,
                self,
            )
            .await;
        }
        consumer.store_offset_from_message(message)?;
        Ok(())
    }

    async fn in_process_batch(&self, bus: &InProcessBus) -> Result<usize, ConsumerError> {
        // Subscribe before looking, so a publish between the look and the wait is not missed.
        let mut published = bus.subscribe();
        let handled = self.in_process_once(bus).await?;
        if handled > 0 {
            return Ok(handled);
        }
        let wait = self.options.poll_timeout.min(self.options.fallback_poll);
        if tokio::time::timeout(wait, published.changed())
            .await
            .is_err()
        {
            return Ok(0);
        }
        self.in_process_once(bus).await
    }

    async fn in_process_once(&self, bus: &InProcessBus) -> Result<usize, ConsumerError> {
        let mut handled = self.replay_requested().await?;
        for topic in &self.options.topics {
            let Some(producer_db) = bus.producer(topic) else {
                continue;
            };
            let position = cursor(&self.db, &self.options.group, topic).await?;
            let limit = self.options.batch_size.saturating_sub(handled);
            for row in published_after(&producer_db, topic, position, limit).await? {
                self.in_process_row(topic, &row).await?;
                handled += 1;
            }
        }
        Ok(handled)
    }

    async fn in_process_row(&self, topic: &str, row: &PublishedRow) -> Result<(), ConsumerError> {
        let mark = Mark::Cursor(topic, row.id);
        let outcome = match Envelope::from_json(row.body.as_bytes()) {
            Ok(envelope) => {
                let span = event_span(&self.options.group, topic, &envelope, &row.context);
                let delivered = self.deliver(&envelope, mark).instrument(span);
                crate::context::scope(row.context.clone(), delivered).await
            }
            Err(error) => Outcome::Dead {
                error: format!("undecodable: {}", platform::http::ErrorChain(&error)),
                attempts: 1,
            },
        };
        match outcome {
            Outcome::Applied => Ok(()),
            Outcome::Duplicate => Ok(set_cursor(&self.db, &self.options.group, mark).await?),
            Outcome::Dead { error, attempts } => {
                tracing::error!(group = %self.options.group, topic, %error, attempts, "event dead-lettered");
                count_dead_letter(&self.options.group, topic);
                let letter = dlq::LocalLetter {
                    consumer: &self.options.group,
                    topic,
                    body: &row.body,
                    headers: &row.headers,
                    error: &error,
                    attempts,
                };
                Ok(dlq::insert_local(&self.db, &letter, mark).await?)
            }
        }
    }

    async fn replay_requested(&self) -> Result<usize, ConsumerError> {
        let letters = dlq::replay_requested(&self.db, &self.options.group).await?;
        for letter in &letters {
            let outcome = match Envelope::from_json(letter.body.as_bytes()) {
                Ok(envelope) => self.deliver(&envelope, Mark::Replayed(letter.id)).await,
                Err(error) => Outcome::Dead {
                    error: format!("undecodable: {error}"),
                    attempts: 1,
                },
            };
            match outcome {
                Outcome::Applied => {}
                Outcome::Duplicate => {
                    set_cursor(&self.db, &self.options.group, Mark::Replayed(letter.id)).await?;
                }
                Outcome::Dead { error, .. } => {
                    dlq::replay_failed(&self.db, letter.id, &error).await?;
                }
            }
        }
        Ok(letters.len())
    }

    /// Applies one event with retries; gives up into `Outcome::Dead` after the policy's attempts
    /// (at once for permanent errors). Database outages are retried without counting.
    pub(crate) async fn deliver(&self, envelope: &Envelope, mark: Mark<'_>) -> Outcome {
        let retry = &self.options.retry;
        let mut attempts = 0;
        let mut backoff = retry.initial_backoff;
        loop {
            match self.apply_once(envelope, mark).await {
                Ok(true) => return Outcome::Applied,
                Ok(false) => return Outcome::Duplicate,
                Err(Failure::Infrastructure(error)) => {
                    tracing::warn!(error = %platform::http::ErrorChain(&error), "consumer database unavailable; waiting");
                }
                Err(Failure::Handler(error)) => {
                    attempts += 1;
                    if error.is_permanent() || attempts >= retry.max_attempts {
                        return Outcome::Dead {
                            error: error.to_string(),
                            attempts,
                        };
                    }
                    tracing::warn!(%error, attempts, "handler failed; retrying");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(retry.max_backoff);
        }
    }

    /// One transaction: inbox row, effect, mark. `Ok(false)` when the inbox already had it.
    async fn apply_once(&self, envelope: &Envelope, mark: Mark<'_>) -> Result<bool, Failure> {
        let txn = platform::db::begin_write(&self.db)
            .await
            .map_err(Failure::Infrastructure)?;
        match insert_inbox(&txn, envelope, &self.options.group).await {
            Ok(()) => {}
            Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Ok(false);
            }
            Err(error) => return Err(Failure::Infrastructure(error)),
        }
        self.handler
            .handle(&txn, envelope)
            .await
            .map_err(Failure::Handler)?;
        set_cursor(&txn, &self.options.group, mark)
            .await
            .map_err(Failure::Infrastructure)?;
        txn.commit().await.map_err(Failure::Infrastructure)?;
        if let Some(outbox) = &self.wake_after_commit {
            outbox.wake();
        }
        metrics::counter!("events_consumed_total", "group" => self.options.group.clone())
            .increment(1);
        Ok(true)
    }
}

/// `events_dead_lettered_total`: what the dashboards and the dead-letter alert watch.
fn count_dead_letter(group: &str, topic: &str) {
    metrics::counter!(
        "events_dead_lettered_total",
        "group" => group.to_owned(),
        "topic" => topic.to_owned(),
    )
    .increment(1);
}

/// The span of one delivery, a child of the span that enqueued the event (its context came in the
/// event's headers), with the messaging attributes of the OpenTelemetry conventions.
fn event_span(
    group: &str,
    topic: &str,
    envelope: &Envelope,
    context: &TraceContext,
) -> tracing::Span {
    let span = tracing::info_span!(
        "event",
        otel.name = %format_args!("process {topic}"),
        otel.kind = "consumer",
        group,
        topic,
        event_type = %envelope.event_type,
        event_id = %envelope.event_id,
        request_id = context.request_id.as_deref().unwrap_or(""),
        trace_id = context.trace_id().unwrap_or(""),
        messaging.operation.type = "process",
        messaging.destination.name = topic,
        messaging.consumer.group.name = group,
        messaging.message.id = %envelope.event_id,
    );
    platform::telemetry::propagation::continue_trace(&span, context.wire().as_ref());
    span
}

pub(crate) fn kafka_context(message: &BorrowedMessage<'_>) -> TraceContext {
    let Some(headers) = message.headers() else {
        return TraceContext::default();
    };
    TraceContext::from_pairs(
        headers
            .iter()
            .filter_map(|h| Some((h.key, std::str::from_utf8(h.value?).ok()?))),
    )
}

async fn insert_inbox(
    txn: &DatabaseTransaction,
    envelope: &Envelope,
    group: &str,
) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "INSERT INTO inbox (event_id, consumer, processed_at) VALUES (?, ?, ?)",
        [
            envelope.event_id.to_string().into(),
            group.into(),
            Utc::now().naive_utc().into(),
        ],
    ))
    .await
    .map(drop)
}

pub(crate) async fn set_cursor<C: ConnectionTrait>(
    db: &C,
    group: &str,
    mark: Mark<'_>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let statement = match mark {
        Mark::Nothing => return Ok(()),
        Mark::Cursor(topic, position) => Statement::from_sql_and_values(
            backend,
            "UPDATE event_cursor SET position = ? WHERE consumer = ? AND topic = ? AND position < ?",
            [position.into(), group.into(), topic.into(), position.into()],
        ),
        Mark::Replayed(id) => Statement::from_sql_and_values(
            backend,
            "UPDATE dead_letter SET replayed_at = ? WHERE id = ?",
            [Utc::now().naive_utc().into(), id.into()],
        ),
    };
    db.execute_raw(statement).await.map(drop)
}

/// The in-process cursor of `group` on `topic`, if it has one yet.
pub(crate) async fn position(
    db: &DatabaseConnection,
    group: &str,
    topic: &str,
) -> Result<Option<i64>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT position FROM event_cursor WHERE consumer = ? AND topic = ?",
            [group.into(), topic.into()],
        ))
        .await?;
    row.map(|row| row.try_get("", "position")).transpose()
}

async fn cursor(db: &DatabaseConnection, group: &str, topic: &str) -> Result<i64, DbErr> {
    if let Some(position) = position(db, group, topic).await? {
        return Ok(position);
    }
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO event_cursor (consumer, topic, position) VALUES (?, ?, 0)",
        [group.into(), topic.into()],
    ))
    .await?;
    Ok(0)
}

struct PublishedRow {
    id: i64,
    body: String,
    headers: Option<String>,
    context: TraceContext,
}

async fn published_after(
    producer_db: &DatabaseConnection,
    topic: &str,
    position: i64,
    limit: usize,
) -> Result<Vec<PublishedRow>, DbErr> {
    let rows = producer_db
        .query_all_raw(Statement::from_sql_and_values(
            producer_db.get_database_backend(),
            format!(
                "SELECT id, payload, headers FROM outbox WHERE topic = ? AND published_at IS NOT NULL \
                 AND id > ? ORDER BY id LIMIT {limit}"
            ),
            [topic.into(), position.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let headers: Option<String> = r.try_get("", "headers")?;
            let pairs: Vec<(String, String)> = headers
                .as_deref()
                .and_then(|h| serde_json::from_str(h).ok())
                .unwrap_or_default();
            Ok(PublishedRow {
                id: r.try_get("", "id")?,
                body: r.try_get("", "payload")?,
                context: TraceContext::from_pairs(
                    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ),
                headers,
            })
        })
        .collect()
}

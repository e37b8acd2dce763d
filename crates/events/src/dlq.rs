//! Dead letters: events a consumer gave up on. On Kafka they go to `<topic>.<group>.dlq` with the
//! error and attempt count in headers; on the in-process bus to the consumer's `dead_letter`
//! table. Both can be listed and replayed (`thegallery events dlq list|replay`).

use std::time::Duration;

use chrono::Utc;
use platform::config::KafkaConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

use crate::consumer::{Consumer, Mark, set_cursor};
use crate::envelope::Envelope;
use crate::kafka::Producer;
use crate::kafka::{KafkaError, client_config};

/// Header: why the consumer gave up.
pub const ERROR_HEADER: &str = "x-dlq-error";
/// Header: how many attempts were made.
pub const ATTEMPTS_HEADER: &str = "x-dlq-attempts";
/// Header: the topic the message came from.
pub const ORIGINAL_TOPIC_HEADER: &str = "x-dlq-original-topic";
/// Header: partition and offset it had there (`partition:offset`).
pub const ORIGINAL_POSITION_HEADER: &str = "x-dlq-original-position";

/// The dead-letter topic of `group` for `topic`.
pub fn dlq_topic(topic: &str, group: &str) -> String {
    format!("{topic}.{group}.dlq")
}

/// One dead letter, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Where it is: `partition:offset` in the DLQ topic, or the `dead_letter` row id.
    pub position: String,
    /// The topic it came from.
    pub topic: String,
    /// Its event id and type, when it decodes.
    pub event: Option<(String, String)>,
    /// Why the consumer gave up.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// The message value as received.
    pub body: String,
}

/// Why dead letters could not be read or replayed.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// A Kafka operation failed.
    #[error("Kafka operation failed")]
    Operation(#[from] rdkafka::error::KafkaError),
    /// The database failed.
    #[error("dead-letter database error")]
    Database(#[from] DbErr),
}

fn event_of(body: &str) -> Option<(String, String)> {
    Envelope::from_json(body.as_bytes())
        .ok()
        .map(|e| (e.event_id.to_string(), e.event_type))
}

pub(crate) async fn publish_kafka(
    producer: &Producer,
    group: &str,
    message: &BorrowedMessage<'_>,
    error: &str,
    attempts: u32,
    consumer: &Consumer,
) {
    let topic = dlq_topic(message.topic(), group);
    let position = format!("{}:{}", message.partition(), message.offset());
    let attempts_text = attempts.to_string();
    let mut backoff = consumer.options().retry.initial_backoff;
    loop {
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for h in original.iter() {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        let extra = [
            (ERROR_HEADER, error),
            (ATTEMPTS_HEADER, attempts_text.as_str()),
            (ORIGINAL_TOPIC_HEADER, message.topic()),
            (ORIGINAL_POSITION_HEADER, position.as_str()),
        ];
        for (key, value) in extra {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        let mut record = FutureRecord::to(&topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(body) = message.payload() {
            record = record.payload(body);
        }
        match producer.send(record, Duration::from_secs(15)).await {
            Ok(_) => return,
            Err((e, _)) => tracing::warn!(%topic, error = %e, "cannot write dead letter; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(consumer.options().retry.max_backoff);
    }
}

/// Reads every dead letter of `group` for `topic` without consuming them.
pub async fn list_kafka(
    config: &KafkaConfig,
    topic: &str,
    group: &str,
) -> Result<Vec<DeadLetter>, DlqError> {
    let dlq = dlq_topic(topic, group);
    let config = config.clone();
    tokio::task::spawn_blocking(move || read_all(&config, &dlq))
        .await
        .map_err(|_| rdkafka::error::KafkaError::Canceled)?
}

fn read_all(config: &KafkaConfig, dlq: &str) -> Result<Vec<DeadLetter>, DlqError> {
    let consumer: BaseConsumer = client_config(config)
        .set("group.id", format!("{dlq}.list"))
        .set("enable.auto.commit", "false")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(dlq), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    let mut remaining = 0;
    let mut ends = std::collections::HashMap::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) =
            consumer.fetch_watermarks(dlq, partition.id(), Duration::from_secs(10))?;
        if high > low {
            assignment.add_partition_offset(dlq, partition.id(), Offset::Offset(low))?;
            remaining += high - low;
            ends.insert(partition.id(), high);
        }
    }
    consumer.assign(&assignment)?;
    let mut letters = Vec::new();
    while remaining > 0 {
        let Some(message) = consumer.poll(Duration::from_secs(10)) else {
            break;
        };
        let message = message?;
        if ends
            .get(&message.partition())
            .is_some_and(|end| message.offset() < *end)
        {
            letters.push(letter_of(&message));
            remaining -= 1;
        }
    }
    Ok(letters)
}

fn header<'a>(message: &'a BorrowedMessage<'_>, name: &str) -> Option<&'a str> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| std::str::from_utf8(h.value?).ok())
}

fn letter_of(message: &BorrowedMessage<'_>) -> DeadLetter {
    let body = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
    DeadLetter {
        position: format!("{}:{}", message.partition(), message.offset()),
        topic: header(message, ORIGINAL_TOPIC_HEADER)
            .unwrap_or_default()
            .to_owned(),
        event: event_of(&body),
        error: header(message, ERROR_HEADER).unwrap_or_default().to_owned(),
        attempts: header(message, ATTEMPTS_HEADER)
            .and_then(|a| a.parse().ok())
            .unwrap_or_default(),
        body,
    }
}

/// Publishes every dead letter of `group` for `topic` not replayed before back to `topic` (same
/// key, value and trace headers) and returns how many. Consumers that already applied an event
/// skip it through their inbox, so a replay applies each event at most once. Progress is kept in
/// the consumer group `<dlq topic>.replay`.
pub async fn replay_kafka(
    config: &KafkaConfig,
    topic: &str,
    group: &str,
) -> Result<usize, DlqError> {
    let dlq = dlq_topic(topic, group);
    let producer = crate::bus::producer(config)?;
    let consumer: rdkafka::consumer::StreamConsumer = client_config(config)
        .set("group.id", format!("{dlq}.replay"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let (ends, mut remaining) = pending(&consumer, &dlq)?;
    consumer.subscribe(&[&dlq])?;
    let mut replayed = 0;
    while remaining > 0 {
        let message = match tokio::time::timeout(Duration::from_secs(15), consumer.recv()).await {
            Ok(message) => message?,
            Err(_) => break,
        };
        if ends
            .get(&message.partition())
            .is_none_or(|end| message.offset() >= *end)
        {
            continue;
        }
        republish(&producer, topic, &message).await?;
        consumer.commit_message(&message, rdkafka::consumer::CommitMode::Sync)?;
        replayed += 1;
        remaining -= 1;
    }
    Ok(replayed)
}

/// The end offset per partition and how many messages lie between the group's position and it.
fn pending(
    consumer: &rdkafka::consumer::StreamConsumer,
    dlq: &str,
) -> Result<(std::collections::HashMap<i32, i64>, i64), DlqError> {
    let metadata = consumer.fetch_metadata(Some(dlq), Duration::from_secs(10))?;
    let mut wanted = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        wanted.add_partition(dlq, partition.id());
    }
    let committed = consumer.committed_offsets(wanted, Duration::from_secs(10))?;
    let mut ends = std::collections::HashMap::new();
    let mut remaining = 0;
    for element in committed.elements() {
        let (low, high) =
            consumer.fetch_watermarks(dlq, element.partition(), Duration::from_secs(10))?;
        let start = match element.offset() {
            Offset::Offset(o) => o.max(low),
            _ => low,
        };
        remaining += (high - start).max(0);
        ends.insert(element.partition(), high);
    }
    Ok((ends, remaining))
}

async fn republish(
    producer: &Producer,
    topic: &str,
    message: &BorrowedMessage<'_>,
) -> Result<(), DlqError> {
    let mut headers = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for h in original.iter().filter(|h| !h.key.starts_with("x-dlq-")) {
            headers = headers.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
    }
    let mut record = FutureRecord::to(topic).headers(headers);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(body) = message.payload() {
        record = record.payload(body);
    }
    producer
        .send(record, Duration::from_secs(15))
        .await
        .map(drop)
        .map_err(|(e, _)| DlqError::Operation(e))
}

pub(crate) struct LocalLetter<'a> {
    pub(crate) consumer: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) body: &'a str,
    pub(crate) headers: &'a Option<String>,
    pub(crate) error: &'a str,
    pub(crate) attempts: u32,
}

/// Records a dead letter and moves the cursor past it in one transaction.
pub(crate) async fn insert_local(
    db: &DatabaseConnection,
    letter: &LocalLetter<'_>,
    mark: Mark<'_>,
) -> Result<(), DbErr> {
    let txn = platform::db::begin_write(db).await?;
    let event = event_of(letter.body);
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "INSERT INTO dead_letter (consumer, topic, event_id, aggregate_id, body, headers, error, \
         attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            letter.consumer.into(),
            letter.topic.into(),
            event.as_ref().map(|e| e.0.clone()).into(),
            Envelope::from_json(letter.body.as_bytes())
                .ok()
                .map(|e| e.aggregate_id)
                .into(),
            letter.body.into(),
            letter.headers.clone().into(),
            letter.error.into(),
            i32::try_from(letter.attempts).unwrap_or(i32::MAX).into(),
            Utc::now().naive_utc().into(),
        ],
    ))
    .await?;
    set_cursor(&txn, letter.consumer, mark).await?;
    txn.commit().await
}

pub(crate) struct Requested {
    pub(crate) id: i64,
    pub(crate) body: String,
}

pub(crate) async fn replay_requested(
    db: &DatabaseConnection,
    consumer: &str,
) -> Result<Vec<Requested>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT id, body FROM dead_letter WHERE consumer = ? \
             AND replay_requested_at IS NOT NULL AND replayed_at IS NULL ORDER BY id",
            [consumer.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Requested {
                id: r.try_get("", "id")?,
                body: r.try_get("", "body")?,
            })
        })
        .collect()
}

pub(crate) async fn replay_failed(
    db: &DatabaseConnection,
    id: i64,
    error: &str,
) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE dead_letter SET replay_requested_at = NULL, error = ?, attempts = attempts + 1 \
         WHERE id = ?",
        [error.into(), id.into()],
    ))
    .await
    .map(drop)
}

/// The in-process bus's dead letters of consumer `group` not yet replayed (standalone mode).
pub async fn list_local(db: &DatabaseConnection, group: &str) -> Result<Vec<DeadLetter>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT id, topic, body, error, attempts FROM dead_letter \
             WHERE consumer = ? AND replayed_at IS NULL ORDER BY id",
            [group.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let body: String = r.try_get("", "body")?;
            let attempts: i32 = r.try_get("", "attempts")?;
            Ok(DeadLetter {
                position: r.try_get::<i64>("", "id")?.to_string(),
                topic: r.try_get("", "topic")?,
                event: event_of(&body),
                error: r.try_get("", "error")?,
                attempts: u32::try_from(attempts).unwrap_or_default(),
                body,
            })
        })
        .collect()
}

/// Asks the running consumer of `group` (in-process bus) to apply its dead letters again; it does
/// so at its next batch. Returns how many were requested.
pub async fn request_replay_local(db: &DatabaseConnection, group: &str) -> Result<u64, DbErr> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "UPDATE dead_letter SET replay_requested_at = ? \
             WHERE consumer = ? AND replayed_at IS NULL",
            [Utc::now().naive_utc().into(), group.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Where `thegallery events dlq` looks: Kafka when `KAFKA_SERVER` is set, otherwise the standalone
/// database of the consuming service, `DATA_DIR/<group>.db` (`DATA_DIR` default `./data`).
#[derive(Debug)]
pub enum Target {
    /// The `<topic>.<group>.dlq` topics.
    Kafka(KafkaConfig),
    /// The `dead_letter` table of the consumer's SQLite database.
    Local(DatabaseConnection),
}

impl Target {
    /// Chooses and opens the target from the environment.
    pub async fn from_env(
        env: &dyn platform::config::Environment,
        group: &str,
    ) -> anyhow::Result<Self> {
        let mut vars = platform::config::Vars::new(env);
        let kafka = KafkaConfig::read_optional(&mut vars);
        let data_dir = vars.or("DATA_DIR", std::path::PathBuf::from("./data"));
        let (kafka, data_dir) = vars.finish(|| Some((kafka, data_dir)))?;
        if let Some(kafka) = kafka {
            return Ok(Self::Kafka(kafka));
        }
        let path = data_dir.join(format!("{group}.db"));
        anyhow::ensure!(
            path.exists(),
            "no standalone database at {}",
            path.display()
        );
        let config = platform::config::DatabaseConfig::sqlite(path);
        Ok(Self::Local(platform::db::connect(&config).await?))
    }

    /// Dead letters of `group` for `topic`, one line each.
    pub async fn list(&self, topic: &str, group: &str) -> anyhow::Result<Vec<DeadLetter>> {
        Ok(match self {
            Self::Kafka(config) => list_kafka(config, topic, group).await?,
            Self::Local(db) => list_local(db, group)
                .await?
                .into_iter()
                .filter(|l| l.topic == topic)
                .collect(),
        })
    }

    /// Replays them; says what happened.
    pub async fn replay(&self, topic: &str, group: &str) -> anyhow::Result<String> {
        Ok(match self {
            Self::Kafka(config) => {
                let n = replay_kafka(config, topic, group).await?;
                format!("republished {n} dead letter(s) to {topic}")
            }
            Self::Local(db) => {
                let n = request_replay_local(db, group).await?;
                format!(
                    "requested replay of {n} dead letter(s); {group} applies them at its next batch"
                )
            }
        })
    }
}

impl std::fmt::Display for DeadLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (id, kind) = self
            .event
            .as_ref()
            .map_or(("-", "undecodable"), |(i, t)| (i.as_str(), t.as_str()));
        write!(
            f,
            "{}\t{}\t{id}\t{kind}\tattempts={}\t{}",
            self.position, self.topic, self.attempts, self.error
        )
    }
}

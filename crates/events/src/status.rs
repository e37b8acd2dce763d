//! The backbone as an operator sees it (`thegallery events status`): per topic what the relay
//! still has to publish, per consumer group and topic how far behind it is, its dead letters and
//! the last error one of them carries.

use std::collections::HashMap;
use std::time::Duration;

use platform::config::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
use serde::Serialize;

use crate::dlq::{self, DlqError};
use crate::kafka::client_config;

/// A consumer group and the topics it reads.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group (the consuming service).
    pub name: String,
    /// Logical topic names.
    pub topics: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// `kafka` or `in-process`.
    pub bus: &'static str,
    /// Per topic, the outbox backlog.
    pub topics: Vec<TopicStatus>,
    /// Per consumer group and topic.
    pub groups: Vec<GroupStatus>,
    /// What could not be looked at, in words (e.g. no outbox database configured).
    pub notes: Vec<String>,
}

/// The relay's side of one topic.
#[derive(Debug, Clone, Serialize)]
pub struct TopicStatus {
    /// Logical topic name.
    pub topic: String,
    /// Unpublished outbox rows; `None` when no outbox of this topic was looked at.
    pub backlog: Option<u64>,
    /// Age in seconds of the oldest unpublished row.
    pub oldest_unpublished_seconds: Option<f64>,
}

/// One consumer group on one topic.
#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    /// The group.
    pub group: String,
    /// Logical topic name.
    pub topic: String,
    /// Published events the group has not consumed yet.
    pub lag: u64,
    /// Dead letters not replayed yet.
    pub dead_letters: u64,
    /// The error of the newest dead letter.
    pub last_error: Option<String>,
}

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// A database failed.
    #[error("event tables could not be read")]
    Database(#[from] DbErr),
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] DlqError),
}

impl From<rdkafka::error::KafkaError> for StatusError {
    fn from(error: rdkafka::error::KafkaError) -> Self {
        Self::Kafka(DlqError::Operation(error))
    }
}

/// The in-process bus of a standalone data directory: which database publishes which topic and
/// which holds each group's cursors and dead letters.
#[derive(Debug)]
pub struct Local {
    /// Topic and the database whose outbox carries it.
    pub producers: Vec<(String, DatabaseConnection)>,
    /// Group, its topics and its database.
    pub consumers: Vec<(Group, DatabaseConnection)>,
}

/// The standalone report, read from the services' databases.
pub async fn local(bus: &Local) -> Result<Status, StatusError> {
    let mut topics = Vec::new();
    for (topic, db) in &bus.producers {
        topics.push(backlog_of(db, topic).await?);
    }
    let mut groups = Vec::new();
    for (group, db) in &bus.consumers {
        let letters = dlq::list_local(db, &group.name).await?;
        for topic in &group.topics {
            let position = crate::consumer::position(db, &group.name, topic)
                .await?
                .unwrap_or(0);
            let lag = match bus.producers.iter().find(|(t, _)| t == topic) {
                Some((_, producer)) => published_after(producer, topic, position).await?,
                None => 0,
            };
            let mine: Vec<_> = letters.iter().filter(|l| &l.topic == topic).collect();
            groups.push(GroupStatus {
                group: group.name.clone(),
                topic: topic.clone(),
                lag,
                dead_letters: mine.len() as u64,
                last_error: mine.last().map(|l| l.error.clone()),
            });
        }
    }
    Ok(Status {
        bus: "in-process",
        topics,
        groups,
        notes: Vec::new(),
    })
}

/// The Kafka report: lag and dead letters from the cluster, the backlog from `outbox` (the
/// database of the process's environment) when there is one.
pub async fn kafka(
    config: &KafkaConfig,
    groups: &[Group],
    produced: &[&str],
    outbox: Option<&DatabaseConnection>,
) -> Result<Status, StatusError> {
    let mut topics = Vec::new();
    let mut notes = Vec::new();
    for topic in produced {
        topics.push(match outbox {
            Some(db) => backlog_of(db, topic).await?,
            None => TopicStatus {
                topic: (*topic).to_owned(),
                backlog: None,
                oldest_unpublished_seconds: None,
            },
        });
    }
    if outbox.is_none() {
        notes.push(
            "backlog unknown: no outbox database configured (DATABASE_URL or MYSQL_*); \
             run this in the member and gallery pods to see theirs"
                .to_owned(),
        );
    }
    let mut rows = Vec::new();
    for group in groups {
        for topic in &group.topics {
            rows.push(kafka_group(config, &group.name, topic).await?);
        }
    }
    Ok(Status {
        bus: "kafka",
        topics,
        groups: rows,
        notes,
    })
}

async fn kafka_group(
    config: &KafkaConfig,
    group: &str,
    topic: &str,
) -> Result<GroupStatus, StatusError> {
    let physical = config.topic(topic);
    let lag = {
        let (config, group, physical) = (config.clone(), config.group(group), physical.clone());
        tokio::task::spawn_blocking(move || group_lag(&config, &group, &physical))
            .await
            .map_err(|_| rdkafka::error::KafkaError::Canceled)??
    };
    let letters = dlq::list_kafka(config, &physical, group).await?;
    let replayed = {
        let (config, dlq_topic) = (config.clone(), dlq::dlq_topic(&physical, group));
        tokio::task::spawn_blocking(move || replayed(&config, &dlq_topic))
            .await
            .map_err(|_| rdkafka::error::KafkaError::Canceled)??
    };
    Ok(GroupStatus {
        group: group.to_owned(),
        topic: topic.to_owned(),
        lag,
        dead_letters: (letters.len() as u64).saturating_sub(replayed),
        last_error: letters.last().map(|l| l.error.clone()),
    })
}

const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// Σ over partitions of the high watermark minus the group's committed offset (the low watermark
/// when it has none).
fn group_lag(config: &KafkaConfig, group: &str, topic: &str) -> Result<u64, StatusError> {
    let consumer: BaseConsumer = client_config(config).set("group.id", group).create()?;
    behind(&consumer, topic)
}

/// Dead letters the replay group has already passed.
fn replayed(config: &KafkaConfig, dlq_topic: &str) -> Result<u64, StatusError> {
    let consumer: BaseConsumer = client_config(config)
        .set("group.id", format!("{dlq_topic}.replay"))
        .create()?;
    let ends = watermarks(&consumer, dlq_topic)?;
    let committed = committed(&consumer, dlq_topic, &ends)?;
    Ok(ends
        .iter()
        .map(|(partition, (low, _))| {
            let at = committed.get(partition).copied().unwrap_or(*low);
            u64::try_from(at - low).unwrap_or_default()
        })
        .sum())
}

fn behind(consumer: &BaseConsumer, topic: &str) -> Result<u64, StatusError> {
    let ends = watermarks(consumer, topic)?;
    let committed = committed(consumer, topic, &ends)?;
    Ok(ends
        .iter()
        .map(|(partition, (low, high))| {
            let at = committed.get(partition).copied().unwrap_or(*low).max(*low);
            u64::try_from(high - at).unwrap_or_default()
        })
        .sum())
}

type Ends = HashMap<i32, (i64, i64)>;

fn watermarks(consumer: &BaseConsumer, topic: &str) -> Result<Ends, StatusError> {
    let metadata = consumer.fetch_metadata(Some(topic), KAFKA_TIMEOUT)?;
    let mut ends = HashMap::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let marks = consumer.fetch_watermarks(topic, partition.id(), KAFKA_TIMEOUT)?;
        ends.insert(partition.id(), marks);
    }
    Ok(ends)
}

fn committed(
    consumer: &BaseConsumer,
    topic: &str,
    ends: &Ends,
) -> Result<HashMap<i32, i64>, StatusError> {
    let mut wanted = TopicPartitionList::new();
    for partition in ends.keys() {
        wanted.add_partition(topic, *partition);
    }
    let committed = consumer.committed_offsets(wanted, KAFKA_TIMEOUT)?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect())
}

async fn backlog_of(db: &DatabaseConnection, topic: &str) -> Result<TopicStatus, DbErr> {
    let backlog = crate::relay::unpublished(db).await?;
    let mine = backlog.into_iter().find(|b| b.topic == topic);
    Ok(TopicStatus {
        topic: topic.to_owned(),
        backlog: Some(mine.as_ref().map_or(0, |b| b.rows)),
        oldest_unpublished_seconds: mine.and_then(|b| b.oldest).map(|d| d.as_secs_f64()),
    })
}

async fn published_after(
    db: &DatabaseConnection,
    topic: &str,
    position: i64,
) -> Result<u64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM outbox WHERE topic = ? AND published_at IS NOT NULL \
             AND id > ?",
            [topic.into(), position.into()],
        ))
        .await?;
    let n: i64 = row.map_or(Ok(0), |r| r.try_get("", "n"))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dash = || "-".to_owned();
        writeln!(f, "bus: {}", self.bus)?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<10} {:>8}  {:>18}",
            "TOPIC", "BACKLOG", "OLDEST UNPUBLISHED"
        )?;
        for t in &self.topics {
            let backlog = t.backlog.map_or_else(|| "?".to_owned(), |b| b.to_string());
            let oldest = t
                .oldest_unpublished_seconds
                .map_or_else(dash, |s| format!("{s:.1} s"));
            writeln!(f, "{:<10} {backlog:>8}  {oldest:>18}", t.topic)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<10} {:<10} {:>8} {:>13}  LAST ERROR",
            "GROUP", "TOPIC", "LAG", "DEAD LETTERS"
        )?;
        for g in &self.groups {
            let error = g.last_error.clone().unwrap_or_else(dash);
            writeln!(
                f,
                "{:<10} {:<10} {:>8} {:>13}  {error}",
                g.group, g.topic, g.lag, g.dead_letters
            )?;
        }
        for note in &self.notes {
            writeln!(f, "\nnote: {note}")?;
        }
        Ok(())
    }
}

//! Which bus carries a service's events: Kafka (distributed mode) or the in-process bus shared by
//! every service of the standalone process. Relays and consumers are built from it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use platform::config::KafkaConfig;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use crate::consumer::{Consumer, ConsumerOptions, KafkaConsumer, Source};
use crate::handler::Handler;
use crate::kafka::{KafkaError, NeededTopics, Producer, Quiet, client_config};
use crate::lag::{LagContext, STATISTICS_EVERY_MS};
use crate::relay::{KafkaSink, Relay, RelayOptions, Sink};

/// Where events travel. Clone it into every service of a process.
#[derive(Debug, Clone)]
pub enum Bus {
    /// Kafka: the relay produces, consumers use consumer groups, dead letters go to
    /// `<topic>.<group>.dlq` topics.
    Kafka(KafkaConfig),
    /// In one process: consumers read the producing service's published outbox rows directly,
    /// keep their position in their own `event_cursor` table and dead letters in `dead_letter`.
    InProcess(InProcessBus),
}

/// Why a relay or consumer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Kafka could not be reached or a topic not created.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

impl Bus {
    /// The Kafka bus.
    pub fn kafka(config: KafkaConfig) -> Self {
        Self::Kafka(config)
    }

    /// A new, empty in-process bus; share clones of it among the services of one process.
    pub fn in_process() -> Self {
        Self::InProcess(InProcessBus::default())
    }

    /// Kafka when configured, otherwise `fallback` (the process's shared in-process bus).
    pub fn from_config(kafka: Option<&KafkaConfig>, fallback: &Bus) -> Self {
        kafka.map_or_else(|| fallback.clone(), |k| Self::Kafka(k.clone()))
    }

    /// The relay of a service that publishes `topics`, reading the outbox in `db`. On Kafka the
    /// topics are created when missing: at once if the broker answers within a few seconds,
    /// otherwise before the first publish (the relay retries until it succeeds), so a service
    /// started while the broker is away still starts and serves.
    pub async fn relay(&self, db: DatabaseConnection, topics: &[&str]) -> Result<Relay, BusError> {
        self.relay_with(db, topics, RelayOptions::default()).await
    }

    /// As [`Bus::relay`], with explicit tuning.
    pub async fn relay_with(
        &self,
        db: DatabaseConnection,
        topics: &[&str],
        options: RelayOptions,
    ) -> Result<Relay, BusError> {
        let sink = match self {
            Self::Kafka(config) => {
                let physical = topics.iter().map(|t| config.topic(t)).collect();
                let needed = NeededTopics::at_start(config, physical).await;
                Sink::Kafka(KafkaSink::new(config.clone(), needed)?)
            }
            Self::InProcess(bus) => {
                for topic in topics {
                    bus.register_producer(topic, db.clone());
                }
                Sink::InProcess(bus.clone())
            }
        };
        let topics = topics.iter().map(|t| (*t).to_owned()).collect();
        Ok(Relay::new(db, sink, topics, options))
    }

    /// A consumer of `options.topics` for `options.group`, applying events with `handler` in
    /// transactions on `db`. On Kafka the topics and their dead-letter topics are created when
    /// missing, at start or before the first poll (as for [`Bus::relay`]).
    pub async fn consumer(
        &self,
        db: DatabaseConnection,
        options: ConsumerOptions,
        handler: Arc<dyn Handler>,
    ) -> Result<Consumer, BusError> {
        let source = match self {
            Self::Kafka(config) => kafka_source(config, &options).await?,
            Self::InProcess(bus) => {
                bus.register_consumer(&options.group, &options.topics, &db);
                Source::InProcess(bus.clone())
            }
        };
        Ok(Consumer::new(db, handler, options, source))
    }

    /// The purger of a service database's event tables (outbox and inbox), with `retention`.
    pub fn purger(
        &self,
        db: DatabaseConnection,
        retention: platform::config::RetentionConfig,
    ) -> crate::retention::Purger {
        let in_process = match self {
            Self::Kafka(_) => None,
            Self::InProcess(bus) => Some(bus.clone()),
        };
        crate::retention::Purger::new(db, retention, in_process)
    }
}

pub(crate) fn producer(config: &KafkaConfig) -> Result<Producer, KafkaError> {
    client_config(config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "15000")
        .create_with_context(Quiet)
        .map_err(|source| KafkaError::Client {
            bootstrap: config.bootstrap.to_string(),
            source,
        })
}

async fn kafka_source(config: &KafkaConfig, options: &ConsumerOptions) -> Result<Source, BusError> {
    use rdkafka::consumer::Consumer as _;
    // Cluster-side names carry KAFKA_TOPIC_PREFIX; the inbox keeps the logical group.
    let topics: Vec<String> = options.topics.iter().map(|t| config.topic(t)).collect();
    let dead: Vec<String> = topics
        .iter()
        .map(|t| crate::dlq::dlq_topic(t, &options.group))
        .collect();
    let needed =
        NeededTopics::at_start(config, topics.iter().chain(&dead).cloned().collect()).await;
    let client_error = |source| KafkaError::Client {
        bootstrap: config.bootstrap.to_string(),
        source,
    };
    let names = options.topics.iter().map(|t| (config.topic(t), t.clone()));
    let context = LagContext::new(&options.group, names);
    let consumer: KafkaConsumer = client_config(config)
        .set("group.id", config.group(&options.group))
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "200")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // The consumer group protocol of KIP-848: a member keeps its id across a broker outage
        // and carries on when the coordinator is back. With the classic protocol, an outage
        // longer than the session timeout made librdkafka rejoin as a new member and the
        // restarted coordinator wait a full session for the old one to expire (10 s of every
        // return). Session timeouts are the broker's `group.consumer.session.timeout.ms`.
        .set("group.protocol", "consumer")
        .set("fetch.error.backoff.ms", "100")
        .set("statistics.interval.ms", STATISTICS_EVERY_MS)
        .create_with_context(context)
        .map_err(client_error)?;
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(client_error)?;
    Ok(Source::Kafka {
        consumer,
        producer: producer(config)?,
        needed,
    })
}

/// The consumer groups reading one topic, each with the database that holds its cursor.
type Readers = Vec<(String, DatabaseConnection)>;

/// The bus of the standalone process: a registry of which service's database publishes which
/// topic, and a signal consumers wait on. Events themselves stay in the producer's outbox table,
/// so nothing published is lost when the process stops.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    producers: Arc<Mutex<HashMap<String, DatabaseConnection>>>,
    /// Per topic, the groups reading it and their databases (which hold their cursors).
    consumers: Arc<Mutex<HashMap<String, Readers>>>,
    published: Arc<watch::Sender<u64>>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self {
            producers: Arc::default(),
            consumers: Arc::default(),
            published: Arc::new(watch::channel(0).0),
        }
    }
}

impl InProcessBus {
    /// The latest relay of a topic wins: a restarted relay replaces its predecessor.
    fn register_producer(&self, topic: &str, db: DatabaseConnection) {
        self.producers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.to_owned(), db);
        self.published(topic);
    }

    /// A consumer of `group` reading `topics` with its cursors in `db`; a group registered again
    /// (a restarted consumer) replaces its predecessor.
    pub(crate) fn register_consumer(
        &self,
        group: &str,
        topics: &[String],
        db: &DatabaseConnection,
    ) {
        let mut consumers = self
            .consumers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for topic in topics {
            let readers = consumers.entry(topic.clone()).or_default();
            readers.retain(|(g, _)| g != group);
            readers.push((group.to_owned(), db.clone()));
        }
    }

    /// For every topic with at least one registered consumer, the lowest position all its
    /// consumers have passed: outbox rows of that topic up to it are read by everyone.
    pub(crate) async fn consumed_positions(&self) -> Result<Vec<(String, i64)>, sea_orm::DbErr> {
        let readers: Vec<(String, Readers)> = self
            .consumers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(topic, readers)| (topic.clone(), readers.clone()))
            .collect();
        let mut positions = Vec::with_capacity(readers.len());
        for (topic, readers) in readers {
            let mut lowest = i64::MAX;
            for (group, db) in &readers {
                let position = crate::consumer::position(db, group, &topic).await?;
                lowest = lowest.min(position.unwrap_or(0));
            }
            positions.push((topic, lowest));
        }
        Ok(positions)
    }

    pub(crate) fn producer(&self, topic: &str) -> Option<DatabaseConnection> {
        self.producers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(topic)
            .cloned()
    }

    pub(crate) fn published(&self, _topic: &str) {
        self.published.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.published.subscribe()
    }
}

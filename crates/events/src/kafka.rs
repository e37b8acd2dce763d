//! Kafka connection settings, start-up topic creation and the live broker check.

use std::time::Duration;

use platform::config::KafkaConfig;
use platform::http::Probe;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaErrorCode;

/// Why Kafka could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// A client could not be created.
    #[error("cannot create a Kafka client for {bootstrap}")]
    Client {
        /// Bootstrap servers.
        bootstrap: String,
        /// The cause.
        source: rdkafka::error::KafkaError,
    },
    /// Creating a topic failed.
    #[error("cannot create Kafka topic {topic}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The cause.
        source: rdkafka::error::KafkaError,
    },
}

/// Settings common to every client of the cluster. Reconnects back off to at most 500 ms: with
/// librdkafka's 10 s default a client could notice a returned broker seconds late, and a failed
/// connection attempt to a few brokers costs nothing.
pub fn client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", config.bootstrap.to_string())
        .set("socket.timeout.ms", "10000")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "500")
        .set("retry.backoff.max.ms", "500");
    client
}

/// Creates each topic that does not exist yet, with the configured partitions and replication.
pub async fn ensure_topics(config: &KafkaConfig, topics: &[&str]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(config)
            .create()
            .map_err(|source| KafkaError::Client {
                bootstrap: config.bootstrap.to_string(),
                source,
            })?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                config.partitions,
                TopicReplication::Fixed(config.replication),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|source| KafkaError::CreateTopic {
            topic: topics.join(","),
            source,
        })?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(%topic, "created Kafka topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::CreateTopic {
                    topic,
                    source: rdkafka::error::KafkaError::AdminOp(code),
                });
            }
        }
    }
    Ok(())
}

/// Topics a relay or consumer needs, created when missing: tried once at start-up (briefly, so a
/// process started while the broker is away still starts and serves) and otherwise before the
/// first publish or poll, until it succeeds.
#[derive(Debug)]
pub(crate) struct NeededTopics {
    config: KafkaConfig,
    topics: Vec<String>,
    created: std::sync::atomic::AtomicBool,
}

/// How long start-up waits for topic creation before leaving it to the first publish or poll.
const CREATE_AT_START_WITHIN: Duration = Duration::from_secs(5);

impl NeededTopics {
    /// Tries to create `topics` (physical names) now; a failure is logged, not returned.
    pub(crate) async fn at_start(config: &KafkaConfig, topics: Vec<String>) -> Self {
        let needed = Self {
            config: config.clone(),
            topics,
            created: std::sync::atomic::AtomicBool::new(false),
        };
        match tokio::time::timeout(CREATE_AT_START_WITHIN, needed.ensure()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(
                error = %platform::http::ErrorChain(&error),
                "Kafka topics not created at start-up; trying again before the first use"
            ),
            Err(_) => tracing::warn!(
                topics = ?needed.topics,
                "Kafka did not answer at start-up; topics are created before the first use"
            ),
        }
        needed
    }

    /// Creates the topics unless that succeeded before.
    pub(crate) async fn ensure(&self) -> Result<(), KafkaError> {
        use std::sync::atomic::Ordering;
        if self.created.load(Ordering::Acquire) {
            return Ok(());
        }
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        ensure_topics(&self.config, &topics).await?;
        self.created.store(true, Ordering::Release);
        Ok(())
    }
}

/// Live check: the cluster answers a metadata request (what [`crate::health::BrokerWatch`] asks
/// every few seconds).
pub struct KafkaProbe {
    consumer: std::sync::Arc<BaseConsumer<Quiet>>,
}

impl std::fmt::Debug for KafkaProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KafkaProbe")
    }
}

/// The context of our clients: librdkafka's reports that the broker cannot be reached go to debug.
/// While the broker is away every client would log them at each reconnect (dozens a minute per
/// process); [`crate::health::BrokerWatch`] logs the outage once instead. Anything else keeps
/// librdkafka's level.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Quiet;

impl ClientContext for Quiet {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        client_log(level, fac, log_message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        client_error(error, reason);
    }
}

impl ConsumerContext for Quiet {}

/// A producer with the [`Quiet`] context.
pub(crate) type Producer = rdkafka::producer::FutureProducer<Quiet>;

/// librdkafka's log line, at debug when it is a failed connection (facility `FAIL`).
pub(crate) fn client_log(level: RDKafkaLogLevel, fac: &str, log_message: &str) {
    if fac == "FAIL" {
        tracing::debug!(?level, fac, log_message, "librdkafka");
    } else {
        DefaultClientContext.log(level, fac, log_message);
    }
}

/// librdkafka's error report, at debug when it says only that brokers cannot be reached.
pub(crate) fn client_error(error: rdkafka::error::KafkaError, reason: &str) {
    use rdkafka::error::KafkaError::Global;
    match error {
        Global(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown) => {
            tracing::debug!(%error, reason, "librdkafka: broker unreachable");
        }
        error => DefaultClientContext.error(error, reason),
    }
}

impl KafkaProbe {
    /// A probe with its own lightweight client.
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        let consumer = client_config(config)
            .create_with_context(Quiet)
            .map_err(|source| KafkaError::Client {
                bootstrap: config.bootstrap.to_string(),
                source,
            })?;
        Ok(Self {
            consumer: std::sync::Arc::new(consumer),
        })
    }
}

#[async_trait::async_trait]
impl Probe for KafkaProbe {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn check(&self) -> Result<(), String> {
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || {
            consumer
                .fetch_metadata(None, Duration::from_secs(2))
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

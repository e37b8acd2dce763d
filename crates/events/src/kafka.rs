//! Kafka connection settings, start-up topic creation and the readiness probe.

use std::time::Duration;

use platform::config::KafkaConfig;
use platform::http::Probe;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
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

/// Settings common to every client of the cluster.
pub fn client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", config.bootstrap.to_string())
        .set("socket.timeout.ms", "10000")
        .set("reconnect.backoff.max.ms", "2000");
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

/// Readiness probe: the cluster answers a metadata request.
pub struct KafkaProbe {
    consumer: std::sync::Arc<BaseConsumer>,
}

impl std::fmt::Debug for KafkaProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KafkaProbe")
    }
}

impl KafkaProbe {
    /// A probe with its own lightweight client.
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        let consumer = client_config(config)
            .create()
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

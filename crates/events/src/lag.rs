//! Consumer lag per group and topic (`events_consumer_lag`), read from the statistics librdkafka
//! emits anyway: no extra request to the broker.

use std::collections::HashMap;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::statistics::{Partition, Statistics, Topic};

/// How often librdkafka reports its statistics (`statistics.interval.ms`).
pub(crate) const STATISTICS_EVERY_MS: &str = "5000";

/// The context of a Kafka consumer: turns each statistics report into lag gauges.
pub(crate) struct LagContext {
    group: String,
    /// Cluster-side topic name (with `KAFKA_TOPIC_PREFIX`) to the logical name used as label.
    topics: HashMap<String, String>,
}

impl LagContext {
    pub(crate) fn new(group: &str, topics: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            group: group.to_owned(),
            topics: topics.into_iter().collect(),
        }
    }
}

impl ClientContext for LagContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::kafka::client_log(level, fac, log_message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        crate::kafka::client_error(error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        for (physical, logical) in &self.topics {
            let Some(topic) = statistics.topics.get(physical) else {
                continue;
            };
            metrics::gauge!(
                "events_consumer_lag",
                "group" => self.group.clone(),
                "topic" => logical.clone(),
            )
            .set(topic_lag(topic) as f64);
        }
    }
}

impl ConsumerContext for LagContext {}

/// Messages of the partitions this member is assigned that it has not stored the offset of yet.
/// Partitions of other replicas, and those whose lag librdkafka does not know (-1), count zero.
fn topic_lag(topic: &Topic) -> i64 {
    topic
        .partitions
        .values()
        .filter(|p| p.partition >= 0)
        .map(partition_lag)
        .sum()
}

/// The stored offset runs ahead of the committed one by up to an auto-commit interval, so it is
/// the fresher measure; the committed lag stands in while nothing was stored yet.
fn partition_lag(partition: &Partition) -> i64 {
    if partition.consumer_lag_stored >= 0 {
        partition.consumer_lag_stored
    } else {
        partition.consumer_lag.max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(id: i32, stored: i64, committed: i64) -> (i32, Partition) {
        let partition = Partition {
            partition: id,
            consumer_lag_stored: stored,
            consumer_lag: committed,
            ..Partition::default()
        };
        (id, partition)
    }

    #[test]
    fn a_topics_lag_sums_its_partitions_and_ignores_what_is_unknown() {
        let topic = Topic {
            partitions: [
                partition(0, 3, 5),
                partition(1, -1, 4),
                partition(2, -1, -1),
                partition(-1, 7, 7),
            ]
            .into_iter()
            .collect(),
            ..Topic::default()
        };
        assert_eq!(topic_lag(&topic), 3 + 4);
    }
}

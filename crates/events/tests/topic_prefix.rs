//! `KAFKA_TOPIC_PREFIX` keeps systems that share a cluster apart: every topic and consumer group
//! a prefixed bus touches carries the prefix, and the events still flow end to end.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod support;

use std::time::Duration;

use events::Bus;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use support::scenarios;
use support::*;

fn topics_on_the_cluster() -> Vec<String> {
    let client: BaseConsumer = events::kafka::client_config(&kafka_config())
        .create()
        .unwrap();
    let metadata = client
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    metadata
        .topics()
        .iter()
        .map(|t| t.name().to_owned())
        .collect()
}

#[tokio::test]
async fn a_prefixed_bus_delivers_events_on_prefixed_topics_only() {
    let mut config = kafka_config();
    config.topic_prefix = format!("p{}.", testkit::unique());
    let bus = Bus::kafka(config.clone());
    let topic = testkit::unique_topic("prefixed");
    let group = format!("group-{}", testkit::unique());
    scenarios::per_aggregate_order(&bus, &topic, &group).await;

    let topics = tokio::task::spawn_blocking(topics_on_the_cluster)
        .await
        .unwrap();
    assert!(topics.contains(&config.topic(&topic)), "{topics:?}");
    assert!(topics.contains(&format!("{}.{group}.dlq", config.topic(&topic))));
    assert!(
        !topics.contains(&topic),
        "the logical name was used on the cluster"
    );
}

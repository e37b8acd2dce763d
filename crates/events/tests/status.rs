//! The backbone's status in Kafka mode: lag from the cluster's committed offsets, dead letters
//! from the dead-letter topics, the backlog from an outbox database.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod support;

use std::time::Duration;

use events::status::{Group, Status};
use platform::config::KafkaConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::*;

fn prefixed() -> KafkaConfig {
    KafkaConfig {
        topic_prefix: format!("test.status{}.", testkit::unique()),
        ..kafka_config()
    }
}

async fn produce(config: &KafkaConfig, topic: &str, error: Option<&str>) {
    let producer: FutureProducer = events::kafka::client_config(config).create().unwrap();
    let mut headers = OwnedHeaders::new();
    if let Some(error) = error {
        headers = headers.insert(Header {
            key: events::dlq::ERROR_HEADER,
            value: Some(error),
        });
    }
    let record = FutureRecord::to(topic)
        .key("k")
        .payload("{}")
        .headers(headers);
    producer
        .send(record, Duration::from_secs(10))
        .await
        .unwrap();
}

fn row<'a>(status: &'a Status, group: &str, topic: &str) -> &'a events::status::GroupStatus {
    status
        .groups
        .iter()
        .find(|g| g.group == group && g.topic == topic)
        .unwrap()
}

#[tokio::test]
async fn kafka_status_shows_unconsumed_events_as_lag_a_dead_letter_and_the_outbox_backlog() {
    let config = prefixed();
    let (member, dlq) = (
        config.topic("member"),
        events::dlq::dlq_topic(&config.topic("member"), "post"),
    );
    events::kafka::ensure_topics(&config, &[&member, &dlq])
        .await
        .unwrap();
    for _ in 0..3 {
        produce(&config, &member, None).await;
    }
    produce(&config, &dlq, Some("handler failed: boom")).await;
    let test = TestDb::mariadb().await;
    let outbox = events::Outbox::default();
    commit(&test.db, &outbox, "member", &[event("a", 0), event("a", 1)]).await;
    let groups = [Group {
        name: "post".to_owned(),
        topics: vec!["member".to_owned()],
    }];

    let status = events::status::kafka(&config, &groups, &["member"], Some(&test.db))
        .await
        .unwrap();

    assert_eq!(status.topics[0].backlog, Some(2));
    let post = row(&status, "post", "member");
    assert_eq!(post.lag, 3);
    assert_eq!(post.dead_letters, 1);
    assert_eq!(post.last_error.as_deref(), Some("handler failed: boom"));
    test.drop_now().await;
}

//! Kafka: the local broker takes and returns messages, topics are created at start-up, and the
//! readiness probe tells a live cluster from a dead one.

#![expect(
    clippy::expect_used,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use std::time::Duration;

use events::kafka::{KafkaProbe, client_config, ensure_topics};
use platform::config::{KafkaConfig, Vars};
use platform::http::Probe;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

fn config() -> KafkaConfig {
    let env = testkit::dev_env();
    let mut vars = Vars::new(&env);
    KafkaConfig::read(&mut vars).expect("KAFKA_SERVER in dev-services.env")
}

#[tokio::test]
async fn a_message_produced_to_a_fresh_topic_is_consumed_back() {
    let config = config();
    let topic = testkit::unique_topic("roundtrip");
    ensure_topics(&config, &[&topic]).await.unwrap();

    let producer: FutureProducer = client_config(&config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(&topic).key("42").payload("안녕 gallery"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();

    let consumer: StreamConsumer = client_config(&config)
        .set("group.id", format!("test-{}", testkit::unique()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a message within 30 s")
        .unwrap();
    assert_eq!(message.key(), Some(b"42".as_slice()));
    assert_eq!(
        message.payload_view::<str>().unwrap().unwrap(),
        "안녕 gallery"
    );
}

#[tokio::test]
async fn ensuring_an_existing_topic_again_succeeds() {
    let config = config();
    let topic = testkit::unique_topic("twice");
    ensure_topics(&config, &[&topic]).await.unwrap();
    ensure_topics(&config, &[&topic]).await.unwrap();
}

#[tokio::test]
async fn the_probe_passes_against_the_local_broker() {
    assert_eq!(KafkaProbe::new(&config()).unwrap().check().await, Ok(()));
}

#[tokio::test]
async fn the_probe_fails_when_nothing_listens() {
    let env = [("KAFKA_SERVER", "127.0.0.1:1")];
    let mut vars = Vars::new(&env);
    let dead = KafkaConfig::read(&mut vars).unwrap();
    assert!(KafkaProbe::new(&dead).unwrap().check().await.is_err());
}

#[tokio::test]
async fn the_broker_watch_shows_a_live_broker_as_ok() {
    let watch = events::BrokerWatch::start(&config()).unwrap();
    assert_eq!(watch.check().await, Ok(()));
    assert_eq!(watch.last(), Some(Ok(())));
}

#[tokio::test]
async fn the_broker_watch_shows_a_dead_broker_as_unreachable_with_the_reason() {
    let env = [("KAFKA_SERVER", "127.0.0.1:1")];
    let mut vars = Vars::new(&env);
    let dead = KafkaConfig::read(&mut vars).unwrap();
    let watch = events::BrokerWatch::start(&dead).unwrap();
    let shown = watch.check().await.unwrap_err();
    assert!(shown.starts_with("broker unreachable for 0 s: "), "{shown}");
}

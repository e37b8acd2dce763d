//! Events: `gallery.created`/`gallery.deleted` through the outbox, the nickname projection and the
//! withdrawal cascade from member events, on the in-process bus (MariaDB and SQLite) and on Kafka.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::Service;
use events::{Envelope, Event, MemberEvent, Relay};
use platform::config::{KafkaConfig, Vars};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde_json::{Value, json};

both!(
    a_created_gallery_announces_its_place_frames_in_the_outbox,
    a_deleted_gallery_announces_its_deletion_in_the_outbox,
    a_refused_creation_announces_nothing,
    the_relay_publishes_what_the_outbox_holds,
    a_registration_makes_the_nickname_searchable,
    the_projection_follows_a_nickname_change,
    a_withdrawal_deletes_exactly_that_members_galleries_and_announces_each,
);

struct EventsOnly;

impl MigratorTrait for EventsOnly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        events::migration::migrations()
    }
}

/// The member service's side of the in-process bus: its own database and relay.
struct MemberSide {
    relay: Relay,
    db: DatabaseConnection,
    _dir: tempfile::TempDir,
}

impl MemberSide {
    async fn on(service: &Service) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = platform::config::DatabaseConfig::sqlite(dir.path().join("member.db"));
        let db = platform::db::connect(&config).await.unwrap();
        platform::db::migrate::<EventsOnly>(&db).await.unwrap();
        let relay = service.bus.relay(db.clone(), &["member"]).await.unwrap();
        Self {
            relay,
            db,
            _dir: dir,
        }
    }

    /// Publishes `event` and lets the gallery consumer apply it.
    async fn deliver(&self, service: &Service, event: MemberEvent) {
        self.relay.outbox().enqueue(&self.db, &event).await.unwrap();
        assert_eq!(self.relay.publish_batch().await.unwrap(), 1);
        assert_eq!(service.consumer.process_batch().await.unwrap(), 1);
    }

    /// Delivers the registration of `member_id` as `nickname`.
    async fn register(&self, service: &Service, member_id: i64, nickname: &str) {
        let nickname = nickname.into();
        let event = MemberEvent::Registered {
            member_id,
            nickname,
        };
        self.deliver(service, event).await;
    }

    /// Delivers `member_id`'s change of nickname to `nickname`.
    async fn rename(&self, service: &Service, member_id: i64, nickname: &str) {
        let nickname = nickname.into();
        let event = MemberEvent::NicknameChanged {
            member_id,
            nickname,
        };
        self.deliver(service, event).await;
    }
}

/// `(type, payload)` of every event in the gallery outbox, oldest first.
async fn outbox(s: &Service) -> Vec<(String, Value)> {
    let rows = s
        .state
        .db
        .query_all_raw(Statement::from_string(
            s.state.db.get_database_backend(),
            "SELECT event_type, payload FROM outbox ORDER BY id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("", "event_type").unwrap();
            let body: String = row.try_get("", "payload").unwrap();
            let envelope = Envelope::from_json(body.as_bytes()).unwrap();
            (kind, envelope.payload)
        })
        .collect()
}

async fn titles_by(s: &Service, nickname: &str) -> Vec<String> {
    s.search_titles("author", nickname).await
}

/// Asserts that the outbox holds one `gallery.deleted` of `member` for each of `galleries`, in order.
async fn assert_deleted_in_outbox(s: &Service, galleries: &[i64], member: i64) {
    let deleted: Vec<Value> = outbox(s)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "gallery.deleted")
        .map(|(_, payload)| payload)
        .collect();
    let expected: Vec<Value> = galleries
        .iter()
        .map(|id| json!({"galleryId": id, "memberId": member}))
        .collect();
    assert_eq!(deleted, expected);
}

async fn a_created_gallery_announces_its_place_frames_in_the_outbox(s: &Service) {
    let id = s.create(5, 2, "봄").await;
    assert_eq!(
        outbox(s).await,
        [(
            "gallery.created".to_owned(),
            json!({"galleryId": id, "memberId": 5, "placeId": 2, "frameCount": 10})
        )]
    );
}

async fn a_deleted_gallery_announces_its_deletion_in_the_outbox(s: &Service) {
    let id = s.create(5, 1, "봄").await;
    let answer = s
        .send(Method::DELETE, &format!("/api/gallery/{id}"), Some(5), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let events = outbox(s).await;
    assert_eq!(
        events[1],
        (
            "gallery.deleted".to_owned(),
            json!({"galleryId": id, "memberId": 5})
        )
    );
}

async fn a_refused_creation_announces_nothing(s: &Service) {
    s.create(5, 1, "봄").await;
    for body in [
        json!({"placeId": 1, "name": "봄"}),
        json!({"placeId": 8, "name": "여름"}),
    ] {
        let answer = s
            .send(Method::POST, "/api/gallery", Some(5), Some(body))
            .await;
        assert_ne!(answer.status, StatusCode::OK);
    }
    let id = s.create(6, 1, "남의 것").await;
    let answer = s
        .send(Method::DELETE, &format!("/api/gallery/{id}"), Some(5), None)
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(outbox(s).await.len(), 2);
}

async fn the_relay_publishes_what_the_outbox_holds(s: &Service) {
    s.create(5, 1, "봄").await;
    s.create(5, 1, "여름").await;
    assert_eq!(s.relay.publish_batch().await.unwrap(), 2);
    assert_eq!(s.relay.publish_batch().await.unwrap(), 0);
}

async fn a_registration_makes_the_nickname_searchable(s: &Service) {
    let member = MemberSide::on(s).await;
    s.create(5, 1, "봄").await;
    member.register(s, 5, "하늘").await;
    assert_eq!(titles_by(s, "하늘").await, ["봄"]);
}

async fn the_projection_follows_a_nickname_change(s: &Service) {
    let member = MemberSide::on(s).await;
    s.create(5, 1, "봄").await;
    member.register(s, 5, "하늘").await;
    member.rename(s, 5, "바다").await;
    assert_eq!(titles_by(s, "하늘").await, Vec::<String>::new());
    assert_eq!(titles_by(s, "바다").await, ["봄"]);
}

async fn a_withdrawal_deletes_exactly_that_members_galleries_and_announces_each(s: &Service) {
    let member = MemberSide::on(s).await;
    let gone = [s.create(5, 1, "봄").await, s.create(5, 2, "여름").await];
    let kept = s.create(6, 1, "겨울").await;
    member.register(s, 5, "하늘").await;
    member
        .deliver(s, MemberEvent::Withdrawn { member_id: 5 })
        .await;

    for id in gone {
        let answer = s.get(&format!("/api/gallery/{id}"), None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
    }
    let answer = s.get(&format!("/api/gallery/{kept}"), None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_deleted_in_outbox(s, &gone, 5).await;
    assert_eq!(titles_by(s, "하늘").await, Vec::<String>::new());
}

// ---- Kafka ----

fn kafka_config() -> KafkaConfig {
    let env = testkit::dev_env();
    KafkaConfig::read(&mut Vars::new(&env)).unwrap()
}

/// A gallery service on MariaDB whose member consumer reads a topic of its own on Kafka.
async fn on_kafka() -> (Service, events::Consumer, String) {
    let config = kafka_config();
    let service = Service::mysql_on(events::Bus::kafka(config.clone())).await;
    let topic = testkit::unique_topic("member");
    let mut options = gallery::events::consumer_options();
    options.group = format!("gallery-{}", testkit::unique());
    options.topics = vec![topic.clone()];
    let consumer = gallery::events::member_consumer(
        &service.bus,
        service.state.db.clone(),
        service.state.outbox.clone(),
        options,
    )
    .await
    .unwrap();
    (service, consumer, topic)
}

async fn produce(topic: &str, envelope: &Envelope) {
    let producer: FutureProducer = events::kafka::client_config(&kafka_config())
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(topic)
                .key(&envelope.aggregate_id)
                .payload(&envelope.to_json()),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
}

/// Processes batches until `expected` messages were handled (each batch waits for messages).
async fn consume(consumer: &events::Consumer, expected: usize) {
    let mut handled = 0;
    for _ in 0..120 {
        handled += consumer.process_batch().await.unwrap();
        if handled >= expected {
            break;
        }
    }
    assert_eq!(handled, expected);
}

#[tokio::test]
async fn on_kafka_the_same_member_event_delivered_twice_changes_nothing_more() {
    let (s, consumer, topic) = on_kafka().await;
    s.create(5, 1, "봄").await;
    let registered = MemberEvent::Registered {
        member_id: 5,
        nickname: "하늘".into(),
    }
    .to_envelope();
    let renamed = MemberEvent::NicknameChanged {
        member_id: 5,
        nickname: "바다".into(),
    }
    .to_envelope();
    produce(&topic, &registered).await;
    produce(&topic, &renamed).await;
    produce(&topic, &registered).await;
    consume(&consumer, 3).await;
    assert_eq!(titles_by(&s, "바다").await, ["봄"]);
    assert_eq!(titles_by(&s, "하늘").await, Vec::<String>::new());
    s.finish().await;
}

#[tokio::test]
async fn on_kafka_a_withdrawal_delivered_twice_announces_each_deletion_once_and_publishes_them() {
    let (s, consumer, topic) = on_kafka().await;
    let gone = [s.create(5, 1, "봄").await, s.create(5, 3, "가을").await];
    let kept = s.create(6, 1, "겨울").await;
    assert_eq!(s.relay.publish_batch().await.unwrap(), 3);
    let withdrawn = MemberEvent::Withdrawn { member_id: 5 }.to_envelope();
    produce(&topic, &withdrawn).await;
    produce(&topic, &withdrawn).await;
    consume(&consumer, 2).await;

    assert_deleted_in_outbox(&s, &gone, 5).await;
    let answer = s.get(&format!("/api/gallery/{kept}"), None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(s.relay.publish_batch().await.unwrap(), 2);
    s.finish().await;
}

//! Frames, comments and nicknames follow gallery and member events, over real Kafka with MariaDB
//! and over the in-process bus with SQLite.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::http::Method;
use common::{Form, Harness, PostPart, png};
use events::{
    Bus, Consumer, ConsumerOptions, Envelope, Event, GalleryEvent, MemberEvent, Relay, TraceContext,
};
use platform::config::{KafkaConfig, Vars};
use post::reactions;
use serde_json::json;

use common::{OWNER, VISITOR};
const GALLERY: i64 = 300;

/// A post service wired to a bus, publishing test events from its own outbox table.
struct Wired {
    h: Harness,
    relay: Relay,
    consumer: Consumer,
    gallery_topic: String,
    member_topic: String,
}

fn kafka_config() -> KafkaConfig {
    let env = testkit::dev_env();
    let mut vars = Vars::new(&env);
    KafkaConfig::read(&mut vars).unwrap()
}

impl Wired {
    async fn kafka() -> Self {
        let h = Harness::mysql().await;
        let gallery_topic = testkit::unique_topic("post-gallery");
        let member_topic = testkit::unique_topic("post-member");
        let group = format!("post-{}", testkit::unique());
        Self::connect(
            h,
            &Bus::kafka(kafka_config()),
            gallery_topic,
            member_topic,
            group,
        )
        .await
    }

    async fn in_process() -> Self {
        let h = Harness::sqlite().await;
        Self::connect(
            h,
            &Bus::in_process(),
            "gallery".into(),
            "member".into(),
            "post".into(),
        )
        .await
    }

    async fn connect(
        h: Harness,
        bus: &Bus,
        gallery_topic: String,
        member_topic: String,
        group: String,
    ) -> Self {
        let relay = bus
            .relay(h.state.db.clone(), &[&gallery_topic, &member_topic])
            .await
            .unwrap();
        let options = ConsumerOptions::new(group, &[&gallery_topic, &member_topic]);
        let consumer = reactions::consumer(&h.state, bus, options).await.unwrap();
        Self {
            h,
            relay,
            consumer,
            gallery_topic,
            member_topic,
        }
    }

    /// Publishes `envelope` on the topic of `E` and waits until the consumer has taken it.
    async fn deliver<E: Event>(&self, envelope: &Envelope) {
        let topic = if E::TOPIC == "gallery" {
            &self.gallery_topic
        } else {
            &self.member_topic
        };
        self.relay
            .outbox()
            .enqueue_envelope(&self.h.state.db, topic, envelope, &TraceContext::default())
            .await
            .unwrap();
        while self.relay.publish_batch().await.unwrap() > 0 {}
        // The first poll of a new Kafka consumer also joins its group, which takes a few polls.
        for _ in 0..120 {
            if self.consumer.process_batch().await.unwrap() > 0 {
                return;
            }
        }
        panic!("the event was not consumed");
    }

    async fn send<E: Event>(&self, event: &E) {
        self.deliver::<E>(&event.to_envelope()).await;
    }
}

fn created(frames: i32) -> GalleryEvent {
    GalleryEvent::Created {
        gallery_id: GALLERY,
        member_id: OWNER,
        place_id: 1,
        frame_count: frames,
    }
}

async fn frames_appear_once(w: Wired) {
    assert!(w.h.post_ids(GALLERY).await.is_empty());
    w.send(&created(10)).await;
    let ids = w.h.post_ids(GALLERY).await;
    assert_eq!(ids.len(), 10);
    // A second announcement (a new event id, so the inbox does not catch it) changes nothing.
    w.send(&created(10)).await;
    assert_eq!(w.h.post_ids(GALLERY).await, ids);
}

async fn deletion_removes_everything(w: Wired) {
    w.send(&created(2)).await;
    let ids = w.h.post_ids(GALLERY).await;
    let mut part = PostPart::new(ids[0], 1);
    part.image = Some(png(1000));
    w.h.patch_posts(GALLERY, OWNER, Form::default().post(0, &part))
        .await;
    w.h.call(
        Method::POST,
        "/api/post/comment",
        Some(VISITOR),
        Some(json!({"postId": ids[0], "content": "와"})),
    )
    .await;
    assert_eq!(w.h.stored_files().len(), 2);

    let deleted = GalleryEvent::Deleted {
        gallery_id: GALLERY,
        member_id: OWNER,
    };
    w.send(&deleted).await;
    w.send(&deleted).await;
    reactions::sweep_images(&w.h.state).await.unwrap();
    assert!(w.h.post_ids(GALLERY).await.is_empty());
    assert!(
        post::store::list_comments(
            &w.h.state.db,
            ids[0],
            platform::http::Page::parse(None, None).unwrap()
        )
        .await
        .unwrap()
        .is_empty()
    );
    assert_eq!(
        w.h.stored_files().into_iter().collect::<Vec<_>>(),
        ["Default.png"]
    );
    assert_eq!(
        post::store::gallery_owner(&w.h.state.db, GALLERY)
            .await
            .unwrap(),
        None
    );
}

async fn member_events_drive_nicknames_and_withdrawal(w: Wired) {
    w.send(&created(1)).await;
    let post = w.h.post_ids(GALLERY).await[0];
    w.send(&MemberEvent::Registered {
        member_id: VISITOR,
        nickname: "처음".into(),
    })
    .await;
    w.h.call(
        Method::POST,
        "/api/post/comment",
        Some(VISITOR),
        Some(json!({"postId": post, "content": "안녕"})),
    )
    .await;
    w.send(&MemberEvent::NicknameChanged {
        member_id: VISITOR,
        nickname: "바뀜".into(),
    })
    .await;
    let uri = format!("/api/post/comment/list/{post}");
    let (_, body) = w.h.get(&uri).await;
    assert_eq!(body["data"][0]["nickname"], "바뀜");

    w.send(&MemberEvent::Withdrawn { member_id: VISITOR }).await;
    let (_, body) = w.h.get(&uri).await;
    assert_eq!(body["data"], json!([]));
}

#[tokio::test]
async fn frames_appear_after_gallery_created_on_kafka_and_a_repeat_changes_nothing() {
    frames_appear_once(Wired::kafka().await).await;
}

#[tokio::test]
async fn gallery_deleted_on_kafka_removes_frames_comments_and_images() {
    deletion_removes_everything(Wired::kafka().await).await;
}

#[tokio::test]
async fn member_events_on_kafka_rename_comment_authors_and_withdrawal_removes_their_comments() {
    member_events_drive_nicknames_and_withdrawal(Wired::kafka().await).await;
}

#[tokio::test]
async fn frames_appear_after_gallery_created_in_process_and_a_repeat_changes_nothing() {
    frames_appear_once(Wired::in_process().await).await;
}

#[tokio::test]
async fn gallery_deleted_in_process_removes_frames_comments_and_images() {
    deletion_removes_everything(Wired::in_process().await).await;
}

#[tokio::test]
async fn member_events_in_process_rename_comment_authors_and_withdrawal_removes_their_comments() {
    member_events_drive_nicknames_and_withdrawal(Wired::in_process().await).await;
}

#[tokio::test]
async fn the_same_gallery_created_delivered_twice_on_kafka_has_one_effect() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let w = Wired::kafka().await;
    let producer: FutureProducer = events::kafka::client_config(&kafka_config())
        .create()
        .unwrap();
    let body = created(3).to_envelope().to_json();
    for _ in 0..2 {
        let record = FutureRecord::to(&w.gallery_topic).key("300").payload(&body);
        producer
            .send(record, std::time::Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    let mut taken = 0;
    for _ in 0..120 {
        taken += w.consumer.process_batch().await.unwrap();
        if taken >= 2 {
            break;
        }
    }
    assert_eq!(taken, 2);
    assert_eq!(w.h.post_ids(GALLERY).await.len(), 3);
}

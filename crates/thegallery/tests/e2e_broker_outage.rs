//! Distributed only: the Kafka broker is stopped while members sign up, rename themselves and open
//! galleries. Every service stays ready and serves, one restarted during the outage too; the
//! broker's absence shows in `/readyz`'s body and in `/metrics`; once it is back, each event of
//! the outage is applied exactly once.
//!
//! This file holds one test on purpose: it stops the shared broker, and cargo runs test binaries
//! one after another, so no other test talks to Kafka meanwhile. A guard starts the broker again
//! even when the test fails.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

use std::future::Future;
use std::time::{Duration, Instant};

use e2e::{Service, System, Visitor, journeys};
use serde_json::{Value, json};

const SERVICES: [Service; 3] = [Service::Member, Service::Gallery, Service::Post];

/// Polls `check` until it returns `Some`, for at most `limit`.
async fn within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `/readyz` of one process, asserting that it answers 200 and `ready`; returns its checks.
async fn ready_checks(system: &System, service: Service) -> Value {
    let response = reqwest::get(system.url(service, "/readyz")).await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{service:?} not ready: {body}");
    assert_eq!(body["status"], "ready", "{service:?}: {body}");
    assert_eq!(body["checks"]["database"], "ok", "{service:?}: {body}");
    body["checks"].clone()
}

/// The value of one series (`name{labels}` exactly as rendered) in a process's `/metrics`.
async fn metric(system: &System, service: Service, series: &str) -> Option<f64> {
    let text = reqwest::get(system.url(service, "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn metric_becomes(system: &System, service: Service, series: &str, want: f64) {
    let what = format!("{service:?}'s {series} is {want}");
    within(Duration::from_secs(180), &what, || async {
        (metric(system, service, series).await == Some(want)).then_some(())
    })
    .await;
}

async fn frames(visitor: &mut Visitor, gallery: i64) -> usize {
    let answer = visitor
        .get(&format!("/api/post/list/{gallery}"))
        .await
        .expect(200);
    answer.data().as_array().map_or(0, Vec::len)
}

async fn found_as(visitor: &mut Visitor, nickname: &str) -> bool {
    let path = format!("/api/gallery/search?type=author&query={nickname}");
    let answer = visitor.get(&path).await.expect(200);
    answer
        .data()
        .as_array()
        .is_some_and(|found| found.len() == 1 && found[0]["nickname"] == nickname)
}

/// What the members did during the outage: (browser, nickname, gallery) each.
type Doings = Vec<(Visitor, String, i64)>;

/// Three members sign up and open a gallery, the first renames herself: 4 member events, 3
/// gallery events, all waiting in the outboxes.
async fn serve_during_the_outage(system: &System) -> Doings {
    let mut doings = Vec::new();
    for _ in 0..3 {
        doings.push(journeys::start_an_exhibition(system).await);
    }
    let renamed = format!("re{}", &testkit::unique()[..6]);
    let (first, nickname, _) = &mut doings[0];
    first
        .patch("/api/member", &json!({"nickname": renamed}))
        .await
        .expect(200);
    *nickname = renamed;
    doings
}

async fn the_outage_is_reported_but_nobody_is_unready(system: &System) {
    for service in SERVICES {
        let what = format!("{service:?} reports the broker down");
        let kafka = within(Duration::from_secs(30), &what, || async {
            let checks = ready_checks(system, service).await;
            let kafka = checks["kafka"].as_str().unwrap_or_default().to_owned();
            kafka
                .starts_with("degraded: broker unreachable")
                .then_some(kafka)
        })
        .await;
        assert!(kafka.contains(" s: "), "{kafka}");
        metric_becomes(system, service, "events_broker_up", 0.0).await;
    }
}

async fn the_backlog_waits_in_the_outboxes(system: &System) {
    for (service, topic, rows) in [
        (Service::Member, "member", 4.0),
        (Service::Gallery, "gallery", 3.0),
    ] {
        let backlog = format!("events_relay_backlog{{topic=\"{topic}\"}}");
        metric_becomes(system, service, &backlog, rows).await;
        let oldest = format!("events_relay_oldest_unpublished_seconds{{topic=\"{topic}\"}}");
        let age = metric(system, service, &oldest).await.unwrap();
        assert!(age > 0.0, "{oldest} = {age}");
    }
}

async fn the_outage_events_are_applied(doings: &mut Doings) {
    for (visitor, nickname, gallery) in doings.iter_mut() {
        let what = format!("gallery {gallery} has its frames and is found as {nickname}");
        within(Duration::from_secs(180), &what, || {
            let (mut visitor, nickname, gallery) = (visitor.clone(), nickname.clone(), *gallery);
            async move {
                let framed = frames(&mut visitor, gallery).await == 10;
                (framed && found_as(&mut visitor, &nickname).await).then_some(())
            }
        })
        .await;
    }
}

/// Each event applied exactly once: the consumers' counts of applied events match what was
/// produced, the outboxes are empty and no effect arrives twice later.
async fn nothing_was_lost_or_applied_twice(system: &System, doings: &mut Doings) {
    metric_becomes(
        system,
        Service::Member,
        "events_relay_backlog{topic=\"member\"}",
        0.0,
    )
    .await;
    metric_becomes(
        system,
        Service::Gallery,
        "events_relay_backlog{topic=\"gallery\"}",
        0.0,
    )
    .await;
    let published = "events_published_total";
    assert_eq!(metric(system, Service::Member, published).await, Some(4.0));
    assert_eq!(metric(system, Service::Gallery, published).await, Some(3.0));
    let applied_by_gallery = "events_consumed_total{group=\"gallery\"}";
    let applied_by_post = "events_consumed_total{group=\"post\"}";
    metric_becomes(system, Service::Gallery, applied_by_gallery, 4.0).await;
    metric_becomes(system, Service::Post, applied_by_post, 7.0).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        metric(system, Service::Gallery, applied_by_gallery).await,
        Some(4.0)
    );
    assert_eq!(
        metric(system, Service::Post, applied_by_post).await,
        Some(7.0)
    );
    for (visitor, _, gallery) in doings.iter_mut() {
        assert_eq!(frames(visitor, *gallery).await, 10, "gallery {gallery}");
    }
    let lag = "events_consumer_lag{group=\"post\",topic=\"gallery\"}";
    metric_becomes(system, Service::Post, lag, 0.0).await;
}

#[tokio::test]
async fn with_the_broker_down_every_service_stays_ready_and_serves_and_once_it_is_back_each_event_is_applied_exactly_once()
 {
    let mut system = System::distributed(env!("CARGO_BIN_EXE_thegallery").as_ref()).await;
    for service in SERVICES {
        assert_eq!(ready_checks(&system, service).await["kafka"], "ok");
        metric_becomes(&system, service, "events_broker_up", 1.0).await;
    }

    let outage = testkit::KafkaOutage::begin();
    the_outage_is_reported_but_nobody_is_unready(&system).await;
    let mut doings = serve_during_the_outage(&system).await;
    the_backlog_waits_in_the_outboxes(&system).await;
    // A process started while the broker is away (a rescheduled pod) starts, is ready and
    // serves; it creates its topics and joins its group once the broker is back.
    system.crash_and_restart(Service::Gallery).await;
    for service in SERVICES {
        ready_checks(&system, service).await;
    }
    outage.end().await;

    for service in SERVICES {
        metric_becomes(&system, service, "events_broker_up", 1.0).await;
        assert_eq!(ready_checks(&system, service).await["kafka"], "ok");
    }
    the_outage_events_are_applied(&mut doings).await;
    nothing_was_lost_or_applied_twice(&system, &mut doings).await;
    system.stop().await;
}

//! The consumer's span carries the request id and trace id that came in the Kafka headers. Alone
//! in its binary: tracing caches per call site whether anyone listens, and a test thread without
//! a subscriber hitting the `event` span first would disable it for this test's scoped subscriber.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod support;

use std::sync::Arc;

use events::TraceContext;
use support::*;

/// Remembers the `request_id` and `trace_id` of every `event` span opened.
#[derive(Clone, Default)]
struct EventSpans(Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EventSpans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Fields(String, String);
        impl tracing::field::Visit for Fields {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "request_id" => self.0 = value.to_owned(),
                    "trace_id" => self.1 = value.to_owned(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if attrs.metadata().name() == "event" {
            let mut fields = Fields(String::new(), String::new());
            attrs.record(&mut fields);
            self.0.lock().unwrap().push((fields.0, fields.1));
        }
    }
}

#[tokio::test]
async fn the_consumer_span_carries_the_request_id_and_trace_id_of_the_causing_request() {
    use tracing_subscriber::layer::SubscriberExt;
    let topic = testkit::unique_topic("span");
    let group = format!("group-{}", testkit::unique());
    let test = TestDb::mariadb().await;
    let bus = kafka();
    let relay = relay(&bus, &test.db, &topic).await;
    let context = TraceContext {
        request_id: Some("req-span-1".into()),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        tracestate: None,
    };
    let outbox = relay.outbox();
    events::context::scope(context, commit(&test.db, &outbox, &topic, &[event("s", 1)])).await;
    publish_all(&relay).await;

    let spans = EventSpans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let consumer = consumer(&bus, &test.db, &group, &topic, Arc::default()).await;
    consume_until(&consumer, &test.db, 1).await;
    assert_eq!(
        spans.0.lock().unwrap().as_slice(),
        [(
            "req-span-1".to_owned(),
            "4bf92f3577b34da6a3ce929d0e0e4736".to_owned()
        )]
    );
    test.drop_now().await;
}

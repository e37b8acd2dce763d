//! One member withdrawal is one trace. The system exports its spans over OTLP to the Jaeger of
//! `scripts/dev-services up jaeger`, and its query API shows the gateway's span under the trusted
//! proxy's, member's request span under the gateway's, and the gallery and post consumers' spans
//! under member's (through the outbox, the relay and Kafka, or the in-process bus).

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

use std::collections::{HashMap, HashSet};

use e2e::{System, journeys};
use reqwest::Method;
use serde_json::Value;

/// One span of the trace as the query API gives it.
#[derive(Debug, Clone)]
struct Span {
    trace: String,
    id: String,
    parent: Option<String>,
    /// The exporting process's `service.name`.
    process: String,
    operation: String,
    tags: HashMap<String, String>,
}

impl Span {
    /// Which part of the system made it: the `service` of a request span, the consumer group of
    /// an event span, else the process (the gateway).
    fn part(&self) -> &str {
        if let Some(group) = self.tags.get("group") {
            return group.rsplit('.').next().unwrap_or(group);
        }
        self.tags.get("service").unwrap_or(&self.process)
    }

    fn is_consumer(&self) -> bool {
        self.operation.starts_with("process ")
    }
}

fn jaeger() -> (String, String) {
    let dev = testkit::dev_env();
    let get = |key: &str| {
        dev.get(key).cloned().unwrap_or_else(|| {
            panic!(
                "{key} is not set: start the trace backend with `scripts/dev-services up jaeger`"
            )
        })
    };
    (get("JAEGER_OTLP_ENDPOINT"), get("JAEGER_QUERY_URL"))
}

const BIN: &str = env!("CARGO_BIN_EXE_thegallery");

/// The distributed system exporting to the trace backend, and the backend's query URL. One proxy
/// in front is trusted, so a trace continues the one the test starts.
async fn distributed() -> (System, String) {
    let (otlp, query) = jaeger();
    let system = System::distributed_traced(BIN.as_ref(), &otlp, &[("FORWARDED_HOPS", "1")]).await;
    (system, query)
}

/// The standalone system exporting to the trace backend every 100 ms, with `extra` settings.
async fn standalone(extra: &[(&str, &str)]) -> System {
    let (otlp, _) = jaeger();
    let mut settings = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    settings.extend_from_slice(extra);
    System::standalone_with(BIN.as_ref(), &settings).await
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn spans(trace: &Value) -> Vec<Span> {
    let processes: HashMap<&str, &str> = trace["processes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, p)| (id.as_str(), p["serviceName"].as_str().unwrap()))
        .collect();
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|span| Span {
            trace: text(&span["traceID"]),
            id: text(&span["spanID"]),
            parent: span["references"]
                .as_array()
                .and_then(|refs| refs.iter().find(|r| r["refType"] == "CHILD_OF"))
                .map(|r| text(&r["spanID"])),
            process: processes[span["processID"].as_str().unwrap()].to_owned(),
            operation: text(&span["operationName"]),
            tags: span["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|tag| (text(&tag["key"]), text(&tag["value"])))
                .collect(),
        })
        .collect()
}

/// The proxy's span, the parent the test gives the withdrawal.
const PROXY_SPAN: &str = "00f067aa0ba902b7";

/// The spans of `trace_id` once the gateway's span and a consumer span of both gallery and post
/// are among them, and every span's parent too (each process exports in batches of its own, so
/// a consumer's span can arrive before the send span it continues).
async fn withdrawal_trace(query: &str, trace_id: &str) -> Vec<Span> {
    trace_until(query, trace_id, |spans| {
        let consumed = |part: &str| spans.iter().any(|s| s.part() == part && s.is_consumer());
        let gateway = spans.iter().any(|s| s.operation == "DELETE /api/member/**");
        let ids: HashSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
        let whole = spans.iter().all(|s| {
            s.parent
                .as_deref()
                .is_none_or(|p| p == PROXY_SPAN || ids.contains(p))
        });
        gateway && consumed("gallery") && consumed("post") && whole
    })
    .await
}

/// The spans of `trace_id` once `complete` holds for them.
async fn trace_until(query: &str, trace_id: &str, complete: fn(&[Span]) -> bool) -> Vec<Span> {
    let http = reqwest::Client::new();
    let url = format!("{query}/api/traces/{trace_id}");
    journeys::eventually("the backend holds the spans looked for", || {
        let request = http.get(&url).send();
        async move {
            let body: Value = request.await.ok()?.json().await.ok()?;
            let spans = spans(body["data"].get(0)?);
            complete(&spans).then_some(spans)
        }
    })
    .await
}

fn tag<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.tags.get(key).map(String::as_str)
}

/// The spans of one database or cache system.
fn calls_to<'a>(spans: &'a [Span], system: &'a str) -> impl Iterator<Item = &'a Span> {
    spans
        .iter()
        .filter(move |s| tag(s, "db.system.name") == Some(system))
}

/// The gateway's session lookup (its `GET session:<sid>`).
fn gateways_lookup(span: &&Span) -> bool {
    span.process == "gateway" && span.operation == "GET"
}

fn sends(spans: &[Span]) -> impl Iterator<Item = &Span> {
    spans.iter().filter(|s| s.operation.starts_with("send "))
}

/// Whether `ancestor` is `span`'s parent, grandparent, and so on.
fn descends(spans: &[Span], span: &Span, ancestor: &Span) -> bool {
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut at = span;
    while let Some(parent) = at.parent.as_deref().and_then(|id| by_id.get(id)) {
        if parent.id == ancestor.id {
            return true;
        }
        at = parent;
    }
    false
}

/// Withdraws a new member with a trusted proxy's `traceparent`, checks the trace's shape and
/// returns its spans.
async fn a_withdrawal_is_one_trace(system: &System, query: &str) -> Vec<Span> {
    let (mut member, _) = journeys::new_member(system, "tr").await;
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let traceparent = format!("00-{trace_id}-{PROXY_SPAN}-01");
    member
        .send_with(
            Method::DELETE,
            "/api/member",
            &[("traceparent", &traceparent)],
        )
        .await
        .expect(200);

    let spans = withdrawal_trace(query, &trace_id).await;
    let gateways: Vec<&Span> = spans
        .iter()
        .filter(|s| s.operation == "DELETE /api/member/**")
        .collect();
    assert_eq!(gateways.len(), 1, "the gateway's span in {spans:#?}");
    let gateway = gateways[0];
    assert_eq!(gateway.parent.as_deref(), Some(PROXY_SPAN));
    let requests: Vec<&Span> = spans
        .iter()
        .filter(|s| s.part() == "member" && s.parent.as_deref() == Some(gateway.id.as_str()))
        .collect();
    assert_eq!(
        requests.len(),
        1,
        "member's span under the gateway's: {spans:#?}"
    );
    let request = requests[0];
    assert!(
        request.operation.starts_with("DELETE /api/member"),
        "{request:?}"
    );
    for part in ["gallery", "post"] {
        let consumers: Vec<&Span> = spans
            .iter()
            .filter(|s| s.part() == part && s.is_consumer())
            .collect();
        assert!(!consumers.is_empty(), "no {part} consumer span");
        for consumer in consumers {
            assert!(
                descends(&spans, consumer, request),
                "{consumer:?} is not under member's request span: {spans:#?}"
            );
        }
    }
    spans
}

#[tokio::test]
async fn a_distributed_withdrawal_is_one_trace_from_the_gateway_through_member_to_the_gallery_and_post_consumers()
 {
    let (system, query) = distributed().await;
    let spans = a_withdrawal_is_one_trace(&system, &query).await;
    for part in ["gateway", "member", "gallery", "post"] {
        assert!(
            spans.iter().any(|s| s.process == part && s.part() == part),
            "no span exported by the {part} process: {spans:#?}"
        );
    }
    system.stop().await;
}

#[tokio::test]
async fn a_withdrawals_database_redis_and_kafka_calls_are_client_spans_under_what_made_them() {
    let (system, query) = distributed().await;
    let spans = a_withdrawal_is_one_trace(&system, &query).await;
    let request = spans
        .iter()
        .find(|s| s.process == "member" && s.operation.starts_with("DELETE /api/member"))
        .unwrap()
        .clone();
    let trace = trace_until(&query, &spans[0].trace, |spans| {
        sends(spans).count() >= 1 && calls_to(spans, "redis").count() >= 1
    })
    .await;
    let under = |s: &Span, ancestor: &Span| descends(&trace, s, ancestor);
    assert!(
        calls_to(&trace, "mysql").any(|s| s.process == "member" && under(s, &request)),
        "no MySQL span under member's request: {trace:#?}"
    );
    assert!(
        calls_to(&trace, "redis")
            .any(|s| under(s, &request) && tag(s, "db.operation.name").is_some()),
        "no Redis span under member's request: {trace:#?}"
    );
    for send in sends(&trace) {
        assert_eq!(tag(send, "span.kind"), Some("producer"), "{send:?}");
        assert_eq!(tag(send, "messaging.system"), Some("kafka"), "{send:?}");
        assert!(
            under(send, &request),
            "{send:?} is not under member's request"
        );
    }
    for consumer in trace.iter().filter(|s| s.is_consumer()) {
        assert!(
            sends(&trace).any(|send| under(consumer, send)),
            "{consumer:?} is not under a send span: {trace:#?}"
        );
        assert!(
            calls_to(&trace, "mysql").any(|s| under(s, consumer)),
            "{consumer:?} made no MySQL span: {trace:#?}"
        );
    }
    system.stop().await;
}

#[tokio::test]
async fn the_gateways_session_lookup_is_a_redis_span_under_the_gateways_span() {
    let (system, query) = distributed().await;
    // The withdrawal is the member's first protected request: its session is not cached yet.
    let spans = a_withdrawal_is_one_trace(&system, &query).await;
    let trace = trace_until(&query, &spans[0].trace, |spans| {
        calls_to(spans, "redis").any(|s| gateways_lookup(&s))
    })
    .await;
    let gateway = trace
        .iter()
        .find(|s| s.operation == "DELETE /api/member/**")
        .unwrap();
    let lookup = calls_to(&trace, "redis").find(gateways_lookup).unwrap();
    assert_eq!(tag(lookup, "span.kind"), Some("client"), "{lookup:?}");
    assert_eq!(
        lookup.parent.as_deref(),
        Some(gateway.id.as_str()),
        "{trace:#?}"
    );
    system.stop().await;
}

#[tokio::test]
async fn an_image_upload_is_a_storage_span_under_posts_request() {
    let (_, query) = jaeger();
    // A name of its own: the backend keeps the traces of every earlier run.
    let service = format!("thegallery-{}", uuid::Uuid::new_v4().simple());
    let mut system = standalone(&[("OTEL_SERVICE_NAME", &service)]).await;
    journeys::open_an_exhibition(&mut system, &[]).await;
    let http = reqwest::Client::new();
    let url =
        format!("{query}/api/traces?service={service}&operation=file.MultipartUpload&limit=5");
    let trace = journeys::eventually("the upload's trace reaches the backend", || {
        let request = http.get(&url).send();
        async move {
            let body: Value = request.await.ok()?.json().await.ok()?;
            let trace = spans(body["data"].get(0)?);
            let patch = trace
                .iter()
                .any(|s| s.operation.starts_with("PATCH /api/post/list"));
            patch.then_some(trace)
        }
    })
    .await;
    let put = trace
        .iter()
        .find(|s| s.operation == "file.MultipartUpload")
        .unwrap();
    assert!(
        tag(put, "file.path").is_some_and(|p| !p.is_empty()),
        "{put:?}"
    );
    assert!(
        trace
            .iter()
            .any(|s| s.operation.starts_with("PATCH /api/post/list") && descends(&trace, put, s)),
        "the upload is not under post's request span: {trace:#?}"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_standalone_withdrawal_is_one_trace_the_same_way() {
    let (_, query) = jaeger();
    let system = standalone(&[("FORWARDED_HOPS", "1")]).await;
    let spans = a_withdrawal_is_one_trace(&system, &query).await;
    assert!(
        spans.iter().all(|s| s.process == "thegallery"),
        "{spans:#?}"
    );
    system.stop().await;
}

#[tokio::test]
async fn requests_are_answered_while_the_collector_cannot_be_reached() {
    let [closed] = e2e::free_ports::<1>();
    let endpoint = format!("http://127.0.0.1:{closed}");
    let system = System::standalone_with(
        BIN.as_ref(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ],
    )
    .await;
    let (mut member, _) = journeys::new_member(&system, "nc").await;
    member.get("/api/member").await.expect(200);
    member.delete("/api/member").await.expect(200);
    system.stop().await;
}

#[tokio::test]
async fn a_gateway_span_names_its_method_once_whatever_its_route_label() {
    let (_, query) = jaeger();
    let service = format!("thegallery-{}", uuid::Uuid::new_v4().simple());
    let system = standalone(&[("OTEL_SERVICE_NAME", &service)]).await;
    // Sign-in's route label is `POST /api/member/signin`, method included.
    journeys::new_member(&system, "nm").await;
    let http = reqwest::Client::new();
    let url = format!("{query}/api/operations?service={service}");
    let names: Vec<String> = journeys::eventually("the sign-in's spans reach the backend", || {
        let request = http.get(&url).send();
        async move {
            let body: Value = request.await.ok()?.json().await.ok()?;
            let names: Vec<String> = body["data"]
                .as_array()?
                .iter()
                .map(|o| text(&o["name"]))
                .collect();
            names
                .iter()
                .any(|n| n.ends_with("/api/member/signin"))
                .then_some(names)
        }
    })
    .await;
    assert!(
        names.iter().any(|n| n == "POST /api/member/signin"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("POST POST")),
        "{names:?}"
    );
    system.stop().await;
}

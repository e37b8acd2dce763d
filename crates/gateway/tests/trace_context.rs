//! W3C trace context through the gateway: a client's `traceparent` and `tracestate` reach the
//! service only when the client is a trusted proxy (`FORWARDED_HOPS`), on both front ends (its
//! own for plain requests, hyper for chunked uploads). Span export is off here, so a trusted
//! context goes on unchanged.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::body::Body;
use bytes::Bytes;
use common::Harness;
use gateway::Policy;
use http::{Method, StatusCode};

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const STATE: &str = "vendor=opaque";

async fn behind(hops: usize) -> Harness {
    Harness::with_policy(Policy {
        forwarded_hops: hops,
        ..common::quiet_policy()
    })
    .await
}

fn chunked() -> Body {
    Body::from_stream(futures::stream::iter([Ok::<_, std::io::Error>(
        Bytes::from_static(b"hello"),
    )]))
}

/// What the upstream received of the trace context, for a plain request and a chunked upload.
async fn received(gw: &Harness, headers: &[(&str, &str)]) -> Vec<(Option<String>, Option<String>)> {
    let plain = gw.get_with("/api/gallery/3", headers).await;
    assert_eq!(plain.status, StatusCode::OK);
    let (token, _) = gw.login(91).await;
    let cookie = format!("gallery_cookie={token}");
    let mut with_cookie = headers.to_vec();
    with_cookie.push(("cookie", &cookie));
    let upload = common::send(
        &gw.url("/api/post/echo"),
        Method::POST,
        &with_cookie,
        chunked(),
    )
    .await;
    assert_eq!(upload.status, StatusCode::OK);
    let text = |seen: &common::Seen, name: &str| {
        let values: Vec<_> = seen.headers.get_all(name).iter().collect();
        assert!(values.len() <= 1, "{name} sent more than once: {values:?}");
        values.first().map(|v| v.to_str().unwrap().to_owned())
    };
    gw.take_seen()
        .iter()
        .map(|seen| (text(seen, "traceparent"), text(seen, "tracestate")))
        .collect()
}

#[tokio::test]
async fn a_clients_trace_context_does_not_reach_the_service_when_the_client_is_not_a_trusted_proxy()
{
    let gw = behind(0).await;
    let sent = [("traceparent", PARENT), ("tracestate", STATE)];
    assert_eq!(received(&gw, &sent).await, [(None, None), (None, None)]);
}

#[tokio::test]
async fn behind_a_trusted_proxy_its_trace_context_reaches_the_service_on_both_front_ends() {
    let gw = behind(1).await;
    let sent = [("traceparent", PARENT), ("tracestate", STATE)];
    let expected = (Some(PARENT.to_owned()), Some(STATE.to_owned()));
    assert_eq!(received(&gw, &sent).await, [expected.clone(), expected]);
}

#[tokio::test]
async fn a_malformed_traceparent_from_a_trusted_proxy_is_dropped() {
    let gw = behind(1).await;
    let sent = [("traceparent", "00-not-a-trace-01"), ("tracestate", STATE)];
    assert_eq!(received(&gw, &sent).await, [(None, None), (None, None)]);
}

//! The access matrix of docs/gateway.md, matched on the path only: every public and protected
//! route and method, and the path tricks that must never turn a protected route public.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use common::{Answer, Harness, Seen};
use http::{Method, StatusCode};

const PUBLIC: &[(&str, &str)] = &[
    ("POST", "/api/member/login?type=kakao"),
    ("POST", "/api/member/callback?type=kakao&code=abc"),
    ("POST", "/api/member/signup"),
    ("POST", "/api/member/signin"),
    ("GET", "/api/member/check/nickname?nickname=tester"),
    ("GET", "/api/member/health"),
    ("GET", "/api/member/openapi.json"),
    ("GET", "/api/gallery/place/list"),
    ("GET", "/api/gallery/place/image/1-2d.png"),
    ("GET", "/api/gallery/search?type=all&query=x"),
    ("GET", "/api/gallery/12"),
    ("GET", "/api/gallery/health"),
    ("GET", "/api/gallery/openapi.json"),
    ("GET", "/api/post/list/3"),
    ("GET", "/api/post/comment/list/5?page=0"),
    ("GET", "/api/post/music/list?q=song"),
    ("GET", "/api/post/health"),
    ("GET", "/api/post/image/0b7c.png"),
    ("GET", "/api/post/openapi.json"),
];

const PROTECTED: &[(&str, &str)] = &[
    ("GET", "/api/member"),
    ("PATCH", "/api/member"),
    ("DELETE", "/api/member"),
    ("POST", "/api/member/logout"),
    ("POST", "/api/member/logout/all"),
    ("GET", "/api/member/nickname?memberId=1"),
    ("GET", "/api/member/memberId?nickname=a"),
    ("POST", "/api/member/nickname/list"),
    ("POST", "/api/gallery"),
    ("GET", "/api/gallery/list"),
    ("GET", "/api/gallery/check/name?name=a"),
    ("PATCH", "/api/gallery/12"),
    ("DELETE", "/api/gallery/12"),
    ("PATCH", "/api/post/list/3"),
    ("POST", "/api/post/dummy?galleryId=3"),
    ("POST", "/api/post/comment"),
    ("PATCH", "/api/post/comment/4"),
    ("DELETE", "/api/post/comment/4"),
    ("POST", "/api/post/music"),
    // Tricks: public-looking text outside the path, or paths the table does not name exactly.
    ("GET", "/api/member?next=/login"),
    ("GET", "/api/gallery/list?x=/gallery/search"),
    ("PATCH", "/api/member?redirect=/api/post/list/1"),
    ("GET", "/api/gallery/12abc"),
    ("GET", "/api/gallery/place/image/.hidden"),
    ("GET", "/api/gallery/place/image/a/b.png"),
    ("GET", "/api/gallery/12/"),
    ("GET", "/api/gallery/search/"),
    ("POST", "/api/member/login/"),
    ("GET", "/api/gallery/%31%32"),
    ("GET", "/api/gallery/x/gallery/12"),
    ("GET", "/api/gallery//12"),
    ("HEAD", "/api/post/list/3"),
    ("OPTIONS", "/api/member"),
    ("GET", "/api/member/check/nickname/"),
];

fn method(name: &str) -> Method {
    name.parse().unwrap()
}

/// Asserts that `answer` to `verb path` is the service's 200, and returns the one request that
/// reached a service.
fn forwarded_once(gw: &Harness, verb: &str, path: &str, answer: &Answer) -> Seen {
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{verb} {path}: {}",
        answer.text()
    );
    let mut seen = gw.take_seen();
    assert_eq!(seen.len(), 1, "{verb} {path}");
    seen.remove(0)
}

/// GETs each of `paths`, asserts that the gateway itself refused each with `status` and GATE001
/// and that none reached a service, and returns each path with its answer.
async fn refused_by_the_gateway<'a>(
    paths: &[&'a str],
    status: StatusCode,
) -> Vec<(&'a str, Answer)> {
    let gw = Harness::start().await;
    let mut answers = Vec::new();
    for path in paths {
        let answer = gw.get(path).await;
        assert_eq!(answer.status, status, "{path}");
        assert_eq!(answer.code(), "GATE001", "{path}");
        answers.push((*path, answer));
    }
    assert!(gw.take_seen().is_empty());
    answers
}

#[tokio::test]
async fn every_public_route_reaches_its_service_without_a_cookie() {
    let gw = Harness::start().await;
    for (verb, path) in PUBLIC {
        let answer = gw.send(method(verb), path, &[]).await;
        let seen = forwarded_once(&gw, verb, path, &answer);
        assert_eq!(
            seen.uri, *path,
            "path and query reach the service unchanged"
        );
        let prefix = path.split('/').nth(2).unwrap();
        assert_eq!(seen.upstream, prefix, "{verb} {path}");
    }
}

#[tokio::test]
async fn every_protected_route_without_a_cookie_is_refused_with_gate004_before_any_service() {
    let gw = Harness::start().await;
    for (verb, path) in PROTECTED {
        let answer = gw.send(method(verb), path, &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{verb} {path}");
        if *verb != "HEAD" {
            assert_eq!(
                answer.json,
                serde_json::json!({"errorType": "Bad Request", "errorCode": "GATE004", "message": "missing cookie"}),
                "{verb} {path}"
            );
        }
    }
    assert!(gw.take_seen().is_empty());
}

#[tokio::test]
async fn every_protected_route_with_a_valid_cookie_reaches_its_service() {
    let gw = Harness::start().await;
    let (token, _) = gw.login(41).await;
    for (verb, path) in PROTECTED {
        let answer = gw.with_cookie(method(verb), path, &token).await;
        let seen = forwarded_once(&gw, verb, path, &answer);
        assert_eq!(seen.uri, *path);
        assert_eq!(seen.headers["x-member-id"], "41");
    }
}

#[tokio::test]
async fn dot_segments_and_encoded_separators_are_refused_without_reaching_a_service() {
    let tricks = [
        "/api/post/../member",
        "/api/post/%2e%2e/member",
        "/api/post/.%2E/member",
        "/api/post/./list/3",
        "/api/post/list%2F..%2Fmember",
        "/api/gallery%2F12",
        "/api/post/list/3%5c..",
    ];
    refused_by_the_gateway(&tricks, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn paths_outside_the_api_prefixes_get_404_in_the_error_shape() {
    let outside = [
        "/",
        "/api",
        "/api/",
        "/api/memberx",
        "/API/member",
        "/index.html",
        "/kafka/health",
        "/health/",
    ];
    for (path, answer) in refused_by_the_gateway(&outside, StatusCode::NOT_FOUND).await {
        assert_eq!(answer.json["errorType"], "Not Found", "{path}");
    }
}

#[tokio::test]
async fn the_gateway_answers_its_own_health_in_plain_text() {
    let gw = Harness::start().await;
    let answer = gw.get("/health").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), "게이트웨이 서버 ok");
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test]
async fn probes_and_metrics_are_served_at_the_root_and_never_forwarded() {
    let gw = Harness::start().await;
    gw.get("/api/post/health").await;
    let metrics = gw.get("/metrics").await;
    assert!(
        metrics.text().contains("gateway_requests_total"),
        "{}",
        metrics.text()
    );
    assert!(metrics.text().contains(r#"route="GET /api/post/**""#));
    assert_eq!(gw.get("/livez").await.status, StatusCode::OK);
    gw.take_seen();
    let through_api = gw.get("/api/member/metrics").await;
    assert_eq!(through_api.code(), "GATE004");
}

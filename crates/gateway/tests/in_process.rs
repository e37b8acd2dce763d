//! Standalone mode: the same gateway code fronts in-process routers, with sessions in SQLite and
//! limits in memory.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use common::{Answer, Log, now, recorder};
use http::{Method, StatusCode};
use platform::CancellationToken;
use platform::auth::{Claims, DbSessions, Role, Session, SessionStore, SigningKey, TOKEN_TTL};
use platform::config::DatabaseConfig;

struct Standalone {
    addr: SocketAddr,
    log: Log,
    key: SigningKey,
    sessions: Arc<DbSessions>,
    _stop: CancellationToken,
    _dir: tempfile::TempDir,
}

/// Serves `app` as standalone mode does: the shared server, refusals in the gateway's codes.
async fn serve_as_standalone(app: axum::Router, stop: &CancellationToken) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(platform::http::server::serve(
        listener,
        app,
        stop.clone(),
        std::time::Duration::from_secs(1),
        platform::http::ConnectionRules::default(),
        gateway::CODES,
    ));
    addr
}

async fn standalone() -> Standalone {
    let dir = tempfile::tempdir().unwrap();
    let db = platform::db::connect(&DatabaseConfig::sqlite(dir.path().join("member.db")))
        .await
        .unwrap();
    let sessions = Arc::new(DbSessions::open(db).await.unwrap());
    let key = SigningKey::generate().unwrap();
    let log: Log = Arc::default();
    let app: Router = gateway::in_process(gateway::InProcess {
        member: recorder("member", Arc::clone(&log)),
        gallery: recorder("gallery", Arc::clone(&log)),
        post: recorder("post", Arc::clone(&log)),
        keys: key.verifying_keys(),
        sessions: Arc::clone(&sessions) as Arc<dyn SessionStore>,
        policy: gateway::Policy::default(),
    });
    let stop = CancellationToken::new();
    let addr = serve_as_standalone(app, &stop).await;
    Standalone {
        addr,
        log,
        key,
        sessions,
        _stop: stop,
        _dir: dir,
    }
}

impl Standalone {
    /// A GET of `path` with `headers`.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let url = format!("http://{}{path}", self.addr);
        common::send(&url, Method::GET, headers, Default::default()).await
    }

    async fn get_member(&self, token: Option<&str>) -> Answer {
        let cookie = token.map(|t| format!("gallery_cookie={t}"));
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
        self.get("/api/member", &headers).await
    }

    /// A token for `member_id` naming the session `sid`, signed with the gateway's key.
    fn token(&self, member_id: i64, sid: &str) -> String {
        let claims = Claims::new(member_id, Role::User, sid, now());
        self.key.sign(&claims).unwrap()
    }
}

#[tokio::test]
async fn in_process_services_get_the_same_checks_and_identity_headers() {
    let sa = standalone().await;
    assert_eq!(sa.get_member(None).await.code(), "GATE004");

    let session = Session::start(12, Role::User, TOKEN_TTL);
    sa.sessions.create(&session).await.unwrap();
    let token = sa.token(12, &session.sid);
    let spoofed = format!("gallery_cookie={token}");
    let answer = sa
        .get("/api/member", &[("cookie", &spoofed), ("x-member-id", "1")])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let seen = sa.log.lock().unwrap().remove(0);
    assert_eq!(seen.upstream, "member");
    assert_eq!(seen.uri, "/api/member");
    assert_eq!(seen.headers["x-member-id"], "12");

    sa.sessions.delete(&session.sid).await.unwrap();
    assert_eq!(sa.get_member(Some(&token)).await.code(), "GATE003");
}

#[tokio::test]
async fn in_process_public_routes_pass_and_unknown_paths_get_404() {
    let sa = standalone().await;
    let answer = sa.get("/api/gallery/5", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(sa.log.lock().unwrap()[0].upstream, "gallery");
    let missing = sa.get("/nowhere", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn in_process_two_host_lines_are_refused_and_the_connection_closed() {
    let sa = standalone().await;
    let head = "GET /api/gallery/5 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
    let answer = common::exchange_raw(sa.addr, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#""errorCode":"GATE001""#), "{answer}");
    assert!(sa.log.lock().unwrap().is_empty(), "nothing reached gallery");
}

#[tokio::test]
async fn in_process_a_token_carrying_alices_session_and_bobs_subject_is_refused() {
    let sa = standalone().await;
    let alice = Session::start(31, Role::User, TOKEN_TTL);
    sa.sessions.create(&alice).await.unwrap();
    let forged = sa.token(32, &alice.sid);
    assert_eq!(sa.get_member(Some(&forged)).await.code(), "GATE003");
    assert!(sa.log.lock().unwrap().is_empty());
}

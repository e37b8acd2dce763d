//! With Redis unreachable, logins and authenticated requests answer 503 and leave no half-done
//! login behind; when Redis is back, the service works again without a restart. Redis is the
//! real server, reached through a local TCP relay the test can cut.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::http::Method;
use common::{Backend, TestApp, redis_config, unique_email, unique_id};
use platform::CancellationToken;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay to the real Redis that can be cut and restored on the same port.
struct Relay {
    port: u16,
    stop: CancellationToken,
}

impl Relay {
    async fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = CancellationToken::new();
        let upstream = redis_config();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let (mut client, _) = tokio::select! {
                    () = token.cancelled() => return,
                    accepted = listener.accept() => accepted.unwrap(),
                };
                let target = format!("{}:{}", upstream.host, upstream.port);
                let token = token.clone();
                tokio::spawn(async move {
                    let mut server = TcpStream::connect(target).await.unwrap();
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Self { port, stop }
    }

    fn cut(&self) {
        self.stop.cancel();
    }
}

const UNAVAILABLE: &str = "일시적으로 서비스를 사용할 수 없습니다. 잠시 후 다시 시도해주세요";

#[tokio::test]
async fn without_redis_logins_answer_503_without_a_cookie_and_recover_afterwards() {
    let relay = Relay::start(0).await;
    let mut config = redis_config();
    config.port = relay.port;
    let app = TestApp::start_with(Backend::MariaDb, config).await;
    let token = app.member_token().await;
    let email = unique_email();
    let signup = json!({ "email": email, "password": "a quiet gallery", "nickname": "레디스" });
    app.call(Method::POST, "/api/member/signup", None, Some(signup))
        .await
        .assert_ok("회원가입 성공");

    relay.cut();
    let kakao = app.kakao_login(unique_id(), "tester").await;
    kakao.assert_error(503, "GA001", UNAVAILABLE);
    assert!(kakao.set_cookie().is_empty());
    let signin = json!({ "email": email, "password": "a quiet gallery" });
    let answer = app
        .call(
            Method::POST,
            "/api/member/signin",
            None,
            Some(signin.clone()),
        )
        .await;
    answer.assert_error(503, "GA001", UNAVAILABLE);
    assert!(answer.set_cookie().is_empty());
    let me = app
        .call(Method::GET, "/api/member", Some(&token), None)
        .await;
    me.assert_error(503, "GA001", UNAVAILABLE);
    let withdraw = app
        .call(Method::DELETE, "/api/member", Some(&token), None)
        .await;
    assert_eq!(withdraw.status, 503);
    assert!(app.outbox().await.iter().all(|e| e.0 != "member.withdrawn"));

    let _back = Relay::start(relay.port).await;
    let mut recovered = false;
    for _ in 0..50 {
        let answer = app
            .call(
                Method::POST,
                "/api/member/signin",
                None,
                Some(signin.clone()),
            )
            .await;
        if answer.status == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(recovered, "sign-in never recovered after Redis came back");
    app.call(Method::GET, "/api/member", Some(&token), None)
        .await
        .assert_ok("회원 정보 조회 성공");
}

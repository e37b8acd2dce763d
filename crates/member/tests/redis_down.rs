//! With Redis unreachable, logins and authenticated requests answer 503 and leave no half-done
//! login behind; when Redis is back, the service works again without a restart. Redis is the
//! real server, reached through a local TCP relay the test can cut.

mod common;

use common::{Backend, PASSWORD, TestApp, redis_config, unique_email, unique_id};
use testkit::Switch;

const UNAVAILABLE: &str = "일시적으로 서비스를 사용할 수 없습니다. 잠시 후 다시 시도해주세요";

#[tokio::test]
async fn without_redis_logins_answer_503_without_a_cookie_and_recover_afterwards() {
    let mut config = redis_config();
    let relay = Switch::start(format!("{}:{}", config.host, config.port)).await;
    config.port = relay.port();
    let app = TestApp::start_with(Backend::MariaDb, config).await;
    let token = app.member_token().await;
    let email = unique_email();
    app.signup(&email, "레디스")
        .await
        .assert_ok("회원가입 성공");

    relay.down();
    let kakao = app.kakao_login(unique_id(), "tester").await;
    kakao.assert_error(503, "GA001", UNAVAILABLE);
    assert!(kakao.set_cookie().is_empty());
    let answer = app.signin(&email, PASSWORD).await;
    answer.assert_error(503, "GA001", UNAVAILABLE);
    assert!(answer.set_cookie().is_empty());
    app.profile(&token)
        .await
        .assert_error(503, "GA001", UNAVAILABLE);
    assert_eq!(app.withdraw(&token).await.status, 503);
    assert!(app.outbox().await.iter().all(|e| e.0 != "member.withdrawn"));

    relay.up();
    testkit::eventually("signing in works again", || async {
        let answer = app.signin(&email, PASSWORD).await;
        (answer.status == 200).then_some(())
    })
    .await;
    app.profile(&token).await.assert_ok("회원 정보 조회 성공");
}

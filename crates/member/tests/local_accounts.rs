//! Local accounts: signup and signin with e-mail and password, on MariaDB and Redis.
mod common;

use axum::http::header;
use common::{
    Backend, INVALID_NICKNAME, PASSWORD, TestApp, jwt_parts, unique_email, unique_nickname,
};
use serde_json::json;

const WRONG_CREDENTIALS: &str = "이메일 또는 비밀번호가 올바르지 않습니다";

/// Signs in `times` times with a wrong password; each is refused as wrong credentials.
async fn fail_signins(app: &TestApp, email: &str, times: u64) {
    for _ in 0..times {
        let wrong = app.signin(email, "not the password").await;
        wrong.assert_error(401, "GA008", WRONG_CREDENTIALS);
    }
}

#[tokio::test]
async fn signup_creates_an_account_and_a_registered_event() {
    let app = TestApp::start(Backend::MariaDb).await;
    let nick = unique_nickname();
    let answer = app.signup(&unique_email(), &nick).await;
    answer.assert_ok("회원가입 성공");
    assert!(answer.json.get("data").is_none());
    let events = app.outbox().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "member.registered");
    assert_eq!(events[0].2["nickname"], nick);
}

#[tokio::test]
async fn signin_sets_the_cookie_and_returns_the_token() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = app.local_account().await;
    let answer = app.signin(&email.to_uppercase(), PASSWORD).await;
    answer.assert_ok("로그인 성공");
    let token = answer.json["data"]["accessToken"].as_str().unwrap();
    assert_eq!(answer.token(), token);
    assert!(
        answer.json["data"]["expirationDate"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["role"], "ROLE_USER");
    app.profile(token).await.assert_ok("회원 정보 조회 성공");
}

#[tokio::test]
async fn a_bearer_token_works_like_the_cookie() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = app.local_account().await;
    let token = app.signin(&email, PASSWORD).await.token();
    let request = axum::http::Request::builder()
        .uri("/api/member")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn passwords_shorter_than_eight_or_longer_than_128_characters_are_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    for password in ["short7!".to_owned(), "x".repeat(129)] {
        let body =
            json!({ "email": unique_email(), "password": password, "nickname": unique_nickname() });
        let answer = app.post_json("/api/member/signup", body).await;
        answer.assert_error(400, "GA005", "비밀번호는 8~128자로 입력해주세요");
    }
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn a_common_password_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let body = json!({
        "email": unique_email(),
        "password": "Password123",
        "nickname": unique_nickname()
    });
    let answer = app.post_json("/api/member/signup", body).await;
    answer.assert_error(
        400,
        "GA005",
        "너무 흔한 비밀번호입니다. 다른 비밀번호를 입력해주세요",
    );
}

#[tokio::test]
async fn a_malformed_email_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let answer = app.signup("not-an-email", &unique_nickname()).await;
    answer.assert_error(400, "GA005", "이메일 형식을 확인해주세요");
}

#[tokio::test]
async fn a_missing_signup_field_is_a_parameter_error() {
    let app = TestApp::start(Backend::MariaDb).await;
    let body = json!({ "email": unique_email(), "password": PASSWORD });
    let answer = app.post_json("/api/member/signup", body).await;
    answer.assert_error(400, "GA005", "파라미터를 확인해주세요");
}

#[tokio::test]
async fn an_invalid_signup_nickname_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let answer = app.signup(&unique_email(), "no spaces!").await;
    answer.assert_error(400, "GA005", INVALID_NICKNAME);
}

#[tokio::test]
async fn an_email_is_taken_whatever_its_case() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = app.local_account().await;
    let answer = app.signup(&email.to_uppercase(), &unique_nickname()).await;
    answer.assert_error(409, "GA006", "이미 사용중인 이메일입니다");
}

#[tokio::test]
async fn a_taken_nickname_is_refused_at_signup() {
    let app = TestApp::start(Backend::MariaDb).await;
    let nick = unique_nickname();
    app.signup(&unique_email(), &nick)
        .await
        .assert_ok("회원가입 성공");
    let answer = app.signup(&unique_email(), &nick).await;
    answer.assert_error(409, "GA006", "이미 사용중인 닉네임입니다");
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_answer_exactly_alike() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = app.local_account().await;
    let wrong = app.signin(&email, "not the password").await;
    let unknown = app.signin(&unique_email(), "not the password").await;
    wrong.assert_error(401, "GA008", WRONG_CREDENTIALS);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.text(), unknown.text());
    assert!(unknown.set_cookie().is_empty());
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_even_for_the_right_password() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = app.local_account().await;
    fail_signins(&app, &email, member::throttle::MAX_FAILURES).await;
    let answer = app.signin(&email, PASSWORD).await;
    answer.assert_error(
        429,
        "GA009",
        "로그인 시도가 너무 많습니다. 잠시 후 다시 시도해주세요",
    );
    let retry: u64 = answer.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
}

#[tokio::test]
async fn unknown_accounts_are_throttled_like_known_ones() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = unique_email();
    fail_signins(&app, &email, member::throttle::MAX_FAILURES).await;
    let answer = app.signin(&email, "whatever it is").await;
    assert_eq!(answer.status, 429);
}

#[tokio::test]
async fn a_successful_signin_clears_earlier_failures() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = app.local_account().await;
    fail_signins(&app, &email, member::throttle::MAX_FAILURES - 1).await;
    app.signin(&email, PASSWORD).await.assert_ok("로그인 성공");
    let answer = app.signin(&email, "not the password").await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn a_withdrawn_local_member_signing_in_again_is_reactivated() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = app.local_account().await;
    let token = app.signin(&email, PASSWORD).await.token();
    app.withdraw(&token)
        .await
        .assert_ok("성공적으로 삭제되었습니다");
    let again = app.signin(&email, PASSWORD).await;
    again.assert_ok("로그인 성공");
    assert_eq!(
        TestApp::member_id(&again.token()),
        TestApp::member_id(&token)
    );
    let me = app.profile(&again.token()).await;
    assert!(
        me.json["data"]["nickname"]
            .as_str()
            .unwrap()
            .starts_with("user")
    );
}

#[tokio::test]
async fn standalone_signup_and_signin_work_without_redis() {
    let app = TestApp::start(Backend::Sqlite).await;
    let email = app.local_account().await;
    app.signin(&email, PASSWORD).await.assert_ok("로그인 성공");
    fail_signins(&app, &email, member::throttle::MAX_FAILURES).await;
    assert_eq!(app.signin(&email, PASSWORD).await.status, 429);
}

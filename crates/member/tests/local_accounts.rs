//! Local accounts: signup and signin with e-mail and password, on MariaDB and Redis.
mod common;

use axum::http::{Method, header};
use common::{Backend, TestApp, jwt_parts, unique_email};
use serde_json::json;

const PASSWORD: &str = "a quiet gallery at dawn";

async fn signup(app: &TestApp, email: &str, nickname: &str) -> common::Answer {
    let body = json!({ "email": email, "password": PASSWORD, "nickname": nickname });
    app.call(Method::POST, "/api/member/signup", None, Some(body))
        .await
}

async fn signin(app: &TestApp, email: &str, password: &str) -> common::Answer {
    let body = json!({ "email": email, "password": password });
    app.call(Method::POST, "/api/member/signin", None, Some(body))
        .await
}

fn nickname() -> String {
    format!("n{}", &testkit::unique()[..8])
}

#[tokio::test]
async fn signup_creates_an_account_and_a_registered_event() {
    let app = TestApp::start(Backend::MariaDb).await;
    let nick = nickname();
    let answer = signup(&app, &unique_email(), &nick).await;
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
    let email = unique_email();
    signup(&app, &email, &nickname())
        .await
        .assert_ok("회원가입 성공");
    let answer = signin(&app, &email.to_uppercase(), PASSWORD).await;
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
    let me = app
        .call(Method::GET, "/api/member", Some(token), None)
        .await;
    me.assert_ok("회원 정보 조회 성공");
}

#[tokio::test]
async fn a_bearer_token_works_like_the_cookie() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = unique_email();
    signup(&app, &email, &nickname())
        .await
        .assert_ok("회원가입 성공");
    let token = signin(&app, &email, PASSWORD).await.token();
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
        let body = json!({ "email": unique_email(), "password": password, "nickname": nickname() });
        let answer = app
            .call(Method::POST, "/api/member/signup", None, Some(body))
            .await;
        answer.assert_error(400, "GA005", "비밀번호는 8~128자로 입력해주세요");
    }
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn a_common_password_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let body =
        json!({ "email": unique_email(), "password": "Password123", "nickname": nickname() });
    let answer = app
        .call(Method::POST, "/api/member/signup", None, Some(body))
        .await;
    answer.assert_error(
        400,
        "GA005",
        "너무 흔한 비밀번호입니다. 다른 비밀번호를 입력해주세요",
    );
}

#[tokio::test]
async fn a_malformed_email_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let answer = signup(&app, "not-an-email", &nickname()).await;
    answer.assert_error(400, "GA005", "이메일 형식을 확인해주세요");
}

#[tokio::test]
async fn a_missing_signup_field_is_a_parameter_error() {
    let app = TestApp::start(Backend::MariaDb).await;
    let body = json!({ "email": unique_email(), "password": PASSWORD });
    let answer = app
        .call(Method::POST, "/api/member/signup", None, Some(body))
        .await;
    answer.assert_error(400, "GA005", "파라미터를 확인해주세요");
}

#[tokio::test]
async fn an_invalid_signup_nickname_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let answer = signup(&app, &unique_email(), "no spaces!").await;
    answer.assert_error(
        400,
        "GA005",
        "닉네임은 한글, 영어, 숫자 조합 2~10자로 입력해주세요",
    );
}

#[tokio::test]
async fn an_email_is_taken_whatever_its_case() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = unique_email();
    signup(&app, &email, &nickname())
        .await
        .assert_ok("회원가입 성공");
    let answer = signup(&app, &email.to_uppercase(), &nickname()).await;
    answer.assert_error(409, "GA006", "이미 사용중인 이메일입니다");
}

#[tokio::test]
async fn a_taken_nickname_is_refused_at_signup() {
    let app = TestApp::start(Backend::MariaDb).await;
    let nick = nickname();
    signup(&app, &unique_email(), &nick)
        .await
        .assert_ok("회원가입 성공");
    let answer = signup(&app, &unique_email(), &nick).await;
    answer.assert_error(409, "GA006", "이미 사용중인 닉네임입니다");
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_answer_exactly_alike() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = unique_email();
    signup(&app, &email, &nickname())
        .await
        .assert_ok("회원가입 성공");
    let wrong = signin(&app, &email, "not the password").await;
    let unknown = signin(&app, &unique_email(), "not the password").await;
    wrong.assert_error(401, "GA008", "이메일 또는 비밀번호가 올바르지 않습니다");
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.text(), unknown.text());
    assert!(unknown.set_cookie().is_empty());
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_even_for_the_right_password() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = unique_email();
    signup(&app, &email, &nickname())
        .await
        .assert_ok("회원가입 성공");
    for _ in 0..member::throttle::MAX_FAILURES {
        signin(&app, &email, "not the password").await.assert_error(
            401,
            "GA008",
            "이메일 또는 비밀번호가 올바르지 않습니다",
        );
    }
    let answer = signin(&app, &email, PASSWORD).await;
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
    for _ in 0..member::throttle::MAX_FAILURES {
        signin(&app, &email, "whatever it is").await;
    }
    let answer = signin(&app, &email, "whatever it is").await;
    assert_eq!(answer.status, 429);
}

#[tokio::test]
async fn a_successful_signin_clears_earlier_failures() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = unique_email();
    signup(&app, &email, &nickname())
        .await
        .assert_ok("회원가입 성공");
    for _ in 1..member::throttle::MAX_FAILURES {
        signin(&app, &email, "not the password").await;
    }
    signin(&app, &email, PASSWORD)
        .await
        .assert_ok("로그인 성공");
    let answer = signin(&app, &email, "not the password").await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn a_withdrawn_local_member_signing_in_again_is_reactivated() {
    let app = TestApp::start(Backend::MariaDb).await;
    let email = unique_email();
    let nick = nickname();
    signup(&app, &email, &nick).await.assert_ok("회원가입 성공");
    let token = signin(&app, &email, PASSWORD).await.token();
    app.call(Method::DELETE, "/api/member", Some(&token), None)
        .await
        .assert_ok("성공적으로 삭제되었습니다");
    let again = signin(&app, &email, PASSWORD).await;
    again.assert_ok("로그인 성공");
    assert_eq!(
        TestApp::member_id(&again.token()),
        TestApp::member_id(&token)
    );
    let me = app
        .call(Method::GET, "/api/member", Some(&again.token()), None)
        .await;
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
    let email = unique_email();
    signup(&app, &email, &nickname())
        .await
        .assert_ok("회원가입 성공");
    signin(&app, &email, PASSWORD)
        .await
        .assert_ok("로그인 성공");
    for _ in 0..member::throttle::MAX_FAILURES {
        signin(&app, &email, "not the password").await;
    }
    assert_eq!(signin(&app, &email, PASSWORD).await.status, 429);
}

//! Profile (read, nickname check, rename, withdraw), sessions (logout, logout/all) and the compatibility lookups, on
//! MariaDB and Redis.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::http::Method;
use common::{
    Backend, CLEARED_COOKIE, INVALID_NICKNAME, TestApp, assert_status_and_code, enc, unique_id,
    unique_nickname,
};
use platform::auth::{Claims, Role, Session, TOKEN_TTL};
use serde_json::json;

async fn nickname_of(app: &TestApp, token: &str) -> String {
    let me = app.profile(token).await;
    me.json["data"]["nickname"].as_str().unwrap().to_owned()
}

/// `GET /api/member/check/nickname` for `nickname`.
async fn check_nickname(app: &TestApp, nickname: &str) -> common::Answer {
    let uri = format!("/api/member/check/nickname?nickname={}", enc(nickname));
    app.get(&uri).await
}

/// `POST /api/member/nickname/list` with `body`.
async fn nickname_list(app: &TestApp, body: serde_json::Value) -> common::Answer {
    app.post_json("/api/member/nickname/list", body).await
}

/// A new member's token, id and nickname.
async fn member_with_nickname(app: &TestApp) -> (String, i64, String) {
    let token = app.member_token().await;
    let nick = nickname_of(app, &token).await;
    let id = TestApp::member_id(&token);
    (token, id, nick)
}

/// Asserts that `GET /api/member` with `token` is refused as an invalid token.
async fn assert_refused(app: &TestApp, token: &str) {
    app.profile(token)
        .await
        .assert_error(401, "GATE003", "invalid token");
}

common::refusal_tests! {
    the_profile_without_a_cookie_is_refused: MariaDb, GET ["/api/member"]
        => 400, "GATE004", "missing cookie";
    checking_a_missing_nickname_is_a_missing_parameter: MariaDb, GET [
        "/api/member/check/nickname",
        "/api/member/check/nickname?nickname=%20",
    ] => 400, "GA004", "파라미터를 확인해주세요";
    the_nickname_of_member_zero_is_not_found: Sqlite, GET ["/api/member/nickname?memberId=0"]
        => 404, "GA007", "사용자 정보가 없습니다";
}

#[tokio::test]
async fn the_profile_shows_nickname_role_and_local_creation_time() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let answer = app.profile(&token).await;
    answer.assert_ok("회원 정보 조회 성공");
    let data = &answer.json["data"];
    assert!(data["nickname"].as_str().unwrap().starts_with("tester"));
    assert_eq!(data["role"], "ROLE_USER");
    let member = app.active_member(TestApp::member_id(&token)).await;
    let expected = member.created_date + chrono::Duration::hours(9);
    let shown = chrono::NaiveDateTime::parse_from_str(
        data["createdDate"].as_str().unwrap(),
        "%Y-%m-%dT%H:%M:%S%.f",
    )
    .unwrap();
    assert_eq!(shown, expected);
}

#[tokio::test]
async fn a_token_of_a_member_that_does_not_exist_gets_not_found() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = ghost_token(&app).await;
    let answer = app.profile(&token).await;
    answer.assert_error(404, "GA007", "사용자 정보가 없습니다");
}

#[tokio::test]
async fn a_free_valid_nickname_is_available() {
    let app = TestApp::start(Backend::MariaDb).await;
    check_nickname(&app, "갤러리주인")
        .await
        .assert_ok("사용 가능한 닉네임 입니다");
}

#[tokio::test]
async fn checking_an_invalid_nickname_explains_the_rule() {
    let app = TestApp::start(Backend::MariaDb).await;
    for nickname in ["a", "elevenchars", "공 백", "기호!"] {
        let answer = check_nickname(&app, nickname).await;
        answer.assert_error(400, "GA005", INVALID_NICKNAME);
    }
}

#[tokio::test]
async fn checking_a_taken_nickname_is_a_conflict() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let taken = nickname_of(&app, &token).await;
    let answer = check_nickname(&app, &taken).await;
    answer.assert_error(409, "GA006", "이미 사용중인 닉네임입니다");
}

#[tokio::test]
async fn renaming_changes_the_nickname_and_writes_an_event() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let new = unique_nickname();
    let answer = app.rename(&token, json!({ "nickname": new })).await;
    answer.assert_ok("성공적으로 변경되었습니다");
    assert_eq!(nickname_of(&app, &token).await, new);
    let last = app.outbox().await.pop().unwrap();
    assert_eq!(last.0, "member.nickname-changed");
    assert_eq!(
        last.2,
        json!({ "memberId": TestApp::member_id(&token), "nickname": new })
    );
}

#[tokio::test]
async fn renaming_without_a_nickname_is_a_body_error() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    for body in [json!({}), json!({ "nickname": " " })] {
        let answer = app.rename(&token, body).await;
        answer.assert_error(400, "GA005", "파라미터를 확인해주세요");
    }
}

#[tokio::test]
async fn renaming_to_an_invalid_nickname_changes_nothing() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let before = nickname_of(&app, &token).await;
    let answer = app.rename(&token, json!({ "nickname": "x" })).await;
    answer.assert_error(400, "GA005", INVALID_NICKNAME);
    assert_eq!(nickname_of(&app, &token).await, before);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn renaming_to_your_own_nickname_is_a_conflict() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let current = nickname_of(&app, &token).await;
    let answer = app.rename(&token, json!({ "nickname": current })).await;
    answer.assert_error(409, "GA006", "이미 사용중인 닉네임입니다");
}

#[tokio::test]
async fn two_concurrent_renames_to_the_same_free_nickname_have_exactly_one_winner() {
    let app = TestApp::start(Backend::MariaDb).await;
    let first = app.member_token().await;
    let second = app.member_token().await;
    let body = json!({ "nickname": unique_nickname() });
    let (a, b) = tokio::join!(
        app.rename(&first, body.clone()),
        app.rename(&second, body.clone()),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", a.text(), b.text());
    let loser = if a.status == 409 { &a } else { &b };
    loser.assert_error(409, "GA006", "이미 사용중인 닉네임입니다");
    let changes = app
        .outbox()
        .await
        .into_iter()
        .filter(|e| e.0 == "member.nickname-changed")
        .count();
    assert_eq!(changes, 1);
}

#[tokio::test]
async fn withdrawal_frees_the_nickname_revokes_sessions_clears_the_cookie_and_writes_an_event() {
    let app = TestApp::start(Backend::MariaDb).await;
    let kakao_id = unique_id();
    let token = app.kakao_login(kakao_id, "tester").await.token();
    let other_device = app.kakao_login(kakao_id, "tester").await.token();
    let freed = nickname_of(&app, &token).await;
    let answer = app.withdraw(&token).await;
    answer.assert_ok("성공적으로 삭제되었습니다");
    assert_eq!(answer.set_cookie(), CLEARED_COOKIE);
    for device in [&token, &other_device] {
        assert!(app.session(device).await.is_none());
    }
    let last = app.outbox().await.pop().unwrap();
    assert_eq!(last.0, "member.withdrawn");
    assert_eq!(last.2, json!({ "memberId": TestApp::member_id(&token) }));
    check_nickname(&app, &freed)
        .await
        .assert_ok("사용 가능한 닉네임 입니다");
    assert_refused(&app, &other_device).await;
}

#[tokio::test]
async fn renaming_a_member_that_is_gone_is_not_found() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = ghost_token(&app).await;
    let answer = app
        .rename(&token, json!({ "nickname": unique_nickname() }))
        .await;
    answer.assert_error(404, "GA007", "사용자 정보가 없습니다");
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let stranger = platform::auth::SigningKey::generate().unwrap();
    let claims = app.key.verifying_keys().verify(&token).unwrap();
    let forged = stranger.sign(&claims).unwrap();
    assert_refused(&app, &forged).await;
}

/// A valid token with a live session for a member id that has no row.
async fn ghost_token(app: &TestApp) -> String {
    let session = Session::start(unique_id(), Role::User, TOKEN_TTL);
    app.state.sessions.create(&session).await.unwrap();
    let claims = Claims::new(
        session.member_id,
        Role::User,
        session.sid.clone(),
        chrono::Utc::now().timestamp(),
    );
    app.key.sign(&claims).unwrap()
}

#[tokio::test]
async fn withdrawing_a_member_that_is_gone_is_not_found() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = ghost_token(&app).await;
    let answer = app.withdraw(&token).await;
    answer.assert_error(404, "GA007", "삭제하려는 회원 정보가 존재하지 않습니다");
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn logout_revokes_only_that_session_and_clears_the_cookie() {
    let app = TestApp::start(Backend::MariaDb).await;
    let kakao_id = unique_id();
    let token = app.kakao_login(kakao_id, "tester").await.token();
    let other = app.kakao_login(kakao_id, "tester").await.token();
    let answer = app
        .as_member(Method::POST, "/api/member/logout", &token)
        .await;
    answer.assert_ok("로그아웃 되었습니다");
    assert_eq!(answer.set_cookie(), CLEARED_COOKIE);
    assert!(app.session(&token).await.is_none());
    assert!(app.session(&other).await.is_some());
    assert_refused(&app, &token).await;
}

#[tokio::test]
async fn logout_all_revokes_every_session_of_the_caller_only() {
    let app = TestApp::start(Backend::MariaDb).await;
    let kakao_id = unique_id();
    let token = app.kakao_login(kakao_id, "tester").await.token();
    let other = app.kakao_login(kakao_id, "tester").await.token();
    let stranger = app.member_token().await;
    let answer = app
        .as_member(Method::POST, "/api/member/logout/all", &token)
        .await;
    answer.assert_ok("모든 기기에서 로그아웃 되었습니다");
    assert!(answer.set_cookie().contains("Max-Age=0"));
    for device in [&token, &other] {
        assert!(app.session(device).await.is_none());
    }
    assert!(app.session(&stranger).await.is_some());
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_refused(&app, &forged).await;
}

#[tokio::test]
async fn the_nickname_of_a_member_id_includes_withdrawn_members() {
    let app = TestApp::start(Backend::MariaDb).await;
    let (token, id, nick) = member_with_nickname(&app).await;
    app.withdraw(&token)
        .await
        .assert_ok("성공적으로 삭제되었습니다");
    let answer = app
        .get(&format!("/api/member/nickname?memberId={id}"))
        .await;
    answer.assert_ok("닉네임 조회 성공");
    assert_eq!(answer.json["data"], nick);
}

#[tokio::test]
async fn the_nickname_lookup_answers_its_errors() {
    let app = TestApp::start(Backend::MariaDb).await;
    app.get("/api/member/nickname")
        .await
        .assert_error(400, "GA004", "파라미터를 확인해주세요");
    let bad = app.get("/api/member/nickname?memberId=abc").await;
    assert_status_and_code(&bad, 400, "GA005");
    app.get("/api/member/nickname?memberId=1")
        .await
        .assert_error(404, "GA007", "사용자 정보가 없습니다");
}

#[tokio::test]
async fn the_member_id_of_a_nickname_is_found() {
    let app = TestApp::start(Backend::MariaDb).await;
    let (_, id, nick) = member_with_nickname(&app).await;
    let answer = app
        .get(&format!("/api/member/memberId?nickname={nick}"))
        .await;
    answer.assert_ok("닉네임 조회 성공");
    assert_eq!(answer.json["data"], id);
    app.get("/api/member/memberId?nickname=nobody")
        .await
        .assert_error(404, "GA007", "사용자 정보가 없습니다");
    app.get("/api/member/memberId")
        .await
        .assert_error(400, "GA004", "파라미터를 확인해주세요");
}

#[tokio::test]
async fn the_nickname_list_maps_known_ids_as_strings() {
    let app = TestApp::start(Backend::MariaDb).await;
    let (_, id, nick) = member_with_nickname(&app).await;
    let answer = nickname_list(&app, json!([id, 1])).await;
    answer.assert_ok("닉네임 조회 성공");
    assert_eq!(answer.json["data"], json!({ id.to_string(): nick }));
    let empty = nickname_list(&app, json!([])).await;
    assert_eq!(empty.json["data"], json!({}));
    let wrong = nickname_list(&app, json!({"a": 1})).await;
    assert_status_and_code(&wrong, 400, "GA005");
}

#[tokio::test]
async fn health_answers_plain_text() {
    let app = TestApp::start(Backend::Sqlite).await;
    let answer = app.get("/api/member/health").await;
    assert_eq!(answer.text(), "member 서버 ok");
}

#[tokio::test]
async fn the_openapi_document_lists_every_member_route() {
    let app = TestApp::start(Backend::Sqlite).await;
    let answer = app.get("/api/member/openapi.json").await;
    assert_eq!(answer.status, 200);
    assert!(answer.json["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/member",
        "/api/member/login",
        "/api/member/callback",
        "/api/member/signup",
        "/api/member/signin",
        "/api/member/logout",
        "/api/member/logout/all",
        "/api/member/check/nickname",
        "/api/member/nickname",
        "/api/member/memberId",
        "/api/member/nickname/list",
    ] {
        assert!(answer.json["paths"].get(path).is_some(), "{path} missing");
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_the_error_shape() {
    let app = TestApp::start(Backend::Sqlite).await;
    assert_status_and_code(&app.get("/api/member/nope").await, 404, "GA005");
    let wrong = app.call(Method::PUT, "/api/member", None, None).await;
    assert_status_and_code(&wrong, 405, "GA005");
}

#[tokio::test]
async fn a_token_signed_with_our_key_carrying_alices_session_and_bobs_subject_is_refused() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = TestApp::start(backend).await;
        let alice = app.member_token().await;
        let bob = app.member_token().await;
        let forged = app
            .key
            .sign(&Claims::new(
                TestApp::member_id(&bob),
                Role::User,
                TestApp::sid(&alice),
                chrono::Utc::now().timestamp(),
            ))
            .unwrap();
        assert_refused(&app, &forged).await;
    }
}

#[tokio::test]
async fn a_member_id_past_the_largest_signed_integer_answers_400_ga005() {
    let app = TestApp::start(Backend::Sqlite).await;
    let answer = app
        .get("/api/member/nickname?memberId=9223372036854775808")
        .await;
    assert_status_and_code(&answer, 400, "GA005");
}

#[tokio::test]
async fn the_nickname_list_leaves_out_ids_no_member_can_have() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (_, id, nick) = member_with_nickname(&app).await;
    let answer = nickname_list(&app, json!([0, -1, i64::MIN, id])).await;
    answer.assert_ok("닉네임 조회 성공");
    assert_eq!(answer.json["data"], json!({ id.to_string(): nick }));
}

#[tokio::test]
async fn the_openapi_document_states_the_range_of_member_ids() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = app.get("/api/member/openapi.json").await.json;
    testkit::assert_id_schema(&doc);
    let param = &doc["paths"]["/api/member/nickname"]["get"]["parameters"][0]["schema"];
    assert!(
        param.to_string().contains("#/components/schemas/Id"),
        "{param}"
    );
    // The list leaves an id below 1 out of its answer, so it takes any signed 64-bit integer.
    let list = &doc["paths"]["/api/member/nickname/list"]["post"]["requestBody"];
    assert!(
        list.to_string().contains("#/components/schemas/Int64Id"),
        "{list}"
    );
}

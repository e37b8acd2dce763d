//! Profile (read, nickname check, rename, withdraw), sessions (logout, logout/all) and the compatibility lookups, on
//! MariaDB and Redis.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::http::Method;
use common::{Backend, TestApp, enc, unique_id};
use platform::auth::{Claims, Role, Session, TOKEN_TTL};
use serde_json::json;

fn nickname() -> String {
    format!("n{}", &testkit::unique()[..8])
}

async fn nickname_of(app: &TestApp, token: &str) -> String {
    let me = app
        .call(Method::GET, "/api/member", Some(token), None)
        .await;
    me.json["data"]["nickname"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_profile_shows_nickname_role_and_local_creation_time() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let answer = app
        .call(Method::GET, "/api/member", Some(&token), None)
        .await;
    answer.assert_ok("회원 정보 조회 성공");
    let data = &answer.json["data"];
    assert!(data["nickname"].as_str().unwrap().starts_with("tester"));
    assert_eq!(data["role"], "ROLE_USER");
    let member = app
        .state
        .store
        .find_active(TestApp::member_id(&token))
        .await
        .unwrap()
        .unwrap();
    let expected = member.created_date + chrono::Duration::hours(9);
    let shown = chrono::NaiveDateTime::parse_from_str(
        data["createdDate"].as_str().unwrap(),
        "%Y-%m-%dT%H:%M:%S%.f",
    )
    .unwrap();
    assert_eq!(shown, expected);
}

#[tokio::test]
async fn the_profile_without_a_cookie_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let answer = app.call(Method::GET, "/api/member", None, None).await;
    answer.assert_error(400, "GATE004", "missing cookie");
}

#[tokio::test]
async fn a_token_of_a_member_that_does_not_exist_gets_not_found() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = ghost_token(&app).await;
    let answer = app
        .call(Method::GET, "/api/member", Some(&token), None)
        .await;
    answer.assert_error(404, "GA007", "사용자 정보가 없습니다");
}

#[tokio::test]
async fn a_free_valid_nickname_is_available() {
    let app = TestApp::start(Backend::MariaDb).await;
    let uri = format!("/api/member/check/nickname?nickname={}", enc("갤러리주인"));
    app.call(Method::GET, &uri, None, None)
        .await
        .assert_ok("사용 가능한 닉네임 입니다");
}

#[tokio::test]
async fn checking_a_missing_nickname_is_a_missing_parameter() {
    let app = TestApp::start(Backend::MariaDb).await;
    for uri in [
        "/api/member/check/nickname",
        "/api/member/check/nickname?nickname=%20",
    ] {
        let answer = app.call(Method::GET, uri, None, None).await;
        answer.assert_error(400, "GA004", "파라미터를 확인해주세요");
    }
}

#[tokio::test]
async fn checking_an_invalid_nickname_explains_the_rule() {
    let app = TestApp::start(Backend::MariaDb).await;
    for nickname in ["a", "elevenchars", "공 백", "기호!"] {
        let uri = format!("/api/member/check/nickname?nickname={}", enc(nickname));
        let answer = app.call(Method::GET, &uri, None, None).await;
        answer.assert_error(
            400,
            "GA005",
            "닉네임은 한글, 영어, 숫자 조합 2~10자로 입력해주세요",
        );
    }
}

#[tokio::test]
async fn checking_a_taken_nickname_is_a_conflict() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let taken = nickname_of(&app, &token).await;
    let uri = format!("/api/member/check/nickname?nickname={taken}");
    let answer = app.call(Method::GET, &uri, None, None).await;
    answer.assert_error(409, "GA006", "이미 사용중인 닉네임입니다");
}

#[tokio::test]
async fn renaming_changes_the_nickname_and_writes_an_event() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let new = nickname();
    let answer = app
        .call(
            Method::PATCH,
            "/api/member",
            Some(&token),
            Some(json!({ "nickname": new })),
        )
        .await;
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
        let answer = app
            .call(Method::PATCH, "/api/member", Some(&token), Some(body))
            .await;
        answer.assert_error(400, "GA005", "파라미터를 확인해주세요");
    }
}

#[tokio::test]
async fn renaming_to_an_invalid_nickname_changes_nothing() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let before = nickname_of(&app, &token).await;
    let answer = app
        .call(
            Method::PATCH,
            "/api/member",
            Some(&token),
            Some(json!({ "nickname": "x" })),
        )
        .await;
    answer.assert_error(
        400,
        "GA005",
        "닉네임은 한글, 영어, 숫자 조합 2~10자로 입력해주세요",
    );
    assert_eq!(nickname_of(&app, &token).await, before);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn renaming_to_your_own_nickname_is_a_conflict() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let current = nickname_of(&app, &token).await;
    let answer = app
        .call(
            Method::PATCH,
            "/api/member",
            Some(&token),
            Some(json!({ "nickname": current })),
        )
        .await;
    answer.assert_error(409, "GA006", "이미 사용중인 닉네임입니다");
}

#[tokio::test]
async fn two_concurrent_renames_to_the_same_free_nickname_have_exactly_one_winner() {
    let app = TestApp::start(Backend::MariaDb).await;
    let first = app.member_token().await;
    let second = app.member_token().await;
    let wanted = nickname();
    let body = json!({ "nickname": wanted });
    let (a, b) = tokio::join!(
        app.call(
            Method::PATCH,
            "/api/member",
            Some(&first),
            Some(body.clone())
        ),
        app.call(
            Method::PATCH,
            "/api/member",
            Some(&second),
            Some(body.clone())
        ),
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
    let answer = app
        .call(Method::DELETE, "/api/member", Some(&token), None)
        .await;
    answer.assert_ok("성공적으로 삭제되었습니다");
    assert_eq!(
        answer.set_cookie(),
        "gallery_cookie=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    );
    for sid in [TestApp::sid(&token), TestApp::sid(&other_device)] {
        assert!(app.state.sessions.get(&sid).await.unwrap().is_none());
    }
    let last = app.outbox().await.pop().unwrap();
    assert_eq!(last.0, "member.withdrawn");
    assert_eq!(last.2, json!({ "memberId": TestApp::member_id(&token) }));
    let uri = format!("/api/member/check/nickname?nickname={freed}");
    app.call(Method::GET, &uri, None, None)
        .await
        .assert_ok("사용 가능한 닉네임 입니다");
    let after = app
        .call(Method::GET, "/api/member", Some(&other_device), None)
        .await;
    after.assert_error(401, "GATE003", "invalid token");
}

#[tokio::test]
async fn renaming_a_member_that_is_gone_is_not_found() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = ghost_token(&app).await;
    let body = json!({ "nickname": nickname() });
    let answer = app
        .call(Method::PATCH, "/api/member", Some(&token), Some(body))
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
    let answer = app
        .call(Method::GET, "/api/member", Some(&forged), None)
        .await;
    answer.assert_error(401, "GATE003", "invalid token");
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
    let answer = app
        .call(Method::DELETE, "/api/member", Some(&token), None)
        .await;
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
        .call(Method::POST, "/api/member/logout", Some(&token), None)
        .await;
    answer.assert_ok("로그아웃 되었습니다");
    assert_eq!(
        answer.set_cookie(),
        "gallery_cookie=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    );
    assert!(
        app.state
            .sessions
            .get(&TestApp::sid(&token))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.state
            .sessions
            .get(&TestApp::sid(&other))
            .await
            .unwrap()
            .is_some()
    );
    let reuse = app
        .call(Method::GET, "/api/member", Some(&token), None)
        .await;
    reuse.assert_error(401, "GATE003", "invalid token");
}

#[tokio::test]
async fn logout_all_revokes_every_session_of_the_caller_only() {
    let app = TestApp::start(Backend::MariaDb).await;
    let kakao_id = unique_id();
    let token = app.kakao_login(kakao_id, "tester").await.token();
    let other = app.kakao_login(kakao_id, "tester").await.token();
    let stranger = app.member_token().await;
    let answer = app
        .call(Method::POST, "/api/member/logout/all", Some(&token), None)
        .await;
    answer.assert_ok("모든 기기에서 로그아웃 되었습니다");
    assert!(answer.set_cookie().contains("Max-Age=0"));
    for sid in [TestApp::sid(&token), TestApp::sid(&other)] {
        assert!(app.state.sessions.get(&sid).await.unwrap().is_none());
    }
    assert!(
        app.state
            .sessions
            .get(&TestApp::sid(&stranger))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let forged = format!("{}x", &token[..token.len() - 1]);
    let answer = app
        .call(Method::GET, "/api/member", Some(&forged), None)
        .await;
    answer.assert_error(401, "GATE003", "invalid token");
}

#[tokio::test]
async fn the_nickname_of_a_member_id_includes_withdrawn_members() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let nick = nickname_of(&app, &token).await;
    app.call(Method::DELETE, "/api/member", Some(&token), None)
        .await
        .assert_ok("성공적으로 삭제되었습니다");
    let uri = format!(
        "/api/member/nickname?memberId={}",
        TestApp::member_id(&token)
    );
    let answer = app.call(Method::GET, &uri, None, None).await;
    answer.assert_ok("닉네임 조회 성공");
    assert_eq!(answer.json["data"], nick);
}

#[tokio::test]
async fn the_nickname_lookup_answers_its_errors() {
    let app = TestApp::start(Backend::MariaDb).await;
    app.call(Method::GET, "/api/member/nickname", None, None)
        .await
        .assert_error(400, "GA004", "파라미터를 확인해주세요");
    let bad = app
        .call(Method::GET, "/api/member/nickname?memberId=abc", None, None)
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.json["errorCode"].as_str()),
        (400, Some("GA005"))
    );
    app.call(Method::GET, "/api/member/nickname?memberId=1", None, None)
        .await
        .assert_error(404, "GA007", "사용자 정보가 없습니다");
}

#[tokio::test]
async fn the_member_id_of_a_nickname_is_found() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let nick = nickname_of(&app, &token).await;
    let answer = app
        .call(
            Method::GET,
            &format!("/api/member/memberId?nickname={nick}"),
            None,
            None,
        )
        .await;
    answer.assert_ok("닉네임 조회 성공");
    assert_eq!(answer.json["data"], TestApp::member_id(&token));
    app.call(
        Method::GET,
        "/api/member/memberId?nickname=nobody",
        None,
        None,
    )
    .await
    .assert_error(404, "GA007", "사용자 정보가 없습니다");
    app.call(Method::GET, "/api/member/memberId", None, None)
        .await
        .assert_error(400, "GA004", "파라미터를 확인해주세요");
}

#[tokio::test]
async fn the_nickname_list_maps_known_ids_as_strings() {
    let app = TestApp::start(Backend::MariaDb).await;
    let token = app.member_token().await;
    let id = TestApp::member_id(&token);
    let nick = nickname_of(&app, &token).await;
    let answer = app
        .call(
            Method::POST,
            "/api/member/nickname/list",
            None,
            Some(json!([id, 1])),
        )
        .await;
    answer.assert_ok("닉네임 조회 성공");
    assert_eq!(answer.json["data"], json!({ id.to_string(): nick }));
    let empty = app
        .call(
            Method::POST,
            "/api/member/nickname/list",
            None,
            Some(json!([])),
        )
        .await;
    assert_eq!(empty.json["data"], json!({}));
    let wrong = app
        .call(
            Method::POST,
            "/api/member/nickname/list",
            None,
            Some(json!({"a": 1})),
        )
        .await;
    assert_eq!(
        (wrong.status.as_u16(), wrong.json["errorCode"].as_str()),
        (400, Some("GA005"))
    );
}

#[tokio::test]
async fn health_answers_plain_text() {
    let app = TestApp::start(Backend::Sqlite).await;
    let answer = app
        .call(Method::GET, "/api/member/health", None, None)
        .await;
    assert_eq!(answer.text(), "member 서버 ok");
}

#[tokio::test]
async fn the_openapi_document_lists_every_member_route() {
    let app = TestApp::start(Backend::Sqlite).await;
    let answer = app
        .call(Method::GET, "/api/member/openapi.json", None, None)
        .await;
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
    let missing = app.call(Method::GET, "/api/member/nope", None, None).await;
    assert_eq!(
        (missing.status.as_u16(), missing.json["errorCode"].as_str()),
        (404, Some("GA005"))
    );
    let wrong = app.call(Method::PUT, "/api/member", None, None).await;
    assert_eq!(
        (wrong.status.as_u16(), wrong.json["errorCode"].as_str()),
        (405, Some("GA005"))
    );
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
        let answer = app
            .call(Method::GET, "/api/member", Some(&forged), None)
            .await;
        answer.assert_error(401, "GATE003", "invalid token");
    }
}

#[tokio::test]
async fn the_nickname_of_member_zero_is_not_found() {
    let app = TestApp::start(Backend::Sqlite).await;
    app.call(Method::GET, "/api/member/nickname?memberId=0", None, None)
        .await
        .assert_error(404, "GA007", "사용자 정보가 없습니다");
}

#[tokio::test]
async fn a_member_id_past_the_largest_signed_integer_answers_400_ga005() {
    let app = TestApp::start(Backend::Sqlite).await;
    let uri = "/api/member/nickname?memberId=9223372036854775808";
    let answer = app.call(Method::GET, uri, None, None).await;
    assert_eq!(
        (answer.status.as_u16(), answer.json["errorCode"].as_str()),
        (400, Some("GA005"))
    );
}

#[tokio::test]
async fn the_nickname_list_leaves_out_ids_no_member_can_have() {
    let app = TestApp::start(Backend::Sqlite).await;
    let token = app.member_token().await;
    let id = TestApp::member_id(&token);
    let nick = nickname_of(&app, &token).await;
    let answer = app
        .call(
            Method::POST,
            "/api/member/nickname/list",
            None,
            Some(json!([0, -1, i64::MIN, id])),
        )
        .await;
    answer.assert_ok("닉네임 조회 성공");
    assert_eq!(answer.json["data"], json!({ id.to_string(): nick }));
}

#[tokio::test]
async fn the_openapi_document_states_the_range_of_member_ids() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = app
        .call(Method::GET, "/api/member/openapi.json", None, None)
        .await
        .json;
    let id = &doc["components"]["schemas"]["Id"];
    assert_eq!(
        (&id["type"], &id["format"], &id["minimum"], &id["maximum"]),
        (
            &json!("integer"),
            &json!("int64"),
            &json!(1),
            &json!(i64::MAX)
        )
    );
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

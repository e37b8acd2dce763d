//! The gallery routes and `GET /api/gallery/health` through the router, on MariaDB and on SQLite: success bodies, every error with
//! its status, code and message, ownership, and that a refused request changes nothing.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::http::{Method, StatusCode};
use common::{BASE, Service};
use serde_json::{Value, json};

const ALICE: i64 = 1;
const BOB: i64 = 2;

both!(
    the_place_list_has_the_three_seeded_places_with_absolute_image_uris,
    every_place_image_is_a_png_served_by_the_service,
    an_unknown_place_image_is_a_404_in_the_error_shape,
    a_created_gallery_can_be_read_back_publicly,
    creating_without_a_token_is_refused_with_gate004,
    creating_with_a_forged_token_is_refused_with_gate003,
    each_validation_rule_answers_gg005_with_its_message_and_creates_nothing,
    a_malformed_json_body_answers_gg005_in_the_error_shape,
    an_unknown_place_answers_404_gg007_and_creates_nothing,
    a_duplicate_name_of_the_same_member_answers_409_gg006,
    two_members_may_use_the_same_name,
    concurrent_creations_with_one_name_leave_exactly_one_gallery,
    my_galleries_are_listed_newest_first_without_others,
    my_gallery_list_is_empty_when_i_have_none,
    a_free_name_is_reported_usable,
    a_taken_name_is_reported_with_the_check_message,
    a_missing_name_parameter_answers_gg005,
    an_invalid_name_to_check_answers_its_validation_message,
    an_unknown_gallery_answers_404_gg007,
    a_non_numeric_gallery_id_answers_400_in_the_error_shape,
    timestamps_are_utc_in_storage_and_seoul_time_in_responses,
    the_owner_can_update_name_content_and_place,
    an_update_keeping_the_same_name_succeeds,
    an_update_to_a_taken_name_answers_409_and_changes_nothing,
    an_update_to_an_unknown_place_answers_404_and_changes_nothing,
    an_invalid_update_answers_gg005_and_changes_nothing,
    bob_cannot_update_alices_gallery_and_it_stays_unchanged,
    the_owner_can_delete_a_gallery,
    bob_cannot_delete_alices_gallery_and_it_stays,
    deleting_an_unknown_gallery_answers_404_gg007,
    the_health_endpoint_answers_plain_text,
    a_bearer_token_identifies_the_member_like_the_cookie,
    an_unknown_route_and_a_wrong_method_answer_in_the_error_shape,
    the_openapi_document_describes_every_gallery_endpoint,
    a_gallery_id_past_the_largest_signed_integer_answers_400_gg005,
    a_fractional_gallery_id_answers_400_gg005,
    a_gallery_id_of_zero_answers_404_gg007,
    a_negative_gallery_id_answers_404_gg007_on_every_method,
    the_largest_gallery_id_is_a_lookup_that_finds_nothing,
    a_place_id_of_zero_answers_404_gg007_and_creates_nothing,
    a_negative_place_id_in_an_update_answers_404_gg007_and_changes_nothing,
    a_place_id_past_the_largest_signed_integer_answers_400_gg005,
    a_name_error_is_answered_before_an_impossible_place_id,
    the_openapi_document_states_the_range_of_every_id,
);

fn place_uri(place: i64, kind: &str) -> String {
    format!("{BASE}/api/gallery/place/image/{place}-{kind}.png")
}

async fn the_place_list_has_the_three_seeded_places_with_absolute_image_uris(s: &Service) {
    let answer = s.get("/api/gallery/place/list", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let expected: Vec<Value> = [(1, "초원"), (2, "갤러리"), (3, "교토")]
        .into_iter()
        .map(|(id, name)| {
            json!({"placeId": id, "name": name, "maximumFrameNumber": 10,
                "twoDimensionImageUri": place_uri(id, "2d"),
                "threeDimensionImageUri": place_uri(id, "3d")})
        })
        .collect();
    assert_eq!(
        answer.json,
        json!({"message": "공간 정보가 조회되었습니다.", "data": expected})
    );
}

async fn every_place_image_is_a_png_served_by_the_service(s: &Service) {
    for place in 1..=3 {
        for kind in ["2d", "3d"] {
            let path = format!("/api/gallery/place/image/{place}-{kind}.png");
            let answer = s.get(&path, None).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}");
            assert_eq!(answer.content_type(), "image/png");
            assert!(answer.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{path}");
        }
    }
}

async fn an_unknown_place_image_is_a_404_in_the_error_shape(s: &Service) {
    let answer = s.get("/api/gallery/place/image/9-2d.png", None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json["errorCode"], "GG005");
}

async fn a_created_gallery_can_be_read_back_publicly(s: &Service) {
    let answer = s
        .send(
            Method::POST,
            "/api/gallery",
            Some(ALICE),
            Some(json!({"placeId": 3, "name": "교토의 봄 🌸", "content": null})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    assert_eq!(answer.json["message"], "갤러리가 생성되었습니다.");
    let id = answer.json["data"]["galleryId"].as_i64().unwrap();

    let read = s.get(&format!("/api/gallery/{id}"), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json["message"], "갤러리 조회에 성공했습니다");
    let data = &read.json["data"];
    assert_eq!(data["galleryId"], id);
    assert_eq!(data["name"], "교토의 봄 🌸");
    assert_eq!(data["content"], Value::Null);
    assert_eq!(data["createdDate"], data["modifiedDate"]);
    assert_eq!(
        data["place"],
        json!({"placeId": 3, "name": "교토", "maximumFrameNumber": 10,
            "twoDimensionImageUri": place_uri(3, "2d"), "threeDimensionImageUri": place_uri(3, "3d")})
    );
}

async fn creating_without_a_token_is_refused_with_gate004(s: &Service) {
    let body = json!({"placeId": 1, "name": "봄"});
    let answer = s.send(Method::POST, "/api/gallery", None, Some(body)).await;
    answer.assert_error(400, "GATE004", "missing cookie");
    assert_eq!(count(s, ALICE).await, 0);
}

async fn creating_with_a_forged_token_is_refused_with_gate003(s: &Service) {
    let other = platform::auth::SigningKey::generate().unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = platform::auth::Claims::new(ALICE, platform::auth::Role::User, "sid", now);
    let forged = other.sign(&claims).unwrap();
    let request = axum::http::Request::post("/api/gallery")
        .header("authorization", format!("Bearer {forged}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"placeId":1,"name":"봄"}"#))
        .unwrap();
    let response = tower::ServiceExt::oneshot(s.app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(count(s, ALICE).await, 0);
}

async fn each_validation_rule_answers_gg005_with_its_message_and_creates_nothing(s: &Service) {
    let long_name = "가".repeat(51);
    let long_content = "x".repeat(501);
    let cases = [
        (json!({"name": "봄"}), "공간을 선택해주세요"),
        (
            json!({"placeId": null, "name": "봄"}),
            "공간을 선택해주세요",
        ),
        (
            json!({"placeId": 1}),
            "갤러리 이름은 최소 1자, 최대 50자 이내로 작성해주세요",
        ),
        (
            json!({"placeId": 1, "name": ""}),
            "갤러리 이름은 최소 1자, 최대 50자 이내로 작성해주세요",
        ),
        (
            json!({"placeId": 1, "name": "  "}),
            "갤러리 이름은 최소 1자, 최대 50자 이내로 작성해주세요",
        ),
        (
            json!({"placeId": 1, "name": long_name}),
            "갤러리 이름은 최소 1자, 최대 50자 이내로 작성해주세요",
        ),
        (
            json!({"placeId": 1, "name": " 봄"}),
            "갤러리 이름은 좌우 공백 없이 입력해주세요",
        ),
        (
            json!({"placeId": 1, "name": "봄\t"}),
            "갤러리 이름은 좌우 공백 없이 입력해주세요",
        ),
        (
            json!({"placeId": 1, "name": "봄", "content": long_content}),
            "갤러리 설명은 최대 500자 이내로 작성해주세요",
        ),
    ];
    for (body, message) in cases {
        let answer = s
            .send(
                Method::POST,
                "/api/gallery",
                Some(ALICE),
                Some(body.clone()),
            )
            .await;
        answer.assert_error(400, "GG005", message);
    }
    assert_eq!(count(s, ALICE).await, 0);
}

async fn a_malformed_json_body_answers_gg005_in_the_error_shape(s: &Service) {
    let token = s.token(ALICE).await;
    let body = axum::body::Body::from("{\"placeId\": 1, \"name\": ");
    let request = testkit::request(
        axum::http::Method::POST,
        "/api/gallery",
        Some(&token),
        Some(("application/json", body)),
    );
    let answer = s.request(request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json["errorCode"], "GG005");
    assert_eq!(answer.json["errorType"], "Bad Request");
}

async fn an_unknown_place_answers_404_gg007_and_creates_nothing(s: &Service) {
    let body = json!({"placeId": 4, "name": "봄"});
    let answer = s
        .send(Method::POST, "/api/gallery", Some(ALICE), Some(body))
        .await;
    answer.assert_error(404, "GG007", "존재하지 않는 공간입니다");
    assert_eq!(count(s, ALICE).await, 0);
}

async fn a_duplicate_name_of_the_same_member_answers_409_gg006(s: &Service) {
    s.create(ALICE, 1, "봄").await;
    let body = json!({"placeId": 2, "name": "봄"});
    let answer = s
        .send(Method::POST, "/api/gallery", Some(ALICE), Some(body))
        .await;
    answer.assert_error(409, "GG006", "이미 사용중인 갤러리 이름입니다");
    assert_eq!(count(s, ALICE).await, 1);
}

async fn two_members_may_use_the_same_name(s: &Service) {
    let a = s.create(ALICE, 1, "봄").await;
    let b = s.create(BOB, 1, "봄").await;
    assert_ne!(a, b);
}

async fn concurrent_creations_with_one_name_leave_exactly_one_gallery(s: &Service) {
    let body = json!({"placeId": 1, "name": "동시에"});
    let attempts = (0..6).map(|_| {
        s.send(
            Method::POST,
            "/api/gallery",
            Some(ALICE),
            Some(body.clone()),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    let conflicts = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, conflicts), (1, 5), "{answers:?}");
    assert_eq!(count(s, ALICE).await, 1);
}

async fn my_galleries_are_listed_newest_first_without_others(s: &Service) {
    let first = s.create(ALICE, 1, "첫째").await;
    s.create(BOB, 1, "남의 것").await;
    let second = s.create(ALICE, 2, "둘째").await;
    let answer = s.get("/api/gallery/list", Some(ALICE)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["message"], "갤러리 목록 조회를 성공했습니다");
    let ids: Vec<i64> = answer.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["galleryId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [second, first]);
    assert_eq!(answer.json["data"][0]["place"]["placeId"], 2);
}

async fn my_gallery_list_is_empty_when_i_have_none(s: &Service) {
    let answer = s.get("/api/gallery/list", Some(ALICE)).await;
    assert_eq!(
        answer.json,
        json!({"message": "갤러리 목록 조회를 성공했습니다", "data": []})
    );
}

async fn a_free_name_is_reported_usable(s: &Service) {
    s.create(BOB, 1, "봄").await;
    let answer = s
        .get("/api/gallery/check/name?name=%EB%B4%84", Some(ALICE))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json,
        json!({"message": "사용 가능한 갤러리 이름입니다"})
    );
}

async fn a_taken_name_is_reported_with_the_check_message(s: &Service) {
    s.create(ALICE, 1, "봄").await;
    let answer = s
        .get("/api/gallery/check/name?name=%EB%B4%84", Some(ALICE))
        .await;
    answer.assert_error(409, "GG006", "이미 사용중인 갤러리 이름 입니다");
}

async fn a_missing_name_parameter_answers_gg005(s: &Service) {
    let answer = s.get("/api/gallery/check/name", Some(ALICE)).await;
    answer.assert_error(400, "GG005", "필수 파라미터 누락");
}

async fn an_invalid_name_to_check_answers_its_validation_message(s: &Service) {
    let answer = s
        .get("/api/gallery/check/name?name=%20spring", Some(ALICE))
        .await;
    answer.assert_error(400, "GG005", "갤러리 이름은 좌우 공백 없이 입력해주세요");
}

async fn an_unknown_gallery_answers_404_gg007(s: &Service) {
    let answer = s.get("/api/gallery/987654", None).await;
    answer.assert_error(404, "GG007", "해당 갤러리 정보가 없습니다");
}

async fn a_non_numeric_gallery_id_answers_400_in_the_error_shape(s: &Service) {
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"placeId": 1, "name": "봄"}));
        let answer = s.send(method, "/api/gallery/abc", Some(ALICE), body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.json["errorCode"], "GG005");
        assert_eq!(answer.json["errorType"], "Bad Request");
    }
}

async fn timestamps_are_utc_in_storage_and_seoul_time_in_responses(s: &Service) {
    let id = s.create(ALICE, 1, "시간").await;
    let stored = gallery::store::gallery(&s.state.db, gallery::domain::GalleryId::new(id).unwrap())
        .await
        .unwrap()
        .gallery
        .created_date;
    let answer = s.get(&format!("/api/gallery/{id}"), None).await;
    let shown = answer.json["data"]["createdDate"]
        .as_str()
        .unwrap()
        .to_owned();
    let parsed = chrono::NaiveDateTime::parse_from_str(&shown, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
    assert_eq!(parsed - stored, chrono::TimeDelta::hours(9));
    let drift = chrono::Utc::now().naive_utc() - stored;
    assert!(
        drift.num_seconds().abs() < 60,
        "stored {stored} is not UTC now"
    );
    assert!(!shown.contains('+') && !shown.ends_with('Z'), "{shown}");
}

async fn the_owner_can_update_name_content_and_place(s: &Service) {
    let id = s.create(ALICE, 1, "봄").await;
    let body = json!({"placeId": 2, "name": "여름", "content": "바다"});
    let answer = update(s, id, ALICE, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    assert_eq!(
        answer.json,
        json!({"message": "갤러리 정보 수정을 성공했습니다"})
    );
    let data = s.get(&format!("/api/gallery/{id}"), None).await.json["data"].clone();
    assert_eq!(
        (data["name"].clone(), data["content"].clone()),
        (json!("여름"), json!("바다"))
    );
    assert_eq!(data["place"]["placeId"], 2);
}

async fn an_update_keeping_the_same_name_succeeds(s: &Service) {
    let id = s.create(ALICE, 1, "봄").await;
    let body = json!({"placeId": 1, "name": "봄", "content": "새 설명"});
    let answer = update(s, id, ALICE, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
}

async fn an_update_to_a_taken_name_answers_409_and_changes_nothing(s: &Service) {
    s.create(ALICE, 1, "봄").await;
    let id = s.create(ALICE, 1, "여름").await;
    let body = json!({"placeId": 2, "name": "봄"});
    assert_update_refused(s, id, ALICE, body, TAKEN_NAME).await;
}

async fn an_update_to_an_unknown_place_answers_404_and_changes_nothing(s: &Service) {
    let id = s.create(ALICE, 1, "봄").await;
    let body = json!({"placeId": 99, "name": "여름"});
    assert_update_refused(s, id, ALICE, body, UNKNOWN_PLACE).await;
}

async fn an_invalid_update_answers_gg005_and_changes_nothing(s: &Service) {
    let id = s.create(ALICE, 1, "봄").await;
    let body = json!({"placeId": 1, "name": "여름 "});
    assert_update_refused(s, id, ALICE, body, UNTRIMMED_NAME).await;
}

async fn bob_cannot_update_alices_gallery_and_it_stays_unchanged(s: &Service) {
    let id = s.create(ALICE, 1, "봄").await;
    let body = json!({"placeId": 2, "name": "밥의 것"});
    assert_update_refused(s, id, BOB, body, NOT_YOURS).await;
}

async fn the_owner_can_delete_a_gallery(s: &Service) {
    let id = s.create(ALICE, 1, "봄").await;
    let answer = delete(s, id, ALICE).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json, json!({"message": "갤러리가 삭제되었습니다"}));
    assert_eq!(
        s.get(&format!("/api/gallery/{id}"), None).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn bob_cannot_delete_alices_gallery_and_it_stays(s: &Service) {
    let id = s.create(ALICE, 1, "봄").await;
    let answer = delete(s, id, BOB).await;
    answer.assert_error(404, "GG007", "해당 갤러리 정보가 없습니다");
    assert_eq!(
        s.get(&format!("/api/gallery/{id}"), None).await.status,
        StatusCode::OK
    );
}

async fn deleting_an_unknown_gallery_answers_404_gg007(s: &Service) {
    let answer = s
        .send(Method::DELETE, "/api/gallery/424242", Some(ALICE), None)
        .await;
    answer.assert_error(404, "GG007", "해당 갤러리 정보가 없습니다");
}

async fn a_bearer_token_identifies_the_member_like_the_cookie(s: &Service) {
    let id = s.create(ALICE, 1, "봄").await;
    let request = axum::http::Request::get("/api/gallery/list")
        .header("authorization", format!("Bearer {}", s.token(ALICE).await))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(s.app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["data"][0]["galleryId"], id);
}

async fn an_unknown_route_and_a_wrong_method_answer_in_the_error_shape(s: &Service) {
    let unknown = s.get("/api/gallery/place/nothing/here", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["errorCode"], "GG005");
    let wrong = s
        .send(Method::PUT, "/api/gallery/1", Some(ALICE), None)
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.json["errorCode"], "GG005");
}

async fn the_health_endpoint_answers_plain_text(s: &Service) {
    let answer = s.get("/api/gallery/health", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.bytes, b"Gallery App ok");
}

async fn the_openapi_document_describes_every_gallery_endpoint(s: &Service) {
    let answer = s.get("/api/gallery/openapi.json", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.json["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = answer.json["paths"].as_object().unwrap();
    for path in [
        "/api/gallery",
        "/api/gallery/list",
        "/api/gallery/check/name",
        "/api/gallery/{galleryId}",
        "/api/gallery/search",
        "/api/gallery/place/list",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let schemas = answer.json["components"]["schemas"].as_object().unwrap();
    let error = &schemas["ErrorBody"]["properties"];
    for key in ["errorType", "errorCode", "message"] {
        assert!(error.get(key).is_some(), "ErrorBody lacks {key}");
    }
}

async fn count(s: &Service, member: i64) -> usize {
    s.get("/api/gallery/list", Some(member)).await.json["data"]
        .as_array()
        .map_or(0, Vec::len)
}

async fn snapshot(s: &Service, id: i64) -> Value {
    s.get(&format!("/api/gallery/{id}"), None).await.json
}

/// The refusal of an update to a name the member already uses.
const TAKEN_NAME: (u16, &str, &str) = (409, "GG006", "이미 사용중인 갤러리 이름입니다");
/// The refusal of an update to a place that does not exist.
const UNKNOWN_PLACE: (u16, &str, &str) = (404, "GG007", "존재하지 않는 공간입니다");
/// The refusal of an update to a name with surrounding spaces.
const UNTRIMMED_NAME: (u16, &str, &str) =
    (400, "GG005", "갤러리 이름은 좌우 공백 없이 입력해주세요");
/// The refusal of an update of another member's gallery.
const NOT_YOURS: (u16, &str, &str) = (404, "GG007", "해당 갤러리 정보가 없습니다");

/// `PATCH /api/gallery/{id}` with `body`, as `member`.
async fn update(s: &Service, id: i64, member: i64, body: Value) -> common::Answer {
    let path = format!("/api/gallery/{id}");
    s.send(Method::PATCH, &path, Some(member), Some(body)).await
}

/// `DELETE /api/gallery/{id}`, as `member`.
async fn delete(s: &Service, id: i64, member: i64) -> common::Answer {
    let path = format!("/api/gallery/{id}");
    s.send(Method::DELETE, &path, Some(member), None).await
}

/// Asserts that `member`'s update of gallery `id` is refused with `(status, code, message)` and
/// leaves the gallery as it was.
async fn assert_update_refused(
    s: &Service,
    id: i64,
    member: i64,
    body: Value,
    (status, code, message): (u16, &str, &str),
) {
    let before = snapshot(s, id).await;
    update(s, id, member, body)
        .await
        .assert_error(status, code, message);
    assert_eq!(snapshot(s, id).await, before);
}

const PAST_I64: &str = "9223372036854775808";

async fn a_gallery_id_past_the_largest_signed_integer_answers_400_gg005(s: &Service) {
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"placeId": 1, "name": "봄"}));
        let path = format!("/api/gallery/{PAST_I64}");
        let answer = s.send(method, &path, Some(ALICE), body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.json["errorCode"], "GG005");
    }
}

async fn a_fractional_gallery_id_answers_400_gg005(s: &Service) {
    let answer = s.get("/api/gallery/1.5", None).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json["errorCode"], "GG005");
}

async fn a_gallery_id_of_zero_answers_404_gg007(s: &Service) {
    let answer = s.get("/api/gallery/0", None).await;
    answer.assert_error(404, "GG007", "해당 갤러리 정보가 없습니다");
}

async fn a_negative_gallery_id_answers_404_gg007_on_every_method(s: &Service) {
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"placeId": 1, "name": "봄"}));
        let answer = s.send(method, "/api/gallery/-1", Some(ALICE), body).await;
        answer.assert_error(404, "GG007", "해당 갤러리 정보가 없습니다");
    }
}

async fn the_largest_gallery_id_is_a_lookup_that_finds_nothing(s: &Service) {
    let answer = s.get(&format!("/api/gallery/{}", i64::MAX), None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json["errorCode"], "GG007");
}

async fn a_place_id_of_zero_answers_404_gg007_and_creates_nothing(s: &Service) {
    let body = json!({"placeId": 0, "name": "영"});
    let answer = s
        .send(Method::POST, "/api/gallery", Some(ALICE), Some(body))
        .await;
    answer.assert_error(404, "GG007", "존재하지 않는 공간입니다");
    assert_eq!(count(s, ALICE).await, 0);
}

async fn a_negative_place_id_in_an_update_answers_404_gg007_and_changes_nothing(s: &Service) {
    let id = s.create(ALICE, 1, "음수").await;
    let before = snapshot(s, id).await;
    let body = json!({"placeId": -3, "name": "음수"});
    let path = format!("/api/gallery/{id}");
    let answer = s.send(Method::PATCH, &path, Some(ALICE), Some(body)).await;
    answer.assert_error(404, "GG007", "존재하지 않는 공간입니다");
    assert_eq!(snapshot(s, id).await, before);
}

async fn a_place_id_past_the_largest_signed_integer_answers_400_gg005(s: &Service) {
    let answer = s
        .send_raw(
            Method::POST,
            "/api/gallery",
            Some(ALICE),
            format!("{{\"placeId\": {PAST_I64}, \"name\": \"큰수\"}}"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json["errorCode"], "GG005");
    assert_eq!(count(s, ALICE).await, 0);
}

async fn a_name_error_is_answered_before_an_impossible_place_id(s: &Service) {
    let body = json!({"placeId": 0, "name": " 봄"});
    let answer = s
        .send(Method::POST, "/api/gallery", Some(ALICE), Some(body))
        .await;
    answer.assert_error(400, "GG005", "갤러리 이름은 좌우 공백 없이 입력해주세요");
}

async fn the_openapi_document_states_the_range_of_every_id(s: &Service) {
    let doc = s.get("/api/gallery/openapi.json", None).await.json;
    testkit::assert_id_schema(&doc);
    let path_param = &doc["paths"]["/api/gallery/{galleryId}"]["get"]["parameters"][0]["schema"];
    assert_eq!(path_param["$ref"], "#/components/schemas/Id");
    let place = &doc["components"]["schemas"]["GalleryForm"]["properties"]["placeId"];
    assert!(
        place.to_string().contains("#/components/schemas/Id"),
        "{place}"
    );
}

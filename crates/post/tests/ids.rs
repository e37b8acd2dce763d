//! Client-sent ids (docs/api.md, "Ids"): not a signed 64-bit integer answers 400 GP005; an integer
//! no object can have (0 or below) answers as an unknown object of its kind.

mod common;

use axum::http::{Method, StatusCode};
use common::{Form, Harness, PostPart};
use serde_json::{Value, json};

use common::{GALLERY, OWNER};
const PAST_I64: &str = "9223372036854775808";

fn assert_code(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "{:?}", answer.1);
    assert_eq!(answer.1["errorCode"], code, "{:?}", answer.1);
}

#[tokio::test]
async fn a_gallery_id_past_the_largest_signed_integer_answers_400_gp005() {
    let h = Harness::mysql().await;
    let uri = format!("/api/post/list/{PAST_I64}");
    let answer = h.get(&uri).await;
    assert_code(&answer, StatusCode::BAD_REQUEST, "GP005");
}

#[tokio::test]
async fn the_posts_of_a_negative_gallery_id_are_an_empty_list() {
    let h = Harness::mysql().await;
    let answer = h.get("/api/post/list/-5").await;
    assert_eq!(
        answer,
        (
            StatusCode::OK,
            json!({"message": "게시물 목록 조회 성공", "data": []})
        )
    );
}

#[tokio::test]
async fn editing_the_posts_of_gallery_zero_answers_404_gp007() {
    let h = Harness::mysql().await;
    let form = Form::default().post(0, &PostPart::new(1, 1));
    let answer = h.patch_posts(0, OWNER, form).await;
    assert_code(&answer, StatusCode::NOT_FOUND, "GP007");
}

#[tokio::test]
async fn a_post_id_of_zero_in_the_frame_form_answers_404_gp007_and_changes_nothing() {
    let h = Harness::mysql().await;
    h.gallery(GALLERY, OWNER, 2).await;
    let before = h.snapshot(GALLERY).await;
    let form = Form::default().post(0, &PostPart::new(0, 1));
    let answer = h.patch_posts(GALLERY, OWNER, form).await;
    assert_code(&answer, StatusCode::NOT_FOUND, "GP007");
    assert_eq!(h.snapshot(GALLERY).await, before);
}

#[tokio::test]
async fn a_post_id_past_the_largest_signed_integer_in_the_frame_form_answers_400_gp005() {
    let h = Harness::mysql().await;
    h.gallery(GALLERY, OWNER, 1).await;
    let form = Form::default()
        .text("posts[0].postId", PAST_I64)
        .text("posts[0].order", "1")
        .text("posts[0].isActive", "true");
    let answer = h.patch_posts(GALLERY, OWNER, form).await;
    assert_code(&answer, StatusCode::BAD_REQUEST, "GP005");
}

#[tokio::test]
async fn a_negative_music_id_in_the_frame_form_answers_404_gp001() {
    let h = Harness::mysql().await;
    h.gallery(GALLERY, OWNER, 1).await;
    let ids = h.post_ids(GALLERY).await;
    let mut part = PostPart::new(ids[0], 1);
    part.music_id = "-1";
    let answer = h
        .patch_posts(GALLERY, OWNER, Form::default().post(0, &part))
        .await;
    assert_code(&answer, StatusCode::NOT_FOUND, "GP001");
}

#[tokio::test]
async fn the_comments_of_post_zero_are_an_empty_list() {
    let h = Harness::mysql().await;
    let (status, body) = h.get("/api/post/comment/list/0").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], json!([]));
}

#[tokio::test]
async fn a_comment_on_a_negative_post_id_answers_404_gp007() {
    let h = Harness::mysql().await;
    let body = json!({"postId": -1, "content": "안녕"});
    let answer = h
        .call(Method::POST, "/api/post/comment", Some(OWNER), Some(body))
        .await;
    assert_code(&answer, StatusCode::NOT_FOUND, "GP007");
}

#[tokio::test]
async fn a_fractional_post_id_in_a_comment_answers_400_gp005() {
    let h = Harness::mysql().await;
    let body = json!({"postId": 1.5, "content": "안녕"});
    let answer = h
        .call(Method::POST, "/api/post/comment", Some(OWNER), Some(body))
        .await;
    assert_code(&answer, StatusCode::BAD_REQUEST, "GP005");
}

#[tokio::test]
async fn editing_comment_zero_answers_404_gp007() {
    let h = Harness::mysql().await;
    let body = json!({"content": "고침"});
    let answer = h
        .call(
            Method::PATCH,
            "/api/post/comment/0",
            Some(OWNER),
            Some(body),
        )
        .await;
    assert_code(&answer, StatusCode::NOT_FOUND, "GP007");
}

#[tokio::test]
async fn deleting_a_comment_id_past_the_largest_signed_integer_answers_400_gp005() {
    let h = Harness::mysql().await;
    let uri = format!("/api/post/comment/{PAST_I64}");
    let answer = h.call(Method::DELETE, &uri, Some(OWNER), None).await;
    assert_code(&answer, StatusCode::BAD_REQUEST, "GP005");
}

#[tokio::test]
async fn dummy_posts_for_a_negative_gallery_id_answer_404_gp007() {
    let h = Harness::mysql().await;
    let answer = h
        .call(
            Method::POST,
            "/api/post/dummy?galleryId=-2",
            Some(OWNER),
            None,
        )
        .await;
    assert_code(&answer, StatusCode::NOT_FOUND, "GP007");
}

#[tokio::test]
async fn the_openapi_document_states_the_range_of_every_id() {
    let h = Harness::mysql().await;
    let (_, doc) = h.get("/api/post/openapi.json").await;
    testkit::assert_id_schema(&doc);
    let id_ref = json!({"$ref": "#/components/schemas/Id"});
    let paths = &doc["paths"];
    for (path, method) in [
        ("/api/post/list/{galleryId}", "patch"),
        ("/api/post/comment/{commentId}", "patch"),
        ("/api/post/comment/{commentId}", "delete"),
        ("/api/post/dummy", "post"),
    ] {
        let schema = &paths[path][method]["parameters"][0]["schema"];
        assert_eq!(schema, &id_ref, "{method} {path}");
    }
    // The lists answer an id below 1 with an empty list, so they take any signed 64-bit integer.
    let raw = &doc["components"]["schemas"]["Int64Id"];
    assert_eq!(
        (&raw["minimum"], &raw["maximum"]),
        (&json!(i64::MIN), &json!(i64::MAX))
    );
    let raw_ref = json!({"$ref": "#/components/schemas/Int64Id"});
    for path in [
        "/api/post/list/{galleryId}",
        "/api/post/comment/list/{postId}",
    ] {
        assert_eq!(
            paths[path]["get"]["parameters"][0]["schema"], raw_ref,
            "{path}"
        );
    }
    let post_id = &doc["components"]["schemas"]["NewComment"]["properties"]["postId"];
    assert!(
        post_id.to_string().contains("#/components/schemas/Id"),
        "{post_id}"
    );
}

//! The comment routes against MariaDB, with nicknames from the member-event projection.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::Harness;
use post::limit::CommentLimiter;
use post::reactions;
use serde_json::{Value, json};
use testkit::error_body as error;

use common::{GALLERY, OWNER, VISITOR};

/// A gallery with one post, and nicknames for both members.
async fn setup() -> (Harness, i64) {
    let h = Harness::mysql().await;
    h.gallery(GALLERY, OWNER, 1).await;
    reactions::nickname_changed(&h.state.db, OWNER, "주인")
        .await
        .unwrap();
    reactions::nickname_changed(&h.state.db, VISITOR, "손님")
        .await
        .unwrap();
    let post = h.post_ids(GALLERY).await[0];
    (h, post)
}

async fn comment(h: &Harness, member: i64, post: i64, content: &str) -> (StatusCode, Value) {
    h.call(
        Method::POST,
        "/api/post/comment",
        Some(member),
        Some(json!({"postId": post, "content": content})),
    )
    .await
}

async fn comments(h: &Harness, post: i64) -> Vec<Value> {
    let (status, body) = h.get(&format!("/api/post/comment/list/{post}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "댓글 목록 조회 성공");
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_comment_is_created_and_listed_with_its_authors_nickname() {
    let (h, post) = setup().await;
    let answer = comment(&h, VISITOR, post, "멋진 작품이네요").await;
    assert_eq!(
        answer,
        (StatusCode::OK, json!({"message": "댓글이 생성되었습니다"}))
    );
    let list = comments(&h, post).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["nickname"], "손님");
    assert_eq!(list[0]["content"], "멋진 작품이네요");
    assert!(list[0]["commentId"].as_i64().unwrap() > 0);
    assert!(list[0]["createdDate"].as_str().unwrap().starts_with("20"));
}

#[tokio::test]
async fn comments_are_listed_oldest_first_and_paged() {
    let (h, post) = setup().await;
    for text in ["하나", "둘", "셋"] {
        comment(&h, VISITOR, post, text).await;
    }
    let texts: Vec<Value> = comments(&h, post)
        .await
        .iter()
        .map(|c| c["content"].clone())
        .collect();
    assert_eq!(texts, [json!("하나"), json!("둘"), json!("셋")]);
    let (_, body) = h
        .get(&format!("/api/post/comment/list/{post}?page=1&size=2"))
        .await;
    assert_eq!(body["data"][0]["content"], "셋");
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
}

const PAGING: &str = "page는 0 이상 10000000 이하, size는 1 이상 100 이하로 입력해주세요";

async fn list_page(h: &Harness, post: i64, query: &str) -> (StatusCode, Value) {
    h.get(&format!("/api/post/comment/list/{post}?{query}"))
        .await
}

#[tokio::test]
async fn a_page_past_two_to_the_sixty_three_answers_gp005_not_500() {
    let (h, post) = setup().await;
    let answer = list_page(&h, post, "page=9223372036854775808").await;
    assert_eq!(answer, error(400, "GP005", PAGING));
}

#[tokio::test]
async fn a_page_times_size_past_two_to_the_sixty_three_answers_gp005_not_500() {
    let (h, post) = setup().await;
    let answer = list_page(&h, post, "page=92233720368547759&size=100").await;
    assert_eq!(answer, error(400, "GP005", PAGING));
}

#[tokio::test]
async fn a_page_size_of_zero_or_over_one_hundred_answers_gp005() {
    let (h, post) = setup().await;
    assert_eq!(
        list_page(&h, post, "size=0").await,
        error(400, "GP005", PAGING)
    );
    assert_eq!(
        list_page(&h, post, "size=101").await,
        error(400, "GP005", PAGING)
    );
}

#[tokio::test]
async fn an_unknown_post_lists_no_comments() {
    let (h, _) = setup().await;
    assert!(comments(&h, 424_242).await.is_empty());
}

#[tokio::test]
async fn a_comment_on_an_unknown_post_is_not_found() {
    let (h, _) = setup().await;
    let answer = comment(&h, VISITOR, 424_242, "안녕").await;
    assert_eq!(answer, error(404, "GP007", "존재하지 않는 게시물입니다"));
}

#[tokio::test]
async fn a_comment_without_post_id_is_refused() {
    let (h, _) = setup().await;
    let answer = h
        .call(
            Method::POST,
            "/api/post/comment",
            Some(VISITOR),
            Some(json!({"content": "안녕"})),
        )
        .await;
    assert_eq!(answer, error(400, "GP005", "게시물 아이디를 확인해주세요"));
}

#[tokio::test]
async fn blank_leading_space_and_overlong_comments_are_refused_and_nothing_is_stored() {
    let (h, post) = setup().await;
    let long = "가".repeat(101);
    for bad in ["", " 앞에 공백", long.as_str()] {
        let answer = comment(&h, VISITOR, post, bad).await;
        assert_eq!(
            answer,
            error(400, "GP005", "댓글은 최소 1자 이상 입력해주세요"),
            "{bad:?}"
        );
    }
    assert!(comments(&h, post).await.is_empty());
}

#[tokio::test]
async fn a_hundred_character_comment_is_accepted() {
    let (h, post) = setup().await;
    let answer = comment(&h, VISITOR, post, &"가".repeat(100)).await;
    assert_eq!(answer.0, StatusCode::OK);
}

#[tokio::test]
async fn commenting_without_a_token_is_refused() {
    let (h, post) = setup().await;
    let answer = h
        .call(
            Method::POST,
            "/api/post/comment",
            None,
            Some(json!({"postId": post, "content": "x"})),
        )
        .await;
    assert_eq!(answer, error(400, "GATE004", "missing cookie"));
}

#[tokio::test]
async fn a_fourth_comment_in_a_burst_is_rate_limited() {
    let (mut h, post) = setup().await;
    // A refill far in the future keeps the test independent of how fast it runs.
    h.state.comment_limit = Arc::new(CommentLimiter::new(3, 2, Duration::from_secs(3600)));
    h.app = post::router(h.state.clone());
    for _ in 0..3 {
        assert_eq!(comment(&h, VISITOR, post, "연속").await.0, StatusCode::OK);
    }
    let answer = comment(&h, VISITOR, post, "연속").await;
    assert_eq!(
        answer,
        error(
            429,
            "GP009",
            "짧은 시간에 많은 댓글을 작성할 수 없습니다. \n잠시후 다시 시도해주세요."
        )
    );
    assert_eq!(comments(&h, post).await.len(), 3);
    assert_eq!(
        comment(&h, OWNER, post, "다른 회원").await.0,
        StatusCode::OK
    );
}

async fn first_comment_id(h: &Harness, post: i64) -> i64 {
    comments(h, post).await[0]["commentId"].as_i64().unwrap()
}

/// The visitor comments `content` on `post`; answers the new comment's id.
async fn visitor_commented(h: &Harness, post: i64, content: &str) -> i64 {
    comment(h, VISITOR, post, content).await;
    first_comment_id(h, post).await
}

/// `member` asks to change comment `id` to `content`.
async fn edit(h: &Harness, member: i64, id: i64, content: &str) -> (StatusCode, Value) {
    h.call(
        Method::PATCH,
        &format!("/api/post/comment/{id}"),
        Some(member),
        Some(json!({"content": content})),
    )
    .await
}

/// `member` asks to delete comment `id`.
async fn delete(h: &Harness, member: i64, id: i64) -> (StatusCode, Value) {
    h.call(
        Method::DELETE,
        &format!("/api/post/comment/{id}"),
        Some(member),
        None,
    )
    .await
}

#[tokio::test]
async fn the_author_edits_a_comment() {
    let (h, post) = setup().await;
    let id = visitor_commented(&h, post, "처음").await;
    let answer = edit(&h, VISITOR, id, "고침").await;
    assert_eq!(
        answer,
        (StatusCode::OK, json!({"message": "댓글이 수정되었습니다"}))
    );
    assert_eq!(comments(&h, post).await[0]["content"], "고침");
}

#[tokio::test]
async fn another_member_cannot_edit_a_comment() {
    let (h, post) = setup().await;
    let id = visitor_commented(&h, post, "처음").await;
    let answer = edit(&h, OWNER, id, "고침").await;
    assert_eq!(answer, error(404, "GP007", "존재하지 않는 댓글입니다"));
    assert_eq!(comments(&h, post).await[0]["content"], "처음");
}

#[tokio::test]
async fn an_edit_with_invalid_content_is_refused() {
    let (h, post) = setup().await;
    let id = visitor_commented(&h, post, "처음").await;
    let answer = edit(&h, VISITOR, id, " ").await;
    assert_eq!(
        answer,
        error(400, "GP005", "댓글은 최소 1자 이상 입력해주세요")
    );
    assert_eq!(comments(&h, post).await[0]["content"], "처음");
}

#[tokio::test]
async fn editing_an_unknown_comment_is_not_found() {
    let (h, _) = setup().await;
    let answer = edit(&h, VISITOR, 999, "x").await;
    assert_eq!(answer, error(404, "GP007", "존재하지 않는 댓글입니다"));
}

#[tokio::test]
async fn the_author_deletes_a_comment() {
    let (h, post) = setup().await;
    let id = visitor_commented(&h, post, "지울 댓글").await;
    let answer = delete(&h, VISITOR, id).await;
    assert_eq!(
        answer,
        (StatusCode::OK, json!({"message": "댓글이 삭제되었습니다"}))
    );
    assert!(comments(&h, post).await.is_empty());
}

#[tokio::test]
async fn another_member_cannot_delete_a_comment() {
    let (h, post) = setup().await;
    let id = visitor_commented(&h, post, "남을 댓글").await;
    let answer = delete(&h, OWNER, id).await;
    assert_eq!(answer, error(404, "GP007", "존재하지 않는 댓글입니다"));
    assert_eq!(comments(&h, post).await.len(), 1);
}

#[tokio::test]
async fn deleting_an_unknown_comment_is_not_found() {
    let (h, _) = setup().await;
    let answer = delete(&h, VISITOR, 999).await;
    assert_eq!(answer, error(404, "GP007", "존재하지 않는 댓글입니다"));
}

#[tokio::test]
async fn comment_nicknames_follow_a_nickname_change() {
    let (h, post) = setup().await;
    comment(&h, VISITOR, post, "안녕").await;
    reactions::nickname_changed(&h.state.db, VISITOR, "새이름")
        .await
        .unwrap();
    assert_eq!(comments(&h, post).await[0]["nickname"], "새이름");
}

#[tokio::test]
async fn a_withdrawal_removes_that_members_comments_only() {
    let (h, post) = setup().await;
    comment(&h, VISITOR, post, "손님 댓글").await;
    comment(&h, OWNER, post, "주인 댓글").await;
    reactions::member_withdrawn(&h.state.db, VISITOR)
        .await
        .unwrap();
    let list = comments(&h, post).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["nickname"], "주인");
}

#[tokio::test]
async fn a_json_body_over_sixty_four_kibibytes_answers_413_although_uploads_may_be_larger() {
    let (h, post) = setup().await;
    let content = "가".repeat(post::BODY_LIMIT / 3 + 1);
    let answer = comment(&h, VISITOR, post, &content).await;
    assert_eq!(answer, error(413, "GP005", "요청 본문이 너무 큽니다"));
}

//! The gallery search through the router, on MariaDB and on SQLite: title, author and both, wildcards
//! taken literally, Hangul and emoji, paging and order, and the errors.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::http::StatusCode;
use common::Service;
use serde_json::{Value, json};

both!(
    an_empty_title_query_lists_every_gallery_newest_first,
    a_result_carries_title_content_author_and_creation_time,
    percent_and_underscore_in_a_query_match_only_literally,
    a_hangul_fragment_finds_the_titles_containing_it,
    an_emoji_query_finds_only_titles_with_that_emoji,
    title_search_ignores_ascii_case,
    author_search_matches_the_exact_nickname_only,
    an_unknown_author_gives_an_empty_list,
    all_search_returns_title_matches_and_the_authors_galleries,
    a_gallery_whose_author_is_unknown_has_a_null_nickname,
    pages_split_the_results_newest_first,
    an_unsupported_type_answers_gg005_naming_it,
    a_missing_query_parameter_answers_gg005,
    a_page_size_over_one_hundred_answers_gg005,
    a_page_size_of_zero_answers_gg005,
    a_page_whose_offset_overflows_answers_gg005_not_500,
);

async fn search(s: &Service, params: &str) -> Value {
    let answer = s.get(&format!("/api/gallery/search?{params}"), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    assert_eq!(answer.json["message"], "갤러리 검색을 성공했습니다");
    answer.json["data"].clone()
}

fn titles(data: &Value) -> Vec<String> {
    data.as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap().to_owned())
        .collect()
}

fn q(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn an_empty_title_query_lists_every_gallery_newest_first(s: &Service) {
    for (member, name) in [(1, "하나"), (2, "둘"), (1, "셋")] {
        s.create(member, 1, name).await;
    }
    let data = search(s, "type=title&query=").await;
    assert_eq!(titles(&data), ["셋", "둘", "하나"]);
}

async fn a_result_carries_title_content_author_and_creation_time(s: &Service) {
    s.nickname(7, "화가").await;
    let id = s.create(7, 1, "봄 풍경").await;
    let created =
        s.get(&format!("/api/gallery/{id}"), None).await.json["data"]["createdDate"].clone();
    let data = search(s, &format!("type=title&query={}", q("풍경"))).await;
    assert_eq!(
        data,
        json!([{"galleryId": id, "title": "봄 풍경", "content": "소개", "memberId": 7,
            "nickname": "화가", "createdDate": created}])
    );
}

async fn percent_and_underscore_in_a_query_match_only_literally(s: &Service) {
    for name in ["100% 순수", "1000 순수", "a_b", "axb", "느낌!표"] {
        s.create(1, 1, name).await;
    }
    assert_eq!(
        titles(&search(s, &format!("type=title&query={}", q("0%"))).await),
        ["100% 순수"]
    );
    assert_eq!(
        titles(&search(s, &format!("type=title&query={}", q("_"))).await),
        ["a_b"]
    );
    assert_eq!(
        titles(&search(s, &format!("type=title&query={}", q("!"))).await),
        ["느낌!표"]
    );
}

async fn a_hangul_fragment_finds_the_titles_containing_it(s: &Service) {
    for name in ["서울의 밤", "부산 바다", "밤하늘"] {
        s.create(1, 1, name).await;
    }
    let data = search(s, &format!("type=title&query={}", q("밤"))).await;
    assert_eq!(titles(&data), ["밤하늘", "서울의 밤"]);
}

async fn an_emoji_query_finds_only_titles_with_that_emoji(s: &Service) {
    for name in ["꽃 🌸", "달 🌙", "해 ☀️"] {
        s.create(1, 1, name).await;
    }
    let data = search(s, &format!("type=title&query={}", q("🌸"))).await;
    assert_eq!(titles(&data), ["꽃 🌸"]);
}

async fn title_search_ignores_ascii_case(s: &Service) {
    s.create(1, 1, "Blue Room").await;
    let data = search(s, "type=title&query=blue").await;
    assert_eq!(titles(&data), ["Blue Room"]);
}

async fn author_search_matches_the_exact_nickname_only(s: &Service) {
    s.nickname(1, "민지").await;
    s.nickname(2, "민지짱").await;
    s.create(1, 1, "첫 전시").await;
    s.create(2, 1, "두번째").await;
    s.create(1, 2, "세번째").await;
    let data = search(s, &format!("type=author&query={}", q("민지"))).await;
    assert_eq!(titles(&data), ["세번째", "첫 전시"]);
}

async fn an_unknown_author_gives_an_empty_list(s: &Service) {
    s.nickname(1, "민지").await;
    s.create(1, 1, "전시").await;
    let data = search(s, &format!("type=author&query={}", q("없는사람"))).await;
    assert_eq!(data, json!([]));
}

async fn all_search_returns_title_matches_and_the_authors_galleries(s: &Service) {
    s.nickname(1, "봄").await;
    s.create(1, 1, "작품집").await;
    s.create(2, 1, "봄날").await;
    s.create(2, 1, "겨울").await;
    let data = search(s, &format!("type=all&query={}", q("봄"))).await;
    assert_eq!(titles(&data), ["봄날", "작품집"]);
}

async fn a_gallery_whose_author_is_unknown_has_a_null_nickname(s: &Service) {
    s.create(99, 1, "무명").await;
    let data = search(s, "type=all&query=").await;
    assert_eq!(data[0]["nickname"], Value::Null);
    assert_eq!(data[0]["memberId"], 99);
}

async fn pages_split_the_results_newest_first(s: &Service) {
    for i in 1..=5 {
        s.create(1, 1, &format!("전시 {i}")).await;
    }
    let first = search(s, "type=title&query=&page=0&size=2").await;
    let second = search(s, "type=title&query=&page=1&size=2").await;
    let last = search(s, "type=title&query=&page=2&size=2").await;
    let beyond = search(s, "type=title&query=&page=3&size=2").await;
    assert_eq!(titles(&first), ["전시 5", "전시 4"]);
    assert_eq!(titles(&second), ["전시 3", "전시 2"]);
    assert_eq!(titles(&last), ["전시 1"]);
    assert_eq!(beyond, json!([]));
}

async fn an_unsupported_type_answers_gg005_naming_it(s: &Service) {
    let answer = s.get("/api/gallery/search?type=writer&query=a", None).await;
    answer.assert_error(400, "GG005", "지원하지 않는 검색 타입입니다 : writer");
}

async fn a_missing_query_parameter_answers_gg005(s: &Service) {
    let answer = s.get("/api/gallery/search?type=all", None).await;
    answer.assert_error(400, "GG005", "필수 파라미터 누락");
}

async fn a_page_size_over_one_hundred_answers_gg005(s: &Service) {
    let answer = s
        .get("/api/gallery/search?type=all&query=&size=101", None)
        .await;
    answer.assert_error(400, "GG005", PAGING);
}

const PAGING: &str = "page는 0 이상 10000000 이하, size는 1 이상 100 이하로 입력해주세요";

async fn a_page_size_of_zero_answers_gg005(s: &Service) {
    let answer = s
        .get("/api/gallery/search?type=all&query=&size=0", None)
        .await;
    answer.assert_error(400, "GG005", PAGING);
}

async fn a_page_whose_offset_overflows_answers_gg005_not_500(s: &Service) {
    let answer = s
        .get(
            "/api/gallery/search?type=all&query=&page=92233720368547759",
            None,
        )
        .await;
    answer.assert_error(400, "GG005", PAGING);
}

//! The frame routes against MariaDB, with images in a local directory.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use axum::http::{Method, StatusCode};
use common::{Form, Harness, PostPart, form_for, jpeg, png};
use post::store::{self, NewMusic};
use serde_json::{Value, json};
use testkit::error_body as error;

use common::{GALLERY, OWNER};

async fn gallery_of_ten() -> (Harness, Vec<i64>) {
    let h = Harness::mysql().await;
    h.gallery(GALLERY, OWNER, 10).await;
    let ids = h.post_ids(GALLERY).await;
    (h, ids)
}

async fn list(h: &Harness) -> Vec<Value> {
    let (status, body) = h.get(&format!("/api/post/list/{GALLERY}")).await;
    assert_eq!(status, StatusCode::OK);
    body["data"].as_array().unwrap().clone()
}

async fn music(h: &Harness, title: &str) -> i64 {
    store::insert_music(
        &h.state.db,
        NewMusic {
            title: title.into(),
            artist: "아이유".into(),
            video_id: format!("vid-{title}"),
            cover_url: Some("https://covers/1.jpg".into()),
            released_date: "2020-05-06".into(),
        },
    )
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn a_new_gallery_lists_ten_blank_frames_in_order() {
    let (h, ids) = gallery_of_ten().await;
    let (status, body) = h.get(&format!("/api/post/list/{GALLERY}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "게시물 목록 조회 성공");
    let posts = body["data"].as_array().unwrap();
    assert_eq!(posts.len(), 10);
    for (i, post) in posts.iter().enumerate() {
        assert_eq!(post["postId"], ids[i]);
        assert_eq!(post["order"], i as i64 + 1);
        assert_eq!(post["title"], "");
        assert_eq!(post["content"], "");
        assert_eq!(post["imageURL"], "/api/post/image/Default.png");
        assert_eq!(post["music"], Value::Null);
        assert_eq!(post["isActive"], true);
        let created = post["createdDate"].as_str().unwrap();
        assert!(created.len() >= 19 && !created.ends_with('Z') && !created.contains('+'));
    }
}

#[tokio::test]
async fn an_unknown_gallery_lists_nothing() {
    let h = Harness::mysql().await;
    let (status, body) = h.get("/api/post/list/999").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"message": "게시물 목록 조회 성공", "data": []})
    );
}

#[tokio::test]
async fn a_non_numeric_gallery_id_is_a_bad_request() {
    let h = Harness::mysql().await;
    let (status, body) = h.get("/api/post/list/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorCode"], "GP005");
}

#[tokio::test]
async fn editing_posts_saves_text_order_visibility_and_a_new_image() {
    let (h, ids) = gallery_of_ten().await;
    let image = png(2000);
    let mut first = PostPart::new(ids[0], 2);
    first.title = "봄날의 정원 🌸";
    first.content = "줄바꿈도\n특수문자도 <ok> & 됩니다";
    first.image = Some(image.clone());
    let mut second = PostPart::new(ids[1], 1);
    second.is_active = false;
    let form = Form::default().post(0, &first).post(1, &second);
    let (status, body) = h.patch_posts(GALLERY, OWNER, form).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"message": "게시물 목록 수정 성공"}))
    );

    let posts = list(&h).await;
    assert_eq!(posts[0]["postId"], ids[1]);
    assert_eq!(posts[0]["isActive"], false);
    assert_eq!(posts[1]["postId"], ids[0]);
    assert_eq!(posts[1]["order"], 2);
    assert_eq!(posts[1]["title"], "봄날의 정원 🌸");
    assert_eq!(posts[1]["content"], "줄바꿈도\n특수문자도 <ok> & 됩니다");
    let url = posts[1]["imageURL"].as_str().unwrap();
    let key = url.strip_prefix("/api/post/image/").unwrap();
    assert!(key.ends_with(".png") && key != "Default.png");
    assert_eq!(h.stored(key), image);
}

#[tokio::test]
async fn an_empty_file_part_keeps_the_current_image() {
    let (h, ids) = gallery_of_ten().await;
    let mut part = PostPart::new(ids[0], 1);
    part.image = Some(jpeg(500));
    h.patch_posts(GALLERY, OWNER, Form::default().post(0, &part))
        .await;
    let before = list(&h).await[0]["imageURL"].clone();

    part.image = None;
    part.title = "새 제목";
    let (status, _) = h
        .patch_posts(GALLERY, OWNER, Form::default().post(0, &part))
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = &list(&h).await[0];
    assert_eq!(after["imageURL"], before);
    assert_eq!(after["title"], "새 제목");
}

#[tokio::test]
async fn a_text_image_part_also_keeps_the_current_image() {
    let (h, ids) = gallery_of_ten().await;
    let form = Form::default()
        .text("posts[0].postId", &ids[0].to_string())
        .text("posts[0].order", "1")
        .text("posts[0].isActive", "true")
        .text("posts[0].image", "https://old/url.png")
        .text("posts[0].title", "")
        .text("posts[0].content", "");
    let (status, _) = h.patch_posts(GALLERY, OWNER, form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list(&h).await[0]["imageURL"], "/api/post/image/Default.png");
}

#[tokio::test]
async fn replacing_an_image_deletes_the_old_one_but_never_the_default() {
    let (h, ids) = gallery_of_ten().await;
    let mut part = PostPart::new(ids[0], 1);
    let first_key = hang_image(&h, &mut part).await;

    part.image = Some(png(200));
    let (status, _) = h
        .patch_posts(GALLERY, OWNER, Form::default().post(0, &part))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the second image replaces the first"
    );
    let files = h.stored_files();
    assert!(files.contains("Default.png"));
    assert!(!files.contains(&first_key), "the replaced image is deleted");
    assert_eq!(files.len(), 2);
}

#[tokio::test]
async fn a_replaced_image_that_cannot_be_deleted_stays_queued_until_a_sweep_succeeds() {
    let (h, ids) = gallery_of_ten().await;
    let mut part = PostPart::new(ids[0], 1);
    let first_key = hang_image(&h, &mut part).await;
    // A directory in the image's place: deleting the key fails as a storage outage would.
    let path = h.images.path().join(&first_key);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("blocker"), b"x").unwrap();

    part.image = Some(png(200));
    let (status, _) = h
        .patch_posts(GALLERY, OWNER, Form::default().post(0, &part))
        .await;
    assert_eq!(status, StatusCode::OK);
    let queued = store::trashed_images(&h.state.db, 100).await.unwrap();
    assert_eq!(
        queued,
        std::slice::from_ref(&first_key),
        "the failed deletion is not forgotten"
    );

    std::fs::remove_dir_all(&path).unwrap();
    post::reactions::sweep_images(&h.state).await.unwrap();
    assert!(
        store::trashed_images(&h.state.db, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn music_is_set_by_id_and_an_empty_music_id_leaves_it() {
    let (h, ids) = gallery_of_ten().await;
    let music_id = music(&h, "밤편지").await;
    let mut part = PostPart::new(ids[0], 1);
    let id = music_id.to_string();
    part.music_id = &id;
    h.patch_posts(GALLERY, OWNER, Form::default().post(0, &part))
        .await;
    let expected = json!({
        "musicId": music_id, "title": "밤편지", "artist": "아이유", "releasedDate": "2020-05-06",
        "videoId": "vid-밤편지", "coverURL": "https://covers/1.jpg",
    });
    assert_eq!(list(&h).await[0]["music"], expected);

    part.music_id = "";
    let (status, _) = h
        .patch_posts(GALLERY, OWNER, Form::default().post(0, &part))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list(&h).await[0]["music"], expected);
}

/// Hangs a first image in `part`'s frame and returns its storage key.
async fn hang_image(h: &Harness, part: &mut PostPart<'_>) -> String {
    part.image = Some(png(100));
    h.patch_posts(GALLERY, OWNER, Form::default().post(0, part))
        .await;
    h.stored_files()
        .into_iter()
        .find(|f| f != "Default.png")
        .unwrap()
}

/// Sends `form` and checks the answer, and that neither the database nor the storage changed.
async fn refused(h: &Harness, member: i64, form: Form, expected: (StatusCode, Value)) {
    let before = (h.snapshot(GALLERY).await, h.stored_files());
    let answer = h.patch_posts(GALLERY, member, form).await;
    assert_eq!(answer, expected);
    assert_eq!(before, (h.snapshot(GALLERY).await, h.stored_files()));
}

/// A form whose first post brings a valid new image (which must not remain), then `rest`.
fn with_valid_image_first(ids: &[i64]) -> Form {
    let mut part = PostPart::new(ids[0], 1);
    part.image = Some(png(3000));
    Form::default().post(0, &part)
}

/// [`with_valid_image_first`], then the second post as `change` leaves it.
fn with_second<'a>(ids: &[i64], change: impl FnOnce(&mut PostPart<'a>)) -> Form {
    let mut part = PostPart::new(ids[1], 2);
    change(&mut part);
    with_valid_image_first(ids).post(1, &part)
}

/// Writes one test per refused edit: in a gallery of ten, `$member` sends the form `$form` builds
/// (with `$h` the harness and `$ids` the post ids in scope), and [`refused`] checks the answer.
macro_rules! refused_edits {
    ($(
        $name:ident($h:ident, $ids:ident) as $member:expr, $form:block
            => $status:literal, $code:literal, $message:literal;
    )+) => {
        $(
            #[tokio::test]
            async fn $name() {
                let ($h, $ids) = gallery_of_ten().await;
                let form = $form;
                refused(&$h, $member, form, error($status, $code, $message)).await;
            }
        )+
    };
}

refused_edits! {
    a_file_that_is_not_an_image_is_refused_and_nothing_changes(h, ids) as OWNER, {
        with_second(&ids, |part| part.image = Some(b"GIF89a not accepted at all".to_vec()))
    } => 400, "GP005", "이미지는 PNG, JPEG, WebP 형식만 업로드할 수 있습니다";

    an_image_over_ten_megabytes_is_refused_and_nothing_changes(h, ids) as OWNER, {
        with_second(&ids, |part| part.image = Some(png(10 * 1024 * 1024 + 1)))
    } => 413, "GP005", "이미지는 한 장에 10MB 이하만 업로드할 수 있습니다";

    images_over_fifty_megabytes_in_one_request_are_refused_and_nothing_changes(h, ids) as OWNER, {
        (0..6).fold(Form::default(), |form, i| {
            let mut part = PostPart::new(ids[i], i as i64 + 1);
            part.image = Some(png(9 * 1024 * 1024));
            form.post(i, &part)
        })
    } => 413, "GP005", "한 번에 업로드하는 이미지는 모두 합쳐 50MB 이하여야 합니다";

    a_post_of_another_gallery_is_not_found_and_nothing_changes(h, ids) as OWNER, {
        h.gallery(GALLERY + 1, OWNER, 1).await;
        let foreign = h.post_ids(GALLERY + 1).await[0];
        with_valid_image_first(&ids).post(1, &PostPart::new(foreign, 2))
    } => 404, "GP007", "존재하지 않는 게시물입니다";

    an_unknown_post_id_is_not_found_and_nothing_changes(h, ids) as OWNER, {
        with_valid_image_first(&ids).post(1, &PostPart::new(999_999, 2))
    } => 404, "GP007", "존재하지 않는 게시물입니다";

    another_members_gallery_is_not_found_and_nothing_changes(h, ids) as OWNER + 1, {
        with_valid_image_first(&ids)
    } => 404, "GP007", "존재하지 않는 갤러리입니다";

    an_unknown_music_id_is_not_found_and_nothing_changes(h, ids) as OWNER, {
        with_second(&ids, |part| part.music_id = "424242")
    } => 404, "GP001", "음악 정보가 존재하지 않습니다.";

    a_title_over_fifty_characters_is_refused_and_nothing_changes(h, ids) as OWNER, {
        let long = "가".repeat(51);
        with_second(&ids, |part| part.title = &long)
    } => 400, "GP005", "게시물 제목은 50자 이내로 작성해주세요";

    content_over_five_hundred_characters_is_refused_and_nothing_changes(h, ids) as OWNER, {
        let long = "a".repeat(501);
        with_second(&ids, |part| part.content = &long)
    } => 400, "GP005", "게시물 내용은 500자 이내로 작성해주세요";

    a_malformed_is_active_is_refused_and_nothing_changes(h, ids) as OWNER, {
        with_valid_image_first(&ids)
            .text("posts[1].postId", &ids[1].to_string())
            .text("posts[1].order", "2")
            .text("posts[1].isActive", "maybe")
    } => 400, "GP005", "게시물 공개 여부를 확인해주세요";

    a_missing_post_id_is_refused_and_nothing_changes(h, ids) as OWNER, {
        with_valid_image_first(&ids)
            .text("posts[1].order", "2")
            .text("posts[1].isActive", "true")
    } => 400, "GP005", "게시물 아이디를 확인해주세요";

    a_form_without_posts_is_refused(h, _ids) as OWNER, {
        Form::default().text("name", "갤러리")
    } => 400, "GP005", "수정할 게시물 정보가 없습니다";
}

#[tokio::test]
async fn a_json_body_instead_of_a_form_is_refused() {
    let (h, _) = gallery_of_ten().await;
    let (status, body) = h
        .call(
            Method::PATCH,
            &format!("/api/post/list/{GALLERY}"),
            Some(OWNER),
            Some(json!({"posts": []})),
        )
        .await;
    assert_eq!(
        (status, body),
        error(400, "GP005", "multipart/form-data 요청을 확인해주세요")
    );
}

#[tokio::test]
async fn editing_without_a_token_is_refused() {
    let (h, ids) = gallery_of_ten().await;
    let (content_type, body) = form_for(&ids[..1]).finish();
    let request = axum::http::Request::builder()
        .method(Method::PATCH)
        .uri(format!("/api/post/list/{GALLERY}"))
        .header("content-type", content_type)
        .body(axum::body::Body::from(body))
        .unwrap();
    let (status, _, bytes) = h.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["errorCode"], "GATE004");
}

#[tokio::test]
async fn all_ten_posts_as_the_frontend_sends_them_are_saved() {
    let (h, ids) = gallery_of_ten().await;
    let (status, _) = h.patch_posts(GALLERY, OWNER, form_for(&ids)).await;
    assert_eq!(status, StatusCode::OK);
    let posts = list(&h).await;
    assert!(
        posts
            .iter()
            .all(|p| p["title"] == "제목" && p["content"] == "내용")
    );
}

#[tokio::test]
async fn dummy_posts_are_created_once_for_the_owner() {
    let h = Harness::mysql().await;
    h.gallery(GALLERY, OWNER, 0).await;
    let uri = format!("/api/post/dummy?galleryId={GALLERY}");
    let (status, body) = h.call(Method::POST, &uri, Some(OWNER), None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert_eq!(list(&h).await.len(), 2);

    let (status, body) = h.call(Method::POST, &uri, Some(OWNER), None).await;
    assert_eq!(
        (status, body),
        error(409, "GP006", "이미 존재하는 갤러리입니다")
    );
}

#[tokio::test]
async fn dummy_posts_are_refused_to_another_member() {
    let h = Harness::mysql().await;
    h.gallery(GALLERY, OWNER, 0).await;
    let uri = format!("/api/post/dummy?galleryId={GALLERY}");
    let answer = h.call(Method::POST, &uri, Some(OWNER + 1), None).await;
    assert_eq!(answer, error(404, "GP007", "존재하지 않는 갤러리입니다"));
    assert!(list(&h).await.is_empty());
}

#[tokio::test]
async fn dummy_posts_without_a_gallery_id_is_a_missing_parameter() {
    let h = Harness::mysql().await;
    let answer = h
        .call(Method::POST, "/api/post/dummy", Some(OWNER), None)
        .await;
    assert_eq!(answer, error(400, "GP004", "필수 파라미터 누락"));
}

#[tokio::test]
async fn the_openapi_document_lists_every_post_route() {
    let h = Harness::mysql().await;
    let (status, body) = h.get("/api/post/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = body["paths"].as_object().unwrap();
    for path in [
        "/api/post/list/{galleryId}",
        "/api/post/dummy",
        "/api/post/comment",
        "/api/post/comment/list/{postId}",
        "/api/post/comment/{commentId}",
        "/api/post/music/list",
        "/api/post/music",
        "/api/post/image/{key}",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
}

#[tokio::test]
async fn a_database_that_is_gone_answers_503_without_internals() {
    let h = Harness::mysql().await;
    h.state.db.clone().close().await.unwrap();
    let (status, body) = h.get(&format!("/api/post/list/{GALLERY}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["errorCode"], "GP001");
    assert!(!body["message"].as_str().unwrap().contains("pool"));
}

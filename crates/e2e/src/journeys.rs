//! The journeys of a member's life, each a function over a running [`System`]. They talk to the
//! gateway only, as the frontend does, and wait (bounded) where an event has to travel.

use base64::Engine;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::system::{Service, System};
use crate::{Answer, Visitor};

/// A 1×1 PNG, the smallest image the post service accepts.
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(PNG_1X1)
        .unwrap()
}

pub use testkit::eventually;

/// As long as a nickname may be (10 characters): a cluster run signs up thousands of members, and
/// six random hex digits collided there once.
fn unique_nickname(prefix: &str) -> String {
    let room = 10usize.saturating_sub(prefix.chars().count()).min(12);
    format!("{prefix}{}", &testkit::unique()[..room])
}

/// Signs up and signs in a new member; returns the signed-in browser and the nickname.
pub async fn new_member(system: &System, prefix: &str) -> (Visitor, String) {
    let mut visitor = system.visitor();
    let nickname = unique_nickname(prefix);
    let email = format!("{nickname}@example.com");
    let password = "correct horse battery staple";
    visitor
        .post(
            "/api/member/signup",
            &json!({"email": email, "password": password, "nickname": nickname}),
        )
        .await
        .expect(200);
    let signed_in = visitor
        .post(
            "/api/member/signin",
            &json!({"email": email, "password": password}),
        )
        .await
        .expect(200);
    assert!(signed_in.data()["expirationDate"].is_string());
    assert!(visitor.cookie.is_some(), "signin set gallery_cookie");
    (visitor, nickname)
}

async fn profile_nickname(visitor: &mut Visitor) -> String {
    let answer = visitor.get("/api/member").await.expect(200);
    answer.data()["nickname"].as_str().unwrap().to_owned()
}

async fn change_nickname(visitor: &mut Visitor, prefix: &str) -> String {
    let nickname = unique_nickname(prefix);
    visitor
        .patch("/api/member", &json!({"nickname": nickname}))
        .await
        .expect(200);
    nickname
}

/// Journey 1: sign up, sign in, read the profile, change the nickname.
pub async fn sign_up_sign_in_and_change_nickname(system: &System) {
    let (mut alice, nickname) = new_member(system, "al").await;
    let profile = alice.get("/api/member").await.expect(200);
    assert_eq!(profile.data()["nickname"], nickname.as_str());
    assert_eq!(profile.data()["role"], "ROLE_USER");
    let renamed = change_nickname(&mut alice, "ali").await;
    assert_eq!(profile_nickname(&mut alice).await, renamed);
}

async fn create_gallery(visitor: &mut Visitor, name: &str) -> i64 {
    let created = visitor
        .post(
            "/api/gallery",
            &json!({"placeId": 1, "name": name, "content": "첫 전시"}),
        )
        .await
        .expect(200);
    created.data()["galleryId"].as_i64().unwrap()
}

/// The frames of `gallery` as `GET /api/post/list/{galleryId}` lists them (empty when there are none).
pub async fn frames(visitor: &mut Visitor, gallery: i64) -> Vec<Value> {
    let answer = visitor
        .get(&format!("/api/post/list/{gallery}"))
        .await
        .expect(200);
    answer.data().as_array().cloned().unwrap_or_default()
}

async fn wait_for_frames(visitor: &mut Visitor, gallery: i64) -> Vec<Value> {
    eventually("the 10 frames of the new gallery appear", || {
        let mut visitor = visitor.clone();
        async move {
            let frames = frames(&mut visitor, gallery).await;
            (frames.len() == 10).then_some(frames)
        }
    })
    .await
}

fn frame_form(frames: &[Value], music_id: Option<i64>, image: bool) -> Form {
    let mut form = Form::new();
    for (i, frame) in frames.iter().enumerate() {
        let p = |field: &str| format!("posts[{i}].{field}");
        form = form
            .text(p("postId"), frame["postId"].to_string())
            .text(p("order"), (i + 1).to_string())
            .text(p("title"), format!("작품 {i}"))
            .text(p("content"), format!("설명 {i}"))
            .text(p("isActive"), "true")
            .text(
                p("musicId"),
                music_id
                    .filter(|_| i == 0)
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            );
        form = if image && i == 0 {
            form.part(
                p("image"),
                Part::bytes(png())
                    .file_name("art.png")
                    .mime_str("image/png")
                    .unwrap(),
            )
        } else {
            form.text(p("image"), "keep")
        };
    }
    form
}

/// What journey 2 leaves behind for the later journeys.
#[derive(Debug)]
pub struct Exhibition {
    /// Alice's browser.
    pub alice: Visitor,
    /// Alice's nickname.
    pub nickname: String,
    /// Her gallery.
    pub gallery: i64,
    /// Its frames as `GET /api/post/list/{galleryId}` lists them after editing.
    pub frames: Vec<Value>,
}

/// Journey 2: create a gallery, its frames appear, edit them with an image and music, and an
/// anonymous visitor sees the gallery, the frames and loads the image.
pub async fn open_an_exhibition(system: &mut System, disrupt: &[&[Service]]) -> Exhibition {
    let (alice, nickname, gallery) = start_an_exhibition(system).await;
    crash(system, disrupt, 0).await;
    finish_an_exhibition(system, alice, nickname, gallery).await
}

/// Journey 2, first half: a new member creates a gallery.
pub async fn start_an_exhibition(system: &System) -> (Visitor, String, i64) {
    let (mut alice, nickname) = new_member(system, "ex").await;
    let gallery = create_gallery(&mut alice, "나의 첫 전시").await;
    (alice, nickname, gallery)
}

/// Journey 2, second half: the frames appear, are edited with an image and music, and an
/// anonymous visitor sees them and loads the image.
pub async fn finish_an_exhibition(
    system: &System,
    mut alice: Visitor,
    nickname: String,
    gallery: i64,
) -> Exhibition {
    let blank = wait_for_frames(&mut alice, gallery).await;
    let music = alice
        .post(
            "/api/post/music",
            &json!({"title": "Song", "artist": "Band", "coverURL": "http://c/x.png", "releasedDate": "2024-01-01"}),
        )
        .await
        .expect(200);
    let music_id = music.data()["musicId"].as_i64().unwrap();
    alice
        .patch_multipart(
            &format!("/api/post/list/{gallery}"),
            frame_form(&blank, Some(music_id), true),
        )
        .await
        .expect(200);

    let mut visitor = system.visitor();
    let shown = visitor
        .get(&format!("/api/gallery/{gallery}"))
        .await
        .expect(200);
    assert_eq!(shown.data()["name"], "나의 첫 전시");
    let edited = frames(&mut visitor, gallery).await;
    assert_eq!(edited.len(), 10);
    assert_eq!(edited[0]["title"], "작품 0");
    assert_eq!(edited[0]["music"]["videoId"], "e2eVideo01");
    let image = edited[0]["imageURL"].as_str().unwrap().to_owned();
    let loaded = visitor.get(&image).await.expect(200);
    assert_eq!(loaded.bytes, png());
    Exhibition {
        alice,
        nickname,
        gallery,
        frames: edited,
    }
}

async fn crash(system: &mut System, disrupt: &[&[Service]], step: usize) {
    for service in disrupt.get(step).copied().unwrap_or_default() {
        system.crash_and_restart(*service).await;
    }
}

async fn comments(visitor: &mut Visitor, post: i64) -> Vec<Value> {
    let answer = visitor
        .get(&format!("/api/post/comment/list/{post}"))
        .await
        .expect(200);
    answer.data().as_array().cloned().unwrap_or_default()
}

async fn search_author(visitor: &mut Visitor, nickname: &str) -> Vec<Value> {
    let answer = visitor
        .get(&format!("/api/gallery/search?type=author&query={nickname}"))
        .await
        .expect(200);
    answer.data().as_array().cloned().unwrap_or_default()
}

/// Journey 3: another member comments; after nickname changes, the new nicknames show on
/// galleries in search and on comments.
pub async fn comments_follow_nickname_changes(
    system: &mut System,
    show: &mut Exhibition,
    disrupt: &[&[Service]],
) -> (Visitor, i64) {
    let (mut bob, _) = new_member(system, "bo").await;
    let post = show.frames[0]["postId"].as_i64().unwrap();
    bob.post(
        "/api/post/comment",
        &json!({"postId": post, "content": "멋진 작품이네요"}),
    )
    .await
    .expect(200);
    crash(system, disrupt, 1).await;
    let bob_renamed = change_nickname(&mut bob, "bob").await;
    let mut visitor = system.visitor();
    eventually("the comment shows Bob's new nickname", || {
        let mut visitor = visitor.clone();
        let expected = bob_renamed.clone();
        async move {
            let list = comments(&mut visitor, post).await;
            (list.len() == 1 && list[0]["nickname"] == expected.as_str()).then_some(())
        }
    })
    .await;
    let alice_renamed = change_nickname(&mut show.alice, "ar").await;
    show.nickname = alice_renamed.clone();
    eventually(
        "search by author finds Alice under her new nickname",
        || {
            let mut visitor = visitor.clone();
            let expected = alice_renamed.clone();
            async move {
                let found = search_author(&mut visitor, &expected).await;
                (found.len() == 1 && found[0]["nickname"] == expected.as_str()).then_some(())
            }
        },
    )
    .await;
    let comment = comments(&mut visitor, post).await[0]["commentId"]
        .as_i64()
        .unwrap();
    (bob, comment)
}

/// Journey 4: Bob cannot change Alice's gallery, frames or comments; Alice's stay unchanged.
pub async fn strangers_cannot_change_what_is_not_theirs(
    system: &System,
    show: &mut Exhibition,
    bob: &mut Visitor,
) {
    let gallery = show.gallery;
    let not_found = |answer: Answer, code: &str| {
        assert_eq!(answer.status.as_u16(), 404, "{:?}", answer.json);
        assert_eq!(answer.code(), code);
    };
    not_found(
        bob.patch(
            &format!("/api/gallery/{gallery}"),
            &json!({"placeId": 1, "name": "빼앗긴 전시", "content": null}),
        )
        .await,
        "GG007",
    );
    not_found(
        bob.delete(&format!("/api/gallery/{gallery}")).await,
        "GG007",
    );
    let attempt = bob
        .patch_multipart(
            &format!("/api/post/list/{gallery}"),
            frame_form(&show.frames, None, false),
        )
        .await;
    assert_eq!(attempt.status.as_u16(), 404, "{:?}", attempt.json);
    let post = show.frames[0]["postId"].as_i64().unwrap();
    show.alice
        .post(
            "/api/post/comment",
            &json!({"postId": post, "content": "작가의 말"}),
        )
        .await
        .expect(200);
    let mut visitor = system.visitor();
    let alices = comments(&mut visitor, post)
        .await
        .into_iter()
        .find(|c| c["content"] == "작가의 말")
        .unwrap()["commentId"]
        .as_i64()
        .unwrap();
    not_found(
        bob.patch(
            &format!("/api/post/comment/{alices}"),
            &json!({"content": "바꿔치기"}),
        )
        .await,
        "GP007",
    );
    not_found(
        bob.delete(&format!("/api/post/comment/{alices}")).await,
        "GP007",
    );
    let shown = visitor
        .get(&format!("/api/gallery/{gallery}"))
        .await
        .expect(200);
    assert_eq!(shown.data()["name"], "나의 첫 전시");
    assert_eq!(frames(&mut visitor, gallery).await[0]["title"], "작품 0");
}

/// Journey 5: Alice withdraws; her galleries, frames, images and comments are gone everywhere,
/// her sessions are dead and her nickname is free.
pub async fn withdrawal_removes_everything_of_the_member(
    system: &mut System,
    show: Exhibition,
    bob: &mut Visitor,
    disrupt: &[&[Service]],
) {
    let Exhibition {
        mut alice,
        nickname,
        gallery,
        frames: shown_frames,
    } = show;
    let bobs_gallery = create_gallery(bob, "밥의 전시").await;
    let bobs_frames = wait_for_frames(bob, bobs_gallery).await;
    let bobs_post = bobs_frames[0]["postId"].as_i64().unwrap();
    alice
        .post(
            "/api/post/comment",
            &json!({"postId": bobs_post, "content": "곧 떠납니다"}),
        )
        .await
        .expect(200);
    let image = shown_frames[0]["imageURL"].as_str().unwrap().to_owned();

    alice.delete("/api/member").await.expect(200);
    assert!(alice.cookie.is_none(), "withdrawal cleared the cookie");
    crash(system, disrupt, 2).await;

    let mut visitor = system.visitor();
    eventually("her gallery, frames, image and comments disappear", || {
        let mut visitor = visitor.clone();
        let image = image.clone();
        async move {
            let gallery_gone = visitor
                .get(&format!("/api/gallery/{gallery}"))
                .await
                .status
                .as_u16()
                == 404;
            let frames_gone = gallery_gone && frames(&mut visitor, gallery).await.is_empty();
            let image_gone = visitor.get(&image).await.status.as_u16() == 404;
            let comment_gone = comments(&mut visitor, bobs_post)
                .await
                .iter()
                .all(|c| c["content"] != "곧 떠납니다");
            (frames_gone && image_gone && comment_gone).then_some(())
        }
    })
    .await;
    assert!(search_author(&mut visitor, &nickname).await.is_empty());
    assert_eq!(
        frames(&mut visitor, bobs_gallery).await.len(),
        10,
        "Bob's frames stay"
    );

    let free = visitor
        .get(&format!("/api/member/check/nickname?nickname={nickname}"))
        .await;
    assert_eq!(free.status.as_u16(), 200, "{:?}", free.json);
}

/// Journey 5 (sessions): a withdrawn member's old token is refused.
pub async fn a_withdrawn_members_token_is_refused(system: &System) {
    let (mut carol, _) = new_member(system, "ca").await;
    let token = carol.cookie.clone().unwrap();
    carol.delete("/api/member").await.expect(200);
    let mut stale = system.visitor();
    stale.cookie = Some(token);
    let refused = stale.get("/api/member").await;
    assert_eq!(refused.status.as_u16(), 401);
    assert_eq!(refused.code(), "GATE003");
}

/// Journey 6: logout clears the cookie; the old token and no token are refused.
pub async fn logout_ends_the_session(system: &System) {
    let (mut dave, _) = new_member(system, "da").await;
    let token = dave.cookie.clone().unwrap();
    let out = dave
        .post("/api/member/logout", &json!({}))
        .await
        .expect(200);
    let cleared = out.headers.get_all("set-cookie").iter().any(|v| {
        v.to_str()
            .unwrap_or_default()
            .starts_with("gallery_cookie=;")
    });
    assert!(
        cleared,
        "logout answers Set-Cookie gallery_cookie=; Max-Age=0"
    );
    let mut stale = system.visitor();
    stale.cookie = Some(token);
    let refused = stale.get("/api/member").await;
    assert_eq!((refused.status.as_u16(), refused.code()), (401, "GATE003"));
    let mut anonymous = system.visitor();
    let missing = anonymous.get("/api/member").await;
    assert_eq!((missing.status.as_u16(), missing.code()), (400, "GATE004"));
}

/// Journeys 2–5 in order, optionally crashing a process at three points along the way.
pub async fn a_members_whole_life(system: &mut System, disrupt: &[&[Service]]) {
    let mut show = open_an_exhibition(system, disrupt).await;
    let (mut bob, _) = comments_follow_nickname_changes(system, &mut show, disrupt).await;
    strangers_cannot_change_what_is_not_theirs(system, &mut show, &mut bob).await;
    withdrawal_removes_everything_of_the_member(system, show, &mut bob, disrupt).await;
}

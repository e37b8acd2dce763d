//! The store and event effects behave the same on MariaDB and SQLite.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use common::Harness;
use post::domain::{CommentText, PostContent, PostTitle};
use post::reactions;
use post::store::{self, NewMusic, PostUpdate};

async fn both() -> [Harness; 2] {
    [Harness::mysql().await, Harness::sqlite().await]
}

/// Gallery 5 of member 1 created with `frames` blank frames; its first frame.
async fn first_frame(h: &Harness, frames: u32) -> post::entity::post::Model {
    reactions::gallery_created(&h.state.db, 5, 1, frames)
        .await
        .unwrap();
    store::list_posts(&h.state.db, 5).await.unwrap().remove(0).0
}

/// The first page of comments on `post_id`, with the writers' nicknames.
async fn comments(h: &Harness, post_id: i64) -> Vec<store::CommentWithNickname> {
    let page = platform::http::Page::parse(None, None).unwrap();
    store::list_comments(&h.state.db, post_id, page)
        .await
        .unwrap()
}

#[tokio::test]
async fn gallery_created_makes_blank_frames_once() {
    for h in both().await {
        reactions::gallery_created(&h.state.db, 5, 1, 10)
            .await
            .unwrap();
        reactions::gallery_created(&h.state.db, 5, 1, 10)
            .await
            .unwrap();
        let posts = store::list_posts(&h.state.db, 5).await.unwrap();
        assert_eq!(posts.len(), 10);
        let orders: Vec<i64> = posts.iter().map(|(p, _)| p.orders).collect();
        assert_eq!(orders, (1..=10).collect::<Vec<_>>());
        assert!(
            posts
                .iter()
                .all(|(p, m)| p.image_key == "Default.png" && p.is_active && m.is_none())
        );
        assert_eq!(store::gallery_owner(&h.state.db, 5).await.unwrap(), Some(1));
    }
}

#[tokio::test]
async fn gallery_deleted_removes_posts_comments_owner_and_queues_images() {
    for h in both().await {
        let post = first_frame(&h, 2).await;
        store::insert_comment(&h.state.db, post.id, 2, CommentText::parse("hi").unwrap())
            .await
            .unwrap();
        let update = PostUpdate {
            post_id: post.id,
            order: 1,
            title: PostTitle::parse("t").unwrap(),
            content: PostContent::parse("c").unwrap(),
            music_id: None,
            is_active: true,
            image_key: Some("k.png".into()),
        };
        store::update_post(&h.state.db, post.clone(), update)
            .await
            .unwrap();
        reactions::gallery_deleted(&h.state.db, 5).await.unwrap();
        reactions::gallery_deleted(&h.state.db, 5).await.unwrap();
        assert!(store::list_posts(&h.state.db, 5).await.unwrap().is_empty());
        assert!(comments(&h, post.id).await.is_empty());
        assert_eq!(store::gallery_owner(&h.state.db, 5).await.unwrap(), None);
        assert_eq!(
            store::trashed_images(&h.state.db, 10).await.unwrap(),
            ["k.png"]
        );
    }
}

#[tokio::test]
async fn nicknames_are_upserted_and_withdrawal_deletes_comments() {
    for h in both().await {
        let post = first_frame(&h, 1).await;
        reactions::nickname_changed(&h.state.db, 2, "a")
            .await
            .unwrap();
        reactions::nickname_changed(&h.state.db, 2, "b")
            .await
            .unwrap();
        store::insert_comment(&h.state.db, post.id, 2, CommentText::parse("x").unwrap())
            .await
            .unwrap();
        store::insert_comment(&h.state.db, post.id, 3, CommentText::parse("y").unwrap())
            .await
            .unwrap();
        let listed = comments(&h, post.id).await;
        assert_eq!(listed[0].1.as_deref(), Some("b"));
        assert_eq!(listed[1].1, None);
        reactions::member_withdrawn(&h.state.db, 2).await.unwrap();
        let listed = comments(&h, post.id).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0.member_id, 3);
    }
}

#[tokio::test]
async fn music_is_unique_on_artist_and_title() {
    for h in both().await {
        let new = NewMusic {
            title: "t".into(),
            artist: "a".into(),
            video_id: "v1".into(),
            cover_url: None,
            released_date: "2020".into(),
        };
        let first = store::insert_music(&h.state.db, new.clone()).await.unwrap();
        let again = store::insert_music(
            &h.state.db,
            NewMusic {
                video_id: "v2".into(),
                ..new
            },
        )
        .await
        .unwrap();
        assert_eq!(first, again);
        let found = store::find_music_by_track(&h.state.db, "a", "t")
            .await
            .unwrap();
        assert_eq!(found, Some(first));
    }
}

#[tokio::test]
async fn fifty_character_titles_and_five_hundred_character_contents_fit() {
    for h in both().await {
        let post = first_frame(&h, 1).await;
        let update = PostUpdate {
            post_id: post.id,
            order: 1,
            title: PostTitle::parse("가".repeat(50)).unwrap(),
            content: PostContent::parse("😀".repeat(500)).unwrap(),
            music_id: None,
            is_active: false,
            image_key: None,
        };
        store::update_post(&h.state.db, post, update).await.unwrap();
        let (saved, _) = store::list_posts(&h.state.db, 5).await.unwrap().remove(0);
        assert_eq!(saved.title.chars().count(), 50);
        assert_eq!(saved.content, "😀".repeat(500));
        assert!(!saved.is_active);
    }
}

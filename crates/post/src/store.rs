//! Persistence of posts, comments, music and the projections, written once for MySQL and SQLite.

use std::collections::HashMap;

use platform::http::Page;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::domain::{CommentText, DEFAULT_IMAGE_KEY, PostContent, PostTitle};
use crate::entity::{comment, gallery_owner, image_trash, music, post};
use events::nicknames;
use platform::time::now_utc as now;

/// A post with its music, as `GET /api/post/list/{galleryId}` lists it.
pub type PostWithMusic = (post::Model, Option<music::Model>);

/// Every post of a gallery in display order, with its music.
pub async fn list_posts<C: ConnectionTrait>(
    db: &C,
    gallery_id: i64,
) -> Result<Vec<PostWithMusic>, DbErr> {
    let posts = post::Entity::find()
        .filter(post::Column::GalleryId.eq(gallery_id))
        .order_by_asc(post::Column::Orders)
        .order_by_asc(post::Column::Id)
        .all(db)
        .await?;
    let music_ids: Vec<i64> = posts.iter().filter_map(|p| p.music_id).collect();
    let music: HashMap<i64, music::Model> = if music_ids.is_empty() {
        HashMap::new()
    } else {
        music::Entity::find()
            .filter(music::Column::Id.is_in(music_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect()
    };
    Ok(posts
        .into_iter()
        .map(|p| {
            let m = p.music_id.and_then(|id| music.get(&id).cloned());
            (p, m)
        })
        .collect())
}

/// The owner of a gallery, as `gallery.created` announced it.
pub async fn gallery_owner<C: ConnectionTrait>(
    db: &C,
    gallery_id: i64,
) -> Result<Option<i64>, DbErr> {
    Ok(gallery_owner::Entity::find_by_id(gallery_id)
        .one(db)
        .await?
        .map(|row| row.member_id))
}

/// Records the owner of a gallery; a second record for the same gallery changes nothing.
pub async fn record_gallery_owner<C: ConnectionTrait>(
    db: &C,
    gallery_id: i64,
    member_id: i64,
) -> Result<(), DbErr> {
    gallery_owner::Entity::insert(gallery_owner::ActiveModel {
        gallery_id: Set(gallery_id),
        member_id: Set(member_id),
    })
    .on_conflict(
        // Rewriting the key with itself is the no-op upsert both MySQL and SQLite accept.
        OnConflict::column(gallery_owner::Column::GalleryId)
            .update_column(gallery_owner::Column::GalleryId)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// How many posts a gallery has.
pub async fn count_posts<C: ConnectionTrait>(db: &C, gallery_id: i64) -> Result<u64, DbErr> {
    post::Entity::find()
        .filter(post::Column::GalleryId.eq(gallery_id))
        .count(db)
        .await
}

/// Inserts `count` blank frames (with the blank defaults of docs/post.md) ordered 1..=count.
pub async fn insert_blank_posts<C: ConnectionTrait>(
    db: &C,
    gallery_id: i64,
    count: u32,
) -> Result<(), DbErr> {
    if count == 0 {
        return Ok(());
    }
    let at = now();
    let rows = (1..=i64::from(count)).map(|order| post::ActiveModel {
        gallery_id: Set(gallery_id),
        title: Set(String::new()),
        content: Set(String::new()),
        orders: Set(order),
        image_key: Set(DEFAULT_IMAGE_KEY.to_owned()),
        music_id: Set(None),
        is_active: Set(true),
        created_date: Set(at),
        modified_date: Set(at),
        ..Default::default()
    });
    post::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Deletes a gallery's posts, their comments and its owner row; returns the image keys to delete
/// from storage once the transaction has committed.
pub async fn delete_gallery<C: ConnectionTrait>(
    db: &C,
    gallery_id: i64,
) -> Result<Vec<String>, DbErr> {
    let posts = post::Entity::find()
        .filter(post::Column::GalleryId.eq(gallery_id))
        .all(db)
        .await?;
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    if !ids.is_empty() {
        comment::Entity::delete_many()
            .filter(comment::Column::PostId.is_in(ids.clone()))
            .exec(db)
            .await?;
        post::Entity::delete_many()
            .filter(post::Column::Id.is_in(ids))
            .exec(db)
            .await?;
    }
    gallery_owner::Entity::delete_by_id(gallery_id)
        .exec(db)
        .await?;
    Ok(posts
        .into_iter()
        .map(|p| p.image_key)
        .filter(|key| key != DEFAULT_IMAGE_KEY)
        .collect())
}

/// The posts among `ids` that belong to `gallery_id`.
pub async fn posts_of_gallery<C: ConnectionTrait>(
    db: &C,
    gallery_id: i64,
    ids: &[i64],
) -> Result<Vec<post::Model>, DbErr> {
    post::Entity::find()
        .filter(post::Column::GalleryId.eq(gallery_id))
        .filter(post::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

/// How many of `ids` name existing music rows.
pub async fn count_music<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<u64, DbErr> {
    music::Entity::find()
        .filter(music::Column::Id.is_in(ids.iter().copied()))
        .count(db)
        .await
}

/// The new state of one post in a `PATCH /api/post/list/{galleryId}` request.
#[derive(Debug, Clone)]
pub struct PostUpdate {
    /// Which post.
    pub post_id: i64,
    /// New position.
    pub order: i64,
    /// New title.
    pub title: PostTitle,
    /// New content.
    pub content: PostContent,
    /// New music; `None` keeps the current one (the original cannot clear music either).
    pub music_id: Option<i64>,
    /// Shown or hidden.
    pub is_active: bool,
    /// New image key; `None` keeps the current image.
    pub image_key: Option<String>,
}

/// Applies one update to a loaded post; returns the replaced image key when the image changed.
pub async fn update_post<C: ConnectionTrait>(
    db: &C,
    current: post::Model,
    update: PostUpdate,
) -> Result<Option<String>, DbErr> {
    let replaced = update.image_key.as_ref().map(|_| current.image_key.clone());
    let mut row: post::ActiveModel = current.into();
    row.orders = Set(update.order);
    row.title = Set(update.title.into_inner());
    row.content = Set(update.content.into_inner());
    row.is_active = Set(update.is_active);
    if let Some(music_id) = update.music_id {
        row.music_id = Set(Some(music_id));
    }
    if let Some(key) = update.image_key {
        row.image_key = Set(key);
    }
    row.modified_date = Set(now());
    row.update(db).await?;
    Ok(replaced)
}

/// The post with this id.
pub async fn find_post<C: ConnectionTrait>(
    db: &C,
    post_id: i64,
) -> Result<Option<post::Model>, DbErr> {
    post::Entity::find_by_id(post_id).one(db).await
}

/// Adds a comment.
pub async fn insert_comment<C: ConnectionTrait>(
    db: &C,
    post_id: i64,
    member_id: i64,
    content: CommentText,
) -> Result<comment::Model, DbErr> {
    let at = now();
    comment::ActiveModel {
        post_id: Set(post_id),
        member_id: Set(member_id),
        content: Set(content.into_inner()),
        created_date: Set(at),
        modified_date: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// A comment with its author's nickname.
pub type CommentWithNickname = (comment::Model, Option<String>);

/// One page of a post's comments, oldest first, with nicknames from the projection.
pub async fn list_comments<C: ConnectionTrait>(
    db: &C,
    post_id: i64,
    page: Page,
) -> Result<Vec<CommentWithNickname>, DbErr> {
    let comments = comment::Entity::find()
        .filter(comment::Column::PostId.eq(post_id))
        .order_by_asc(comment::Column::CreatedDate)
        .order_by_asc(comment::Column::Id)
        .offset(page.offset())
        .limit(page.size())
        .all(db)
        .await?;
    let members: Vec<i64> = comments.iter().map(|c| c.member_id).collect();
    let nicknames = nicknames::of_each(db, members).await?;
    Ok(comments
        .into_iter()
        .map(|c| {
            let nickname = nicknames.get(&c.member_id).cloned();
            (c, nickname)
        })
        .collect())
}

/// The comment with this id written by `member_id`.
pub async fn find_own_comment<C: ConnectionTrait>(
    db: &C,
    comment_id: i64,
    member_id: i64,
) -> Result<Option<comment::Model>, DbErr> {
    comment::Entity::find_by_id(comment_id)
        .filter(comment::Column::MemberId.eq(member_id))
        .one(db)
        .await
}

/// Replaces a comment's text.
pub async fn update_comment<C: ConnectionTrait>(
    db: &C,
    current: comment::Model,
    content: CommentText,
) -> Result<(), DbErr> {
    let mut row: comment::ActiveModel = current.into();
    row.content = Set(content.into_inner());
    row.modified_date = Set(now());
    row.update(db).await?;
    Ok(())
}

/// Deletes one comment.
pub async fn delete_comment<C: ConnectionTrait>(db: &C, comment_id: i64) -> Result<(), DbErr> {
    comment::Entity::delete_by_id(comment_id).exec(db).await?;
    Ok(())
}

/// Deletes every comment of a member (withdrawal).
pub async fn delete_comments_of<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<u64, DbErr> {
    Ok(comment::Entity::delete_many()
        .filter(comment::Column::MemberId.eq(member_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// The music row with this id.
pub async fn find_music<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<music::Model>, DbErr> {
    music::Entity::find_by_id(id).one(db).await
}

/// The cached music row of a track.
pub async fn find_music_by_track<C: ConnectionTrait>(
    db: &C,
    artist: &str,
    title: &str,
) -> Result<Option<music::Model>, DbErr> {
    music::Entity::find()
        .filter(music::Column::Artist.eq(artist))
        .filter(music::Column::Title.eq(title))
        .one(db)
        .await
}

/// A track to cache.
#[derive(Debug, Clone)]
pub struct NewMusic {
    /// Title.
    pub title: String,
    /// Artist.
    pub artist: String,
    /// YouTube video id.
    pub video_id: String,
    /// Cover URL.
    pub cover_url: Option<String>,
    /// Release date string.
    pub released_date: String,
}

/// Caches a track; when another request cached the same (artist, title) first, returns that row.
pub async fn insert_music<C: ConnectionTrait>(
    db: &C,
    new: NewMusic,
) -> Result<music::Model, DbErr> {
    let (artist, title) = (new.artist.clone(), new.title.clone());
    let inserted = music::ActiveModel {
        title: Set(new.title),
        artist: Set(new.artist),
        video_id: Set(new.video_id),
        cover_url: Set(new.cover_url),
        released_date: Set(new.released_date),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Ok(row) => Ok(row),
        Err(error) => find_music_by_track(db, &artist, &title).await?.ok_or(error),
    }
}

/// Queues image keys for deletion after the current transaction commits.
pub async fn trash_images<C: ConnectionTrait>(db: &C, keys: Vec<String>) -> Result<(), DbErr> {
    if keys.is_empty() {
        return Ok(());
    }
    let rows = keys.into_iter().map(|key| image_trash::ActiveModel {
        image_key: Set(key),
    });
    image_trash::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(image_trash::Column::ImageKey)
                .update_column(image_trash::Column::ImageKey)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Up to `limit` queued image keys.
pub async fn trashed_images<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<String>, DbErr> {
    Ok(image_trash::Entity::find()
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.image_key)
        .collect())
}

/// Forgets queued keys whose objects are deleted.
pub async fn forget_trashed<C: ConnectionTrait>(db: &C, keys: Vec<String>) -> Result<(), DbErr> {
    image_trash::Entity::delete_many()
        .filter(image_trash::Column::ImageKey.is_in(keys))
        .exec(db)
        .await?;
    Ok(())
}

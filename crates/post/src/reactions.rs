//! What the post service does when other services' events arrive (DESIGN.md §7). Each effect runs
//! inside the consumer's transaction, together with the inbox row, and is idempotent on its own too.

use sea_orm::{ConnectionTrait, DbErr};

use crate::store;

/// `gallery.created`: remember the owner and create `frame_count` blank frames, once.
pub async fn gallery_created<C: ConnectionTrait>(
    db: &C,
    gallery_id: i64,
    member_id: i64,
    frame_count: u32,
) -> Result<(), DbErr> {
    store::record_gallery_owner(db, gallery_id, member_id).await?;
    if store::count_posts(db, gallery_id).await? == 0 {
        store::insert_blank_posts(db, gallery_id, frame_count).await?;
    }
    Ok(())
}

/// `gallery.deleted`: delete the frames, their comments and the owner row. Returns the image keys
/// to delete with [`crate::images::ImageStore::delete_all`] after the transaction commits.
pub async fn gallery_deleted<C: ConnectionTrait>(
    db: &C,
    gallery_id: i64,
) -> Result<Vec<String>, DbErr> {
    store::delete_gallery(db, gallery_id).await
}

/// `member.registered` and `member.nickname-changed`: keep the nickname comments show.
pub async fn nickname_changed<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    nickname: &str,
) -> Result<(), DbErr> {
    store::set_nickname(db, member_id, nickname).await
}

/// `member.withdrawn`: delete the member's comments everywhere (A.1 Q6) and the nickname.
pub async fn member_withdrawn<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<(), DbErr> {
    store::delete_member(db, member_id).await?;
    Ok(())
}

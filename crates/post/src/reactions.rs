//! What the post service does when other services' events arrive (docs/events.md, "Topics" and "Consuming"). Each effect runs
//! inside the consumer's transaction, together with the inbox row, and is idempotent on its own too.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use events::{
    AnyEvent, Bus, BusError, Consumer, ConsumerOptions, Envelope, GALLERY_TOPIC, GalleryEvent,
    Handler, HandlerError, MEMBER_TOPIC, MemberEvent, nicknames,
};
use platform::CancellationToken;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use crate::AppState;
use crate::images::ImageStore;
use crate::store;

/// More frames than any place has is a malformed event, not a reason to insert rows.
const MAX_FRAMES: u32 = 100;

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

/// `gallery.deleted`: delete the frames, their comments and the owner row, and queue the images
/// for deletion once this transaction has committed ([`sweep_images`]).
pub async fn gallery_deleted<C: ConnectionTrait>(db: &C, gallery_id: i64) -> Result<(), DbErr> {
    let keys = store::delete_gallery(db, gallery_id).await?;
    store::trash_images(db, keys).await
}

/// `member.registered` and `member.nickname-changed`: keep the nickname comments show.
pub async fn nickname_changed<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    nickname: &str,
) -> Result<(), DbErr> {
    nicknames::set(db, member_id, nickname).await
}

/// `member.withdrawn`: delete the member's comments everywhere (the original service left them
/// orphaned) and the nickname.
pub async fn member_withdrawn<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<(), DbErr> {
    member_event(db, &MemberEvent::Withdrawn { member_id }).await
}

async fn member_event<C: ConnectionTrait>(db: &C, event: &MemberEvent) -> Result<(), DbErr> {
    if let MemberEvent::Withdrawn { member_id } = event {
        store::delete_comments_of(db, *member_id).await?;
    }
    nicknames::apply(db, event).await
}

/// Applies gallery and member events to the post database.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostHandler;

#[async_trait]
impl Handler for PostHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        match AnyEvent::from_envelope(event)? {
            AnyEvent::Gallery(GalleryEvent::Created {
                gallery_id,
                member_id,
                frame_count,
                ..
            }) => {
                let frames = u32::try_from(frame_count)
                    .ok()
                    .filter(|n| *n <= MAX_FRAMES)
                    .ok_or_else(|| {
                        HandlerError::permanent(anyhow::anyhow!(
                            "frameCount {frame_count} out of range"
                        ))
                    })?;
                gallery_created(txn, gallery_id, member_id, frames).await?;
            }
            AnyEvent::Gallery(GalleryEvent::Deleted { gallery_id, .. }) => {
                gallery_deleted(txn, gallery_id).await?;
            }
            AnyEvent::Member(event) => member_event(txn, &event).await?,
        }
        Ok(())
    }
}

/// The consumer group of the post service.
pub const GROUP: &str = "post";

/// Options of the post consumer: group `post` on the `gallery` and `member` topics.
pub fn consumer_options() -> ConsumerOptions {
    ConsumerOptions::new(GROUP, &[GALLERY_TOPIC, MEMBER_TOPIC])
}

/// The post service's event consumer on `bus`.
pub async fn consumer(
    state: &AppState,
    bus: &Bus,
    options: ConsumerOptions,
) -> Result<Consumer, BusError> {
    bus.consumer(state.db.clone(), options, Arc::new(PostHandler))
        .await
}

/// Deletes the objects of queued image keys; returns how many were handled.
pub async fn sweep_images(state: &AppState) -> Result<usize, DbErr> {
    sweep(&state.db, &state.images).await
}

async fn sweep<C: ConnectionTrait>(db: &C, images: &ImageStore) -> Result<usize, DbErr> {
    let keys = store::trashed_images(db, 100).await?;
    let count = keys.len();
    if count > 0 {
        let failed = images.delete_all(keys.iter().cloned()).await;
        let deleted = keys.into_iter().filter(|k| !failed.contains(k)).collect();
        store::forget_trashed(db, deleted).await?;
    }
    Ok(count)
}

/// How often queued images are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Sweeps queued images every [`SWEEP_EVERY`] until `shutdown`.
pub async fn sweep_images_until(state: AppState, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {
                if let Err(error) = sweep_images(&state).await {
                    tracing::warn!(error = %platform::http::ErrorChain(&error), "image sweep failed");
                }
            }
        }
    }
}

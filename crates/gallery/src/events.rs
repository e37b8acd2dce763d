//! What the gallery service publishes (`gallery.created`, `gallery.deleted`, written to the outbox
//! in the same transaction as the change) and how it reacts to member events (the nickname
//! projection and the withdrawal cascade).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use events::{
    Bus, BusError, Consumer, ConsumerOptions, Envelope, GalleryEvent, Handler, HandlerError,
    MEMBER_TOPIC, MemberEvent, Outbox, nicknames,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};

use crate::AppState;
use crate::domain::{GalleryDraft, GalleryId, MemberId};
use crate::error::{GalleryError, Result};
use crate::store::{self, Changed};

/// Consumer group of the gallery service on the `member` topic.
pub const CONSUMER_GROUP: &str = "gallery";

/// Creates a gallery and records `gallery.created` in one transaction.
pub async fn create_gallery(
    state: &AppState,
    member: MemberId,
    draft: GalleryDraft,
    now: NaiveDateTime,
) -> Result<Changed> {
    let mut change = state.outbox.begin(&state.db).await?;
    let created = store::create(change.txn(), member, draft, now).await?;
    change.announce(&created_event(&created)).await?;
    change.commit().await?;
    Ok(created)
}

/// Deletes the member's gallery and records `gallery.deleted` in one transaction.
pub async fn delete_gallery(state: &AppState, member: MemberId, id: GalleryId) -> Result<Changed> {
    let mut change = state.outbox.begin(&state.db).await?;
    let deleted = store::delete(change.txn(), member, id).await?;
    change.announce(&deleted_event(&deleted)).await?;
    change.commit().await?;
    Ok(deleted)
}

fn created_event(created: &Changed) -> GalleryEvent {
    GalleryEvent::Created {
        gallery_id: created.gallery,
        member_id: created.member.0,
        place_id: created.place,
        frame_count: created.frames,
    }
}

fn deleted_event(deleted: &Changed) -> GalleryEvent {
    GalleryEvent::Deleted {
        gallery_id: deleted.gallery,
        member_id: deleted.member.0,
    }
}

async fn announce(outbox: &Outbox, txn: &impl ConnectionTrait, event: &GalleryEvent) -> Result<()> {
    outbox
        .enqueue(txn, event)
        .await
        .map_err(GalleryError::from)?;
    Ok(())
}

/// Applies member events to the gallery database.
#[derive(Debug, Clone)]
pub struct MemberEvents {
    outbox: Outbox,
}

impl MemberEvents {
    /// A handler announcing cascaded deletions through `outbox`.
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox }
    }

    async fn apply(&self, txn: &DatabaseTransaction, event: &MemberEvent) -> Result<()> {
        if let MemberEvent::Withdrawn { member_id } = event {
            self.withdraw(txn, MemberId(*member_id)).await?;
        }
        nicknames::apply(txn, event).await?;
        Ok(())
    }

    /// Deletes every gallery of the member, one `gallery.deleted` each.
    async fn withdraw(&self, txn: &DatabaseTransaction, member: MemberId) -> Result<()> {
        for deleted in store::delete_all_of(txn, member).await? {
            announce(&self.outbox, txn, &deleted_event(&deleted)).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Handler for MemberEvents {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        envelope: &Envelope,
    ) -> std::result::Result<(), HandlerError> {
        let event: MemberEvent = envelope.decode()?;
        self.apply(txn, &event)
            .await
            .map_err(HandlerError::transient)
    }
}

/// Options of the member-event consumer: group `gallery`, topic `member`.
pub fn consumer_options() -> ConsumerOptions {
    ConsumerOptions::new(CONSUMER_GROUP, &[MEMBER_TOPIC])
}

/// The consumer applying member events with [`MemberEvents`].
pub async fn member_consumer(
    bus: &Bus,
    db: DatabaseConnection,
    outbox: Outbox,
    options: ConsumerOptions,
) -> std::result::Result<Consumer, BusError> {
    let handler = Arc::new(MemberEvents::new(outbox.clone()));
    // The relay is woken once the cascade's `gallery.deleted` rows are committed; woken before,
    // it could poll, find nothing yet and sleep a whole interval.
    Ok(bus
        .consumer(db, options, handler)
        .await?
        .wake_after_commit(outbox))
}

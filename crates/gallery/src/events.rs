//! How the gallery service reacts to member events: the nickname projection and the withdrawal
//! cascade, whose `gallery.deleted` events go to the outbox in the consumer's transaction. What
//! a request changes and announces is [`crate::store`]'s.

use std::sync::Arc;

use async_trait::async_trait;
use events::{
    Bus, BusError, Consumer, ConsumerOptions, Envelope, GalleryEvent, Handler, HandlerError,
    MEMBER_TOPIC, MemberEvent, Outbox, nicknames,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};

use crate::domain::MemberId;
use crate::error::{GalleryError, Result};
use crate::store;

/// Consumer group of the gallery service on the `member` topic.
pub const CONSUMER_GROUP: &str = "gallery";

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
            announce(&self.outbox, txn, &store::deleted_event(&deleted)).await?;
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

//! What the gallery service publishes (`gallery.created`, `gallery.deleted`, through the outbox in
//! the same transaction as the change) and how it reacts to member events.

use chrono::NaiveDateTime;

use crate::AppState;
use crate::domain::{GalleryDraft, GalleryId, MemberId};
use crate::error::Result;
use crate::store::{self, Changed};

/// Creates a gallery and records `gallery.created` in one transaction.
pub async fn create_gallery(
    state: &AppState,
    member: MemberId,
    draft: GalleryDraft,
    now: NaiveDateTime,
) -> Result<Changed> {
    let txn = store::begin_write(&state.db).await?;
    let created = store::create(&txn, member, draft, now).await?;
    txn.commit().await?;
    Ok(created)
}

/// Deletes the member's gallery and records `gallery.deleted` in one transaction.
pub async fn delete_gallery(state: &AppState, member: MemberId, id: GalleryId) -> Result<Changed> {
    let txn = store::begin_write(&state.db).await?;
    let deleted = store::delete(&txn, member, id).await?;
    txn.commit().await?;
    Ok(deleted)
}

/// Creates the topics the service writes to and reads from when they are missing.
pub async fn kafka_topics(kafka: &platform::config::KafkaConfig) -> anyhow::Result<()> {
    ::events::kafka::ensure_topics(kafka, &["gallery", "member"]).await?;
    Ok(())
}

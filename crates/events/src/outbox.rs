//! The outbox writer: events are inserted in the caller's own transaction, so they exist exactly
//! when the state change they announce does. The relay publishes them afterwards.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, Statement};
use tokio::sync::Notify;

use crate::context::TraceContext;
use crate::envelope::{Envelope, Event};

/// Writes events into the `outbox` table and nudges the relay. Cheap to clone; keep one in the
/// service state. `Outbox::default()` writes rows but wakes no relay (the relay still finds them
/// at its fallback poll).
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    wake: Arc<Notify>,
}

/// Why an event could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write event {event_type} to the outbox")]
pub struct OutboxError {
    /// The event's type.
    pub event_type: String,
    /// The cause.
    #[source]
    pub source: DbErr,
}

impl Outbox {
    /// A writer whose [`Outbox::wake`] nudges the relay holding the same `Notify`.
    pub(crate) fn with_notify(wake: Arc<Notify>) -> Self {
        Self { wake }
    }

    /// Begins a write transaction on `db` for a state change and the events announcing it: the
    /// one way a service changes state and announces it ([`Change`]).
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<Change, DbErr> {
        Ok(Change {
            txn: platform::db::begin_write(db).await?,
            outbox: self.clone(),
            announced: 0,
        })
    }

    /// Inserts `event` with the current [`TraceContext`] inside `txn` (the caller's transaction)
    /// and returns its envelope. Call [`Outbox::wake`] after the commit.
    pub async fn enqueue<E: Event, C: ConnectionTrait>(
        &self,
        txn: &C,
        event: &E,
    ) -> Result<Envelope, OutboxError> {
        let envelope = event.to_envelope();
        self.enqueue_envelope(txn, E::TOPIC, &envelope, &TraceContext::current())
            .await?;
        Ok(envelope)
    }

    /// Inserts an already built envelope on `topic`, with an explicit trace context.
    pub async fn enqueue_envelope<C: ConnectionTrait>(
        &self,
        txn: &C,
        topic: &str,
        envelope: &Envelope,
        context: &TraceContext,
    ) -> Result<(), OutboxError> {
        let headers = serde_json::to_string(&context.to_pairs()).unwrap_or_default();
        let body = String::from_utf8_lossy(&envelope.to_json()).into_owned();
        let statement = Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO outbox (event_id, topic, aggregate_id, event_type, payload, headers, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                envelope.event_id.to_string().into(),
                topic.into(),
                envelope.aggregate_id.clone().into(),
                envelope.event_type.clone().into(),
                body.into(),
                headers.into(),
                Utc::now().naive_utc().into(),
            ],
        );
        txn.execute_raw(statement)
            .await
            .map(drop)
            .map_err(|source| OutboxError {
                event_type: envelope.event_type.clone(),
                source,
            })
    }

    /// Tells the relay that committed events are waiting, so it publishes now instead of at its
    /// next fallback poll. Harmless when called without anything new.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// A state change and the events that announce it, in one write transaction: the events exist
/// exactly when the change does, and the relay is woken once both are committed (woken before,
/// it could find nothing yet and sleep a whole interval). Dropped without [`Change::commit`], it
/// rolls back both.
#[derive(Debug)]
pub struct Change {
    txn: DatabaseTransaction,
    outbox: Outbox,
    announced: usize,
}

impl Change {
    /// The transaction, for the state change's statements.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Adds `event` to the change.
    pub async fn announce<E: Event>(&mut self, event: &E) -> Result<Envelope, OutboxError> {
        let envelope = self.outbox.enqueue(&self.txn, event).await?;
        self.announced += 1;
        Ok(envelope)
    }

    /// Commits the change and its events, then wakes the relay if there are any.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        if self.announced > 0 {
            self.outbox.wake();
        }
        Ok(())
    }
}

//! What a consuming service implements: apply one event inside the consumer's own transaction.

use async_trait::async_trait;
use sea_orm::{DatabaseTransaction, DbErr};

use crate::envelope::{DecodeError, Envelope};

/// Applies events to the consuming service's database.
///
/// `txn` is the consumer's open transaction; it already holds the inbox row for this event and is
/// committed after `handle` returns `Ok`, so the effect and "seen" commit together. Write through
/// `txn` only. Events the service does not care about: return `Ok(())`. To announce something in
/// reaction, `outbox.enqueue(txn, …)` in the same transaction.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Applies `event`; an error rolls the transaction back.
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope)
    -> Result<(), HandlerError>;
}

/// Why a handler could not apply an event.
#[derive(Debug, thiserror::Error)]
#[error("{cause:#}")]
pub struct HandlerError {
    cause: anyhow::Error,
    permanent: bool,
}

impl HandlerError {
    /// A failure worth retrying (database busy, deadlock, …): retried with backoff, then
    /// dead-lettered.
    pub fn transient(source: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: source.into(),
            permanent: false,
        }
    }

    /// A failure retrying cannot fix (the event makes no sense): dead-lettered at once.
    pub fn permanent(source: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: source.into(),
            permanent: true,
        }
    }

    /// Whether retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl From<DbErr> for HandlerError {
    fn from(error: DbErr) -> Self {
        Self::transient(error)
    }
}

/// Unknown types and versions cannot become known by retrying.
impl From<DecodeError> for HandlerError {
    fn from(error: DecodeError) -> Self {
        Self::permanent(error)
    }
}

impl From<anyhow::Error> for HandlerError {
    fn from(error: anyhow::Error) -> Self {
        Self::transient(error)
    }
}

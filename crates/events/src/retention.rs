//! Retention: deletes published outbox rows and inbox rows that are past their retention, a small
//! batch per statement, so the event tables stay bounded without long locks.
//!
//! What may go differs by bus. On Kafka the broker holds every published event, so a published
//! outbox row is history once it is older than its retention. On the in-process bus the published
//! rows are the log the other services' consumers read, so a row also has to be behind the cursor
//! of every consumer of its topic. An inbox row recognises a redelivery; its retention must exceed
//! how long an event can still come again (see [`platform::config::RetentionConfig`]).

use std::time::{Duration, Instant};

use chrono::Utc;
use platform::CancellationToken;
use platform::config::RetentionConfig;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};

use crate::bus::InProcessBus;

/// Rows deleted by one purge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Published outbox rows.
    pub outbox: u64,
    /// Inbox rows.
    pub inbox: u64,
}

impl Purged {
    /// Whether nothing was deleted.
    pub fn is_empty(self) -> bool {
        self.outbox + self.inbox == 0
    }
}

/// Purges one service database's event tables. Build it with [`crate::Bus::purger`].
#[derive(Debug)]
pub struct Purger {
    db: DatabaseConnection,
    config: RetentionConfig,
    /// The in-process bus, whose consumers' cursors bound the outbox purge.
    in_process: Option<InProcessBus>,
}

/// Between two batches of one purge: lets business transactions and the relay go first.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// The first purge waits this long after start, so that every consumer of the process has
/// registered with the in-process bus (and start-up is not slowed by it).
const FIRST_PURGE_AFTER: Duration = Duration::from_secs(30);

impl Purger {
    pub(crate) fn new(
        db: DatabaseConnection,
        config: RetentionConfig,
        in_process: Option<InProcessBus>,
    ) -> Self {
        Self {
            db,
            config,
            in_process,
        }
    }

    /// Deletes at most one batch from each table; returns what it deleted. A purge is finished
    /// when a batch returns less than the batch size of each table.
    pub async fn purge_batch(&self) -> Result<Purged, DbErr> {
        let now = Utc::now().naive_utc();
        let outbox_cutoff =
            now - chrono::Duration::from_std(self.config.outbox).unwrap_or_default();
        let inbox_cutoff = now - chrono::Duration::from_std(self.config.inbox).unwrap_or_default();
        Ok(Purged {
            outbox: self.purge_outbox(outbox_cutoff).await?,
            inbox: self.purge_inbox(inbox_cutoff).await?,
        })
    }

    /// Batches until nothing past retention is left; one log line and the
    /// `events_purged_total` counters for the whole purge.
    pub async fn purge(&self) -> Result<Purged, DbErr> {
        let started = Instant::now();
        let mut total = Purged::default();
        loop {
            let batch = self.purge_batch().await?;
            total.outbox += batch.outbox;
            total.inbox += batch.inbox;
            metrics::counter!("events_purged_total", "table" => "outbox").increment(batch.outbox);
            metrics::counter!("events_purged_total", "table" => "inbox").increment(batch.inbox);
            let limit = u64::from(self.config.batch_size);
            if batch.outbox < limit && batch.inbox < limit {
                break;
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
        tracing::info!(
            outbox_rows = total.outbox,
            inbox_rows = total.inbox,
            elapsed_ms = started.elapsed().as_millis() as u64,
            outbox_retention_hours = self.config.outbox.as_secs() / 3600,
            inbox_retention_hours = self.config.inbox.as_secs() / 3600,
            "purged event tables"
        );
        Ok(total)
    }

    /// Purges every `interval` until `shutdown`; a failed purge is logged and tried at the next.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wait = FIRST_PURGE_AFTER.min(self.config.interval);
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => return,
            }
            let purge = tokio::select! {
                result = self.purge() => result,
                () = shutdown.cancelled() => return,
            };
            if let Err(error) = purge {
                tracing::warn!(error = %platform::http::ErrorChain(&error), "event table purge failed");
            }
            wait = self.config.interval;
        }
    }

    async fn purge_outbox(&self, cutoff: chrono::NaiveDateTime) -> Result<u64, DbErr> {
        let Some(bus) = &self.in_process else {
            return self.delete_outbox(cutoff, None).await;
        };
        let mut deleted = 0;
        for (topic, consumed) in bus.consumed_positions().await? {
            deleted += self.delete_outbox(cutoff, Some((&topic, consumed))).await?;
        }
        Ok(deleted)
    }

    /// One batch of published rows older than `cutoff`; on the in-process bus only rows of
    /// `topic` at or below `consumed`, the lowest cursor of its consumers.
    async fn delete_outbox(
        &self,
        cutoff: chrono::NaiveDateTime,
        bound: Option<(&str, i64)>,
    ) -> Result<u64, DbErr> {
        let backend = self.db.get_database_backend();
        let limit = self.config.batch_size;
        let mut values: Vec<Value> = vec![cutoff.into()];
        let mut sql = String::from(
            "SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < ?",
        );
        if let Some((topic, consumed)) = bound {
            sql.push_str(" AND topic = ? AND id <= ?");
            values.extend([topic.into(), consumed.into()]);
        }
        sql.push_str(&format!(" ORDER BY published_at, id LIMIT {limit}"));
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64>("", "id").map(Value::from))
            .collect::<Result<Vec<_>, _>>()?;
        self.delete_listed("DELETE FROM outbox WHERE id IN", ids, Vec::new())
            .await
    }

    async fn purge_inbox(&self, cutoff: chrono::NaiveDateTime) -> Result<u64, DbErr> {
        let backend = self.db.get_database_backend();
        let limit = self.config.batch_size;
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT event_id FROM inbox WHERE processed_at < ? \
                     ORDER BY processed_at LIMIT {limit}"
                ),
                [cutoff.into()],
            ))
            .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<String>("", "event_id").map(Value::from))
            .collect::<Result<Vec<_>, _>>()?;
        // The age condition again: the same event's row of another consumer may be younger.
        self.delete_listed(
            "DELETE FROM inbox WHERE processed_at < ? AND event_id IN",
            ids,
            vec![cutoff.into()],
        )
        .await
    }

    /// `DELETE … IN (…)` of the listed keys, after the `leading` values; by key, so each
    /// statement locks only the rows it deletes.
    async fn delete_listed(
        &self,
        sql: &str,
        keys: Vec<Value>,
        mut leading: Vec<Value>,
    ) -> Result<u64, DbErr> {
        if keys.is_empty() {
            return Ok(0);
        }
        let placeholders = vec!["?"; keys.len()].join(",");
        leading.extend(keys);
        let result = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                format!("{sql} ({placeholders})"),
                leading,
            ))
            .await?;
        Ok(result.rows_affected())
    }

    /// Runs [`Purger::run`] on its own task.
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }
}

//! The background tasks of one service (its relay, consumers and event-table purger), started and
//! stopped together.

use platform::CancellationToken;

use crate::consumer::Consumer;
use crate::relay::Relay;
use crate::retention::Purger;

/// A service's relay and consumers, built in `connect` and started by `run` (or by the standalone
/// composition).
#[derive(Debug, Default)]
pub struct Workers {
    relays: Vec<Relay>,
    consumers: Vec<Consumer>,
    purgers: Vec<Purger>,
}

impl Workers {
    /// Nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a relay.
    #[must_use]
    pub fn with_relay(mut self, relay: Relay) -> Self {
        self.relays.push(relay);
        self
    }

    /// Adds a consumer.
    #[must_use]
    pub fn with_consumer(mut self, consumer: Consumer) -> Self {
        self.consumers.push(consumer);
        self
    }

    /// Adds the purger of a database's event tables.
    #[must_use]
    pub fn with_purger(mut self, purger: Purger) -> Self {
        self.purgers.push(purger);
        self
    }

    /// Starts everything on its own task; the tasks end when `shutdown` is cancelled.
    pub fn spawn(self, shutdown: &CancellationToken) -> Running {
        let mut tasks = tokio::task::JoinSet::new();
        for relay in self.relays {
            tasks.spawn(relay.run(shutdown.clone()));
        }
        for consumer in self.consumers {
            tasks.spawn(consumer.run(shutdown.clone()));
        }
        for purger in self.purgers {
            tasks.spawn(purger.run(shutdown.clone()));
        }
        Running { tasks }
    }
}

/// Started workers.
#[derive(Debug)]
pub struct Running {
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    /// Waits until every worker has stopped (after the shutdown token is cancelled).
    pub async fn join(mut self) {
        while let Some(result) = self.tasks.join_next().await {
            if let Err(error) = result {
                tracing::error!(%error, "an event worker panicked");
            }
        }
    }
}

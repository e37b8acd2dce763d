//! The background tasks of one service (its relay, consumers, event-table purger and any other
//! task of its own), started and stopped together.

use std::future::Future;
use std::pin::Pin;

use platform::CancellationToken;
use platform::config::ServiceConfig;
use platform::db::DatabaseProbe;
use platform::http::Readiness;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

use crate::bus::Bus;
use crate::consumer::Consumer;
use crate::health::BrokerWatch;
use crate::relay::Relay;
use crate::retention::Purger;

/// A connected service: its handler state, its probes, and its workers, not yet started, so that
/// the caller decides when: `run`, the standalone composition, or a test that takes the relay and
/// consumer out to step them by hand.
#[derive(Debug)]
pub struct Connected<S> {
    /// Handler state.
    pub state: S,
    /// Readiness probes.
    pub readiness: platform::http::Readiness,
    /// The relay, consumers, purger and the service's own background tasks.
    pub workers: Workers,
}

impl<S> Connected<S> {
    /// The parts, put together.
    pub fn new(state: S, readiness: platform::http::Readiness, workers: Workers) -> Self {
        Self {
            state,
            readiness,
            workers,
        }
    }

    /// Serves `routes(state)` and the probes on `addr` with the service's `codes`, beside the
    /// workers, until `shutdown` is cancelled: a service's `run` once connected.
    pub async fn serve(
        self,
        routes: impl FnOnce(S) -> axum::Router,
        codes: platform::http::ServiceCodes,
        addr: std::net::SocketAddr,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let app = routes(self.state).merge(platform::http::ops_routes(self.readiness));
        let server = platform::shutdown::run_http(codes, addr, app, shutdown.clone());
        self.workers.run_beside(server, shutdown).await
    }
}

/// A domain service's `run`, the same in each: on Kafka when configured, otherwise on an
/// in-process bus of its own, `connect` builds the service, which then serves `routes` with its
/// `codes` on its address until `shutdown` is cancelled.
pub async fn run_service<S>(
    service: &ServiceConfig,
    connect: impl AsyncFnOnce(&Bus) -> anyhow::Result<Connected<S>>,
    routes: impl FnOnce(S) -> axum::Router,
    codes: platform::http::ServiceCodes,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let bus = Bus::from_config(service.kafka.as_ref(), &Bus::in_process());
    let connected = connect(&bus).await?;
    let addr = service.http.addr();
    Ok(connected.serve(routes, codes, addr, shutdown).await?)
}

/// The start of every domain service's `connect`: its database, migrated by `M`, and a readiness
/// that requires the database and reports the broker when there is one (a service whose broker is
/// away still answers what it can, and its outbox keeps the events until the broker is back).
pub async fn open_database<M: MigratorTrait>(
    service: &ServiceConfig,
) -> anyhow::Result<(DatabaseConnection, Readiness)> {
    let db = platform::db::connect(&service.database).await?;
    platform::db::migrate::<M>(&db).await?;
    let mut readiness = Readiness::new().with(DatabaseProbe(db.clone()));
    if let Some(kafka) = &service.kafka {
        readiness = readiness.with_reported(BrokerWatch::start(kafka)?);
    }
    Ok((db, readiness))
}

/// A background task of a service's own, started with the shutdown token.
type Task = Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A service's relay, consumers and other background tasks, built in `connect` and started by
/// `run` (or by the standalone composition).
#[derive(Default)]
pub struct Workers {
    relays: Vec<Relay>,
    consumers: Vec<Consumer>,
    purgers: Vec<Purger>,
    tasks: Vec<(&'static str, Task)>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("relays", &self.relays)
            .field("consumers", &self.consumers)
            .field("purgers", &self.purgers)
            .field(
                "tasks",
                &self.tasks.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
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

    /// Adds a task of the service's own (an index backfill, a sweeper): `task` is called with the
    /// shutdown token when the workers start, and its future should end soon after the token is
    /// cancelled.
    #[must_use]
    pub fn with_task<F, Fut>(mut self, name: &'static str, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks
            .push((name, Box::new(move |shutdown| Box::pin(task(shutdown)))));
        self
    }

    /// Takes the first relay out, for a test that steps it by hand instead of running it.
    pub fn take_relay(&mut self) -> Option<Relay> {
        (!self.relays.is_empty()).then(|| self.relays.remove(0))
    }

    /// Takes the first consumer out, for a test that steps it by hand instead of running it.
    pub fn take_consumer(&mut self) -> Option<Consumer> {
        (!self.consumers.is_empty()).then(|| self.consumers.remove(0))
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
        for (name, task) in self.tasks {
            let future = task(shutdown.clone());
            tasks.spawn(async move {
                future.await;
                tracing::debug!(task = name, "background task ended");
            });
        }
        Running { tasks }
    }
}

impl Workers {
    /// Runs `server` with these workers beside it: starts them, waits for the server to end, then
    /// stops them (a server that failed to start must stop them too) and waits until they have.
    pub async fn run_beside<E>(
        self,
        server: impl Future<Output = Result<(), E>>,
        shutdown: CancellationToken,
    ) -> Result<(), E> {
        let running = self.spawn(&shutdown);
        let served = server.await;
        shutdown.cancel();
        running.join().await;
        served
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
                tracing::error!(%error, "a background worker panicked");
            }
        }
    }
}

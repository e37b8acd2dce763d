//! The event backbone shared by the services: the envelope and typed events, the
//! transactional outbox and its relay, idempotent consumers with retries and dead letters, over
//! Kafka or the in-process bus of standalone mode. See docs/events.md.
//!
//! Wiring in a service:
//! ```text
//! // connect(): migrations include events::migration::migrations()
//! let relay = bus.relay(db.clone(), &["gallery"]).await?;      // producer side
//! let outbox = relay.outbox();                                   // keep in AppState
//! let consumer = bus.consumer(db.clone(), ConsumerOptions::new("gallery", &["member"]),
//!                             Arc::new(MyHandler { outbox: outbox.clone() })).await?;
//! let workers = Workers::new().with_relay(relay).with_consumer(consumer);
//! // run(): let running = workers.spawn(&shutdown); … serve …; running.join().await;
//! // handler: let txn = db.begin().await?; …; outbox.enqueue(&txn, &event).await?;
//! //          txn.commit().await?; outbox.wake();
//! ```

pub mod bus;
pub mod consumer;
pub mod context;
pub mod dlq;
pub mod envelope;
pub mod handler;
pub mod health;
pub mod kafka;
mod lag;
pub mod migration;
pub mod nicknames;
pub mod outbox;
pub mod relay;
pub mod retention;
pub mod status;
pub mod typed;
pub mod workers;

pub use bus::{Bus, BusError, InProcessBus};
pub use consumer::{Consumer, ConsumerError, ConsumerOptions, RetryPolicy};
pub use context::TraceContext;
pub use envelope::{DecodeError, Envelope, Event};
pub use handler::{Handler, HandlerError};
pub use health::BrokerWatch;
pub use outbox::{Change, Outbox, OutboxError};
pub use relay::{Backlog, Relay, RelayError, RelayOptions};
pub use retention::{Purged, Purger};
pub use typed::{AnyEvent, GALLERY_TOPIC, GalleryEvent, MEMBER_TOPIC, MemberEvent};
pub use workers::{Connected, Running, Workers, open_database, run_service};

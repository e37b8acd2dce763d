//! The event backbone shared by the services: the outbox and inbox tables, and Kafka plumbing.
//!
//! The envelope, outbox writer, relay and consumer runner arrive with the event-backbone issue;
//! this crate already owns the tables (so every service migrates them) and the Kafka connection.

pub mod kafka;
pub mod migration;

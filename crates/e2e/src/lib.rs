//! End-to-end journeys of The Gallery, driven only through the gateway's HTTP API, and the
//! harnesses that start the system under test: one standalone process, or the four distributed
//! processes against the local MariaDB, Redis and Kafka; or a system running elsewhere (a
//! Kubernetes cluster), reached through its ingress.
//!
//! The binary under test is passed in by the caller (`env!("CARGO_BIN_EXE_thegallery")` in the
//! `thegallery` crate's tests), so the journeys always run the freshly built binary.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test support fails loudly and prints the processes' logs of a failed journey"
)]

mod client;
pub mod journeys;
mod system;
pub mod youtube;

pub use client::{Answer, Visitor, failed_requests, requests_sent};
pub use system::{Mode, Service, System, free_ports};

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

/// The journeys every mode must pass, one `#[tokio::test]` each, against the system that
/// `$start` (an async fn taking the binary's path and returning a [`System`]) brings up. The
/// standalone and distributed test files expand this with their own `System` constructor, so the
/// two modes cannot drift apart in what they prove.
#[macro_export]
macro_rules! journey_tests {
    ($start:path) => {
        async fn system() -> $crate::System {
            $start(env!("CARGO_BIN_EXE_thegallery").as_ref()).await
        }

        #[tokio::test]
        async fn a_member_signs_up_signs_in_reads_the_profile_and_changes_the_nickname() {
            let system = system().await;
            $crate::journeys::sign_up_sign_in_and_change_nickname(&system).await;
            system.stop().await;
        }

        #[tokio::test]
        async fn a_members_exhibition_lives_and_dies_with_the_member() {
            let mut system = system().await;
            $crate::journeys::a_members_whole_life(&mut system, &[]).await;
            system.stop().await;
        }

        #[tokio::test]
        async fn a_withdrawn_members_token_is_refused() {
            let system = system().await;
            $crate::journeys::a_withdrawn_members_token_is_refused(&system).await;
            system.stop().await;
        }

        #[tokio::test]
        async fn logout_clears_the_cookie_and_ends_the_session() {
            let system = system().await;
            $crate::journeys::logout_ends_the_session(&system).await;
            system.stop().await;
        }
    };
}

//! Distributed only: processes and the Kafka broker are killed with SIGKILL and restarted in the
//! middle of the journeys; the journeys still complete, nothing is lost or applied twice.
//!
//! This file holds one test on purpose: it kills the shared broker, and cargo runs test binaries
//! one after another, so no other test talks to Kafka meanwhile.

use e2e::{Service, System, journeys};

#[tokio::test]
async fn the_journeys_complete_when_every_process_and_the_broker_crash_and_restart() {
    let mut system = System::distributed(env!("CARGO_BIN_EXE_thegallery").as_ref()).await;
    journeys::a_members_whole_life(
        &mut system,
        &[
            &[Service::Post, Service::Kafka],
            &[Service::Gateway, Service::Member],
            &[Service::Gallery, Service::Post],
        ],
    )
    .await;
    system.stop().await;
}

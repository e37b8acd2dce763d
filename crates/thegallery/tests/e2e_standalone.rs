//! The journeys of a member's life through the gateway of one standalone process.

use e2e::{System, journeys};

async fn system() -> System {
    System::standalone(env!("CARGO_BIN_EXE_thegallery").as_ref()).await
}

#[tokio::test]
async fn a_member_signs_up_signs_in_reads_the_profile_and_changes_the_nickname() {
    let system = system().await;
    journeys::sign_up_sign_in_and_change_nickname(&system).await;
    system.stop().await;
}

#[tokio::test]
async fn a_members_exhibition_lives_and_dies_with_the_member() {
    let mut system = system().await;
    journeys::a_members_whole_life(&mut system, &[]).await;
    system.stop().await;
}

#[tokio::test]
async fn a_withdrawn_members_token_is_refused() {
    let system = system().await;
    journeys::a_withdrawn_members_token_is_refused(&system).await;
    system.stop().await;
}

#[tokio::test]
async fn logout_clears_the_cookie_and_ends_the_session() {
    let system = system().await;
    journeys::logout_ends_the_session(&system).await;
    system.stop().await;
}

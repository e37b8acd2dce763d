//! The journeys of a member's life through the gateway of one standalone process.

e2e::journey_tests!(e2e::System::standalone);

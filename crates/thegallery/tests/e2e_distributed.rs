//! The journeys of a member's life through the gateway of the distributed system: four processes with MariaDB, Redis and Kafka.

e2e::journey_tests!(e2e::System::distributed);

//! The shared foundation of every thegallery process: configuration, telemetry, HTTP conventions,
//! health, database, Redis, object storage and graceful shutdown.

pub mod auth;
pub mod config;
pub mod db;
pub mod http;
pub mod id;
pub mod redis_client;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
pub mod time;

pub use secrecy::{ExposeSecret, SecretString};
pub use tokio_util::sync::CancellationToken;

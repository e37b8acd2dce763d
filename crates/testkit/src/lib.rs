//! Test support: reads the settings that `scripts/dev-services up` wrote, and hands out throwaway
//! MariaDB databases and unique Kafka topic names so tests never share state.
//!
//! Tests that need a server fail (never skip) when the settings are missing: CI always starts the
//! servers through `scripts/test`.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a missing server must stop the test loudly"
)]

mod answer;
mod switch;

pub use answer::{Answer, error_body};
pub use switch::Switch;

use http::{Method, Request, header};

use std::collections::HashMap;
use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};

/// Where `scripts/dev-services` writes the connection settings.
pub fn env_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dev-services.env")
}

/// The settings of the local servers as `KEY=value` pairs.
pub fn dev_env() -> HashMap<String, String> {
    let path = env_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); start the servers with `scripts/dev-services up`",
            path.display()
        )
    });
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// One setting of the local servers.
pub fn dev(key: &str) -> String {
    dev_env()
        .remove(key)
        .unwrap_or_else(|| panic!("{key} is missing from {}", env_file().display()))
}

/// A short unique suffix for names of databases, topics and keys.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A fresh, empty MariaDB database for one test; dropped by [`MySqlDatabase::drop_now`] or left
/// behind for inspection when a test fails (names start with `test_`).
#[derive(Debug)]
pub struct MySqlDatabase {
    /// The database's name.
    pub name: String,
    /// Environment pairs pointing a service at it (`MYSQL_*`, `KAFKA_SERVER`, `REDIS_*`).
    pub env: HashMap<String, String>,
}

fn admin_url() -> String {
    format!(
        "mysql://{}:{}@{}",
        dev("MYSQL_USER"),
        dev("MYSQL_PASSWORD"),
        dev("MYSQL_SERVER")
    )
}

impl MySqlDatabase {
    /// Creates `test_<unique>` on the local MariaDB.
    pub async fn create() -> Self {
        let name = format!("test_{}", unique());
        let admin = Database::connect(admin_url())
            .await
            .expect("connect to MariaDB (scripts/dev-services up)");
        admin
            .execute_unprepared(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .await
            .expect("create test database");
        let mut env = dev_env();
        env.insert("MYSQL_DATABASE".into(), name.clone());
        Self { name, env }
    }

    /// A `mysql://` URL for the database.
    pub fn url(&self) -> String {
        format!("{}/{}", admin_url(), self.name)
    }

    /// Drops the database.
    pub async fn drop_now(self) {
        let admin = Database::connect(admin_url())
            .await
            .expect("connect to MariaDB");
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .await
            .expect("drop test database");
    }
}

/// A topic name no other test uses.
pub fn unique_topic(prefix: &str) -> String {
    format!("test.{prefix}.{}", unique())
}

/// The shared Kafka broker of `scripts/dev-services`, stopped with SIGKILL (a crash) for as long as
/// this value lives. [`KafkaOutage::end`] starts it again and waits until it answers; dropping it
/// does the same, even when the test failed meanwhile, but blocks the thread it runs on.
#[derive(Debug)]
pub struct KafkaOutage {
    script: String,
}

impl KafkaOutage {
    /// Kills the broker.
    pub fn begin() -> Self {
        let script = dev("DEV_SERVICES_SCRIPT");
        let status = std::process::Command::new(&script)
            .args(["kill", "kafka"])
            .status()
            .expect("scripts/dev-services runs");
        assert!(status.success(), "dev-services kill kafka failed");
        Self { script }
    }

    /// Starts the broker again on a blocking thread: the restart takes seconds (tens of them on a
    /// loaded machine), and meanwhile the test's runtime must go on serving its connections — a
    /// client whose runtime was blocked misses that an idle keep-alive connection was closed and
    /// sends its next request on it.
    pub async fn end(self) {
        tokio::task::spawn_blocking(move || drop(self))
            .await
            .expect("restarting the broker panicked");
    }
}

impl Drop for KafkaOutage {
    fn drop(&mut self) {
        let status = std::process::Command::new(&self.script)
            .args(["up", "kafka"])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "dev-services up kafka failed; run it by hand"
        );
    }
}

/// How long [`eventually`] waits: events cross processes and a dependency that came back is
/// reconnected to in the background, both slower on a loaded machine.
pub const EVENTUALLY: std::time::Duration = std::time::Duration::from_secs(60);

/// Polls `check` until it returns `Some`, for at most [`EVENTUALLY`]; for what no event can be
/// awaited for (another process's state, a reconnection). `what` names it in the failure.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A request as a browser sends it: `token`, when signed in, in the `gallery_cookie`, and `body`
/// with its content type.
pub fn request<B: Default>(
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<(&str, B)>,
) -> Request<B> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::COOKIE, format!("gallery_cookie={token}"));
    }
    let body = match body {
        Some((content_type, body)) => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            body
        }
        None => B::default(),
    };
    builder
        .body(body)
        .expect("a request of a valid method, URI and headers")
}

/// Asserts that an OpenAPI document's shared `Id` schema is what every id of the contract is: a
/// 64-bit integer from 1 up.
#[track_caller]
pub fn assert_id_schema(doc: &serde_json::Value) {
    let id = &doc["components"]["schemas"]["Id"];
    let range = ["type", "format", "minimum", "maximum"].map(|field| id[field].clone());
    let expected: [serde_json::Value; 4] =
        ["integer".into(), "int64".into(), 1.into(), i64::MAX.into()];
    assert_eq!(range, expected, "the Id schema");
}

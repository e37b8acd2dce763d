//! `thegallery events status` on a standalone data directory: a seeded backlog, lag and dead
//! letter show up where an operator looks for them, as tables and as JSON.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use chrono::Utc;
use platform::config::DatabaseConfig;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use sea_orm_migration::MigratorTrait;

async fn open<M: MigratorTrait>(dir: &Path, service: &str) -> DatabaseConnection {
    let config = DatabaseConfig::sqlite(dir.join(format!("{service}.db")));
    let db = platform::db::connect(&config).await.unwrap();
    platform::db::migrate::<M>(&db).await.unwrap();
    db
}

async fn execute(db: &DatabaseConnection, sql: &str, values: Vec<Value>) {
    let statement = Statement::from_sql_and_values(db.get_database_backend(), sql, values);
    db.execute_raw(statement).await.unwrap();
}

/// member.db: three published `member` events and two unpublished; gallery has applied the first;
/// post has applied nothing and dead-lettered one `gallery` event.
async fn seeded(dir: &Path) {
    let member = open::<member::migration::Migrator>(dir, "member").await;
    let gallery = open::<gallery::migration::Migrator>(dir, "gallery").await;
    let post = open::<post::migration::Migrator>(dir, "post").await;
    let now = Utc::now().naive_utc();
    for i in 0..5 {
        let published: Value = if i < 3 {
            Some(now).into()
        } else {
            None::<chrono::NaiveDateTime>.into()
        };
        execute(
            &member,
            "INSERT INTO outbox (event_id, topic, aggregate_id, event_type, payload, headers, \
             created_at, published_at) VALUES (?, 'member', 'm1', 'member.withdrawn', '{}', NULL, ?, ?)",
            vec![uuid::Uuid::new_v4().to_string().into(), now.into(), published],
        )
        .await;
    }
    execute(
        &gallery,
        "INSERT INTO event_cursor (consumer, topic, position) VALUES ('gallery', 'member', 1)",
        Vec::new(),
    )
    .await;
    execute(
        &post,
        "INSERT INTO dead_letter (consumer, topic, event_id, aggregate_id, body, headers, error, \
         attempts, created_at) VALUES ('post', 'gallery', NULL, NULL, '{}', NULL, 'boom', 5, ?)",
        vec![now.into()],
    )
    .await;
}

fn env(dir: &Path) -> HashMap<String, String> {
    HashMap::from([("DATA_DIR".to_owned(), dir.display().to_string())])
}

fn group<'a>(
    status: &'a events::status::Status,
    group: &str,
    topic: &str,
) -> &'a events::status::GroupStatus {
    status
        .groups
        .iter()
        .find(|g| g.group == group && g.topic == topic)
        .unwrap_or_else(|| panic!("no row for {group} on {topic}"))
}

#[tokio::test]
async fn the_status_counts_the_backlog_lag_and_dead_letters_of_a_standalone_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path()).await;

    let status = thegallery::status::read(&env(dir.path())).await.unwrap();

    let member = status.topics.iter().find(|t| t.topic == "member").unwrap();
    assert_eq!(member.backlog, Some(2));
    assert!(member.oldest_unpublished_seconds.is_some());
    assert_eq!(group(&status, "gallery", "member").lag, 2);
    assert_eq!(group(&status, "post", "member").lag, 3);
    let dead = group(&status, "post", "gallery");
    assert_eq!(
        (dead.dead_letters, dead.last_error.as_deref()),
        (1, Some("boom"))
    );
}

#[tokio::test]
async fn the_command_prints_the_status_as_tables_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path()).await;
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_thegallery"))
            .args(args)
            .env_clear()
            .envs(env(dir.path()))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };

    let table = run(&["events", "status"]);
    let json: serde_json::Value =
        serde_json::from_str(&run(&["events", "status", "--json"])).unwrap();

    assert!(
        table.contains("DEAD LETTERS") && table.contains("boom"),
        "{table}"
    );
    assert_eq!(json["bus"], "in-process");
    assert_eq!(json["topics"][0]["topic"], "member");
    assert_eq!(json["topics"][0]["backlog"], 2);
}

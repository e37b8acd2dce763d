//! The migration set applies to an empty database on both backends, is idempotent, and the
//! tables it creates store and return rows.

#![expect(
    clippy::unwrap_used,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use platform::config::{DatabaseConfig, Vars};
use platform::db::{connect, migrate};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(events::migration::CreateOutboxAndInbox)]
    }
}

async fn schema(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => "SELECT name || ':' || sql AS d FROM sqlite_master \
                              WHERE sql IS NOT NULL ORDER BY name"
            .to_owned(),
        _ => "SELECT CONCAT(table_name, '.', column_name, ':', column_type) AS d \
              FROM information_schema.columns WHERE table_schema = DATABASE() \
              ORDER BY table_name, ordinal_position"
            .to_owned(),
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "d").unwrap())
        .collect()
}

async fn applied_migrations(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn migrations_are_idempotent_and_rows_round_trip(db: &DatabaseConnection) {
    migrate::<Migrator>(db).await.unwrap();
    let first = schema(db).await;
    assert!(first.iter().any(|d| d.starts_with("outbox")), "{first:?}");
    assert!(first.iter().any(|d| d.starts_with("inbox")), "{first:?}");
    let count = applied_migrations(db).await;

    migrate::<Migrator>(db).await.unwrap();
    assert_eq!(schema(db).await, first, "second run changed the schema");
    assert_eq!(applied_migrations(db).await, count);

    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO outbox (event_id, topic, aggregate_id, event_type, payload, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        [
            "0190d6c6-0000-7000-8000-000000000001".into(),
            "member".into(),
            "42".into(),
            "member.registered".into(),
            r#"{"nickname":"갤러리🎨"}"#.into(),
            chrono::Utc::now().naive_utc().into(),
        ],
    ))
    .await
    .unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT payload, published_at FROM outbox WHERE aggregate_id = '42'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<String>("", "payload").unwrap(),
        r#"{"nickname":"갤러리🎨"}"#
    );
    assert!(
        row.try_get::<Option<chrono::NaiveDateTime>>("", "published_at")
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn on_mariadb_migrations_apply_once_and_a_row_round_trips() {
    let database = testkit::MySqlDatabase::create().await;
    let mut vars = Vars::new(&database.env);
    let config = DatabaseConfig::read(&mut vars, "unused").unwrap();
    let db = connect(&config).await.unwrap();
    migrations_are_idempotent_and_rows_round_trip(&db).await;
    db.close().await.unwrap();
    database.drop_now().await;
}

#[tokio::test]
async fn on_sqlite_migrations_apply_once_and_a_row_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let config = DatabaseConfig::sqlite(dir.path().join("nested/dir/events.db"));
    let db = connect(&config).await.unwrap();
    migrations_are_idempotent_and_rows_round_trip(&db).await;
}

#[tokio::test]
async fn a_wrong_mariadb_password_names_the_target_but_not_the_password() {
    let mut env = testkit::dev_env();
    env.insert("MYSQL_PASSWORD".into(), "definitely-wrong-pw".into());
    let mut vars = Vars::new(&env);
    let config = DatabaseConfig::read(&mut vars, "member").unwrap();
    let error = connect(&config).await.unwrap_err();
    let chain = platform::http::ErrorChain(&error).to_string();
    assert!(chain.contains("thegallery@127.0.0.1:"), "{chain}");
    assert!(!chain.contains("definitely-wrong-pw"), "{chain}");
}

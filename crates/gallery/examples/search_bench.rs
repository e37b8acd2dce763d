//! Gallery search (G8) and gallery read (G5) latency (labels of docs/api.md) on MariaDB with 1,000,000 galleries of
//! 100,000 members (`BENCH_GALLERIES` to change), measured through the router (handler, query,
//! JSON), each G8 case with the substring index and with the plain `LIKE`; then the index's size,
//! the time its backfill took, and what it adds to a gallery create (G2). Run by
//! `bench/gallery/run.sh`.

#![expect(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark prints its figures and stops at the first unexpected error"
)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gallery::Config;
use platform::config::{DatabaseConfig, Environment, ServiceConfig};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tower::ServiceExt;

/// Galleries per member.
const PER_MEMBER: i64 = 10;
/// Requests per G8 case with the index, and for G5.
const ROUNDS: usize = 400;
/// Requests per G8 case with the plain `LIKE`, which can read every row.
const LIKE_ROUNDS: usize = 40;
/// Galleries per backfill batch.
const BACKFILL_BATCH: u64 = 5_000;

/// The query string of the i-th request of a case.
type QueryFor = Box<dyn Fn(usize) -> String>;

const WORDS: [&str; 20] = [
    "봄", "여름", "가을", "겨울", "바다", "하늘", "숲", "도시", "밤", "새벽", "Blue", "Red",
    "Green", "Light", "Dream", "기억", "여행", "풍경", "초상", "정물",
];

#[tokio::main]
async fn main() {
    let galleries: i64 = platform::config::ProcessEnv
        .get("BENCH_GALLERIES")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let members = galleries / PER_MEMBER;
    // A database kept by an earlier run (`BENCH_KEEP_DATABASE`) with the same `BENCH_GALLERIES`
    // skips the seeding and the backfill, and is kept again.
    let reused = platform::config::ProcessEnv.get("BENCH_DATABASE");
    let database = match &reused {
        Some(name) => testkit::MySqlDatabase {
            name: name.clone(),
            env: testkit::dev_env(),
        },
        None => testkit::MySqlDatabase::create().await,
    };
    let key = platform::auth::SigningKey::generate().unwrap();
    let database_config = DatabaseConfig::from_url(&database.url()).unwrap();
    // The embedded session store on the bench's database: the writes below sign in members.
    let sessions =
        platform::auth::DbSessions::open(platform::db::connect(&database_config).await.unwrap())
            .await
            .unwrap();
    let config = Config {
        service: ServiceConfig::local(database_config),
        presentation: platform::config::Presentation::default(),
        keys: key.verifying_keys(),
        sessions: platform::auth::SessionSource::Shared(std::sync::Arc::new(sessions)),
    };
    let connected = gallery::connect(&config, &events::Bus::in_process())
        .await
        .unwrap();
    let db = connected.state.db.clone();
    if reused.is_none() {
        let started = Instant::now();
        seed(&db, members, galleries).await;
        println!(
            "seeded {galleries} galleries of {members} members in {:.1?}",
            started.elapsed()
        );
        let started = Instant::now();
        backfill(&db, &connected.state.search_index).await;
        println!("backfilled the search index in {:.1?}", started.elapsed());
    } else {
        println!(
            "reused database {}, seeded by an earlier run",
            database.name
        );
    }
    db.execute_unprepared("ANALYZE TABLE gallery, gallery_gram, member_nickname")
        .await
        .unwrap();
    sizes(&db).await;
    warm(&db).await;
    let mut like_state = connected.state.clone();
    like_state.search_index = gallery::search_index::SearchIndex::like_only();
    let indexed = gallery::router(connected.state.clone());
    let like = gallery::router(like_state);

    println!("| request | index p50 | index p99 | LIKE p50 | LIKE p99 | results |");
    println!("|---|---|---|---|---|---|");
    for (label, query) in cases(members) {
        let paths = |rounds: usize| -> Vec<String> {
            (0..rounds)
                .map(|i| format!("/api/gallery/search?{}", query(i)))
                .collect()
        };
        let (with_index, results) = measure(&indexed, &paths(ROUNDS)).await;
        let (with_like, like_results) = measure(&like, &paths(LIKE_ROUNDS)).await;
        assert_eq!(
            results, like_results,
            "{label}: the index and LIKE disagree"
        );
        println!(
            "| {label} | {} | {} | {} | {} | {results} |",
            ms(percentile(&with_index, 0.50)),
            ms(percentile(&with_index, 0.99)),
            ms(percentile(&with_like, 0.50)),
            ms(percentile(&with_like, 0.99)),
        );
    }
    let paths: Vec<String> = (0..ROUNDS * 5)
        .map(|i| format!("/api/gallery/{}", (i as i64 * 7919) % galleries + 1))
        .collect();
    let (times, _) = measure(&indexed, &paths).await;
    println!(
        "| G5 get by id | {} | {} | | | 1 |",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.99))
    );
    write_cost(&indexed, &connected.state, &key).await;
    if reused.is_some()
        || platform::config::ProcessEnv
            .get("BENCH_KEEP_DATABASE")
            .is_some()
    {
        println!("kept database {}", database.name);
    } else {
        database.drop_now().await;
    }
}

fn cases(members: i64) -> Vec<(&'static str, QueryFor)> {
    let nick = move |i: usize| enc(&format!("작가{}", (i as i64 * 31) % members + 1));
    vec![
        (
            "G8 all, nickname of a member",
            Box::new(move |i| format!("type=all&query={}", nick(i))),
        ),
        (
            "G8 all, common word (`봄`)",
            Box::new(|_| format!("type=all&query={}", enc("봄"))),
        ),
        (
            "G8 title, common word (`봄`)",
            Box::new(|_| format!("type=title&query={}", enc("봄"))),
        ),
        (
            "G8 title, two common words (`봄 여름`)",
            Box::new(|_| format!("type=title&query={}", enc("봄 여름"))),
        ),
        (
            "G8 title, rare text (`7777`)",
            Box::new(|_| "type=title&query=7777".to_owned()),
        ),
        (
            "G8 title, rare text, page 2 of 20 (`7777`)",
            Box::new(|_| "type=title&query=7777&page=1&size=20".to_owned()),
        ),
        (
            "G8 title, no match (`없음`)",
            Box::new(|_| format!("type=title&query={}", enc("없음"))),
        ),
        (
            "G8 title, three words (`여름 Blue 1`)",
            Box::new(|_| format!("type=title&query={}", enc("여름 Blue 1"))),
        ),
        (
            "G8 title, empty (every gallery)",
            Box::new(|_| "type=title&query=".to_owned()),
        ),
        (
            "G8 author, exact nickname",
            Box::new(move |i| format!("type=author&query={}", nick(i))),
        ),
        (
            "G8 author, unknown nickname",
            Box::new(|_| format!("type=author&query={}", enc("아무도"))),
        ),
    ]
}

/// Runs the index backfill to its end, as the service does after the migration.
async fn backfill(db: &DatabaseConnection, index: &gallery::search_index::SearchIndex) {
    use gallery::search_index::{IndexBuilder, Progress};
    let builder = IndexBuilder::new(db.clone(), index.clone(), BACKFILL_BATCH);
    let mut batches = Vec::new();
    loop {
        let started = Instant::now();
        let progress = builder.step().await.unwrap();
        batches.push(started.elapsed());
        if progress == Progress::Complete {
            break;
        }
    }
    batches.sort();
    println!(
        "backfill: {} batches of {BACKFILL_BATCH} galleries, p50 {}, p99 {}, max {}",
        batches.len(),
        ms(percentile(&batches, 0.50)),
        ms(percentile(&batches, 0.99)),
        ms(*batches.last().unwrap())
    );
}

/// Reads every index of the tables the cases use once, so that the first requests measured do
/// not pay for pages the seeding, a backfill or an earlier run left on disk only: a server sized
/// for these tables keeps them in its buffer pool, and a cold page read is what made the first
/// case's p99 ten times that of its neighbours.
async fn warm(db: &DatabaseConnection) {
    let started = Instant::now();
    let indexes = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::MySql,
            "SELECT DISTINCT table_name, index_name FROM information_schema.statistics \
             WHERE table_schema = DATABASE() \
             AND table_name IN ('gallery', 'gallery_gram', 'member_nickname')",
        ))
        .await
        .unwrap();
    for row in &indexes {
        let table: String = row.try_get_by_index(0).unwrap();
        let index: String = row.try_get_by_index(1).unwrap();
        // The clustered index's leaves are the rows: scanning it reads them all.
        db.execute_unprepared(&format!(
            "SELECT COUNT(*) FROM {table} FORCE INDEX (`{index}`)"
        ))
        .await
        .unwrap();
    }
    println!(
        "read {} indexes into the buffer pool in {:.1?}",
        indexes.len(),
        started.elapsed()
    );
}

/// Rows and on-disk size (data + indexes, InnoDB pages) of each table.
async fn sizes(db: &DatabaseConnection) {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::MySql,
            "SELECT table_name, table_rows, data_length, index_length FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name IN ('gallery', 'gallery_gram') \
             ORDER BY table_name",
        ))
        .await
        .unwrap();
    for row in rows {
        let name: String = row.try_get_by_index(0).unwrap();
        let count: u64 = row.try_get_by_index(1).unwrap();
        let data: u64 = row.try_get_by_index(2).unwrap();
        let index: u64 = row.try_get_by_index(3).unwrap();
        println!(
            "table {name}: about {count} rows, data {:.1} MiB, indexes {:.1} MiB",
            data as f64 / 1048576.0,
            index as f64 / 1048576.0
        );
    }
}

/// G2 creates through the router (index kept in the same transaction), and the index's share
/// timed alone: the gram rows of the same kind of title inserted in a transaction.
async fn write_cost(app: &Router, state: &gallery::AppState, key: &platform::auth::SigningKey) {
    let db = &state.db;
    // New members on every run, so a reused database never refuses a name as taken.
    let first: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::MySql,
            "SELECT COALESCE(MAX(gallery_id), 0) FROM gallery",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let mut creates = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let member = 900_000_000 + first + i as i64;
        let now = chrono::Utc::now().timestamp();
        let session = platform::auth::Session::start(
            member,
            platform::auth::Role::User,
            std::time::Duration::from_secs(3600),
        );
        state.sessions.create(&session).await.unwrap();
        let token = key
            .sign(&platform::auth::Claims::new(
                member,
                platform::auth::Role::User,
                &session.sid,
                now,
            ))
            .unwrap();
        let name = title(5_000_000 + i as i64);
        let body = serde_json::json!({"placeId": 1, "name": name, "content": "소개"});
        let request = Request::post("/api/gallery")
            .header("cookie", format!("gallery_cookie={token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let started = Instant::now();
        let response = app.clone().oneshot(request).await.unwrap();
        creates.push(started.elapsed());
        assert_eq!(response.status(), StatusCode::OK);
    }
    let mut grams = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let id = 2_000_000_000 + i as i64;
        let txn = platform::db::begin_write(db).await.unwrap();
        let started = Instant::now();
        gallery::search_index::add(&txn, id, &title(6_000_000 + i as i64))
            .await
            .unwrap();
        grams.push(started.elapsed());
        txn.rollback().await.unwrap();
    }
    creates.sort();
    grams.sort();
    println!(
        "G2 create with the index: p50 {}, p99 {}; the index rows alone: p50 {}, p99 {}",
        ms(percentile(&creates, 0.50)),
        ms(percentile(&creates, 0.99)),
        ms(percentile(&grams, 0.50)),
        ms(percentile(&grams, 0.99))
    );
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn seed(db: &DatabaseConnection, members: i64, galleries: i64) {
    for chunk in (1..=members).collect::<Vec<_>>().chunks(10_000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|member| format!("({member}, '작가{member}')"))
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO member_nickname (member_id, nickname) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    }
    // The index is built afterwards by the backfill, as for galleries older than the index.
    db.execute_unprepared("UPDATE gallery_search_index SET done = 0, next_gallery_id = 0")
        .await
        .unwrap();
    for chunk in (1..=galleries).collect::<Vec<_>>().chunks(2_000) {
        let rows: Vec<String> = chunk.iter().map(|&i| gallery_row(i, members)).collect();
        db.execute_unprepared(&format!(
            "INSERT INTO gallery (member_id, place_id, name, content, created_date, modified_date) \
             VALUES {}",
            rows.join(",")
        ))
        .await
        .unwrap();
    }
}

fn title(i: i64) -> String {
    let word = |n: i64| WORDS[(n % WORDS.len() as i64) as usize];
    format!("{} {} {i}", word(i * 7), word(i / 3))
}

fn gallery_row(i: i64, members: i64) -> String {
    let member = (i - 1) % members + 1;
    let name = title(i);
    let seconds = i * 60;
    format!(
        "({member}, {place}, '{name}', '갤러리 {i}의 소개', \
         TIMESTAMPADD(SECOND, {seconds}, '2026-01-01'), TIMESTAMPADD(SECOND, {seconds}, '2026-01-01'))",
        place = i % 3 + 1
    )
}

/// Sorted latencies of `paths` requested one at a time, and the result count of the last.
async fn measure(app: &Router, paths: &[String]) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(paths.len());
    let mut results = 0;
    for path in paths {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let started = Instant::now();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        times.push(started.elapsed());
        assert_eq!(status, StatusCode::OK, "{path}");
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        results = body["data"].as_array().map_or(1, Vec::len);
    }
    times.sort();
    (times, results)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

//! Gallery search (G8) and gallery read (G5) latency on MariaDB with 100,000 galleries of 10,000
//! members, measured through the router (handler, query, JSON). Run by `bench/gallery/run.sh`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gallery::Config;
use platform::config::{DatabaseConfig, HttpConfig};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tower::ServiceExt;

const MEMBERS: i64 = 10_000;
const GALLERIES: i64 = 100_000;
const ROUNDS: usize = 400;

/// The query string of the i-th request of a case.
type QueryFor = Box<dyn Fn(usize) -> String>;

const WORDS: [&str; 20] = [
    "봄", "여름", "가을", "겨울", "바다", "하늘", "숲", "도시", "밤", "새벽", "Blue", "Red",
    "Green", "Light", "Dream", "기억", "여행", "풍경", "초상", "정물",
];

#[tokio::main]
async fn main() {
    let database = testkit::MySqlDatabase::create().await;
    let key = platform::auth::SigningKey::generate().unwrap();
    let config = Config {
        http: HttpConfig {
            bind_addr: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port: 0,
        },
        database: DatabaseConfig::from_url(&database.url()).unwrap(),
        kafka: None,
        retention: platform::config::RetentionConfig::default(),
        public_base_url: gallery::PublicBaseUrl::default(),
        timezone: gallery::config::DEFAULT_TIMEZONE,
        keys: key.verifying_keys(),
    };
    let connected = gallery::connect(&config, &events::Bus::in_process())
        .await
        .unwrap();
    let db = connected.state.db.clone();
    let started = Instant::now();
    seed(&db).await;
    println!(
        "seeded {GALLERIES} galleries of {MEMBERS} members in {:.1?}",
        started.elapsed()
    );
    let app = gallery::router(connected.state);

    println!("| request | p50 | p99 | results |");
    println!("|---|---|---|---|");
    let cases: [(&str, QueryFor); 7] = [
        (
            "G8 all, nickname of a member",
            Box::new(|i| format!("type=all&query={}", nick(i))),
        ),
        (
            "G8 title, common word (`봄`)",
            Box::new(|_| format!("type=title&query={}", enc("봄"))),
        ),
        (
            "G8 title, rare text (`7777`)",
            Box::new(|_| "type=title&query=7777".to_owned()),
        ),
        (
            "G8 title, no match (`없음`)",
            Box::new(|_| format!("type=title&query={}", enc("없음"))),
        ),
        (
            "G8 title, empty (every gallery)",
            Box::new(|_| "type=title&query=".to_owned()),
        ),
        (
            "G8 author, exact nickname",
            Box::new(|i| format!("type=author&query={}", nick(i))),
        ),
        (
            "G8 author, unknown nickname",
            Box::new(|_| format!("type=author&query={}", enc("아무도"))),
        ),
    ];
    for (label, query) in &cases {
        let paths: Vec<String> = (0..ROUNDS)
            .map(|i| format!("/api/gallery/search?{}", query(i)))
            .collect();
        report(&app, label, &paths).await;
    }
    let paths: Vec<String> = (0..ROUNDS * 5)
        .map(|i| format!("/api/gallery/{}", (i as i64 * 7919) % GALLERIES + 1))
        .collect();
    report(&app, "G5 get by id", &paths).await;
    if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
        println!("kept database {}", database.name);
    } else {
        database.drop_now().await;
    }
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn nick(i: usize) -> String {
    enc(&format!("작가{}", (i as i64 * 31) % MEMBERS + 1))
}

async fn seed(db: &DatabaseConnection) {
    let mut values = Vec::new();
    for member in 1..=MEMBERS {
        values.push(format!("({member}, '작가{member}')"));
    }
    db.execute_unprepared(&format!(
        "INSERT INTO member_nickname (member_id, nickname) VALUES {}",
        values.join(",")
    ))
    .await
    .unwrap();
    for chunk in (1..=GALLERIES).collect::<Vec<_>>().chunks(2_000) {
        let rows: Vec<String> = chunk.iter().map(|&i| gallery_row(i)).collect();
        db.execute_unprepared(&format!(
            "INSERT INTO gallery (member_id, place_id, name, content, created_date, modified_date) \
             VALUES {}",
            rows.join(",")
        ))
        .await
        .unwrap();
    }
    db.execute_unprepared("ANALYZE TABLE gallery, member_nickname")
        .await
        .unwrap();
}

fn gallery_row(i: i64) -> String {
    let member = (i - 1) % MEMBERS + 1;
    let word = |n: i64| WORDS[(n % WORDS.len() as i64) as usize];
    let name = format!("{} {} {i}", word(i * 7), word(i / 3));
    let seconds = i * 60;
    format!(
        "({member}, {place}, '{name}', '갤러리 {i}의 소개', \
         TIMESTAMPADD(SECOND, {seconds}, '2026-01-01'), TIMESTAMPADD(SECOND, {seconds}, '2026-01-01'))",
        place = i % 3 + 1
    )
}

async fn report(app: &Router, label: &str, paths: &[String]) {
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
    println!(
        "| {label} | {} | {} | {results} |",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.99))
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

//! Sign-in throughput at the OWASP argon2id parameters, and the latency of `GET /api/member` with
//! and without a concurrent sign-in flood, on MariaDB and Redis, through the member router in one
//! process (no network hop). Also compares the time of an unknown e-mail with a wrong password.
//! Run by `bench/member/run.sh`.

#![expect(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark prints its figures and stops at the first unexpected error"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use member::Config;
use member::config::AuthConfig;
use platform::config::{DatabaseConfig, RedisConfig, ServiceConfig};
use tower::ServiceExt;

const ACCOUNTS: usize = 16;
const PASSWORD: &str = "benchmark password 2026";
const FLOOD_TASKS: usize = 16;
const READERS: usize = 4;
const READS_PER_READER: usize = 500;
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(10);

fn redis() -> RedisConfig {
    let env = testkit::dev_env();
    RedisConfig {
        host: env["REDIS_HOST"].clone(),
        port: env["REDIS_PORT"].parse().unwrap(),
        password: env
            .get("REDIS_PASSWORD")
            .map(|p| platform::SecretString::from(p.clone())),
    }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, cookie)
}

fn json_post(uri: &str, body: &serde_json::Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn email(i: usize, run: &str) -> String {
    format!("bench{i}.{run}@example.com")
}

async fn signin(app: &Router, email: &str, password: &str) -> (StatusCode, String) {
    let body = serde_json::json!({ "email": email, "password": password });
    send(app, json_post("/api/member/signin", &body)).await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn read_latencies(app: &Router, cookie: &str) -> Vec<Duration> {
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let app = app.clone();
        let cookie = cookie.to_owned();
        readers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(READS_PER_READER);
            for _ in 0..READS_PER_READER {
                let request = Request::get("/api/member")
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap();
                let started = Instant::now();
                let (status, _) = send(&app, request).await;
                samples.push(started.elapsed());
                assert_eq!(status, StatusCode::OK);
            }
            samples
        }));
    }
    let mut all = Vec::new();
    for reader in readers {
        all.extend(reader.await.unwrap());
    }
    all.sort_unstable();
    all
}

fn flood(
    app: &Router,
    run: &str,
    stop: &Arc<AtomicBool>,
    count: &Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..FLOOD_TASKS)
        .map(|t| {
            let (app, stop, count) = (app.clone(), stop.clone(), count.clone());
            let run = run.to_owned();
            tokio::spawn(async move {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let (status, _) = signin(&app, &email(i % ACCOUNTS, &run), PASSWORD).await;
                    assert_eq!(status, StatusCode::OK);
                    count.fetch_add(1, Ordering::Relaxed);
                    i += FLOOD_TASKS;
                }
            })
        })
        .collect()
}

/// Resident and peak resident memory of this process, from `/proc/self/status`.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or("?".to_owned(), |v| v.trim().to_owned())
    };
    format!("RSS {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let database = testkit::MySqlDatabase::create().await;
    let key = platform::auth::SigningKey::generate().unwrap();
    let config = Config {
        service: ServiceConfig::local(DatabaseConfig::from_url(&database.url()).unwrap()),
        redis: Some(redis()),
        auth: AuthConfig::standalone(key),
    };
    let connected = member::connect(&config, &events::Bus::in_process())
        .await
        .unwrap();
    let app = member::router(connected.state);
    let run = testkit::unique();
    for i in 0..ACCOUNTS {
        let body = serde_json::json!({ "email": email(i, &run), "password": PASSWORD, "nickname": format!("b{i}{}", &run[..6]) });
        let (status, _) = send(&app, json_post("/api/member/signup", &body)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, cookie) = signin(&app, &email(0, &run), PASSWORD).await;
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("cores: {cores}; argon2id m=19456 KiB, t=2, p=1\n");

    // Sign-ins per second under saturation.
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let tasks = flood(&app, &run, &stop, &count);
    tokio::time::sleep(THROUGHPUT_WINDOW).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let rate = count.load(Ordering::Relaxed) as f64 / THROUGHPUT_WINDOW.as_secs_f64();
    println!(
        "sign-ins per second ({FLOOD_TASKS} concurrent clients, {THROUGHPUT_WINDOW:?}): {rate:.1}\n"
    );
    println!("memory after the flood: {}\n", memory());

    // GET /api/member latency, quiet and under a flood.
    let quiet = read_latencies(&app, &cookie).await;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let tasks = flood(&app, &run, &stop, &count);
    let flooded = read_latencies(&app, &cookie).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    println!("| GET /api/member ({READERS} readers × {READS_PER_READER}) | p50 | p99 | max |");
    println!("|---|---|---|---|");
    let flood_label = format!("during a sign-in flood ({FLOOD_TASKS} clients)");
    for (label, samples) in [("quiet", &quiet), (flood_label.as_str(), &flooded)] {
        println!(
            "| {label} | {} | {} | {} |",
            ms(percentile(samples, 0.5)),
            ms(percentile(samples, 0.99)),
            ms(*samples.last().unwrap())
        );
    }
    println!(
        "\np99 ratio flood/quiet: {:.2}\n",
        percentile(&flooded, 0.99).as_secs_f64() / percentile(&quiet, 0.99).as_secs_f64()
    );

    // Unknown e-mail versus wrong password (the failure count is reset so the throttle stays out).
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    for i in 0..40 {
        let started = Instant::now();
        let (status, _) = signin(
            &app,
            &format!("nobody{i}.{run}@example.com"),
            "wrong password",
        )
        .await;
        unknown.push(started.elapsed());
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let account = email(i % ACCOUNTS, &run);
        let started = Instant::now();
        let (status, _) = signin(&app, &account, "wrong password").await;
        wrong.push(started.elapsed());
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        signin(&app, &account, PASSWORD).await;
    }
    unknown.sort_unstable();
    wrong.sort_unstable();
    println!("| failed sign-in (40 each) | p50 | p90 |");
    println!("|---|---|---|");
    println!(
        "| unknown e-mail | {} | {} |",
        ms(percentile(&unknown, 0.5)),
        ms(percentile(&unknown, 0.9))
    );
    println!(
        "| wrong password | {} | {} |",
        ms(percentile(&wrong, 0.5)),
        ms(percentile(&wrong, 0.9))
    );
    println!("\nmemory at the end: {}", memory());
    database.drop_now().await;
}

//! Routes named by their labels in docs/api.md (P2 the frame update, P1 the frame list). P2 with
//! ten 5 MB images (wall time, peak RSS growth of the post service), the peak RSS of ten
//! parallel maximal JSON bodies, ten parallel oversized JSON bodies and ten parallel maximal
//! uploads, and P1 latency, over loopback HTTP against the post service in a child process (so the
//! client's buffers do not count), on MariaDB with images in a temporary directory. Run by
//! `bench/post/run.sh`.

#![expect(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark prints its figures and stops at the first unexpected error"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use platform::auth::{Claims, Role, SigningKey, VerifyingKeys};
use platform::config::{DatabaseConfig, ServiceConfig, StorageConfig};

const GALLERY: i64 = 1;
const OWNER: i64 = 1;
const IMAGE_BYTES: usize = 5 * 1024 * 1024;
const P1_ROUNDS: usize = 2_000;
const P2_ROUNDS: usize = 5;
/// Requests sent at once in the parallel rounds, each to its own gallery.
const PARALLEL: i64 = 10;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        serve(&args[2], &args[3], &args[4]).await;
        return;
    }
    drive().await;
}

/// Child: the post service on `db_url`, images under `dir`, tokens of the key in `pem`.
async fn serve(db_url: &str, dir: &str, pem: &str) {
    let database = DatabaseConfig::from_url(db_url).unwrap();
    // The embedded session store on the bench's database, with the session the driver's token
    // names, as member would have written it at sign-in.
    let sessions =
        platform::auth::DbSessions::open(platform::db::connect(&database).await.unwrap())
            .await
            .unwrap();
    let session = platform::auth::Session {
        sid: "bench".to_owned(),
        member_id: OWNER,
        role: Role::User,
        expires_at: chrono::Utc::now() + chrono::Duration::hours(8),
    };
    platform::auth::SessionStore::create(&sessions, &session)
        .await
        .unwrap();
    let config = post::Config {
        service: ServiceConfig::local(database),
        storage: StorageConfig::Local { root: dir.into() },
        auth: VerifyingKeys::from_pem_bundle(&std::fs::read_to_string(pem).unwrap()).unwrap(),
        sessions: platform::auth::SessionSource::Shared(std::sync::Arc::new(sessions)),
        settings: post::Settings::default(),
    };
    let state = post::connect(&config, &events::Bus::in_process())
        .await
        .unwrap()
        .state;
    for gallery in GALLERY..GALLERY + PARALLEL {
        post::reactions::gallery_created(&state.db, gallery, OWNER, 10)
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    axum::serve(listener, post::router(state)).await.unwrap();
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn image(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..IMAGE_BYTES - 8).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

fn form(ids: &[i64], with_images: bool) -> Vec<u8> {
    let mut body = Vec::new();
    let mut text = |name: String, value: String| {
        body.extend(
            format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .bytes(),
        );
    };
    for (i, id) in ids.iter().enumerate() {
        text(format!("posts[{i}].postId"), id.to_string());
        text(format!("posts[{i}].order"), (i + 1).to_string());
        text(format!("posts[{i}].isActive"), "true".into());
        text(format!("posts[{i}].musicId"), String::new());
        text(format!("posts[{i}].title"), format!("작품 {i}"));
        text(format!("posts[{i}].content"), "설명".repeat(50));
    }
    for (i, _) in ids.iter().enumerate() {
        let (name, bytes) = if with_images {
            ("a.png", image(i as u8))
        } else {
            ("", Vec::new())
        };
        body.extend(format!("--B\r\nContent-Disposition: form-data; name=\"posts[{i}].image\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n").bytes());
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(b"--B--\r\n");
    body
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn drive() {
    let database = testkit::MySqlDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let pem = dir.path().join("public.pem");
    std::fs::write(&pem, key.public_pem().unwrap()).unwrap();
    let images = dir.path().join("images");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "serve",
            &database.url(),
            images.to_str().unwrap(),
            pem.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = format!("http://{}", line.trim());
    let token = key
        .sign(&Claims::new(
            OWNER,
            Role::User,
            "bench",
            chrono::Utc::now().timestamp(),
        ))
        .unwrap();
    let client = reqwest::Client::new();

    let ids = post_ids(&client, &base, GALLERY).await;
    let patch = |body: Vec<u8>| {
        client
            .patch(format!("{base}/api/post/list/{GALLERY}"))
            .header("cookie", format!("gallery_cookie={token}"))
            .header("content-type", "multipart/form-data; boundary=B")
            .body(body)
            .send()
    };
    // Warm-up: connections, allocator, code paths.
    assert!(
        patch(form(&ids, false))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let with_images = form(&ids, true);
    let baseline = rss_kib(pid, "VmRSS:");
    let mut times = Vec::new();
    for _ in 0..P2_ROUNDS {
        let started = Instant::now();
        let status = patch(with_images.clone()).await.unwrap().status();
        times.push(started.elapsed());
        assert!(status.is_success(), "{status}");
    }
    let peak = rss_kib(pid, "VmHWM:");
    times.sort();
    println!(
        "| P2, ten 5 MB PNG images (50 MB body), {P2_ROUNDS} rounds | median {:.0?}, max {:.0?} | RSS before {} MiB, peak {} MiB, growth {} MiB |",
        percentile(&times, 0.5),
        times[times.len() - 1],
        baseline / 1024,
        peak / 1024,
        peak.saturating_sub(baseline) / 1024
    );

    parallel_rounds(&client, &base, &token, pid).await;

    let mut latencies = Vec::with_capacity(P1_ROUNDS);
    for _ in 0..P1_ROUNDS {
        let started = Instant::now();
        let response = client
            .get(format!("{base}/api/post/list/{GALLERY}"))
            .send()
            .await
            .unwrap();
        response.bytes().await.unwrap();
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "| P1, 10 posts, {P1_ROUNDS} sequential requests | p50 {:.2?}, p99 {:.2?} | |",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    child.kill().ok();
    child.wait().ok();
    database.drop_now().await;
}

/// Forgets the process's peak RSS, so that `VmHWM` shows the peak of what follows.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

/// Sends `PARALLEL` requests at once and prints the service's peak RSS while they ran.
async fn parallel_round<F, Fut>(what: &str, pid: u32, send: F)
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let before = rss_kib(pid, "VmRSS:");
    reset_peak(pid);
    let started = Instant::now();
    let statuses = futures::future::join_all((0..PARALLEL).map(&send)).await;
    let elapsed = started.elapsed();
    let peak = rss_kib(pid, "VmHWM:");
    println!(
        "| {what}, {PARALLEL} in parallel | {} in {elapsed:.0?} | RSS before {} MiB, peak {} MiB, growth {} MiB |",
        outcomes(&statuses),
        before / 1024,
        peak / 1024,
        peak.saturating_sub(before) / 1024
    );
}

/// Each distinct answer with how many requests got it, e.g. `10 × 200 OK`.
fn outcomes(answers: &[String]) -> String {
    let mut counted = std::collections::BTreeMap::<&str, usize>::new();
    for answer in answers {
        *counted.entry(answer).or_default() += 1;
    }
    let parts: Vec<String> = counted.iter().map(|(a, n)| format!("{n} × {a}")).collect();
    parts.join(", ")
}

/// The memory bound of the body limits: JSON bodies at and over post's 64 KiB limit, and
/// multipart uploads at their 50 MB maximum, each `PARALLEL` at once.
async fn parallel_rounds(client: &reqwest::Client, base: &str, token: &str, pid: u32) {
    let cookie = format!("gallery_cookie={token}");
    let json = |bytes: usize| {
        let text = "a".repeat(bytes - 20);
        bytes::Bytes::from(format!("{{\"content\":\"{text}\"}}"))
    };
    for (what, body) in [
        ("JSON body of 64 KiB (the limit)", json(post::BODY_LIMIT)),
        ("JSON body of 49 MB (over the limit)", json(49_000_000)),
    ] {
        parallel_round(what, pid, |_| {
            let request = client
                .patch(format!("{base}/api/post/comment/1"))
                .header("cookie", &cookie)
                .header("content-type", "application/json")
                .body(body.clone())
                .send();
            // Over the limit the service answers 413 and closes before the body is sent, which
            // the client may see as the connection closing under its upload.
            async move {
                request.await.map_or_else(
                    |_| "closed while sending".to_owned(),
                    |r| r.status().to_string(),
                )
            }
        })
        .await;
    }
    let mut forms = Vec::new();
    for gallery in GALLERY..GALLERY + PARALLEL {
        let ids = post_ids(client, base, gallery).await;
        forms.push(bytes::Bytes::from(form(&ids, true)));
    }
    parallel_round(
        "P2 upload of 50 MB (ten 5 MB images, the limit)",
        pid,
        |i| {
            let request = client
                .patch(format!("{base}/api/post/list/{}", GALLERY + i))
                .header("cookie", &cookie)
                .header("content-type", "multipart/form-data; boundary=B")
                .body(forms[usize::try_from(i).unwrap()].clone())
                .send();
            async move { request.await.unwrap().status().to_string() }
        },
    )
    .await;
}

/// The post ids of `gallery`, in display order, as P1 lists them.
async fn post_ids(client: &reqwest::Client, base: &str, gallery: i64) -> Vec<i64> {
    let list: serde_json::Value = client
        .get(format!("{base}/api/post/list/{gallery}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["postId"].as_i64().unwrap())
        .collect()
}

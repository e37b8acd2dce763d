//! Issue 8's figures: start-to-ready time and idle memory of each process, and the throughput of
//! journey 2 (sign up, create a gallery, wait for its frames, edit them with an image and music,
//! view as a visitor) through the gateway, in standalone or distributed mode.
//!
//! `cargo run --release -p e2e --example journey_bench -- <standalone|distributed> [seconds]
//! [concurrency]`, with `THEGALLERY_BIN` pointing at a release `thegallery` (default
//! `target/release/thegallery`). Distributed mode needs `scripts/dev-services up`.

#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark prints its figures and stops at the first unexpected error"
)]

use std::time::{Duration, Instant};

use e2e::{Mode, Service, System, journeys};
use platform::config::Environment;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("standalone", String::as_str);
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let bin = platform::config::ProcessEnv
        .get("THEGALLERY_BIN")
        .unwrap_or_else(|| "target/release/thegallery".into());
    // Every visitor comes from 127.0.0.1, so the per-address limits would measure the limiter.
    let unlimited = [
        ("RATE_LIMIT_SIGNIN", "off"),
        ("RATE_LIMIT_PUBLIC_READ", "off"),
        ("RATE_LIMIT_WRITE", "off"),
    ];
    let system = match mode {
        "distributed" => System::distributed_with(bin.as_ref(), &unlimited).await,
        _ => System::standalone_with(bin.as_ref(), &unlimited).await,
    };
    let services: &[Service] = match system.mode {
        Mode::Standalone | Mode::External => &[Service::Gateway],
        Mode::Distributed => &[
            Service::Member,
            Service::Gallery,
            Service::Post,
            Service::Gateway,
        ],
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    for service in services {
        println!(
            "{mode} {service:?}: ready after {:.0} ms, idle RSS {:.1} MiB",
            system.ready_after(*service).unwrap().as_secs_f64() * 1000.0,
            rss_kib(system.pid(*service).unwrap()) as f64 / 1024.0
        );
    }

    let system = std::sync::Arc::new(system);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let before = e2e::requests_sent();
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let system = system.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let begun = Instant::now();
                    let (alice, nickname, gallery) = journeys::start_an_exhibition(&system).await;
                    journeys::finish_an_exhibition(&system, alice, nickname, gallery).await;
                    latencies.push(begun.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = e2e::requests_sent() - before;
    latencies.sort();
    let pick =
        |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "{mode} journey 2: {} journeys, {requests} requests in {elapsed:.1} s with {concurrency} \
         concurrent visitors = {:.1} journeys/s, {:.0} requests/s; journey p50 {:.0} ms, p99 {:.0} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        requests as f64 / elapsed,
        pick(0.5),
        pick(0.99),
    );
    for service in services {
        println!(
            "{mode} {service:?}: RSS after the run {:.1} MiB",
            rss_kib(system.pid(*service).unwrap()) as f64 / 1024.0
        );
    }
}

//! Several replicas behind one configured upstream: requests spread over them, a killed replica
//! costs no idempotent request, a replica that comes back gets traffic again, a slow one gets
//! less, names resolving to several addresses are followed as they change, and each endpoint has
//! its metrics. Both front ends (the wire one and the hyper path it hands over to) balance.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use common::{Harness, Setup, exchange_raw, host_port, nothing_listening};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use platform::CancellationToken;
use platform::config::{HostPort, HostPortList};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

/// A post replica that answers every request with 200 after `delay`, and can be killed (every
/// socket dropped at once, as when its process dies) and started again on the same port.
struct Replica {
    addr: SocketAddr,
    delay: Duration,
    received: Arc<AtomicUsize>,
    /// Connections accepted.
    connections: Arc<AtomicUsize>,
    hosts: Arc<Mutex<Vec<String>>>,
    alive: Mutex<(CancellationToken, TaskTracker)>,
}

impl Replica {
    async fn start(delay: Duration) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let replica = Arc::new(Self {
            addr: listener.local_addr().unwrap(),
            delay,
            received: Arc::default(),
            connections: Arc::default(),
            hosts: Arc::default(),
            alive: Mutex::new((CancellationToken::new(), TaskTracker::new())),
        });
        replica.run(listener);
        replica
    }

    fn run(&self, listener: TcpListener) {
        let (kill, tasks) = self.alive.lock().unwrap().clone();
        let (received, hosts, delay) = (
            Arc::clone(&self.received),
            Arc::clone(&self.hosts),
            self.delay,
        );
        let accepted = Arc::clone(&self.connections);
        let connections = tasks.clone();
        tasks.spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    accepted = listener.accept() => accepted.unwrap(),
                    () = kill.cancelled() => return,
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (received, hosts, kill) =
                    (Arc::clone(&received), Arc::clone(&hosts), kill.clone());
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (received, hosts) = (Arc::clone(&received), Arc::clone(&hosts));
                        async move {
                            received.fetch_add(1, Ordering::SeqCst);
                            let host = request
                                .headers()
                                .get("host")
                                .map(|h| h.to_str().unwrap_or_default().to_owned());
                            hosts.lock().unwrap().extend(host);
                            let _ = request.into_body().collect().await;
                            tokio::time::sleep(delay).await;
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                                b"{\"message\":\"ok\"}",
                            ))))
                        }
                    });
                connections.spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let connection =
                        hyper::server::conn::http1::Builder::new().serve_connection(io, service);
                    tokio::select! {
                        _ = connection => {}
                        () = kill.cancelled() => {}
                    }
                });
            }
        });
    }

    /// Drops the listener and every connection, and returns once they are closed.
    async fn kill(&self) {
        let (kill, tasks) = self.alive.lock().unwrap().clone();
        kill.cancel();
        tasks.close();
        tasks.wait().await;
    }

    async fn restart(&self) {
        *self.alive.lock().unwrap() = (CancellationToken::new(), TaskTracker::new());
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.run(listener);
    }

    fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

async fn replicas(delays: &[u64]) -> Vec<Arc<Replica>> {
    let mut replicas = Vec::new();
    for delay in delays {
        replicas.push(Replica::start(Duration::from_millis(*delay)).await);
    }
    replicas
}

fn list(replicas: &[Arc<Replica>]) -> HostPortList {
    HostPortList(replicas.iter().map(|r| host_port(r.addr)).collect())
}

async fn gateway_for(post: HostPortList) -> Harness {
    Harness::with(Setup {
        post_list: Some(post),
        ..Setup::default()
    })
    .await
}

/// A gateway in front of `replicas` and, listed after them, an address that refuses connections;
/// also returns that address's port.
async fn gateway_with_a_dead_address(replicas: &[Arc<Replica>]) -> (Harness, u16) {
    let dead = nothing_listening().await;
    let mut upstreams = list(replicas);
    upstreams.0.push(dead.clone());
    (gateway_for(upstreams).await, dead.port)
}

/// One request's fate in a load run.
#[derive(Debug, Clone)]
struct Sent {
    method: Method,
    started: Instant,
    ended: Instant,
    status: Option<StatusCode>,
}

/// Keeps `workers` clients sending (alternately GET and, with `cookie`, POST) until `stop`.
fn load(
    gw: &Harness,
    workers: usize,
    cookie: Option<String>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Sent>> {
    let client = common::client();
    let (base, stop) = (gw.url(""), Arc::clone(stop));
    tokio::spawn(async move {
        let mut tasks = Vec::new();
        for worker in 0..workers {
            let (client, base, stop, cookie) = (
                client.clone(),
                base.clone(),
                Arc::clone(&stop),
                cookie.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut n = worker;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let post = cookie.is_some() && n % 2 == 0;
                    let (method, path) = if post {
                        (Method::POST, "/api/post/comment")
                    } else {
                        (Method::GET, "/api/post/list/1")
                    };
                    let mut request = Request::builder()
                        .method(method.clone())
                        .uri(format!("{base}{path}"));
                    if let Some(cookie) = cookie.as_deref().filter(|_| post) {
                        request = request
                            .header("cookie", cookie)
                            .header("content-type", "application/json");
                    }
                    let body = if post {
                        Body::from(r#"{"content":"hi"}"#)
                    } else {
                        Body::empty()
                    };
                    let started = Instant::now();
                    let answer = client.request(request.body(body).unwrap()).await;
                    let status = match answer {
                        Ok(response) => {
                            let status = response.status();
                            let _ = response.into_body().collect().await;
                            Some(status)
                        }
                        Err(_) => None,
                    };
                    sent.push(Sent {
                        method,
                        started,
                        ended: Instant::now(),
                        status,
                    });
                }
                sent
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    })
}

/// Sends `count` GETs, `workers` at a time, and asserts every one was answered 200.
async fn gets(gw: &Harness, count: usize, workers: usize) {
    let client = common::client();
    let left = Arc::new(AtomicUsize::new(count));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, url, left) = (
            client.clone(),
            gw.url("/api/post/list/1"),
            Arc::clone(&left),
        );
        tasks.push(tokio::spawn(async move {
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                let request = Request::get(&url).body(Body::empty()).unwrap();
                let response = client.request(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let _ = response.into_body().collect().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

fn counts(replicas: &[Arc<Replica>]) -> Vec<usize> {
    replicas.iter().map(|r| r.received()).collect()
}

/// Starts one replica per entry of `delays` (in milliseconds) behind a gateway, sends `count` GETs
/// through it, `workers` at a time, and returns how many each replica received.
async fn shares(delays: &[u64], count: usize, workers: usize) -> Vec<usize> {
    let replicas = replicas(delays).await;
    let gw = gateway_for(list(&replicas)).await;
    gets(&gw, count, workers).await;
    counts(&replicas)
}

#[tokio::test]
async fn requests_spread_across_the_replicas_of_one_list_each_within_a_quarter_of_an_even_share() {
    let seen = shares(&[0, 0, 0], 600, 6).await;
    assert_eq!(seen.iter().sum::<usize>(), 600);
    for count in &seen {
        assert!((150..=250).contains(count), "{seen:?}");
    }
}

#[tokio::test]
async fn a_replica_killed_mid_load_fails_no_idempotent_request_and_only_non_idempotent_ones_in_flight()
 {
    // Slow enough answers that the killed replica has several requests of each kind in flight.
    let replicas = replicas(&[20, 20, 20]).await;
    let gw = gateway_for(list(&replicas)).await;
    let (token, _) = gw.login(41).await;
    let stop = Arc::new(AtomicBool::new(false));
    let running = load(&gw, 12, Some(format!("gallery_cookie={token}")), &stop);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = replicas[1].received();
    let kill_started = Instant::now();
    replicas[1].kill().await;
    let kill_ended = Instant::now();
    // Past the end of its first ejection, so that it is probed (and refuses) under load too.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let sent = running.await.unwrap();

    assert!(
        before > 10,
        "the replica had its share before the kill: {before}"
    );
    let failed: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.status != Some(StatusCode::OK))
        .collect();
    let gets_failed = failed.iter().filter(|s| s.method == Method::GET).count();
    assert_eq!(gets_failed, 0, "{failed:?}");
    for post in failed {
        assert!(
            post.started <= kill_ended && post.ended >= kill_started,
            "a POST that was not in flight during the kill failed: {post:?}"
        );
    }
    let after_kill = sent.iter().filter(|s| s.started > kill_ended).count();
    assert!(after_kill > 50, "load went on after the kill: {after_kill}");
}

#[tokio::test]
async fn a_replica_that_comes_back_receives_requests_again() {
    let replicas = replicas(&[0, 0]).await;
    let gw = gateway_for(list(&replicas)).await;
    replicas[1].kill().await;
    gets(&gw, 40, 2).await;
    let while_down = replicas[1].received();
    assert_eq!(while_down, 0);
    replicas[1].restart().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while replicas[1].received() == 0 {
        assert!(
            Instant::now() < deadline,
            "the replica got nothing within 15 s"
        );
        gets(&gw, 10, 1).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_slow_replica_gets_fewer_requests() {
    let seen = shares(&[0, 0, 100], 600, 8).await;
    let slow = seen[2];
    let fastest = seen[0].min(seen[1]);
    assert!(slow * 3 < fastest, "{seen:?}");
}

/// Answers lookups from a table the test changes; a missing name fails.
#[derive(Debug, Default)]
struct Table(Mutex<HashMap<String, Vec<SocketAddr>>>);

impl Table {
    fn set(&self, host: &str, replicas: &[Arc<Replica>]) {
        let addrs = replicas.iter().map(|r| r.addr).collect();
        self.0.lock().unwrap().insert(host.to_owned(), addrs);
    }
}

#[async_trait::async_trait]
impl gateway::balance::Resolve for Table {
    async fn lookup(&self, host: &str, _port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let table = self.0.lock().unwrap();
        table
            .get(host)
            .cloned()
            .ok_or(std::io::ErrorKind::NotFound.into())
    }
}

#[tokio::test]
async fn a_name_resolving_to_several_addresses_is_balanced_and_followed_as_replicas_come_and_go() {
    let replicas = replicas(&[0, 0, 0]).await;
    let table = Arc::new(Table::default());
    table.set("post-headless", &replicas);
    let gw = Harness::with(Setup {
        post_list: Some(HostPortList(vec![HostPort {
            host: "post-headless".into(),
            port: 8003,
        }])),
        resolver: Some(Arc::clone(&table) as Arc<dyn gateway::balance::Resolve>),
        resolve_interval: Duration::from_millis(100),
        ..Setup::default()
    })
    .await;
    gets(&gw, 150, 3).await;
    assert!(
        counts(&replicas).iter().all(|c| *c > 20),
        "{:?}",
        counts(&replicas)
    );
    let hosts = replicas[0].hosts.lock().unwrap().clone();
    assert!(hosts.iter().all(|h| h == "post-headless:8003"), "{hosts:?}");

    table.set("post-headless", &replicas[..2]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let left = replicas[2].received();
    gets(&gw, 60, 3).await;
    assert_eq!(
        replicas[2].received(),
        left,
        "a replica gone from DNS still got requests"
    );

    table.0.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = counts(&replicas);
    gets(&gw, 60, 3).await;
    let after = counts(&replicas);
    assert!(
        after[0] > before[0] && after[1] > before[1],
        "the last good addresses are kept: {after:?}"
    );
}

#[tokio::test]
async fn requests_handed_to_hyper_are_balanced_and_retried_on_another_replica_too() {
    let replicas = replicas(&[0, 0]).await;
    let (gw, _) = gateway_with_a_dead_address(&replicas).await;
    for _ in 0..60 {
        // HTTP/1.0 is served by hyper and the axum router, not the wire front end.
        let answer = exchange_raw(gw.addr, b"GET /api/post/list/1 HTTP/1.0\r\n\r\n").await;
        assert!(
            answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
            "{answer}"
        );
    }
    assert!(
        counts(&replicas).iter().all(|c| *c > 10),
        "{:?}",
        counts(&replicas)
    );
}

#[tokio::test]
async fn both_front_ends_send_over_one_pool_of_upstream_connections() {
    let replica = Replica::start(Duration::ZERO).await;
    let gw = gateway_for(list(std::slice::from_ref(&replica))).await;
    let requests: [&[u8]; 2] = [
        // Served by hyper and the axum router.
        b"GET /api/post/list/1 HTTP/1.0\r\n\r\n",
        // Served by the wire front end.
        b"GET /api/post/list/1 HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    ];
    for round in 0..6 {
        let answer = exchange_raw(gw.addr, requests[round % 2]).await;
        assert!(answer.contains(" 200 OK\r\n"), "{answer}");
        // The hyper path gives its connection back once the exchange is over, on another task.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(replica.received(), 6);
    assert_eq!(replica.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn each_endpoint_has_request_error_and_ejection_metrics_labelled_by_service_and_address() {
    let replicas = replicas(&[0]).await;
    let (gw, dead) = gateway_with_a_dead_address(&replicas).await;
    gets(&gw, 30, 1).await;
    let metrics = gw.get("/metrics").await.text();
    let line = |name: &str, port: u16| {
        let prefix = format!("{name}{{service=\"post\",address=\"127.0.0.1:{port}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{metrics}"))
    };
    let alive = replicas[0].addr.port();
    assert_eq!(
        line("gateway_upstream_requests_total", alive),
        replicas[0].received() as f64
    );
    assert!(line("gateway_upstream_errors_total", dead) >= 1.0);
    assert!(line("gateway_upstream_ejections_total", dead) >= 1.0);
    assert!(
        metrics.contains("gateway_upstream_retries_total{service=\"post\"}"),
        "{metrics}"
    );
}

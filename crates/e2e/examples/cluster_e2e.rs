//! `scripts/cluster e2e`'s driver: the journeys through a cluster's ingress, then rollouts, pod
//! kills and a scale-up while journeys run, each with its failed requests and recovery time, and
//! the invariants checked after each (every acknowledged gallery has exactly its 10 frames, or
//! none once its member's withdrawal was acknowledged).
//!
//! `cargo run -p e2e --example cluster_e2e -- --base http://thegallery.site
//! --resolve 10.77.0.1:80 --youtube 10.77.0.1:18099 --kubectl scripts/cluster
//! --figures <file> <scenario>...` where a scenario is `journeys`, `rollout:<deployment>`,
//! `kill:<pod>`, `scale:<deployment>=<replicas>` or `trace` (with the traced overlay: one
//! withdrawal's trace read back from Jaeger). Exits non-zero when a rollout or scale-up
//! loses a request, a journey of `journeys` fails, or an invariant breaks.

#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the cluster driver prints its figures and stops at the first broken invariant"
)]

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::{System, Visitor, journeys};

/// The driver's arguments.
#[derive(Debug, Clone)]
struct Args {
    base: String,
    resolve: Option<std::net::SocketAddr>,
    youtube: std::net::SocketAddr,
    kubectl: String,
    figures: Option<String>,
    concurrency: usize,
    scenarios: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        base: "http://thegallery.site".into(),
        resolve: None,
        youtube: "127.0.0.1:18099".parse().unwrap(),
        kubectl: "scripts/cluster".into(),
        figures: None,
        concurrency: 4,
        scenarios: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--base" => args.base = value(),
            "--resolve" => args.resolve = Some(value().parse().unwrap()),
            "--youtube" => args.youtube = value().parse().unwrap(),
            "--kubectl" => args.kubectl = value(),
            "--figures" => args.figures = Some(value()),
            "--concurrency" => args.concurrency = value().parse().unwrap(),
            _ => args.scenarios.push(arg),
        }
    }
    args
}

/// Runs `scripts/cluster kubectl -n thegallery <args>`; panics with its output on failure.
fn kubectl(args: &Args, rest: &[&str]) -> String {
    let out = Command::new(&args.kubectl)
        .arg("kubectl")
        .args(["-n", "thegallery"])
        .args(rest)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kubectl {rest:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// What every journey acknowledged, for the invariants.
#[derive(Debug, Default)]
struct Ledger {
    /// Galleries whose creation was answered 200, and whether their member's withdrawal was.
    galleries: Mutex<Vec<(i64, bool)>>,
}

/// Journeys running in a loop until stopped.
#[derive(Debug)]
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    /// When the newest journey that finished well began and ended.
    last_ok: Arc<tokio::sync::watch::Sender<Option<(Instant, Instant)>>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// One journey of the load: a member opens an exhibition, and every third one withdraws.
async fn one_journey(system: Arc<System>, ledger: Arc<Ledger>, n: u64) {
    let (alice, nickname, gallery) = journeys::start_an_exhibition(&system).await;
    ledger.galleries.lock().unwrap().push((gallery, false));
    let show = journeys::finish_an_exhibition(&system, alice, nickname, gallery).await;
    if n.is_multiple_of(3) {
        let mut alice = show.alice;
        alice.delete("/api/member").await.expect(200);
        let mut galleries = ledger.galleries.lock().unwrap();
        if let Some(entry) = galleries.iter_mut().find(|(g, _)| *g == gallery) {
            entry.1 = true;
        }
    }
}

impl Load {
    fn start(system: &Arc<System>, ledger: &Arc<Ledger>, concurrency: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let last_ok = Arc::new(tokio::sync::watch::Sender::new(None));
        let counter = Arc::new(AtomicU64::new(0));
        let workers = (0..concurrency)
            .map(|_| {
                let (system, ledger, stop) = (system.clone(), ledger.clone(), stop.clone());
                let (ok, failed, last_ok, counter) =
                    (ok.clone(), failed.clone(), last_ok.clone(), counter.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let begun = Instant::now();
                        let run = tokio::spawn(one_journey(system.clone(), ledger.clone(), n));
                        if run.await.is_ok() {
                            ok.fetch_add(1, Ordering::Relaxed);
                            last_ok.send_replace(Some((begun, Instant::now())));
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            ok,
            failed,
            last_ok,
            workers,
        }
    }

    /// When the first journey that began after `since` finished well.
    async fn first_ok_after(&self, since: Instant, limit: Duration) -> Option<Duration> {
        let mut finished = self.last_ok.subscribe();
        let after = finished.wait_for(|last| last.is_some_and(|(begun, _)| begun >= since));
        let (_, ended) = (*tokio::time::timeout(limit, after).await.ok()?.ok()?)?;
        Some(ended - since)
    }

    async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            let _ = worker.await;
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// Every acknowledged gallery ends with exactly 10 frames, or with none (and is gone) once its
/// member's withdrawal was acknowledged; waits up to 3 minutes for events still travelling.
async fn invariants_hold(system: &System, ledger: &Ledger) -> Result<usize, String> {
    let galleries = ledger.galleries.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut visitor = system.visitor();
    let mut pending = galleries.clone();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for (gallery, withdrawn) in pending {
            if !settled(&mut visitor, gallery, withdrawn).await? {
                still.push((gallery, withdrawn));
            }
        }
        pending = still;
        if !pending.is_empty() && Instant::now() > deadline {
            return Err(format!("not settled after 3 minutes: {pending:?}"));
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(galleries.len())
}

async fn settled(visitor: &mut Visitor, gallery: i64, withdrawn: bool) -> Result<bool, String> {
    let count = journeys::frames(visitor, gallery).await.len();
    if count > 10 {
        return Err(format!(
            "gallery {gallery} has {count} frames: an event was applied twice"
        ));
    }
    if withdrawn {
        let shown = visitor.get(&format!("/api/gallery/{gallery}")).await;
        Ok(count == 0 && shown.status.as_u16() == 404)
    } else {
        Ok(count == 10)
    }
}

/// One scenario's figures.
#[derive(Debug, Default)]
struct Outcome {
    requests: u64,
    failed_requests: u64,
    journeys_ok: u64,
    journeys_failed: u64,
    action_s: f64,
    recovery_s: Option<f64>,
    galleries_checked: usize,
}

async fn under_load(
    args: &Args,
    system: &Arc<System>,
    action: impl FnOnce() -> Option<Duration> + Send + 'static,
) -> Outcome {
    let ledger = Arc::new(Ledger::default());
    let (requests, failed) = (e2e::requests_sent(), e2e::failed_requests());
    let load = Load::start(system, &ledger, args.concurrency);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let began = Instant::now();
    let ready = tokio::task::spawn_blocking(action).await.unwrap();
    let action_s = began.elapsed().as_secs_f64();
    let recovered = load
        .first_ok_after(began + ready.unwrap_or_default(), Duration::from_secs(300))
        .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (journeys_ok, journeys_failed) = load.stop().await;
    let checked = invariants_hold(system, &ledger).await;
    let outcome = Outcome {
        requests: e2e::requests_sent() - requests,
        failed_requests: e2e::failed_requests() - failed,
        journeys_ok,
        journeys_failed,
        action_s,
        recovery_s: recovered.map(|d| d.as_secs_f64() + ready.unwrap_or_default().as_secs_f64()),
        galleries_checked: *checked.as_ref().unwrap_or(&0),
    };
    if let Err(broken) = checked {
        panic!("invariants broken: {broken}");
    }
    outcome
}

fn rollout(args: &Args, deployment: &str) -> Option<Duration> {
    let target = format!("deploy/{deployment}");
    kubectl(args, &["rollout", "restart", &target]);
    kubectl(args, &["rollout", "status", &target, "--timeout=600s"]);
    None
}

/// Deletes a pod and waits until its replacement (same name, new uid) is Ready; returns how long
/// that took.
fn kill(args: &Args, pod: &str) -> Option<Duration> {
    let target = format!("pod/{pod}");
    let uid = || {
        let out = Command::new(&args.kubectl)
            .args(["kubectl", "-n", "thegallery", "get", &target])
            .args(["-o", "jsonpath={.metadata.uid}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let old = uid();
    let began = Instant::now();
    kubectl(args, &["delete", &target, "--wait=false"]);
    loop {
        let now = uid();
        if !now.is_empty() && now != old {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(600),
            "{pod} was not recreated"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    kubectl(
        args,
        &["wait", "--for=condition=Ready", &target, "--timeout=600s"],
    );
    Some(began.elapsed())
}

fn scale(args: &Args, deployment: &str, replicas: &str) -> Option<Duration> {
    let target = format!("deploy/{deployment}");
    kubectl(args, &["scale", &target, &format!("--replicas={replicas}")]);
    kubectl(args, &["rollout", "status", &target, "--timeout=600s"]);
    // The new consumers join the group and take partitions while journeys go on.
    std::thread::sleep(Duration::from_secs(20));
    None
}

async fn scenario(args: &Args, system: &Arc<System>, name: &str) -> Outcome {
    let (kind, what) = name.split_once(':').unwrap_or((name, ""));
    let owned = (args.clone(), what.to_owned());
    match kind {
        "rollout" => under_load(args, system, move || rollout(&owned.0, &owned.1)).await,
        "kill" => under_load(args, system, move || kill(&owned.0, &owned.1)).await,
        "scale" => {
            under_load(args, system, move || {
                let (deployment, replicas) = owned.1.split_once('=').unwrap();
                scale(&owned.0, deployment, replicas)
            })
            .await
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// A member's withdrawal with a sampled `traceparent` (as from a trusted proxy), then its trace
/// read back from the Jaeger behind `/jaeger` (overlay k3s-traced): one trace with spans of the
/// gateway, member, and the gallery and post consumers. Returns how many spans it holds.
async fn one_trace(system: &System) -> usize {
    let (mut member, _) = journeys::new_member(system, "tr").await;
    // A gallery, so that the cascade also reaches post through gallery's own event.
    member
        .post(
            "/api/gallery",
            &serde_json::json!({"placeId": 1, "name": "traced"}),
        )
        .await
        .expect(200);
    let trace = format!(
        "{}{}{}",
        testkit::unique(),
        testkit::unique(),
        &testkit::unique()[..8]
    );
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    member
        .send_with(
            reqwest::Method::DELETE,
            "/api/member",
            &[("traceparent", &traceparent)],
        )
        .await
        .expect(200);
    let path = format!("/jaeger/api/traces/{trace}");
    journeys::eventually("the trace holds the spans of every process", || {
        let mut reader = system.visitor();
        let path = path.clone();
        async move {
            let answer = reader.get(&path).await;
            let trace = answer.json["data"].get(0)?;
            let spans = trace["spans"].as_array()?;
            let part = |span: &serde_json::Value| {
                let process = span["processID"].as_str().unwrap_or_default();
                let name = trace["processes"][process]["serviceName"].as_str();
                (
                    name.unwrap_or_default().to_owned(),
                    span["operationName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            };
            let parts: Vec<(String, String)> = spans.iter().map(part).collect();
            let has = |process: &str, operation: &str| {
                parts
                    .iter()
                    .any(|(p, o)| p == process && o.starts_with(operation))
            };
            let whole = has("gateway", "DELETE /api/member")
                && has("member", "DELETE /api/member")
                && has("gallery", "process member")
                && has("post", "process member")
                && has("post", "process gallery");
            whole.then_some(spans.len())
        }
    })
    .await
}

async fn all_journeys(system: &mut System) {
    journeys::sign_up_sign_in_and_change_nickname(system).await;
    journeys::a_members_whole_life(system, &[]).await;
    journeys::a_withdrawn_members_token_is_refused(system).await;
    journeys::logout_ends_the_session(system).await;
}

fn record(args: &Args, name: &str, outcome: &Outcome) {
    let line = format!(
        "{name}\trequests={}\tfailed_requests={}\tjourneys_ok={}\tjourneys_failed={}\taction_s={:.1}\trecovery_s={}\tgalleries_checked={}",
        outcome.requests,
        outcome.failed_requests,
        outcome.journeys_ok,
        outcome.journeys_failed,
        outcome.action_s,
        outcome.recovery_s.map_or("-".into(), |s| format!("{s:.1}")),
        outcome.galleries_checked,
    );
    println!("{line}");
    if let Some(path) = &args.figures {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(file, "{line}").unwrap();
    }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let search = e2e::youtube::start_on(args.youtube).await;
    eprintln!("cluster_e2e: YouTube stand-in at {search}");
    let host = args
        .base
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap()
        .to_owned();
    let resolve = args.resolve.map(|addr| (host, addr));
    let system = Arc::new(System::external(&args.base, resolve.clone()));
    let mut lost = false;
    for name in args.scenarios.clone() {
        eprintln!("cluster_e2e: {name}");
        if name == "journeys" {
            let began = Instant::now();
            all_journeys(&mut System::external(&args.base, resolve.clone())).await;
            println!("journeys\tpassed_in_s={:.1}", began.elapsed().as_secs_f64());
            continue;
        }
        if name == "trace" {
            let spans = one_trace(&system).await;
            println!("trace\tspans={spans}\tprocesses=gateway,member,gallery,post");
            continue;
        }
        let outcome = scenario(&args, &system, &name).await;
        record(&args, &name, &outcome);
        let must_not_lose = name.starts_with("rollout:") || name.starts_with("scale:");
        lost |= must_not_lose && outcome.failed_requests > 0;
    }
    assert!(!lost, "a rollout or scale-up failed requests");
}

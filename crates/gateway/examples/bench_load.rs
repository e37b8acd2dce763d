//! Open-loop HTTP/1.1 load at a fixed rate for bench/gateway/run.sh, measured without coordinated
//! omission: each connection has its own schedule (connection i sends request k at
//! start + (i + k·conns) / rate, whether or not earlier answers came back), and a latency runs
//! from that intended time to the end of the response, so a slow answer is also charged to the
//! requests that queued behind it. One single-threaded runtime paces and does the I/O, so the tool
//! stays on the one CPU it is pinned to. Prints one JSON line.
//!
//!   bench_load URL RATE SECONDS CONNS [HEADER...]

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How long answers may still arrive after the last intended send before the rest count as
/// unfinished; far beyond any latency of a peer that keeps up with the rate.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Plan {
    addr: SocketAddr,
    request: Arc<[u8]>,
    rate: f64,
    seconds: f64,
    conns: usize,
}

fn main() -> anyhow::Result<()> {
    let plan = Plan::from_args(&std::env::args().skip(1).collect::<Vec<_>>())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&plan))?;
    writeln!(std::io::stdout().lock(), "{report}")?;
    Ok(())
}

impl Plan {
    fn from_args(args: &[String]) -> anyhow::Result<Self> {
        let [url, rate, seconds, conns, headers @ ..] = args else {
            bail!("usage: bench_load http://HOST:PORT/PATH RATE SECONDS CONNS [HEADER...]");
        };
        let rest = url
            .strip_prefix("http://")
            .context("only http:// URLs are supported")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let addr = authority
            .to_socket_addrs()?
            .next()
            .with_context(|| format!("{authority} resolves to nothing"))?;
        let path = if path.is_empty() { "/" } else { path };
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        let plan = Self {
            addr,
            request: request.into_bytes().into(),
            rate: rate.parse().context("RATE")?,
            seconds: seconds.trim_end_matches('s').parse().context("SECONDS")?,
            conns: conns.parse().context("CONNS")?,
        };
        if !(plan.rate > 0.0 && plan.seconds > 0.0 && plan.conns > 0) {
            bail!("RATE, SECONDS and CONNS must be positive");
        }
        Ok(plan)
    }
}

/// What one connection saw; nanoseconds since the intended send time.
#[derive(Debug, Default)]
struct Outcome {
    latencies: Vec<u64>,
    send_lags: Vec<u64>,
    errors: u64,
    unfinished: u64,
    last_done: Option<Instant>,
    first_error: Option<String>,
}

impl Outcome {
    fn fail(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }
}

async fn run(plan: &Plan) -> anyhow::Result<serde_json::Value> {
    let mut senders = Vec::with_capacity(plan.conns);
    let mut tasks = Vec::with_capacity(plan.conns);
    let (rate, seconds) = (plan.rate, plan.seconds);
    // Connections open before the clock starts, so no handshake lands in the samples.
    let streams = (0..plan.conns).map(|_| connect(plan.addr));
    let streams = futures::future::try_join_all(streams).await?;
    let start = Instant::now() + Duration::from_millis(20);
    let deadline = start + Duration::from_secs_f64(seconds) + DRAIN;
    for stream in streams {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        let (addr, request) = (plan.addr, Arc::clone(&plan.request));
        tasks.push(tokio::spawn(connection(
            stream, addr, request, rx, deadline,
        )));
    }
    let total = (rate * seconds).round() as u64;
    tokio::spawn(pace(senders, start, rate, total));
    let mut all = Outcome::default();
    for task in tasks {
        let one = task.await?;
        all.latencies.extend(one.latencies);
        all.send_lags.extend(one.send_lags);
        all.errors += one.errors;
        all.unfinished += one.unfinished;
        all.last_done = all.last_done.max(one.last_done);
        all.first_error = all.first_error.or(one.first_error);
    }
    Ok(report(plan, total, start, all))
}

/// Hands every connection its intended send times; a late one is still stamped with its intended
/// time, so whatever delayed it counts in its latency.
async fn pace(senders: Vec<mpsc::UnboundedSender<Instant>>, start: Instant, rate: f64, total: u64) {
    for (j, sender) in (0..total).zip(senders.iter().cycle()) {
        let due = start + Duration::from_secs_f64(j as f64 / rate);
        wait_until(due).await;
        // A connection past the deadline has stopped listening; its loss is counted there.
        let _ = sender.send(due);
    }
}

/// Tokio's timers fire up to a millisecond late, and a thread woken by the kernel competes for
/// the busy CPU, so the last stretch before a send is spent yielding to the connections (which
/// polls their sockets each time): the tool then keeps its CPU busy, and the upstream beside it
/// still gets it whenever it wakes, as the scheduler favours a task that slept.
async fn wait_until(due: Instant) {
    const COARSE: Duration = Duration::from_millis(3);
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        if due - now > COARSE {
            tokio::time::sleep_until((due - COARSE + Duration::from_millis(1)).into()).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    request: Arc<[u8]>,
    mut schedule: mpsc::UnboundedReceiver<Instant>,
    deadline: Instant,
) -> Outcome {
    let mut out = Outcome::default();
    let mut stream = Some(stream);
    let mut buf = Vec::with_capacity(4096);
    while let Some(due) = schedule.recv().await {
        let exchange = exchange(&mut stream, addr, &request, &mut buf);
        match tokio::time::timeout_at(deadline.into(), exchange).await {
            Ok(Ok((sent, status))) => {
                let done = Instant::now();
                if (200..300).contains(&status) {
                    out.latencies.push(nanos(done - due));
                    out.send_lags
                        .push(nanos(sent.saturating_duration_since(due)));
                } else {
                    out.fail(format!("status {status}"));
                }
                out.last_done = Some(done);
            }
            Ok(Err(e)) => out.fail(format!("{e:#}")),
            Err(_) => {
                schedule.close();
                out.unfinished += 1;
                while schedule.recv().await.is_some() {
                    out.unfinished += 1;
                }
            }
        }
    }
    out
}

/// One request and its response on the connection, which is opened again after a failure or
/// after the peer said it closes it (nginx does after 1000 requests), as a browser would.
async fn exchange(
    slot: &mut Option<TcpStream>,
    addr: SocketAddr,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> anyhow::Result<(Instant, u16)> {
    let stream = match slot.take() {
        Some(stream) => stream,
        None => connect(addr).await?,
    };
    let sent = Instant::now();
    let (status, reusable) = round_trip(&stream, request, buf).await?;
    if reusable {
        *slot = Some(stream);
    }
    Ok((sent, status))
}

async fn connect(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Status, and whether the connection stays open.
async fn round_trip(
    stream: &TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> anyhow::Result<(u16, bool)> {
    let mut written = 0;
    while written < request.len() {
        match stream.try_write(&request[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) => return Err(e.into()),
        }
    }
    buf.clear();
    loop {
        stream.readable().await?;
        match stream.try_read_buf(buf) {
            Ok(0) => bail!("the peer closed the connection"),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e.into()),
        }
        if let Some(head) = response_head(buf)?
            && buf.len() >= head.len
        {
            anyhow::ensure!(buf.len() == head.len, "more bytes than one response");
            return Ok((head.status, !head.close));
        }
    }
}

#[derive(Debug)]
struct Head {
    status: u16,
    /// Of the whole response, head and body.
    len: usize,
    close: bool,
}

/// The response at the start of `buf`, once its head is complete.
fn response_head(buf: &[u8]) -> anyhow::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = response.parse(buf)? else {
        return Ok(None);
    };
    let mut body = None;
    let mut close = false;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            body = Some(std::str::from_utf8(header.value)?.trim().parse::<usize>()?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("chunked responses are not supported");
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = header.value.eq_ignore_ascii_case(b"close");
        }
    }
    let body = body.context("a response without content-length")?;
    Ok(Some(Head {
        status: response.code.unwrap_or(0),
        len: head + body,
        close,
    }))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn report(plan: &Plan, total: u64, start: Instant, mut all: Outcome) -> serde_json::Value {
    all.latencies.sort_unstable();
    all.send_lags.sort_unstable();
    let ok = all.latencies.len();
    let elapsed = all
        .last_done
        .map_or(0.0, |t| t.saturating_duration_since(start).as_secs_f64());
    let us = |sorted: &[u64], q: f64| percentile(sorted, q) / 1000;
    serde_json::json!({
        "rate": plan.rate,
        "seconds": plan.seconds,
        "conns": plan.conns,
        "requests": total,
        "ok": ok,
        "errors": all.errors,
        "unfinished": all.unfinished,
        "achieved": if elapsed > 0.0 { (ok as f64 / elapsed).round() } else { 0.0 },
        "p50_us": us(&all.latencies, 0.50),
        "p90_us": us(&all.latencies, 0.90),
        "p99_us": us(&all.latencies, 0.99),
        "p999_us": us(&all.latencies, 0.999),
        "max_us": us(&all.latencies, 1.0),
        "send_lag_p50_us": us(&all.send_lags, 0.50),
        "send_lag_p99_us": us(&all.send_lags, 0.99),
        "first_error": all.first_error,
    })
}

/// Nearest-rank percentile of sorted samples (0 when there are none).
fn percentile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

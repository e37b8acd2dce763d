//! Test support: recording upstreams on port 0, a gateway in front of them, tokens and sessions on
//! the local Redis, a raw HTTP client that sends paths exactly as written, and a switchable TCP
//! relay to Redis for outage tests.

#![expect(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a different part"
)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use gateway::config::{Config, Limits, Policy};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use platform::CancellationToken;
use platform::auth::{Claims, RedisSessions, Role, Session, SessionStore, SigningKey, TOKEN_TTL};
use platform::config::{HostPort, HostPortList, HttpConfig, RedisConfig, Vars};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What an upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub upstream: &'static str,
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// Starts `app` on 127.0.0.1:0 with connection info, until `stop` is cancelled.
pub async fn serve(app: Router, stop: &CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = stop.clone();
    tokio::spawn(platform::shutdown::serve(
        listener,
        app,
        stop,
        Duration::from_secs(1),
    ));
    addr
}

/// An upstream that records every request and answers 200 `{"message":"ok"}`; a path ending in
/// `/slow` answers after two seconds.
pub fn recorder(name: &'static str, log: Log) -> Router {
    Router::new().fallback(move |request: Request| {
        let log = Arc::clone(&log);
        async move {
            log.lock().unwrap().push(Seen {
                upstream: name,
                method: request.method().clone(),
                uri: request.uri().to_string(),
                headers: request.headers().clone(),
            });
            if request.uri().path().ends_with("/slow") {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            (
                [("content-type", "application/json"), ("x-upstream", name)],
                r#"{"message":"ok"}"#,
            )
        }
    })
}

pub fn redis_config() -> RedisConfig {
    let env = testkit::dev_env();
    let mut vars = Vars::new(&env);
    RedisConfig::read(&mut vars).expect("REDIS_HOST in dev-services.env")
}

/// A port nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// An upstream address on 127.0.0.1 that refuses connections.
pub async fn nothing_listening() -> HostPort {
    HostPort {
        host: "127.0.0.1".into(),
        port: closed_port().await,
    }
}

pub fn one(host_port: HostPort) -> HostPortList {
    HostPortList(vec![host_port])
}

pub fn host_port(addr: SocketAddr) -> HostPort {
    HostPort {
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}

/// Policy for tests: limits off unless a test turns one on.
pub fn quiet_policy() -> Policy {
    Policy {
        limits: Limits::off(),
        access_log: false,
        ..Policy::default()
    }
}

/// A gateway in front of three recording upstreams.
pub struct Harness {
    pub addr: SocketAddr,
    pub log: Log,
    pub key: SigningKey,
    pub stop: CancellationToken,
}

/// How to build a harness.
pub struct Setup {
    pub policy: Policy,
    pub redis: RedisConfig,
    /// Replaces the member upstream's address (e.g. a closed port).
    pub member: Option<HostPort>,
    pub post: Option<HostPort>,
    /// Replaces the post upstream by a list (wins over `post`).
    pub post_list: Option<HostPortList>,
    /// Resolves the upstream names instead of the system.
    pub resolver: Option<Arc<dyn gateway::balance::Resolve>>,
    pub resolve_interval: Duration,
    pub max_connections: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            policy: quiet_policy(),
            redis: redis_config(),
            member: None,
            post: None,
            post_list: None,
            resolver: None,
            resolve_interval: gateway::config::DEFAULT_RESOLVE_INTERVAL,
            max_connections: gateway::config::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(Setup::default()).await
    }

    /// A gateway with `policy` and everything else as by default.
    pub async fn with_policy(policy: Policy) -> Self {
        Self::with(Setup {
            policy,
            ..Setup::default()
        })
        .await
    }

    /// A gateway whose post upstream listens at `post`.
    pub async fn in_front_of_post(post: SocketAddr) -> Self {
        Self::with(Setup {
            post: Some(host_port(post)),
            ..Setup::default()
        })
        .await
    }

    pub async fn with(setup: Setup) -> Self {
        let stop = CancellationToken::new();
        let log: Log = Arc::default();
        let member = serve(recorder("member", Arc::clone(&log)), &stop).await;
        let gallery = serve(recorder("gallery", Arc::clone(&log)), &stop).await;
        let post = serve(recorder("post", Arc::clone(&log)), &stop).await;
        let key = SigningKey::generate().unwrap();
        let config = Config {
            http: HttpConfig::ephemeral_loopback(),
            redis: setup.redis,
            member: one(setup.member.unwrap_or_else(|| host_port(member))),
            gallery: one(host_port(gallery)),
            post: setup
                .post_list
                .unwrap_or_else(|| one(setup.post.unwrap_or_else(|| host_port(post)))),
            resolve_interval: setup.resolve_interval,
            max_connections: setup.max_connections,
            keys: key.verifying_keys(),
            policy: setup.policy,
        };
        let resolver = setup
            .resolver
            .unwrap_or_else(|| Arc::new(gateway::balance::SystemResolver));
        let (gw, readiness) = gateway::connect_with(&config, &resolver).unwrap();
        let ops = platform::http::ops_routes(readiness);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let grace = Duration::from_secs(1);
        tokio::spawn(gateway::serve(listener, gw, ops, stop.clone(), grace));
        Self {
            addr,
            log,
            key,
            stop,
        }
    }

    /// Signs in `member_id`: a session in Redis and a token naming it.
    pub async fn login(&self, member_id: i64) -> (String, Session) {
        let session = Session::start(member_id, Role::User, TOKEN_TTL);
        sessions().await.create(&session).await.unwrap();
        let claims = Claims::new(member_id, Role::User, session.sid.clone(), now());
        (self.key.sign(&claims).unwrap(), session)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Answer {
        send(&self.url(path), method, headers, Body::empty()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, &[]).await
    }

    /// A GET of `path` with `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(Method::GET, path, headers).await
    }

    pub async fn with_cookie(&self, method: Method, path: &str, token: &str) -> Answer {
        let cookie = format!("gallery_cookie={token}");
        self.send(method, path, &[("cookie", &cookie)]).await
    }

    /// Everything the upstreams received so far, then forgets it.
    pub fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A gateway whose post upstream is `post`, with a signed-in member; the upstream stops when this
/// is dropped.
pub struct WithPost {
    pub harness: Harness,
    /// `gallery_cookie=<token>` of member 1.
    pub cookie: String,
    _upstream: tokio_util::sync::DropGuard,
}

pub async fn with_post(post: Router) -> WithPost {
    let stop = CancellationToken::new();
    let harness = Harness::in_front_of_post(serve(post, &stop).await).await;
    let (token, _) = harness.login(1).await;
    WithPost {
        harness,
        cookie: format!("gallery_cookie={token}"),
        _upstream: stop.drop_guard(),
    }
}

pub async fn sessions() -> RedisSessions {
    RedisSessions(
        platform::redis_client::connect(&redis_config())
            .await
            .unwrap(),
    )
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub use testkit::Answer;

pub fn client() -> Client<HttpConnector, Body> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// Sends a request with the URI exactly as written (no normalisation of `..` or `%2F`).
pub async fn send(url: &str, method: Method, headers: &[(&str, &str)], body: Body) -> Answer {
    let mut request = http::Request::builder()
        .method(method)
        .uri(url)
        .body(body)
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let response = client().request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Answer::new(parts.status, parts.headers, bytes.to_vec())
}

/// Sends `request` on a new connection to `addr` and returns everything read until the other side
/// closes, which it must do within ten seconds.
pub async fn exchange_raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    // A refusal may close with the request's rest unread, which resets the connection; what was
    // read before the reset stays in `answer` and is what the caller checks.
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the connection closes in time");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A relay in front of the real Redis that a test switches off and on, to simulate an outage
/// without stopping the shared server.
pub async fn redis_switch() -> testkit::Switch {
    let redis = redis_config();
    testkit::Switch::start(format!("{}:{}", redis.host, redis.port)).await
}

/// The Redis behind `switch`.
pub fn switched(switch: &testkit::Switch) -> RedisConfig {
    redis_on(switch.port())
}

/// The local Redis settings with `port` in place of Redis's own (a relay, or a closed port).
pub fn redis_on(port: u16) -> RedisConfig {
    RedisConfig {
        port,
        ..redis_config()
    }
}

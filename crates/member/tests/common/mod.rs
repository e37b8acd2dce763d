//! Shared test support: a member app on a real database (MariaDB or SQLite) with real Redis or
//! database sessions, a local stand-in for Kakao and Google, and request helpers.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    dead_code,
    unreachable_pub,
    reason = "test support fails loudly; each test file uses only a part of this module, which as \
              a test crate's module has no public API"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use events::Outbox;
use http_body_util::BodyExt;
use member::AppState;
use member::config::{AuthConfig, ProviderConfig};
use member::store::Member;
use member::throttle::{Ephemeral, MemoryEphemeral, RedisEphemeral};
use platform::auth::{DbSessions, RedisSessions, Session, SessionStore, SigningKey};
use platform::config::RedisConfig;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::Value;
use tower::ServiceExt;

/// Which database and session store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// MariaDB with Redis sessions (distributed mode).
    MariaDb,
    /// SQLite with database sessions and in-memory throttles (standalone mode).
    Sqlite,
}

/// The local Redis of `scripts/dev-services`.
pub fn redis_config() -> RedisConfig {
    let env = testkit::dev_env();
    RedisConfig::read(&mut platform::config::Vars::new(&env)).unwrap()
}

/// A fresh, migrated database of the given backend.
pub async fn database(backend: Backend) -> (DatabaseConnection, Option<tempfile::TempDir>) {
    match backend {
        Backend::MariaDb => {
            let mysql = testkit::MySqlDatabase::create().await;
            let config = platform::config::DatabaseConfig::from_url(&mysql.url()).unwrap();
            let db = platform::db::connect(&config).await.unwrap();
            platform::db::migrate::<member::migration::Migrator>(&db)
                .await
                .unwrap();
            // Member ids key Redis session sets shared by every test; start each database's
            // ids somewhere else so parallel tests never touch each other's sessions.
            let start = rand_start();
            db.execute_unprepared(&format!("ALTER TABLE members AUTO_INCREMENT = {start}"))
                .await
                .unwrap();
            (db, None)
        }
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let config = platform::config::DatabaseConfig::sqlite(dir.path().join("member.db"));
            let db = platform::db::connect(&config).await.unwrap();
            platform::db::migrate::<member::migration::Migrator>(&db)
                .await
                .unwrap();
            (db, Some(dir))
        }
    }
}

fn rand_start() -> u64 {
    let hex = testkit::unique();
    1_000_000 + u64::from_str_radix(&hex[..8], 16).unwrap() % 1_000_000_000
}

/// What the provider stand-in received.
#[derive(Debug, Default)]
pub struct ProviderLog {
    /// Token requests (form fields), in order.
    pub token_forms: Vec<HashMap<String, String>>,
}

/// A local stand-in for Kakao and Google. Codes are `good:<id>:<name>`; `boom` fails with 500;
/// anything else is refused with 400, as a provider refuses a bad code.
pub struct Providers {
    /// Base URL, e.g. `http://127.0.0.1:1234`.
    pub base: String,
    /// What it received.
    pub log: Arc<Mutex<ProviderLog>>,
}

async fn token(
    State(log): State<Arc<Mutex<ProviderLog>>>,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    let code = form.get("code").cloned().unwrap_or_default();
    log.lock().unwrap().token_forms.push(form);
    if code == "boom" {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    match code.strip_prefix("good:") {
        // Real tokens are ASCII; the name travels percent-encoded.
        Some(rest) => {
            axum::Json(serde_json::json!({ "access_token": format!("at:{}", enc(rest)) }))
                .into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "invalid_grant"})),
        )
            .into_response(),
    }
}

fn bearer(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let rest = value.strip_prefix("Bearer at:")?;
    let rest: String = url::form_urlencoded::parse(format!("v={rest}").as_bytes())
        .next()?
        .1
        .into_owned();
    let (id, name) = rest.split_once(':')?;
    Some((id.to_owned(), name.to_owned()))
}

async fn kakao_me(headers: HeaderMap) -> axum::response::Response {
    match bearer(&headers) {
        Some((id, name)) => axum::Json(serde_json::json!({
            "id": id.parse::<i64>().unwrap_or(0),
            "kakao_account": { "profile": { "nickname": name } }
        }))
        .into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn google_me(headers: HeaderMap) -> axum::response::Response {
    match bearer(&headers) {
        Some((id, name)) => {
            axum::Json(serde_json::json!({ "sub": id, "name": name })).into_response()
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

impl Providers {
    /// Starts the stand-in on a free port.
    pub async fn start() -> Self {
        let log = Arc::new(Mutex::new(ProviderLog::default()));
        let app = axum::Router::new()
            .route("/kakao/token", post(token))
            .route("/kakao/me", get(kakao_me))
            .route("/google/token", post(token))
            .route("/google/me", get(google_me))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, log }
    }

    fn provider(&self, name: &str, secret: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            client_id: format!("{name}-client"),
            client_secret: secret.map(|s| platform::SecretString::from(s.to_owned())),
            redirect_uri: format!("https://thegallery.test/oauth/{name}"),
            authorize_url: format!("{}/{name}/authorize", self.base).parse().unwrap(),
            token_url: format!("{}/{name}/token", self.base).parse().unwrap(),
            profile_url: format!("{}/{name}/me", self.base).parse().unwrap(),
        }
    }

    /// Settings pointing both providers here.
    pub fn auth_config(&self, key: SigningKey) -> AuthConfig {
        AuthConfig {
            signing_key: key,
            cookie_secure: true,
            kakao: Some(self.provider("kakao", None)),
            google: Some(self.provider("google", Some("google-secret"))),
            timezone: chrono_tz::Asia::Seoul,
        }
    }
}

/// A member app under test.
pub struct TestApp {
    /// The router.
    pub router: axum::Router,
    /// Its state (store, sessions, …).
    pub state: AppState,
    /// The key that signs its tokens.
    pub key: SigningKey,
    /// The provider stand-in.
    pub providers: Providers,
    /// The Redis connection, in MariaDB mode.
    pub redis: Option<platform::redis_client::SharedRedis>,
    /// Keeps the SQLite directory alive.
    pub _dir: Option<tempfile::TempDir>,
}

pub use testkit::Answer;

/// Decodes the header and claims of a JWT without verifying it.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let decode =
        |p: &str| -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap() };
    let header = decode(parts.next().unwrap());
    let claims = decode(parts.next().unwrap());
    (header, claims)
}

/// Percent-encodes a query value.
pub fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl TestApp {
    /// An app on `backend`.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, redis_config()).await
    }

    /// An app on `backend` whose Redis (MariaDB mode) is reached at `redis`.
    pub async fn start_with(backend: Backend, redis: RedisConfig) -> Self {
        let redis_config = redis;
        let (db, dir) = database(backend).await;
        let providers = Providers::start().await;
        let key = SigningKey::generate().unwrap();
        let (sessions, ephemeral, redis): (Arc<dyn SessionStore>, Arc<dyn Ephemeral>, _) =
            match backend {
                Backend::MariaDb => {
                    let redis = platform::redis_client::connect(&redis_config)
                        .await
                        .unwrap();
                    (
                        Arc::new(RedisSessions(redis.clone())),
                        Arc::new(RedisEphemeral(redis.clone())),
                        Some(redis),
                    )
                }
                Backend::Sqlite => (
                    Arc::new(DbSessions::open(db.clone()).await.unwrap()),
                    Arc::new(MemoryEphemeral::default()),
                    None,
                ),
            };
        let state = AppState::new(
            db,
            Outbox::default(),
            sessions,
            ephemeral,
            providers.auth_config(key.clone()),
        );
        Self {
            router: member::router(state.clone()),
            state,
            key,
            providers,
            redis,
            _dir: dir,
        }
    }

    /// Sends a request with an optional token (as the cookie) and JSON body.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::COOKIE, format!("gallery_cookie={token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer::new(status, headers, bytes.to_vec())
    }

    /// `GET uri` without a token.
    pub async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, None, None).await
    }

    /// `POST uri` without a token or a body.
    pub async fn post(&self, uri: &str) -> Answer {
        self.call(Method::POST, uri, None, None).await
    }

    /// `POST uri` with a JSON body and no token.
    pub async fn post_json(&self, uri: &str, body: Value) -> Answer {
        self.call(Method::POST, uri, None, Some(body)).await
    }

    /// `method uri` with `token` as the cookie and no body.
    pub async fn as_member(&self, method: Method, uri: &str, token: &str) -> Answer {
        self.call(method, uri, Some(token), None).await
    }

    /// The profile of the member `token` names (`GET /api/member`).
    pub async fn profile(&self, token: &str) -> Answer {
        self.as_member(Method::GET, "/api/member", token).await
    }

    /// Renames the member `token` names (`PATCH /api/member` with `body`).
    pub async fn rename(&self, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, "/api/member", Some(token), Some(body))
            .await
    }

    /// Withdraws the member `token` names (`DELETE /api/member`).
    pub async fn withdraw(&self, token: &str) -> Answer {
        self.as_member(Method::DELETE, "/api/member", token).await
    }

    /// Sends `method` to each of `uris` and asserts that every one answers this error.
    pub async fn assert_each_error(
        &self,
        method: Method,
        uris: &[&str],
        status: u16,
        code: &str,
        message: &str,
    ) {
        for uri in uris {
            let answer = self.call(method.clone(), uri, None, None).await;
            // The shared assertion does not say which of the requests it was checking.
            assert_eq!(answer.status, status, "{method} {uri}: {}", answer.text());
            answer.assert_error(status, code, message);
        }
    }

    /// Signs up a local account with [`PASSWORD`].
    pub async fn signup(&self, email: &str, nickname: &str) -> Answer {
        let body =
            serde_json::json!({ "email": email, "password": PASSWORD, "nickname": nickname });
        self.post_json("/api/member/signup", body).await
    }

    /// Signs in a local account.
    pub async fn signin(&self, email: &str, password: &str) -> Answer {
        let body = serde_json::json!({ "email": email, "password": password });
        self.post_json("/api/member/signin", body).await
    }

    /// Signs up a new local account with [`PASSWORD`] and returns its e-mail address.
    pub async fn local_account(&self) -> String {
        let email = unique_email();
        self.signup(&email, &unique_nickname())
            .await
            .assert_ok("회원가입 성공");
        email
    }

    /// The stored session `token` names, if it still exists.
    pub async fn session(&self, token: &str) -> Option<Session> {
        self.state.sessions.get(&Self::sid(token)).await.unwrap()
    }

    /// The active member with this id; panics when there is none.
    pub async fn active_member(&self, member_id: i64) -> Member {
        self.state
            .store
            .find_active(member_id)
            .await
            .unwrap()
            .expect("an active member")
    }

    /// Logs in through Kakao as `kakao_id` with display name `name`; returns the answer.
    pub async fn kakao_login(&self, kakao_id: i64, name: &str) -> Answer {
        let code = enc(&format!("good:{kakao_id}:{name}"));
        self.call(
            Method::POST,
            &format!("/api/member/callback?type=kakao&code={code}"),
            None,
            None,
        )
        .await
    }

    /// Logs in a new Kakao member and returns the token.
    pub async fn member_token(&self) -> String {
        let answer = self.kakao_login(unique_id(), "tester").await;
        answer.assert_ok("로그인 성공");
        answer.token()
    }

    /// The member id a token names.
    pub fn member_id(token: &str) -> i64 {
        jwt_parts(token).1["sub"].as_str().unwrap().parse().unwrap()
    }

    /// The session id a token names.
    pub fn sid(token: &str) -> String {
        jwt_parts(token).1["sid"].as_str().unwrap().to_owned()
    }

    /// Outbox rows as `(event_type, aggregate_id, payload)`, oldest first.
    pub async fn outbox(&self) -> Vec<(String, String, Value)> {
        let rows = self
            .state
            .store
            .db()
            .query_all_raw(sea_orm::Statement::from_string(
                self.state.store.db().get_database_backend(),
                "SELECT event_type, aggregate_id, payload FROM outbox ORDER BY id",
            ))
            .await
            .unwrap();
        rows.into_iter()
            .map(|row| {
                let payload: String = row.try_get("", "payload").unwrap();
                let envelope: Value = serde_json::from_str(&payload).unwrap();
                (
                    row.try_get("", "event_type").unwrap(),
                    row.try_get("", "aggregate_id").unwrap(),
                    envelope["payload"].clone(),
                )
            })
            .collect()
    }
}

/// Writes one `#[tokio::test]` per row, named by the row's sentence, for the many cases that differ
/// only in data: each starts an app on the row's backend, sends the row's method to each of its
/// URIs without a token or a body, and asserts that every one answers the row's error.
///
/// ```text
/// refusal_tests! {
///     a_profile_without_a_cookie_is_refused: MariaDb, GET ["/api/member"]
///         => 400, "GATE004", "missing cookie";
/// }
/// ```
#[allow(
    unused_macros,
    reason = "only some test files write refusal tables; `expect` would fail in the others"
)]
macro_rules! refusal_tests {
    ($(
        $name:ident: $backend:ident, $method:ident [$($uri:literal),+ $(,)?]
            => $status:literal, $code:literal, $message:expr;
    )+) => {
        $(
            #[tokio::test]
            async fn $name() {
                let app = $crate::common::TestApp::start($crate::common::Backend::$backend).await;
                let uris = [$($uri),+];
                let method = ::axum::http::Method::$method;
                app.assert_each_error(method, &uris, $status, $code, $message)
                    .await;
            }
        )+
    };
}
#[allow(
    unused_imports,
    reason = "only some test files write refusal tables; `expect` would fail in the others"
)]
pub(crate) use refusal_tests;

/// Asserts the status and `errorCode` of an answer whose message the test does not pin down.
#[track_caller]
pub fn assert_status_and_code(answer: &Answer, status: u16, code: &str) {
    assert_eq!(
        (answer.status.as_u16(), answer.code()),
        (status, code),
        "{}",
        answer.text()
    );
}

/// The `Set-Cookie` that ends the session in the browser.
pub const CLEARED_COOKIE: &str = "gallery_cookie=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax";

/// The message that refuses a nickname outside the rule.
pub const INVALID_NICKNAME: &str = "닉네임은 한글, 영어, 숫자 조합 2~10자로 입력해주세요";

/// The password of the local accounts tests sign up; long and uncommon enough to be accepted.
pub const PASSWORD: &str = "a quiet gallery at dawn";

/// A Kakao id no other test uses.
pub fn unique_id() -> i64 {
    i64::from_str_radix(&testkit::unique()[..12], 16).unwrap()
}

/// An e-mail address no other test uses.
pub fn unique_email() -> String {
    format!("user{}@example.com", testkit::unique())
}

/// A valid nickname no other test uses.
pub fn unique_nickname() -> String {
    format!("n{}", &testkit::unique()[..8])
}

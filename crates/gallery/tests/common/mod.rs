//! Shared test support: a gallery service on a fresh MariaDB database (or a SQLite file), tokens
//! for members, and one-shot requests through the router.

#![expect(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a different part of this module"
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use gallery::{AppState, Config};
use http_body_util::BodyExt;
use std::sync::Arc;

use platform::auth::testing::{Members, sessions_or_embedded};
use platform::auth::{SessionSource, SigningKey};
use platform::config::{DatabaseConfig, Presentation, ServiceConfig};
use platform::http::PublicBaseUrl;
use serde_json::Value;
use tower::ServiceExt;

/// The public base every test configures.
pub const BASE: &str = "https://gallery.test";

/// A running gallery service (router and state) with a key to sign members' tokens.
pub struct Service {
    pub state: AppState,
    pub bus: events::Bus,
    pub relay: events::Relay,
    pub consumer: events::Consumer,
    pub app: Router,
    pub mysql: Option<testkit::MySqlDatabase>,
    pub members: Members,
    _dir: Option<tempfile::TempDir>,
}

pub use testkit::Answer;

/// The Redis of the local dev services.
pub fn redis_config() -> platform::config::RedisConfig {
    let env = testkit::dev_env();
    platform::config::RedisConfig::read(&mut platform::config::Vars::new(&env)).unwrap()
}

fn config(database: DatabaseConfig, key: &SigningKey, sessions: SessionSource) -> Config {
    Config {
        service: ServiceConfig::local(database),
        presentation: Presentation {
            public_base_url: BASE.parse::<PublicBaseUrl>().unwrap(),
            timezone: chrono_tz::Asia::Seoul,
        },
        keys: key.verifying_keys(),
        sessions,
    }
}

impl Service {
    /// On a fresh MariaDB database.
    pub async fn mysql() -> Self {
        let db = testkit::MySqlDatabase::create().await;
        let database = DatabaseConfig::from_url(&db.url()).unwrap();
        Self::start(database, Some(db), None).await
    }

    /// On a fresh SQLite file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = DatabaseConfig::sqlite(dir.path().join("gallery.db"));
        Self::start(database, None, Some(dir)).await
    }

    async fn start(
        database: DatabaseConfig,
        mysql: Option<testkit::MySqlDatabase>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        Self::start_on(events::Bus::in_process(), database, mysql, dir).await
    }

    /// On a fresh MariaDB database, with events on `bus`.
    pub async fn mysql_on(bus: events::Bus) -> Self {
        let db = testkit::MySqlDatabase::create().await;
        let database = DatabaseConfig::from_url(&db.url()).unwrap();
        Self::start_on(bus, database, Some(db), None).await
    }

    /// On a fresh SQLite file, checking tokens against the sessions of `sessions` (Redis).
    pub async fn sqlite_with(sessions: SessionSource) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = DatabaseConfig::sqlite(dir.path().join("gallery.db"));
        let bus = events::Bus::in_process();
        Self::start_with(bus, database, None, Some(dir), Some(sessions)).await
    }

    async fn start_on(
        bus: events::Bus,
        database: DatabaseConfig,
        mysql: Option<testkit::MySqlDatabase>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        Self::start_with(bus, database, mysql, dir, None).await
    }

    /// `sessions` defaults to the embedded store on the test's own database.
    async fn start_with(
        bus: events::Bus,
        database: DatabaseConfig,
        mysql: Option<testkit::MySqlDatabase>,
        dir: Option<tempfile::TempDir>,
        sessions: Option<SessionSource>,
    ) -> Self {
        let key = SigningKey::generate().unwrap();
        let sessions = sessions_or_embedded(sessions, &database).await;
        let mut connected = gallery::connect(&config(database, &key, sessions), &bus)
            .await
            .unwrap();
        let relay = connected.workers.take_relay().unwrap();
        let consumer = connected.workers.take_consumer().unwrap();
        let state = connected.state;
        let app = gallery::router(state.clone());
        let members = Members::new(key, Arc::clone(&state.sessions));
        Self {
            state,
            bus,
            relay,
            consumer,
            app,
            mysql,
            members,
            _dir: dir,
        }
    }

    /// A valid token of `member`, naming a live session of theirs.
    pub async fn token(&self, member: i64) -> String {
        self.members.token(member).await
    }

    /// Sends one request; `member` signs it with a bearer token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        member: Option<i64>,
        body: Option<Value>,
    ) -> Answer {
        self.send_body(method, path, member, body.map(|json| json.to_string()))
            .await
    }

    /// Sends one request with `body` as a JSON body verbatim (for numbers JSON values cannot hold).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        member: Option<i64>,
        body: String,
    ) -> Answer {
        self.send_body(method, path, member, Some(body)).await
    }

    async fn send_body(
        &self,
        method: Method,
        path: &str,
        member: Option<i64>,
        body: Option<String>,
    ) -> Answer {
        let token = match member {
            Some(member) => Some(self.token(member).await),
            None => None,
        };
        let body = body.map(|json| ("application/json", Body::from(json)));
        self.request(testkit::request(method, path, token.as_deref(), body))
            .await
    }

    /// Sends a request as built.
    pub async fn request(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer::new(status, headers, bytes.to_vec())
    }

    pub async fn get(&self, path: &str, member: Option<i64>) -> Answer {
        self.send(Method::GET, path, member, None).await
    }

    /// The titles a search of `kind` (`title` or `author`) for `query` answers, in its order.
    pub async fn search_titles(&self, kind: &str, query: &str) -> Vec<String> {
        let query: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let path = format!("/api/gallery/search?type={kind}&query={query}");
        let answer = self.get(&path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
        let data = answer.json["data"].as_array().unwrap();
        data.iter()
            .map(|item| item["title"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Creates a gallery for `member` and returns its id.
    pub async fn create(&self, member: i64, place: i64, name: &str) -> i64 {
        let answer = self
            .send(
                Method::POST,
                "/api/gallery",
                Some(member),
                Some(serde_json::json!({"placeId": place, "name": name, "content": "소개"})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
        answer.json["data"]["galleryId"].as_i64().unwrap()
    }

    /// Sets a nickname in the projection directly, as the member events would.
    pub async fn nickname(&self, member: i64, nickname: &str) {
        events::nicknames::set(&self.state.db, member, nickname)
            .await
            .unwrap();
    }

    /// Drops the MariaDB database, if any.
    pub async fn finish(self) {
        if let Some(db) = self.mysql {
            db.drop_now().await;
        }
    }
}

pub mod both;

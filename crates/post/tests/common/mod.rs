//! Shared test harness: a post service on a fresh MariaDB (or SQLite) database, images in a temp
//! directory, tokens signed by a throwaway key, and a multipart form builder.

#![expect(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "each test file uses a subset"
)]

use std::collections::BTreeSet;
use std::path::Path;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;

use platform::auth::testing::{Members, sessions_or_embedded};
use platform::auth::{SessionSource, SigningKey};
use platform::config::{DatabaseConfig, ServiceConfig, StorageConfig};
use post::entity::comment;
use post::{AppState, Config, Settings};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

/// The member who owns the test gallery.
pub const OWNER: i64 = 7;
/// Another signed-in member.
pub const VISITOR: i64 = 8;
/// The gallery most tests hang their frames in.
pub const GALLERY: i64 = 100;

/// The Redis of the local dev services.
pub fn redis_config() -> platform::config::RedisConfig {
    let env = testkit::dev_env();
    platform::config::RedisConfig::read(&mut platform::config::Vars::new(&env)).unwrap()
}

/// One post service under test.
pub struct Harness {
    pub app: Router,
    pub state: AppState,
    pub images: TempDir,
    pub members: Members,
    _sqlite: Option<TempDir>,
}

impl Harness {
    /// On a fresh MariaDB database, music not configured.
    pub async fn mysql() -> Self {
        Self::mysql_with(Settings::default()).await
    }

    /// On a fresh MariaDB database with these settings.
    pub async fn mysql_with(settings: Settings) -> Self {
        let db = testkit::MySqlDatabase::create().await;
        let config = DatabaseConfig::from_url(&db.url()).unwrap();
        Self::start(config, settings, None).await
    }

    /// On a fresh SQLite file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = DatabaseConfig::sqlite(dir.path().join("post.db"));
        Self::start(config, Settings::default(), Some(dir)).await
    }

    async fn start(database: DatabaseConfig, settings: Settings, sqlite: Option<TempDir>) -> Self {
        let images = tempfile::tempdir().unwrap();
        let storage = StorageConfig::Local {
            root: images.path().to_owned(),
        };
        Self::start_with(database, storage, settings, sqlite, images).await
    }

    /// On a fresh SQLite file, checking tokens against the sessions of `sessions` (Redis).
    pub async fn sqlite_with_sessions(sessions: SessionSource) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = DatabaseConfig::sqlite(dir.path().join("post.db"));
        let images = tempfile::tempdir().unwrap();
        let storage = StorageConfig::Local {
            root: images.path().to_owned(),
        };
        let settings = Settings::default();
        Self::start_sessions(
            database,
            storage,
            settings,
            Some(dir),
            images,
            Some(sessions),
        )
        .await
    }

    /// On a fresh MariaDB database with images in an S3 bucket.
    pub async fn mysql_s3(storage: StorageConfig, settings: Settings) -> Self {
        let db = testkit::MySqlDatabase::create().await;
        let config = DatabaseConfig::from_url(&db.url()).unwrap();
        let unused = tempfile::tempdir().unwrap();
        Self::start_with(config, storage, settings, None, unused).await
    }

    async fn start_with(
        database: DatabaseConfig,
        storage: StorageConfig,
        settings: Settings,
        sqlite: Option<TempDir>,
        images: TempDir,
    ) -> Self {
        Self::start_sessions(database, storage, settings, sqlite, images, None).await
    }

    /// `sessions` defaults to the embedded store on the test's own database.
    async fn start_sessions(
        database: DatabaseConfig,
        storage: StorageConfig,
        settings: Settings,
        sqlite: Option<TempDir>,
        images: TempDir,
        sessions: Option<SessionSource>,
    ) -> Self {
        let key = SigningKey::generate().unwrap();
        let sessions = sessions_or_embedded(sessions, &database).await;
        let config = Config {
            service: ServiceConfig::local(database),
            storage,
            auth: key.verifying_keys(),
            sessions,
            settings,
        };
        let state = post::connect(&config, &events::Bus::in_process())
            .await
            .unwrap()
            .state;
        let members = Members::new(key, Arc::clone(&state.sessions));
        Self {
            app: post::router(state.clone()),
            state,
            images,
            members,
            _sqlite: sqlite,
        }
    }

    /// A valid token of `member_id`, naming a live session of theirs.
    pub async fn token(&self, member_id: i64) -> String {
        self.members.token(member_id).await
    }

    /// Sends a request and collects the answer.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, bytes)
    }

    /// Sends a `GET` as a visitor, answering status and JSON body.
    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, None, None).await
    }

    /// Sends a JSON request (or none) as `member`, answering status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        member: Option<i64>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = match member {
            Some(member) => Some(self.token(member).await),
            None => None,
        };
        let body = body.map(|json| ("application/json", Body::from(json.to_string())));
        let request = testkit::request(method, uri, token.as_deref(), body);
        let (status, _, bytes) = self.send(request).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// Sends a `PATCH /api/post/list/{galleryId}` form as `member`.
    pub async fn patch_posts(
        &self,
        gallery_id: i64,
        member: i64,
        form: Form,
    ) -> (StatusCode, Value) {
        let (content_type, body) = form.finish();
        let request = testkit::request(
            Method::PATCH,
            &format!("/api/post/list/{gallery_id}"),
            Some(&self.token(member).await),
            Some((&content_type, Body::from(body))),
        );
        let (status, _, bytes) = self.send(request).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Applies `gallery.created` as the consumer would.
    pub async fn gallery(&self, gallery_id: i64, member_id: i64, frames: u32) {
        post::reactions::gallery_created(&self.state.db, gallery_id, member_id, frames)
            .await
            .unwrap();
    }

    /// The post ids of a gallery in display order.
    pub async fn post_ids(&self, gallery_id: i64) -> Vec<i64> {
        post::store::list_posts(&self.state.db, gallery_id)
            .await
            .unwrap()
            .into_iter()
            .map(|(p, _)| p.id)
            .collect()
    }

    /// Everything `PATCH /api/post/list/{galleryId}` could change: posts (with music) and comments.
    pub async fn snapshot(&self, gallery_id: i64) -> String {
        let posts = post::store::list_posts(&self.state.db, gallery_id)
            .await
            .unwrap();
        let comments = comment::Entity::find()
            .order_by_asc(comment::Column::Id)
            .all(&self.state.db)
            .await
            .unwrap();
        format!("{posts:?}\n{comments:?}")
    }

    /// Names of every file in the image directory.
    pub fn stored_files(&self) -> BTreeSet<String> {
        let mut files = BTreeSet::new();
        collect(self.images.path(), self.images.path(), &mut files);
        files
    }

    /// The bytes stored under `key`.
    pub fn stored(&self, key: &str) -> Vec<u8> {
        std::fs::read(self.images.path().join(key)).unwrap()
    }
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            files.insert(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// A PNG-looking file of `size` bytes.
pub fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size.max(8), 7);
    bytes
}

/// A JPEG-looking file of `size` bytes.
pub fn jpeg(size: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.resize(size.max(4), 3);
    bytes
}

/// A multipart body shaped as the original frontend's frame editor sends it: per post the parts
/// `posts[i].postId`, `.order`, `.isActive`, `.image` (an empty file part when unchanged),
/// `.musicId`, `.title` and `.content`.
pub struct Form {
    boundary: String,
    body: Vec<u8>,
}

/// One `posts[i]` entry.
#[derive(Clone)]
pub struct PostPart<'a> {
    pub post_id: i64,
    pub order: i64,
    pub title: &'a str,
    pub content: &'a str,
    pub music_id: &'a str,
    pub is_active: bool,
    /// `None` sends the browser's empty file part.
    pub image: Option<Vec<u8>>,
}

impl<'a> PostPart<'a> {
    /// A post with text, no music, active, no new image.
    pub fn new(post_id: i64, order: i64) -> Self {
        Self {
            post_id,
            order,
            title: "제목",
            content: "내용",
            music_id: "",
            is_active: true,
            image: None,
        }
    }
}

impl Default for Form {
    fn default() -> Self {
        Self {
            boundary: "----thegallery-test-boundary".into(),
            body: Vec::new(),
        }
    }
}

impl Form {
    /// A text part.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self
    }

    /// A file part.
    pub fn file(mut self, name: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// Every part of `posts[i]`, in the frontend's order.
    pub fn post(self, i: usize, part: &PostPart<'_>) -> Self {
        let p = |name: &str| format!("posts[{i}].{name}");
        let form = self
            .text(&p("postId"), &part.post_id.to_string())
            .text(&p("order"), &part.order.to_string())
            .text(
                &p("isActive"),
                if part.is_active { "true" } else { "false" },
            );
        let form = match &part.image {
            Some(bytes) => form.file(&p("image"), "photo.png", "image/png", bytes),
            None => form.file(&p("image"), "", "application/octet-stream", b""),
        };
        form.text(&p("musicId"), part.music_id)
            .text(&p("title"), part.title)
            .text(&p("content"), part.content)
    }

    /// The content type and body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

/// A form with one entry per post id, orders 1..N.
pub fn form_for(ids: &[i64]) -> Form {
    ids.iter()
        .enumerate()
        .fold(Form::default(), |form, (i, id)| {
            form.post(i, &PostPart::new(*id, i as i64 + 1))
        })
}

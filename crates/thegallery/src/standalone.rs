//! Standalone mode: the whole system in one process, state under `DATA_DIR`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use platform::CancellationToken;
use platform::auth::SessionSource;
use platform::config::{
    ConfigError, DatabaseConfig, Environment, HttpConfig, Presentation, RetentionConfig,
    ServiceConfig, StorageConfig, Vars,
};
use platform::http::ops_routes;

/// Configuration of standalone mode.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the gateway listens: `PORT` (default 8000), `BIND_ADDR` (default 127.0.0.1).
    pub http: HttpConfig,
    /// `DATA_DIR`, default `./data`: databases, keys and images.
    pub data_dir: PathBuf,
    /// Post's optional settings (`IMAGE_BASE_URL`, `APP_TIMEZONE`, `SPOTIFY_*`, `YOUTUBE_*`).
    pub post_settings: post::Settings,
    /// Member's optional settings (`COOKIE_SECURE` default false, `KAKAO_*`, `GOOGLE_*`).
    pub member_settings: member::config::Settings,
    /// `STATIC_DIR`: a frontend build served at `/`, with `index.html` for client routes.
    pub static_dir: Option<PathBuf>,
    /// The gateway's CORS, rate limits and proxy trust (`CORS_*`, `RATE_LIMIT_*`, …).
    pub gateway_policy: gateway::config::Policy,
    /// How long the event tables keep done rows (`EVENTS_*`), for every service.
    pub retention: RetentionConfig,
    /// `PUBLIC_BASE_URL` (by default each request's origin) and `APP_TIMEZONE`, for every service.
    pub presentation: Presentation,
}

impl Config {
    /// Reads `PORT`, `BIND_ADDR` and `DATA_DIR`.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let http = HttpConfig {
            bind_addr: vars.or("BIND_ADDR", IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: vars.or("PORT", gateway::config::DEFAULT_PORT),
        };
        let data_dir = vars.or("DATA_DIR", PathBuf::from("./data"));
        let presentation = Presentation::read(&mut vars);
        let post_settings = post::Settings::read(&mut vars, None).map(|s| post::Settings {
            timezone: presentation.timezone,
            ..s
        });
        let member_settings = member::config::Settings {
            timezone: presentation.timezone,
            ..member::config::Settings::read(&mut vars, false)
        };
        let static_dir: Option<PathBuf> = vars.optional("STATIC_DIR");
        let gateway_policy = gateway::config::Policy::read(&mut vars);
        let retention = RetentionConfig::read(&mut vars);
        if let Some(dir) = &static_dir
            && !dir.join("index.html").is_file()
        {
            vars.problem("STATIC_DIR", format!("{} has no index.html", dir.display()));
        }
        vars.finish(|| {
            Some(Self {
                http,
                data_dir,
                post_settings: post_settings?,
                member_settings,
                static_dir,
                gateway_policy,
                retention,
                presentation,
            })
        })
    }

    /// What a service in this process shares with the others: the listen address (every service
    /// is served behind the gateway on it), a SQLite database of its own and no broker.
    fn service(&self, name: &str) -> ServiceConfig {
        ServiceConfig {
            http: self.http.clone(),
            database: DatabaseConfig::sqlite(self.data_dir.join(format!("{name}.db"))),
            kafka: None,
            retention: self.retention,
        }
    }

    /// The member service's configuration inside this process.
    pub fn member(&self, signing_key: platform::auth::SigningKey) -> member::Config {
        member::Config {
            service: self.service("member"),
            redis: None,
            auth: member::config::AuthConfig::new(signing_key, self.member_settings.clone()),
        }
    }

    /// The gallery service's configuration inside this process; `sessions` is member's store.
    pub fn gallery(
        &self,
        keys: platform::auth::VerifyingKeys,
        sessions: SessionSource,
    ) -> gallery::Config {
        gallery::Config {
            service: self.service("gallery"),
            presentation: self.presentation.clone(),
            keys,
            sessions,
        }
    }

    /// The post service's configuration inside this process; `sessions` is member's store.
    pub fn post(
        &self,
        keys: platform::auth::VerifyingKeys,
        sessions: SessionSource,
    ) -> post::Config {
        post::Config {
            service: self.service("post"),
            storage: StorageConfig::Local {
                root: self.data_dir.join("images"),
            },
            auth: keys,
            sessions,
            settings: self.post_settings.clone(),
        }
    }
}

fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create DATA_DIR {}: {e}", dir.display()))
}

/// Runs every service behind the gateway in this process until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    create_data_dir(&config.data_dir)?;
    let signing_key = member::config::load_or_create_key(&config.data_dir)?;
    let gateway_keys = signing_key.verifying_keys();
    let bus = events::Bus::in_process();
    let member = member::connect(&config.member(signing_key), &bus).await?;
    // One embedded session store, member's: gallery and post read the sessions it writes.
    let sessions = SessionSource::Shared(std::sync::Arc::clone(&member.state.sessions));
    let gallery = gallery::connect(
        &config.gallery(gateway_keys.clone(), sessions.clone()),
        &bus,
    )
    .await?;
    let post = post::connect(&config.post(gateway_keys.clone(), sessions), &bus).await?;
    // Every consumer has registered with the bus in `connect`; started only now, no purger can
    // take a topic's rows for consumed while one of its consumers is still missing.
    let member_workers = member.workers.spawn(&shutdown);
    let gallery_workers = gallery.workers.spawn(&shutdown);
    let post_workers = post.workers.spawn(&shutdown);
    let (member_state, member_ready) = (member.state, member.readiness);
    let (gallery_state, gallery_ready) = (gallery.state, gallery.readiness);
    let (post_state, post_ready) = (post.state, post.readiness);
    let gateway_sessions = std::sync::Arc::clone(&member_state.sessions);
    let app = gateway::in_process(gateway::InProcess {
        keys: gateway_keys,
        sessions: gateway_sessions,
        policy: config.gateway_policy.clone(),
        member: member::router(member_state),
        gallery: gallery::router(gallery_state),
        post: post::router(post_state),
    })
    .merge(ops_routes(
        member_ready
            .clone()
            .merge(gallery_ready.clone())
            .merge(post_ready.clone()),
    ));
    let app = match &config.static_dir {
        Some(dir) => with_frontend(app, dir),
        None => app.merge(crate::home::routes(vec![
            ("member", member_ready),
            ("gallery", gallery_ready),
            ("post", post_ready),
        ])),
    };

    let listener = platform::shutdown::bind(config.http.addr()).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "thegallery standalone is ready");
    announce(addr);
    // The same server and connection rules as each service has in distributed mode.
    let served = platform::http::server::serve(
        listener,
        app,
        shutdown.clone(),
        platform::shutdown::DEFAULT_GRACE,
        platform::http::ConnectionRules::default(),
        gateway::CODES,
    )
    .await;
    // The event workers stop with the token; a server that failed must stop them too.
    shutdown.cancel();
    member_workers.join().await;
    gallery_workers.join().await;
    post_workers.join().await;
    served?;
    tracing::info!("thegallery standalone stopped");
    Ok(())
}

/// Tells the person who started the system where it is and how to begin. Written without
/// `println!`, which panics when nobody reads stdout any more (a closed pipe must not stop the
/// server).
fn announce(addr: std::net::SocketAddr) {
    use std::io::Write;
    let text = format!(
        "thegallery is running at http://{addr}  (health: http://{addr}/health)\n\
         sign up:  curl -s http://{addr}/api/member/signup -H 'content-type: application/json' \\\n    \
         -d '{{\"email\":\"you@example.com\",\"password\":\"a long passphrase\",\"nickname\":\"you\"}}'\n\
         sign in:  curl -s -c cookies http://{addr}/api/member/signin -H 'content-type: application/json' \\\n    \
         -d '{{\"email\":\"you@example.com\",\"password\":\"a long passphrase\"}}'   (README: the whole journey)\n"
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Paths that stay with the API and the probes even when a frontend is served.
fn is_backend_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || matches!(path, "/health" | "/livez" | "/readyz" | "/metrics")
}

/// Serves the frontend build in `dir` for every GET outside the API: files as they are, and
/// `index.html` for client-side routes (the React router's paths).
fn with_frontend(app: axum::Router, dir: &Path) -> axum::Router {
    use axum::extract::Request;
    use axum::middleware::Next;
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    use tower_http::services::{ServeDir, ServeFile};

    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let files = files.clone();
            async move {
                let frontend = matches!(*req.method(), http::Method::GET | http::Method::HEAD)
                    && !is_backend_path(req.uri().path());
                if !frontend {
                    return next.run(req).await;
                }
                match files.oneshot(req).await {
                    Ok(response) => response.into_response(),
                    Err(never) => match never {},
                }
            }
        },
    ))
}

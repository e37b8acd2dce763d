//! The system under test: the standalone process, or gateway + member + gallery + post as four
//! processes against the local MariaDB, Redis and Kafka. Processes can be killed with SIGKILL and
//! started again on the same port, as a crash and a restart in production would.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use platform::auth::SigningKey;

/// How the system runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One process, SQLite, in-process bus.
    Standalone,
    /// Four processes, MariaDB, Redis, Kafka.
    Distributed,
    /// Running elsewhere (a cluster); its processes are not ours to start or stop.
    External,
}

/// One process of the distributed system (standalone has only `Gateway`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// The gateway (the standalone process, in standalone mode).
    Gateway,
    /// Member.
    Member,
    /// Gallery.
    Gallery,
    /// Post.
    Post,
    /// The shared Kafka broker of `scripts/dev-services` (crash tests only).
    Kafka,
}

impl Service {
    fn command(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Member => "member",
            Self::Gallery => "gallery",
            Self::Post => "post",
            Self::Kafka => "kafka",
        }
    }
}

/// A running system and everything it needs.
#[derive(Debug)]
pub struct System {
    /// Which mode.
    pub mode: Mode,
    /// The gateway's base URL, `http://127.0.0.1:<port>`.
    pub base: String,
    bin: PathBuf,
    dir: tempfile::TempDir,
    envs: HashMap<Service, HashMap<String, String>>,
    ports: HashMap<Service, u16>,
    children: HashMap<Service, Child>,
    databases: Vec<testkit::MySqlDatabase>,
    ready_after: HashMap<Service, Duration>,
    resolve: Option<(String, std::net::SocketAddr)>,
}

/// `N` distinct free ports. Every listener is held until all are chosen: released one by one,
/// the kernel could hand the same port out twice, and two processes of one system would then
/// race for it (the loser exits, and the winner answers the readiness poll in its place).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [std::net::TcpListener; N] =
        std::array::from_fn(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    listeners.map(|listener| listener.local_addr().unwrap().port())
}

fn pairs(items: &[(&str, String)]) -> HashMap<String, String> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl System {
    /// Starts `thegallery standalone` with a fresh `DATA_DIR`.
    pub async fn standalone(bin: &Path) -> Self {
        Self::standalone_with(bin, &[]).await
    }

    /// As [`System::standalone`], with extra variables (e.g. `RATE_LIMIT_SIGNIN=off` for load).
    pub async fn standalone_with(bin: &Path, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let youtube = crate::youtube::start().await;
        let [port] = free_ports();
        let env = pairs(&[
            ("PORT", port.to_string()),
            ("DATA_DIR", dir.path().join("data").display().to_string()),
            ("YOUTUBE_API_KEY", "e2e-key".into()),
            ("YOUTUBE_SEARCH_URL", youtube),
            ("LOG_FORMAT", "json".into()),
        ]);
        let mut env = env;
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut system = Self {
            mode: Mode::Standalone,
            base: format!("http://127.0.0.1:{port}"),
            bin: bin.to_owned(),
            dir,
            envs: HashMap::from([(Service::Gateway, env)]),
            ports: HashMap::from([(Service::Gateway, port)]),
            children: HashMap::new(),
            databases: Vec::new(),
            ready_after: HashMap::new(),
            resolve: None,
        };
        system.start(Service::Gateway).await;
        system
    }

    /// Starts member, gallery, post and the gateway against the local servers, each service with
    /// its own fresh database and the whole system with its own Kafka topics.
    pub async fn distributed(bin: &Path) -> Self {
        Self::distributed_with(bin, &[]).await
    }

    /// As [`System::distributed`], with extra variables for the gateway.
    pub async fn distributed_with(bin: &Path, extra: &[(&str, &str)]) -> Self {
        Self::distributed_inner(bin, extra, None).await
    }

    /// As [`System::distributed_with`], every process exporting its spans over OTLP to the
    /// collector at `endpoint` as service `gateway`, `member`, `gallery` or `post`, in batches
    /// sent every 100 ms.
    pub async fn distributed_traced(bin: &Path, endpoint: &str, extra: &[(&str, &str)]) -> Self {
        Self::distributed_inner(bin, extra, Some(endpoint)).await
    }

    async fn distributed_inner(
        bin: &Path,
        extra: &[(&str, &str)],
        otlp_endpoint: Option<&str>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let private = dir.path().join("jwt-private.pem");
        let public = dir.path().join("jwt-public.pem");
        std::fs::write(&private, key.to_pem().unwrap()).unwrap();
        std::fs::write(&public, key.public_pem().unwrap()).unwrap();
        let youtube = crate::youtube::start().await;
        let dev = testkit::dev_env();
        let prefix = format!("e2e{}.", testkit::unique());
        let services = [
            Service::Gateway,
            Service::Member,
            Service::Gallery,
            Service::Post,
        ];
        let ports: HashMap<Service, u16> = services.into_iter().zip(free_ports::<4>()).collect();
        let common = |service: Service| {
            let mut env = pairs(&[
                ("PORT", ports[&service].to_string()),
                ("BIND_ADDR", "127.0.0.1".into()),
                ("LOG_FORMAT", "json".into()),
                ("KAFKA_SERVER", dev["KAFKA_SERVER"].clone()),
                ("KAFKA_TOPIC_PREFIX", prefix.clone()),
                ("KAFKA_TOPIC_PARTITIONS", "3".into()),
                ("REDIS_HOST", dev["REDIS_HOST"].clone()),
                ("REDIS_PORT", dev["REDIS_PORT"].clone()),
                ("REDIS_PASSWORD", dev["REDIS_PASSWORD"].clone()),
                ("JWT_PUBLIC_KEYS_FILE", public.display().to_string()),
            ]);
            if let Some(endpoint) = otlp_endpoint {
                env.insert("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.to_owned());
                env.insert("OTEL_SERVICE_NAME".into(), service.command().to_owned());
                env.insert("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into());
            }
            if service != Service::Gateway {
                env.insert("MYSQL_SERVER".into(), dev["MYSQL_SERVER"].clone());
                env.insert("MYSQL_USER".into(), dev["MYSQL_USER"].clone());
                env.insert("MYSQL_PASSWORD".into(), dev["MYSQL_PASSWORD"].clone());
            }
            env
        };
        let mut envs = HashMap::new();
        let mut databases = Vec::new();
        for service in [Service::Member, Service::Gallery, Service::Post] {
            let database = testkit::MySqlDatabase::create().await;
            let mut env = common(service);
            env.insert("MYSQL_DATABASE".into(), database.name.clone());
            databases.push(database);
            envs.insert(service, env);
        }
        let member = envs.get_mut(&Service::Member).unwrap();
        member.insert("JWT_PRIVATE_KEY_FILE".into(), private.display().to_string());
        member.insert("COOKIE_SECURE".into(), "false".into());
        let post = envs.get_mut(&Service::Post).unwrap();
        post.insert(
            "STORAGE_URL".into(),
            dir.path().join("images").display().to_string(),
        );
        post.insert("YOUTUBE_API_KEY".into(), "e2e-key".into());
        post.insert("YOUTUBE_SEARCH_URL".into(), youtube);
        let mut gateway = common(Service::Gateway);
        for (name, service) in [
            ("MEMBER_SERVER", Service::Member),
            ("GALLERY_SERVER", Service::Gallery),
            ("POST_SERVER", Service::Post),
        ] {
            gateway.insert(name.into(), format!("127.0.0.1:{}", ports[&service]));
        }
        // Every suite signs its members in from 127.0.0.1, and the gateway counts sign-ins per
        // address in the shared Redis, so suites running one after another would spend one
        // bucket; the limits have tests of their own (crates/gateway/tests/limits.rs). `extra`
        // can set it again.
        gateway.insert("RATE_LIMIT_SIGNIN".into(), "off".into());
        gateway.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        envs.insert(Service::Gateway, gateway);

        let mut system = Self {
            mode: Mode::Distributed,
            base: format!("http://127.0.0.1:{}", ports[&Service::Gateway]),
            bin: bin.to_owned(),
            dir,
            envs,
            ports,
            children: HashMap::new(),
            databases,
            ready_after: HashMap::new(),
            resolve: None,
        };
        for service in [
            Service::Member,
            Service::Gallery,
            Service::Post,
            Service::Gateway,
        ] {
            system.start(service).await;
        }
        system
    }

    /// A system that runs elsewhere, reached at `base`; `resolve` maps `base`'s host name to an
    /// address (an ingress routing by host name). Crash and restart are the caller's (kubectl).
    pub fn external(base: &str, resolve: Option<(String, std::net::SocketAddr)>) -> Self {
        Self {
            mode: Mode::External,
            base: base.trim_end_matches('/').to_owned(),
            bin: PathBuf::new(),
            dir: tempfile::tempdir().unwrap(),
            envs: HashMap::new(),
            ports: HashMap::new(),
            children: HashMap::new(),
            databases: Vec::new(),
            ready_after: HashMap::new(),
            resolve,
        }
    }

    /// A new anonymous browser.
    pub fn visitor(&self) -> crate::Visitor {
        crate::Visitor::resolving(&self.base, self.resolve.as_ref())
    }

    fn log_path(&self, service: Service) -> PathBuf {
        self.dir.path().join(format!("{}.log", service.command()))
    }

    /// Starts one process and waits (bounded) until its `/readyz` answers 200.
    pub async fn start(&mut self, service: Service) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(service))
            .unwrap();
        let mut command = Command::new(&self.bin);
        if self.mode == Mode::Distributed {
            command.arg(service.command());
        }
        let spawned = Instant::now();
        let child = command
            .env_clear()
            .envs(&self.envs[&service])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.children.insert(service, child);
        self.wait_ready(service).await;
        self.ready_after.insert(service, spawned.elapsed());
    }

    /// How long the last start of `service` took from spawning to its first `/readyz` 200
    /// (polled every 10 ms).
    pub fn ready_after(&self, service: Service) -> Option<Duration> {
        self.ready_after.get(&service).copied()
    }

    /// `http://127.0.0.1:<port><path>` of one process itself, not through the gateway (for its
    /// `/readyz` and `/metrics`).
    pub fn url(&self, service: Service, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[&service])
    }

    /// The process id of `service`, for memory readings.
    pub fn pid(&self, service: Service) -> Option<u32> {
        self.children.get(&service).map(Child::id)
    }

    async fn wait_ready(&mut self, service: Service) {
        let url = format!("http://127.0.0.1:{}/readyz", self.ports[&service]);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Some(status) = self.children.get_mut(&service).unwrap().try_wait().unwrap() {
                panic!("{service:?} exited with {status}:\n{}", self.log(service));
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{service:?} was not ready within 90 s:\n{}",
            self.log(service)
        );
    }

    /// SIGKILL one process (a crash).
    pub fn kill(&mut self, service: Service) {
        if let Some(mut child) = self.children.remove(&service) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Crash and restart one process on the same port.
    pub async fn crash_and_restart(&mut self, service: Service) {
        assert_ne!(
            self.mode,
            Mode::External,
            "an external system is disrupted by its owner"
        );
        if service == Service::Kafka {
            testkit::KafkaOutage::begin().end().await;
            return;
        }
        self.kill(service);
        self.start(service).await;
    }

    /// The output of one process so far, for failure messages.
    pub fn log(&self, service: Service) -> String {
        let text = std::fs::read_to_string(self.log_path(service)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Stops every process with SIGTERM and drops the test databases.
    pub async fn stop(mut self) {
        for (_, mut child) in self.children.drain() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        for database in self.databases.drain(..) {
            database.drop_now().await;
        }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The logs vanish with the temporary directory; a failed journey needs them.
            for service in [
                Service::Gateway,
                Service::Member,
                Service::Gallery,
                Service::Post,
            ] {
                if self.envs.contains_key(&service) {
                    eprintln!("----- {service:?} log -----\n{}", self.log(service));
                }
            }
        }
        for (_, child) in self.children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

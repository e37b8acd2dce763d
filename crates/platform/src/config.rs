//! Configuration read from the environment into typed values, reporting every problem at once.
//!
//! Services describe their configuration with a [`Vars`] reader over an [`Environment`]; the
//! process environment is one source, a plain list of pairs is another, so tests build
//! configuration without touching the process environment.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// Where configuration values come from.
pub trait Environment {
    /// The raw value of `key`, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// The environment of this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the process environment"
    )]
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Environment for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl Environment for [(&str, &str)] {
    fn get(&self, key: &str) -> Option<String> {
        self.iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    }
}

impl Environment for Vec<(&str, &str)> {
    fn get(&self, key: &str) -> Option<String> {
        Environment::get(self.as_slice(), key)
    }
}

impl<const N: usize> Environment for [(&str, &str); N] {
    fn get(&self, key: &str) -> Option<String> {
        Environment::get(self.as_slice(), key)
    }
}

/// One variable that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable's name.
    pub variable: String,
    /// What is wrong with it; never contains the value of a secret.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.reason)
    }
}

/// Every problem found in one reading of the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in the order they were found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// The names of the variables at fault, for assertions and summaries.
    pub fn variables(&self) -> Vec<&str> {
        self.problems.iter().map(|p| p.variable.as_str()).collect()
    }
}

/// Reads variables and collects problems instead of stopping at the first.
pub struct Vars<'e> {
    env: &'e dyn Environment,
    problems: Vec<Problem>,
}

impl fmt::Debug for Vars<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vars")
            .field("problems", &self.problems)
            .finish_non_exhaustive()
    }
}

impl<'e> Vars<'e> {
    /// A reader over `env`.
    pub fn new(env: &'e dyn Environment) -> Self {
        Self {
            env,
            problems: Vec::new(),
        }
    }

    /// The trimmed value of `key`; an empty value counts as unset, as Kubernetes often renders it.
    pub fn raw(&self, key: &str) -> Option<String> {
        self.env
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Records a problem with `variable`.
    ///
    /// A variable several parts of one process read (standalone's `APP_TIMEZONE`) is reported once.
    pub fn problem(&mut self, variable: &str, reason: impl Into<String>) {
        let problem = Problem {
            variable: variable.to_owned(),
            reason: reason.into(),
        };
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// The parsed value of `key`, or `None` when unset; an unparsable value is a problem.
    pub fn optional<T>(&mut self, key: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.raw(key)?;
        match raw.parse() {
            Ok(value) => Some(value),
            Err(e) => {
                self.problem(key, format!("invalid value {raw:?}: {e}"));
                None
            }
        }
    }

    /// The parsed value of `key`, or `default` when unset.
    pub fn or<T>(&mut self, key: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.optional(key).unwrap_or(default)
    }

    /// The parsed value of `key`; unset is a problem.
    pub fn required<T>(&mut self, key: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        if self.raw(key).is_none() {
            self.problem(key, "is required but not set");
            return None;
        }
        self.optional(key)
    }

    /// A secret from `key`, or from the file named by `<key>_FILE` (as Kubernetes Secrets mount them).
    pub fn secret(&mut self, key: &str) -> Option<SecretString> {
        let file_key = format!("{key}_FILE");
        match (
            self.env.get(key).filter(|v| !v.is_empty()),
            self.raw(&file_key),
        ) {
            (Some(_), Some(_)) => {
                self.problem(key, format!("set both {key} and {file_key}; choose one"));
                None
            }
            (Some(value), None) => Some(SecretString::from(value)),
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(value) => Some(SecretString::from(value.trim_end_matches(['\r', '\n']))),
                Err(e) => {
                    self.problem(&file_key, format!("cannot read {path:?}: {e}"));
                    None
                }
            },
            (None, None) => None,
        }
    }

    /// A secret that must be set (directly or through `<key>_FILE`).
    pub fn required_secret(&mut self, key: &str) -> Option<SecretString> {
        let before = self.problems.len();
        let secret = self.secret(key);
        if secret.is_none() && self.problems.len() == before {
            self.problem(key, format!("is required but not set (nor {key}_FILE)"));
        }
        secret
    }

    /// Ends the reading: every problem at once, or the value that `build` assembles.
    ///
    /// `build` returns `None` only when a required part is missing, which has been recorded as a
    /// problem already, so `None` without problems means a reader bug and is reported as such.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ConfigError> {
        if !self.problems.is_empty() {
            return Err(ConfigError {
                problems: self.problems,
            });
        }
        build().ok_or_else(|| ConfigError {
            problems: vec![Problem {
                variable: "(internal)".into(),
                reason: "a required value was missing without a recorded problem".into(),
            }],
        })
    }
}

/// A `host:port` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl FromStr for HostPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| "expected host:port".to_owned())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err("expected host:port".into());
        }
        let port = port
            .parse()
            .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A comma-separated list of `host:port`, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPortList(pub Vec<HostPort>);

impl FromStr for HostPortList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let list = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(HostPort::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err("expected at least one host:port".into());
        }
        Ok(Self(list))
    }
}

impl fmt::Display for HostPortList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// A boolean written as `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl FromStr for Flag {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Self(true)),
            "false" | "0" | "no" | "off" => Ok(Self(false)),
            _ => Err("expected true or false".into()),
        }
    }
}

/// Where a service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `BIND_ADDR`, default `0.0.0.0`.
    pub bind_addr: IpAddr,
    /// `PORT`, default per service.
    pub port: u16,
}

impl HttpConfig {
    /// Reads `BIND_ADDR` and `PORT`.
    pub fn read(vars: &mut Vars<'_>, default_port: u16) -> Self {
        Self {
            bind_addr: vars.or("BIND_ADDR", IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: vars.or("PORT", default_port),
        }
    }

    /// The socket address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind_addr, self.port)
    }

    /// Loopback on a port the system picks: how tests and benchmarks run a server, never on a
    /// fixed port that another run may hold.
    pub fn ephemeral_loopback() -> Self {
        Self {
            bind_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
        }
    }
}

/// A relational database: MySQL/MariaDB or SQLite.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// A MySQL or MariaDB server.
    MySql {
        /// Server address.
        server: HostPort,
        /// User name.
        user: String,
        /// Password.
        password: SecretString,
        /// Database (schema) name.
        database: String,
    },
    /// A SQLite file, created when missing.
    Sqlite {
        /// Path of the database file.
        path: PathBuf,
    },
}

impl DatabaseConfig {
    /// Reads `DATABASE_URL`, or else `MYSQL_SERVER`, `MYSQL_USER`, `MYSQL_PASSWORD`, `MYSQL_DATABASE`.
    pub fn read(vars: &mut Vars<'_>, default_database: &str) -> Option<Self> {
        if let Some(url) = vars.secret("DATABASE_URL") {
            return match Self::from_url(url.expose_secret()) {
                Ok(config) => Some(config),
                Err(reason) => {
                    vars.problem("DATABASE_URL", reason);
                    None
                }
            };
        }
        let server = vars.required("MYSQL_SERVER");
        let user = vars.required("MYSQL_USER");
        let password = vars.required_secret("MYSQL_PASSWORD");
        let database = vars.or("MYSQL_DATABASE", default_database.to_owned());
        Some(Self::MySql {
            server: server?,
            user: user?,
            password: password?,
            database,
        })
    }

    /// Parses a `mysql://user:password@host:port/database` or `sqlite://path` URL.
    pub fn from_url(raw: &str) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("sqlite URL needs a file path, e.g. sqlite://data/member.db".into());
            }
            return Ok(Self::Sqlite { path: path.into() });
        }
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        if url.scheme() != "mysql" && url.scheme() != "mariadb" {
            return Err(format!(
                "unsupported scheme {:?}; use mysql:// or sqlite://",
                url.scheme()
            ));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("v={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let host = url.host_str().ok_or("mysql URL needs a host")?.to_owned();
        let database = url.path().trim_start_matches('/').to_owned();
        if database.is_empty() {
            return Err("mysql URL needs a database, e.g. mysql://user:pw@host:3306/member".into());
        }
        if url.username().is_empty() {
            return Err("mysql URL needs a user".into());
        }
        Ok(Self::MySql {
            server: HostPort {
                host,
                port: url.port().unwrap_or(3306),
            },
            user: decode(url.username()),
            password: SecretString::from(decode(url.password().unwrap_or_default())),
            database,
        })
    }

    /// A SQLite database at `path`.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        Self::Sqlite { path: path.into() }
    }

    /// Which backend this is, for logs and probes.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::MySql { .. } => "mysql",
            Self::Sqlite { .. } => "sqlite",
        }
    }
}

/// The Redis server holding sessions and rate limits.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `REDIS_HOST`.
    pub host: String,
    /// `REDIS_PORT`, default 6379.
    pub port: u16,
    /// `REDIS_PASSWORD` (or `REDIS_PASSWORD_FILE`).
    pub password: Option<SecretString>,
}

impl RedisConfig {
    /// Reads `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`; `None` when `REDIS_HOST` is unset.
    pub fn read_optional(vars: &mut Vars<'_>) -> Option<Self> {
        let host = vars.raw("REDIS_HOST")?;
        Some(Self {
            host,
            port: vars.or("REDIS_PORT", 6379),
            password: vars.secret("REDIS_PASSWORD"),
        })
    }

    /// As [`Self::read_optional`], but `REDIS_HOST` is required.
    pub fn read(vars: &mut Vars<'_>) -> Option<Self> {
        let config = Self::read_optional(vars);
        if config.is_none() {
            vars.problem("REDIS_HOST", "is required but not set");
        }
        config
    }
}

/// The Kafka cluster carrying events between services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `KAFKA_SERVER`: bootstrap servers.
    pub bootstrap: HostPortList,
    /// `KAFKA_TOPIC_PARTITIONS`, default 3: partitions of topics created at start-up.
    pub partitions: i32,
    /// `KAFKA_TOPIC_REPLICATION`, default 1: replication factor of topics created at start-up.
    pub replication: i32,
    /// `KAFKA_TOPIC_PREFIX`, default empty: put before every topic and consumer group name, so
    /// several systems (environments, test runs) can share one cluster without seeing each other.
    pub topic_prefix: String,
}

impl KafkaConfig {
    /// Reads `KAFKA_SERVER` and the topic settings; `None` when `KAFKA_SERVER` is unset.
    pub fn read_optional(vars: &mut Vars<'_>) -> Option<Self> {
        let bootstrap = vars.optional("KAFKA_SERVER");
        let partitions = vars.or("KAFKA_TOPIC_PARTITIONS", 3);
        let replication = vars.or("KAFKA_TOPIC_REPLICATION", 1);
        let topic_prefix = vars.or("KAFKA_TOPIC_PREFIX", String::new());
        if !topic_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            vars.problem(
                "KAFKA_TOPIC_PREFIX",
                "may hold only letters, digits, '.', '_' and '-'",
            );
        }
        if partitions < 1 {
            vars.problem("KAFKA_TOPIC_PARTITIONS", "must be at least 1");
        }
        if replication < 1 {
            vars.problem("KAFKA_TOPIC_REPLICATION", "must be at least 1");
        }
        Some(Self {
            bootstrap: bootstrap?,
            partitions,
            replication,
            topic_prefix,
        })
    }

    /// The cluster-side name of a logical topic (`member`, `gallery`, a dead-letter topic).
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.topic_prefix)
    }

    /// The cluster-side name of a consumer group.
    pub fn group(&self, name: &str) -> String {
        format!("{}{name}", self.topic_prefix)
    }

    /// As [`Self::read_optional`], but `KAFKA_SERVER` is required.
    pub fn read(vars: &mut Vars<'_>) -> Option<Self> {
        let config = Self::read_optional(vars);
        if config.is_none() && vars.raw("KAFKA_SERVER").is_none() {
            vars.problem("KAFKA_SERVER", "is required but not set");
        }
        config
    }
}

/// How answers show themselves to browsers, read once per process: `PUBLIC_BASE_URL` (absolute
/// URLs; by default each request's own origin) and `APP_TIMEZONE` (offset-less timestamps; default
/// `Asia/Seoul`, where the original ran).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    /// Prefix of the absolute URLs the API returns.
    pub public_base_url: crate::http::PublicBaseUrl,
    /// Zone of rendered timestamps.
    pub timezone: chrono_tz::Tz,
}

impl Default for Presentation {
    fn default() -> Self {
        Self {
            public_base_url: crate::http::PublicBaseUrl::default(),
            timezone: crate::time::DEFAULT_TIMEZONE,
        }
    }
}

impl Presentation {
    /// Reads `PUBLIC_BASE_URL` and `APP_TIMEZONE`.
    pub fn read(vars: &mut Vars<'_>) -> Self {
        Self {
            public_base_url: vars.or("PUBLIC_BASE_URL", crate::http::PublicBaseUrl::default()),
            timezone: vars.or("APP_TIMEZONE", crate::time::DEFAULT_TIMEZONE),
        }
    }
}

/// How long the event tables keep rows that did their work, and how they are purged.
///
/// Published outbox rows are only history in Kafka mode (the broker holds the events); in
/// standalone mode they are the log the consumers read, so they are purged only once every
/// consumer has passed them. Inbox rows are what recognises a redelivered event, so they must
/// outlive every way an event can come again: Kafka redelivers at most what its topics still hold
/// (7 days with the broker's default `log.retention.hours`), hence twice that by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `EVENTS_OUTBOX_RETENTION_HOURS`, default 168 (7 days): age of a published outbox row
    /// after which it is purged.
    pub outbox: Duration,
    /// `EVENTS_INBOX_RETENTION_HOURS`, default 336 (14 days): age of an inbox row after which it
    /// is purged.
    pub inbox: Duration,
    /// `EVENTS_PURGE_BATCH`, default 1000 (1–100000): rows deleted per statement, so no purge
    /// holds locks for long.
    pub batch_size: u32,
    /// `EVENTS_PURGE_INTERVAL_SECS`, default 600: pause between two purges.
    pub interval: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            outbox: Duration::from_secs(168 * 3600),
            inbox: Duration::from_secs(336 * 3600),
            batch_size: 1000,
            interval: Duration::from_secs(600),
        }
    }
}

impl RetentionConfig {
    /// Reads the `EVENTS_*` retention variables; every one has a default.
    pub fn read(vars: &mut Vars<'_>) -> Self {
        let defaults = Self::default();
        let hours = |d: Duration| d.as_secs() / 3600;
        let outbox: u64 = vars.or("EVENTS_OUTBOX_RETENTION_HOURS", hours(defaults.outbox));
        let inbox: u64 = vars.or("EVENTS_INBOX_RETENTION_HOURS", hours(defaults.inbox));
        let batch_size: u32 = vars.or("EVENTS_PURGE_BATCH", defaults.batch_size);
        let interval: u64 = vars.or("EVENTS_PURGE_INTERVAL_SECS", defaults.interval.as_secs());
        const CENTURY_HOURS: u64 = 100 * 365 * 24;
        for (name, value, most) in [
            ("EVENTS_OUTBOX_RETENTION_HOURS", outbox, CENTURY_HOURS),
            ("EVENTS_INBOX_RETENTION_HOURS", inbox, CENTURY_HOURS),
            ("EVENTS_PURGE_INTERVAL_SECS", interval, CENTURY_HOURS * 3600),
        ] {
            if !(1..=most).contains(&value) {
                vars.problem(name, format!("must be between 1 and {most}"));
            }
        }
        if !(1..=100_000).contains(&batch_size) {
            vars.problem("EVENTS_PURGE_BATCH", "must be between 1 and 100000");
        }
        Self {
            outbox: Duration::from_secs(outbox.min(CENTURY_HOURS) * 3600),
            inbox: Duration::from_secs(inbox.min(CENTURY_HOURS) * 3600),
            batch_size,
            interval: Duration::from_secs(interval),
        }
    }
}

/// What member, gallery and post each read first in distributed mode: where the service listens,
/// its database, the broker and the retention of its event tables. One reader, so that the three
/// name, default and check these variables alike.
#[derive(Debug, Clone)]
pub struct ServiceBase {
    http: HttpConfig,
    database: Option<DatabaseConfig>,
    kafka: Option<KafkaConfig>,
    retention: RetentionConfig,
}

impl ServiceBase {
    /// Reads `BIND_ADDR`, `PORT` (default `default_port`), the database variables (default
    /// database `default_database`), `KAFKA_*` and `EVENTS_*`.
    pub fn read(vars: &mut Vars<'_>, default_port: u16, default_database: &str) -> Self {
        Self {
            http: HttpConfig::read(vars, default_port),
            database: DatabaseConfig::read(vars, default_database),
            kafka: KafkaConfig::read(vars),
            retention: RetentionConfig::read(vars),
        }
    }

    /// The configuration once all of it read well; `None` when the database or the broker did not,
    /// whose problems [`Vars`] already holds.
    pub fn finish(self) -> Option<ServiceConfig> {
        Some(ServiceConfig {
            http: self.http,
            database: self.database?,
            kafka: Some(self.kafka?),
            retention: self.retention,
        })
    }
}

/// What member, gallery and post each need alike, in either mode: where the service listens, its
/// database, the broker and the retention of its event tables.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Listen address.
    pub http: HttpConfig,
    /// The service's own database.
    pub database: DatabaseConfig,
    /// Event bus; `None` in standalone mode, where the in-process bus carries events.
    pub kafka: Option<KafkaConfig>,
    /// How long the event tables keep done rows (`EVENTS_*_RETENTION_HOURS`, …).
    pub retention: RetentionConfig,
}

impl ServiceConfig {
    /// A service on [`HttpConfig::ephemeral_loopback`] with `database`, no broker and the default
    /// retention: what tests and benchmarks run a single service with.
    pub fn local(database: DatabaseConfig) -> Self {
        Self {
            http: HttpConfig::ephemeral_loopback(),
            database,
            kafka: None,
            retention: RetentionConfig::default(),
        }
    }
}

/// Where images are stored.
#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// A local directory (created when missing).
    Local {
        /// The directory.
        root: PathBuf,
    },
    /// An S3-compatible bucket.
    S3 {
        /// Bucket name.
        bucket: String,
        /// `S3_ENDPOINT`: custom endpoint (MinIO, Garage, …); AWS when unset.
        endpoint: Option<String>,
        /// `S3_REGION`, default `us-east-1`.
        region: String,
        /// `S3_ACCESS_KEY`.
        access_key: SecretString,
        /// `S3_SECRET_KEY`.
        secret_key: SecretString,
    },
}

impl StorageConfig {
    /// Reads `STORAGE_URL` (`file:///dir`, a plain path, or `s3://bucket`) and the `S3_*` variables.
    pub fn read(vars: &mut Vars<'_>, default_dir: &str) -> Option<Self> {
        let raw = vars
            .raw("STORAGE_URL")
            .unwrap_or_else(|| default_dir.to_owned());
        if let Some(bucket) = raw.strip_prefix("s3://") {
            let bucket = bucket.trim_end_matches('/').to_owned();
            if bucket.is_empty() || bucket.contains('/') {
                vars.problem("STORAGE_URL", "expected s3://<bucket>");
            }
            let endpoint = vars.raw("S3_ENDPOINT");
            let region = vars.or("S3_REGION", "us-east-1".to_owned());
            let access_key = vars.required_secret("S3_ACCESS_KEY");
            let secret_key = vars.required_secret("S3_SECRET_KEY");
            return Some(Self::S3 {
                bucket,
                endpoint,
                region,
                access_key: access_key?,
                secret_key: secret_key?,
            });
        }
        let path = raw.strip_prefix("file://").unwrap_or(&raw);
        if path.contains("://") {
            vars.problem(
                "STORAGE_URL",
                "unsupported scheme; use a directory, file:///dir or s3://bucket",
            );
            return None;
        }
        Some(Self::Local { root: path.into() })
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines (development).
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            _ => Err("expected json or pretty".into()),
        }
    }
}

/// Logging and trace export configuration of the process.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// `LOG_FORMAT`, default `pretty`.
    pub format: LogFormat,
    /// `RUST_LOG`, default `info`.
    pub filter: String,
    /// Where spans go over OTLP; `None` (no `OTEL_EXPORTER_OTLP_ENDPOINT`) exports nothing.
    pub traces: Option<TraceExport>,
}

impl TelemetryConfig {
    /// Reads `LOG_FORMAT`, `RUST_LOG` and the `OTEL_*` variables of [`TraceExport`].
    pub fn read(vars: &mut Vars<'_>) -> Self {
        let format = vars.or("LOG_FORMAT", LogFormat::Pretty);
        let filter = vars.or("RUST_LOG", "info".to_owned());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&filter) {
            vars.problem("RUST_LOG", format!("invalid filter: {e}"));
        }
        let traces = TraceExport::read(vars);
        Self {
            format,
            filter,
            traces,
        }
    }

    /// The same, with `name` as the service name when `OTEL_SERVICE_NAME` is unset.
    #[must_use]
    pub fn with_default_service_name(mut self, name: &str) -> Self {
        if let Some(traces) = &mut self.traces
            && traces.service_name.is_empty()
        {
            name.clone_into(&mut traces.service_name);
        }
        self
    }
}

/// OTLP/HTTP (protobuf) export of spans, by the standard `OTEL_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceExport {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base URL (`http://host:4318`); spans go to
    /// `<endpoint>/v1/traces`. Plain HTTP only: a collector next to the process terminates TLS.
    pub endpoint: url::Url,
    /// `OTEL_SERVICE_NAME`; empty until the process names itself
    /// ([`TelemetryConfig::with_default_service_name`]).
    pub service_name: String,
    /// `OTEL_TRACES_SAMPLER` with `OTEL_TRACES_SAMPLER_ARG`, default `parentbased_always_on`.
    pub sampler: TraceSampler,
    /// `OTEL_RESOURCE_ATTRIBUTES`: `key=value,...` added to every span's resource.
    pub resource: Vec<(String, String)>,
    /// `OTEL_BSP_SCHEDULE_DELAY` (milliseconds, default 5000): how long finished spans wait to be
    /// sent in one batch.
    pub batch_delay: Duration,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds, default 10000): the most one export may take.
    pub timeout: Duration,
}

impl TraceExport {
    /// Reads the variables; `None` when no endpoint is set.
    pub fn read(vars: &mut Vars<'_>) -> Option<Self> {
        let endpoint: Option<url::Url> = vars.optional("OTEL_EXPORTER_OTLP_ENDPOINT");
        let service_name = vars.raw("OTEL_SERVICE_NAME").unwrap_or_default();
        let sampler = TraceSampler::read(vars);
        let resource = read_resource(vars);
        let batch_delay = Duration::from_millis(vars.or("OTEL_BSP_SCHEDULE_DELAY", 5000));
        let timeout = Duration::from_millis(vars.or("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000));
        let endpoint = endpoint?;
        if endpoint.scheme() != "http" {
            vars.problem(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "only http:// is supported (send to a collector that terminates TLS)",
            );
            return None;
        }
        Some(Self {
            endpoint,
            service_name,
            sampler,
            resource,
            batch_delay,
            timeout,
        })
    }

    /// `<endpoint>/v1/traces`, as the OTLP specification builds it from the base URL.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.endpoint.as_str().trim_end_matches('/'))
    }
}

fn read_resource(vars: &mut Vars<'_>) -> Vec<(String, String)> {
    let Some(raw) = vars.raw("OTEL_RESOURCE_ATTRIBUTES") else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for item in raw.split(',').filter(|item| !item.trim().is_empty()) {
        match item.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                pairs.push((key.trim().to_owned(), value.trim().to_owned()));
            }
            _ => vars.problem(
                "OTEL_RESOURCE_ATTRIBUTES",
                format!("expected key=value, got {item:?}"),
            ),
        }
    }
    pairs
}

/// Which traces are recorded (`OTEL_TRACES_SAMPLER`); a parent-based sampler follows the decision
/// of the caller's `traceparent` and applies its own rule only to new traces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TraceSampler {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with `OTEL_TRACES_SAMPLER_ARG` (0 to 1, default 1).
    Ratio(f64),
    /// `parentbased_always_on`, the default.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG`.
    ParentBasedRatio(f64),
}

impl TraceSampler {
    fn read(vars: &mut Vars<'_>) -> Self {
        let name = vars
            .raw("OTEL_TRACES_SAMPLER")
            .unwrap_or_else(|| "parentbased_always_on".into());
        let ratio_of = |vars: &mut Vars<'_>| {
            let ratio: f64 = vars.or("OTEL_TRACES_SAMPLER_ARG", 1.0);
            if (0.0..=1.0).contains(&ratio) {
                ratio
            } else {
                vars.problem("OTEL_TRACES_SAMPLER_ARG", "expected a ratio from 0 to 1");
                1.0
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "always_on" => Self::AlwaysOn,
            "always_off" => Self::AlwaysOff,
            "traceidratio" => Self::Ratio(ratio_of(vars)),
            "parentbased_always_on" => Self::ParentBasedAlwaysOn,
            "parentbased_always_off" => Self::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => Self::ParentBasedRatio(ratio_of(vars)),
            other => {
                vars.problem(
                    "OTEL_TRACES_SAMPLER",
                    format!(
                        "unknown sampler {other:?} (always_on, always_off, traceidratio, \
                         parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"
                    ),
                );
                Self::ParentBasedAlwaysOn
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_value_counts_as_unset() {
        let env = [("PORT", "  ")];
        let mut vars = Vars::new(&env);
        assert_eq!(vars.or("PORT", 8001_u16), 8001);
        assert!(vars.finish(|| Some(())).is_ok());
    }

    #[test]
    fn host_port_rejects_a_missing_port() {
        assert!("localhost".parse::<HostPort>().is_err());
        assert_eq!(
            "[::1]:9092".parse::<HostPort>().map(|h| h.to_string()),
            Ok("[::1]:9092".to_owned())
        );
    }

    #[test]
    fn a_database_url_with_an_encoded_password_is_decoded() {
        let config = DatabaseConfig::from_url("mysql://app:p%40ss@db:3307/member").unwrap();
        let DatabaseConfig::MySql {
            server,
            user,
            password,
            database,
        } = config
        else {
            panic!("expected mysql");
        };
        assert_eq!(server.to_string(), "db:3307");
        assert_eq!(user, "app");
        assert_eq!(password.expose_secret(), "p@ss");
        assert_eq!(database, "member");
    }

    #[test]
    fn retention_defaults_keep_inbox_rows_twice_as_long_as_kafka_keeps_events() {
        let env: [(&str, &str); 0] = [];
        let mut vars = Vars::new(&env);
        let retention = RetentionConfig::read(&mut vars);
        assert_eq!(retention, RetentionConfig::default());
        assert_eq!(retention.inbox, Duration::from_secs(14 * 24 * 3600));
        assert!(vars.finish(|| Some(())).is_ok());
    }

    #[test]
    fn every_bad_retention_variable_is_reported_at_once() {
        let env = [
            ("EVENTS_OUTBOX_RETENTION_HOURS", "0"),
            ("EVENTS_INBOX_RETENTION_HOURS", "two weeks"),
            ("EVENTS_PURGE_BATCH", "0"),
        ];
        let mut vars = Vars::new(&env);
        RetentionConfig::read(&mut vars);
        let message = vars.finish(|| Some(())).unwrap_err().to_string();
        for name in [
            "EVENTS_OUTBOX_RETENTION_HOURS",
            "EVENTS_INBOX_RETENTION_HOURS",
            "EVENTS_PURGE_BATCH",
        ] {
            assert!(message.contains(name), "{name} missing from {message}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let env = [("MYSQL_PASSWORD", "hunter2-very-secret")];
        let mut vars = Vars::new(&env);
        let secret = vars.secret("MYSQL_PASSWORD").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}

//! Command-line interface: which process to run, migrations and configuration checks.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use platform::config::{
    ConfigError, DatabaseConfig, Environment, ProcessEnv, TelemetryConfig, Vars,
};

use crate::standalone;

const COMMON_ENV: &str = "Logging: LOG_FORMAT (json|pretty, default pretty), RUST_LOG (default \
                          info). Traces: OTEL_EXPORTER_OTLP_ENDPOINT (unset: none exported), \
                          OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, \
                          OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_SCHEDULE_DELAY, \
                          OTEL_EXPORTER_OTLP_TIMEOUT.";

/// The help's list of variables of a domain service: its port and database name, its own
/// variables, then what member, gallery and post all read (`platform::config::ServiceBase`).
macro_rules! service_env {
    ($port:literal, $database:literal, $own:literal) => {
        concat!(
            "Environment: PORT (default ",
            $port,
            "), BIND_ADDR, DATABASE_URL or MYSQL_SERVER, MYSQL_USER, MYSQL_PASSWORD[_FILE], \
             MYSQL_DATABASE (default ",
            $database,
            "), KAFKA_SERVER, KAFKA_TOPIC_PARTITIONS, KAFKA_TOPIC_REPLICATION, \
             KAFKA_TOPIC_PREFIX, EVENTS_* (event table retention), ",
            $own,
            ", LOG_FORMAT, RUST_LOG, OTEL_*."
        )
    };
}

#[derive(Debug, Parser)]
#[command(
    name = "thegallery",
    version,
    about = "The Gallery backend: gateway, member, gallery and post services",
    long_about = "The Gallery backend. Without a subcommand, runs the whole system in one process \
                  (standalone mode). Every setting comes from environment variables; see \
                  docs/configuration.md.",
    after_help = COMMON_ENV
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process: gateway on PORT, SQLite and images under DATA_DIR (default).
    #[command(
        after_help = "Environment: PORT (default 8000), BIND_ADDR (default 127.0.0.1), \
                            DATA_DIR (default ./data), STATIC_DIR (a frontend build served at /), \
                            COOKIE_SECURE (default false), KAKAO_*, GOOGLE_*, IMAGE_BASE_URL, \
                            PUBLIC_BASE_URL, APP_TIMEZONE, SPOTIFY_*, YOUTUBE_*, EVENTS_* (event \
                            table retention), LOG_FORMAT, RUST_LOG, OTEL_*."
    )]
    Standalone,
    /// Run the gateway (distributed mode).
    #[command(
        after_help = "Environment: PORT (default 8000), BIND_ADDR, REDIS_HOST, REDIS_PORT, \
                            REDIS_PASSWORD[_FILE], MEMBER_SERVER, GALLERY_SERVER, POST_SERVER \
                            (each one or more host:port), JWT_PUBLIC_KEYS[_FILE], \
                            GATEWAY_MAX_CONNECTIONS, UPSTREAM_*, CORS_*, FORWARDED_HOPS, \
                            ACCESS_LOG, RATE_LIMIT_*, LOG_FORMAT, RUST_LOG, OTEL_*."
    )]
    Gateway,
    /// Run the member service (distributed mode).
    #[command(after_help = service_env!(
        "8001",
        "member",
        "REDIS_HOST, REDIS_PORT, REDIS_PASSWORD[_FILE] (the session store), JWT_PRIVATE_KEY[_FILE], \
         COOKIE_SECURE (default true), APP_TIMEZONE, KAKAO_CLIENT_ID, KAKAO_REDIRECT_URI, \
         KAKAO_CLIENT_SECRET[_FILE], KAKAO_{AUTHORIZE,TOKEN,PROFILE}_URL, GOOGLE_CLIENT_ID, \
         GOOGLE_CLIENT_SECRET[_FILE], GOOGLE_REDIRECT_URI, GOOGLE_{AUTHORIZE,TOKEN,PROFILE}_URL"
    ))]
    Member,
    /// Run the gallery service (distributed mode).
    #[command(after_help = service_env!(
        "8002",
        "gallery",
        "REDIS_HOST, REDIS_PORT, REDIS_PASSWORD[_FILE] (sessions), JWT_PUBLIC_KEYS[_FILE], \
         PUBLIC_BASE_URL, APP_TIMEZONE"
    ))]
    Gallery,
    /// Run the post service (distributed mode).
    #[command(after_help = service_env!(
        "8003",
        "post",
        "REDIS_HOST, REDIS_PORT, REDIS_PASSWORD[_FILE] (sessions), JWT_PUBLIC_KEYS[_FILE], \
         STORAGE_URL (directory, file:///dir or s3://bucket; default ./data/images), S3_ENDPOINT, \
         S3_REGION, S3_ACCESS_KEY[_FILE], S3_SECRET_KEY[_FILE], IMAGE_BASE_URL (required with \
         s3://), APP_TIMEZONE, SPOTIFY_*, YOUTUBE_*"
    ))]
    Post,
    /// Apply a service's database migrations and exit (same variables as the service).
    Migrate {
        /// Whose database.
        service: DbService,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Inspect configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Operate the event backbone.
    #[command(
        after_help = "Environment: KAFKA_SERVER (Kafka mode), otherwise DATA_DIR \
                            (standalone: DATA_DIR/<group>.db)."
    )]
    Events {
        #[command(subcommand)]
        action: EventsAction,
    },
}

#[derive(Debug, Subcommand)]
enum EventsAction {
    /// Dead letters: events a consumer group gave up on (`<topic>.<group>.dlq`).
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Per topic the outbox backlog and oldest unpublished event; per consumer group and topic
    /// the lag, dead letters and the last error (see docs/operations.md, "The backbone's state").
    #[command(
        after_help = "Kafka mode (KAFKA_SERVER set): lag and dead letters from the cluster, the \
                      backlog from the outbox of DATABASE_URL or MYSQL_* when set. Standalone: \
                      everything from DATA_DIR."
    )]
    Status {
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DlqAction {
    /// Print the dead letters of a group for a topic, one per line.
    List {
        /// The topic the events came from (member, gallery).
        #[arg(long)]
        topic: String,
        /// The consumer group (the consuming service: gallery, post).
        #[arg(long)]
        group: String,
    },
    /// Deliver them again; the inbox makes sure each is applied at most once.
    Replay {
        /// The topic the events came from (member, gallery).
        #[arg(long)]
        topic: String,
        /// The consumer group (the consuming service: gallery, post).
        #[arg(long)]
        group: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate a process's configuration and print it with secrets redacted.
    Check {
        /// Which process.
        service: Process,
    },
    /// Print, as JSON, every variable the process reads with the current environment, and the
    /// ones it reports as missing or invalid (for deployment checks).
    Vars {
        /// Which process.
        service: Process,
    },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Write a new Ed25519 key pair: jwt-private.pem (mode 600, for member's JWT_PRIVATE_KEY_FILE)
    /// and jwt-public.pem (for JWT_PUBLIC_KEYS_FILE of the gateway and services).
    Generate {
        /// Directory to write the two files into.
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DbService {
    Member,
    Gallery,
    Post,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Process {
    Standalone,
    Gateway,
    Member,
    Gallery,
    Post,
}

/// Exit status for configuration errors, distinct from runtime failures (1).
const EXIT_CONFIG: u8 = 2;

/// Parses arguments, reads configuration and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = ProcessEnv;
    let command = cli.command.unwrap_or(Command::Standalone);
    let telemetry = match read_telemetry(&env) {
        // Only the servers export spans; the one-shot commands have no requests to trace.
        Ok(t) => match command.service_name() {
            Some(name) => t.with_default_service_name(name),
            None => TelemetryConfig { traces: None, ..t },
        },
        Err(e) => return config_failure(&e),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return runtime_failure(&e),
    };
    // Inside the runtime: the span exporter sends on it.
    runtime.block_on(async { platform::telemetry::init(&telemetry) });
    let code = runtime.block_on(dispatch(command, &env));
    // The last spans go out while the runtime still runs.
    platform::telemetry::shutdown();
    code
}

#[expect(clippy::print_stderr, reason = "logging is not set up yet")]
fn runtime_failure(error: &std::io::Error) -> ExitCode {
    eprintln!("cannot start the async runtime: {error}");
    ExitCode::FAILURE
}

impl Command {
    /// The default `service.name` of a server's spans (`OTEL_SERVICE_NAME` overrides it).
    fn service_name(&self) -> Option<&'static str> {
        match self {
            Self::Standalone => Some("thegallery"),
            Self::Gateway => Some("gateway"),
            Self::Member => Some("member"),
            Self::Gallery => Some("gallery"),
            Self::Post => Some("post"),
            _ => None,
        }
    }
}

fn read_telemetry(env: &dyn Environment) -> Result<TelemetryConfig, ConfigError> {
    let mut vars = Vars::new(env);
    let telemetry = TelemetryConfig::read(&mut vars);
    vars.finish(|| Some(telemetry))
}

#[expect(
    clippy::print_stderr,
    reason = "configuration problems go to the operator before logging is useful"
)]
fn config_failure(error: &ConfigError) -> ExitCode {
    eprint!("{error}");
    ExitCode::from(EXIT_CONFIG)
}

async fn dispatch(command: Command, env: &dyn Environment) -> ExitCode {
    let result = match command {
        Command::Config {
            action: ConfigAction::Check { service },
        } => return check(service, env),
        Command::Config {
            action: ConfigAction::Vars { service },
        } => return list_vars(service, env),
        Command::Migrate { service } => migrate(service, env).await,
        Command::Events {
            action: EventsAction::Dlq { action },
        } => dead_letters(action, env).await,
        Command::Events {
            action: EventsAction::Status { json },
        } => crate::status::print(json, env).await,
        Command::Keys {
            action: KeysAction::Generate { dir },
        } => generate_keys(&dir),
        Command::Standalone => launch(standalone::Config::from_env(env), standalone::run).await,
        Command::Gateway => launch(gateway::Config::from_env(env), gateway::run).await,
        Command::Member => launch(member::Config::from_env(env), member::run).await,
        Command::Gallery => launch(gallery::Config::from_env(env), gallery::run).await,
        Command::Post => launch(post::Config::from_env(env), post::run).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "stopped with an error");
            ExitCode::FAILURE
        }
    }
}

async fn launch<C, F, Fut>(config: Result<C, ConfigError>, run: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(C, platform::CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config = match config {
        Ok(c) => c,
        Err(e) => return Ok(config_failure(&e)),
    };
    run(config, platform::shutdown::on_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

#[expect(
    clippy::print_stdout,
    reason = "listing dead letters is this command's purpose"
)]
async fn dead_letters(action: DlqAction, env: &dyn Environment) -> anyhow::Result<ExitCode> {
    let (DlqAction::List { topic, group } | DlqAction::Replay { topic, group }) = &action;
    let target = events::dlq::Target::from_env(env, group).await?;
    match action {
        DlqAction::List { .. } => {
            for letter in target.list(topic, group).await? {
                println!("{letter}");
            }
        }
        DlqAction::Replay { .. } => println!("{}", target.replay(topic, group).await?),
    }
    Ok(ExitCode::SUCCESS)
}

async fn migrate(service: DbService, env: &dyn Environment) -> anyhow::Result<ExitCode> {
    // Only the database matters here, so a migration Job needs no keys or broker settings.
    let name = match service {
        DbService::Member => "member",
        DbService::Gallery => "gallery",
        DbService::Post => "post",
    };
    let mut vars = Vars::new(env);
    let database = DatabaseConfig::read(&mut vars, name);
    let database = match vars.finish(|| database) {
        Ok(d) => d,
        Err(e) => return Ok(config_failure(&e)),
    };
    let db = platform::db::connect(&database).await?;
    match service {
        DbService::Member => platform::db::migrate::<member::migration::Migrator>(&db).await?,
        DbService::Gallery => platform::db::migrate::<gallery::migration::Migrator>(&db).await?,
        DbService::Post => platform::db::migrate::<post::migration::Migrator>(&db).await?,
    }
    tracing::info!(database = %platform::db::describe(&database), "migrations applied");
    Ok(ExitCode::SUCCESS)
}

#[expect(
    clippy::print_stdout,
    reason = "printing the configuration is this command's purpose"
)]
fn check(process: Process, env: &dyn Environment) -> ExitCode {
    let printed = match process {
        Process::Standalone => standalone::Config::from_env(env).map(|c| format!("{c:#?}")),
        Process::Gateway => gateway::Config::from_env(env).map(|c| format!("{c:#?}")),
        Process::Member => member::Config::from_env(env).map(|c| format!("{c:#?}")),
        Process::Gallery => gallery::Config::from_env(env).map(|c| format!("{c:#?}")),
        Process::Post => post::Config::from_env(env).map(|c| format!("{c:#?}")),
    };
    match printed {
        Ok(text) => {
            println!("configuration is valid (secrets redacted):\n{text}");
            ExitCode::SUCCESS
        }
        Err(e) => config_failure(&e),
    }
}

#[expect(
    clippy::print_stdout,
    reason = "the kid is what the operator needs to see"
)]
fn generate_keys(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let key = platform::auth::SigningKey::generate()?;
    let (private, public) = key.write_pair(dir)?;
    println!(
        "wrote {} and {} (kid {})",
        private.display(),
        public.display(),
        key.kid()
    );
    Ok(ExitCode::SUCCESS)
}

/// An environment that remembers which variables were asked for.
struct Recording<'a> {
    inner: &'a dyn Environment,
    read: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl Environment for Recording<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.read.borrow_mut().insert(key.to_owned());
        self.inner.get(key)
    }
}

fn problems_of<T>(result: Result<T, ConfigError>) -> Vec<String> {
    result.err().map_or_else(Vec::new, |e| {
        e.variables().into_iter().map(str::to_owned).collect()
    })
}

#[expect(clippy::print_stdout, reason = "the list is this command's output")]
fn list_vars(process: Process, env: &dyn Environment) -> ExitCode {
    let recording = Recording {
        inner: env,
        read: std::cell::RefCell::default(),
    };
    let mut vars = Vars::new(&recording);
    let _ = TelemetryConfig::read(&mut vars);
    let problems = match process {
        Process::Standalone => problems_of(standalone::Config::from_env(&recording)),
        Process::Gateway => problems_of(gateway::Config::from_env(&recording)),
        Process::Member => problems_of(member::Config::from_env(&recording)),
        Process::Gallery => problems_of(gallery::Config::from_env(&recording)),
        Process::Post => problems_of(post::Config::from_env(&recording)),
    };
    let reads: Vec<String> = recording.read.into_inner().into_iter().collect();
    let json = format!(
        "{{\"reads\":{},\"problems\":{}}}",
        serde_json::to_string(&reads).unwrap_or_default(),
        serde_json::to_string(&problems).unwrap_or_default()
    );
    println!("{json}");
    ExitCode::SUCCESS
}

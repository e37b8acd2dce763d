//! Configuration of the member service.

use platform::config::{
    ConfigError, DatabaseConfig, Environment, HttpConfig, KafkaConfig, RedisConfig, Vars,
};

/// Default port of the member service.
pub const DEFAULT_PORT: u16 = 8001;

/// Everything the member service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub http: HttpConfig,
    /// The member database.
    pub database: DatabaseConfig,
    /// Session store; `None` in standalone mode, where sessions live in the database.
    pub redis: Option<RedisConfig>,
    /// Event bus; `None` in standalone mode, where the in-process bus carries events.
    pub kafka: Option<KafkaConfig>,
}

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let http = HttpConfig::read(&mut vars, DEFAULT_PORT);
        let database = DatabaseConfig::read(&mut vars, "member");
        let redis = RedisConfig::read(&mut vars);
        let kafka = KafkaConfig::read(&mut vars);
        vars.finish(|| {
            Some(Self {
                http,
                database: database?,
                redis: Some(redis?),
                kafka: Some(kafka?),
            })
        })
    }
}

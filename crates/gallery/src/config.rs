//! Configuration of the gallery service.

use platform::config::{ConfigError, DatabaseConfig, Environment, HttpConfig, KafkaConfig, Vars};

/// Default port of the gallery service.
pub const DEFAULT_PORT: u16 = 8002;

/// Everything the gallery service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub http: HttpConfig,
    /// The gallery database.
    pub database: DatabaseConfig,
    /// Event bus; `None` in standalone mode, where the in-process bus carries events.
    pub kafka: Option<KafkaConfig>,
}

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let http = HttpConfig::read(&mut vars, DEFAULT_PORT);
        let database = DatabaseConfig::read(&mut vars, "gallery");
        let kafka = KafkaConfig::read(&mut vars);
        vars.finish(|| {
            Some(Self {
                http,
                database: database?,
                kafka: Some(kafka?),
            })
        })
    }
}

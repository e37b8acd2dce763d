//! Configuration of the post service.

use platform::config::{
    ConfigError, DatabaseConfig, Environment, HttpConfig, KafkaConfig, StorageConfig, Vars,
};

/// Default port of the post service.
pub const DEFAULT_PORT: u16 = 8003;

/// Everything the post service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub http: HttpConfig,
    /// The post database.
    pub database: DatabaseConfig,
    /// Event bus; `None` in standalone mode, where the in-process bus carries events.
    pub kafka: Option<KafkaConfig>,
    /// Where images are stored.
    pub storage: StorageConfig,
}

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let http = HttpConfig::read(&mut vars, DEFAULT_PORT);
        let database = DatabaseConfig::read(&mut vars, "post");
        let kafka = KafkaConfig::read(&mut vars);
        let storage = StorageConfig::read(&mut vars, "./data/images");
        vars.finish(|| {
            Some(Self {
                http,
                database: database?,
                kafka: Some(kafka?),
                storage: storage?,
            })
        })
    }
}

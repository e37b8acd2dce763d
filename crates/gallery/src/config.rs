//! Configuration of the gallery service.

use std::str::FromStr;

use platform::auth::{SessionSource, VerifyingKeys};
use platform::config::{
    ConfigError, DatabaseConfig, Environment, HttpConfig, KafkaConfig, RedisConfig,
    RetentionConfig, Vars,
};

/// Default port of the gallery service.
pub const DEFAULT_PORT: u16 = 8002;

/// Default of `PUBLIC_BASE_URL`: the gateway of a local standalone run.
pub const DEFAULT_PUBLIC_BASE_URL: &str = "http://localhost:8000";

/// Default of `APP_TIMEZONE`.
pub const DEFAULT_TIMEZONE: chrono_tz::Tz = chrono_tz::Asia::Seoul;

/// Everything the gallery service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub http: HttpConfig,
    /// The gallery database.
    pub database: DatabaseConfig,
    /// Event bus; `None` in standalone mode, where the in-process bus carries events.
    pub kafka: Option<KafkaConfig>,
    /// How long the event tables keep done rows (`EVENTS_*_RETENTION_HOURS`, …).
    pub retention: RetentionConfig,
    /// What browsers see in front of the service; place image URIs are absolute from it.
    pub public_base_url: PublicBaseUrl,
    /// Zone of the offset-less timestamps in responses.
    pub timezone: chrono_tz::Tz,
    /// `JWT_PUBLIC_KEYS`: keys that verify members' tokens.
    pub keys: VerifyingKeys,
    /// The sessions tokens are checked against (`REDIS_*`; member's store in standalone mode).
    pub sessions: SessionSource,
}

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let http = HttpConfig::read(&mut vars, DEFAULT_PORT);
        let database = DatabaseConfig::read(&mut vars, "gallery");
        let kafka = KafkaConfig::read(&mut vars);
        let retention = RetentionConfig::read(&mut vars);
        let (public_base_url, timezone) = read_presentation(&mut vars);
        let keys = VerifyingKeys::read(&mut vars);
        let redis = RedisConfig::read(&mut vars);
        vars.finish(|| {
            Some(Self {
                http,
                database: database?,
                kafka: Some(kafka?),
                retention,
                public_base_url,
                timezone,
                keys: keys?,
                sessions: SessionSource::Redis(redis?),
            })
        })
    }
}

/// Reads `PUBLIC_BASE_URL` and `APP_TIMEZONE`, which standalone mode reads the same way.
pub fn read_presentation(vars: &mut Vars<'_>) -> (PublicBaseUrl, chrono_tz::Tz) {
    let base = vars.or("PUBLIC_BASE_URL", PublicBaseUrl::default());
    let zone = vars.or("APP_TIMEZONE", DEFAULT_TIMEZONE);
    (base, zone)
}

/// An `http(s)://host[:port][/prefix]` origin without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(String);

impl PublicBaseUrl {
    /// `self` followed by `path`, which starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl Default for PublicBaseUrl {
    fn default() -> Self {
        Self(DEFAULT_PUBLIC_BASE_URL.to_owned())
    }
}

impl FromStr for PublicBaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = url::Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("expected http(s)://host[:port][/prefix]".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not carry a query or fragment".into());
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let key = platform::auth::SigningKey::generate().unwrap();
        let pem = key.public_pem().unwrap();
        let mut env = vec![
            ("DATABASE_URL", "sqlite://gallery.db"),
            ("KAFKA_SERVER", "127.0.0.1:9092"),
            ("JWT_PUBLIC_KEYS", pem.as_str()),
            ("REDIS_HOST", "127.0.0.1"),
        ];
        env.extend_from_slice(extra);
        Config::from_env(&env)
    }

    #[test]
    fn the_public_base_and_zone_default_to_localhost_and_seoul() {
        let config = read(&[]).unwrap();
        assert_eq!(config.public_base_url.join("/x"), "http://localhost:8000/x");
        assert_eq!(config.timezone, chrono_tz::Asia::Seoul);
    }

    #[test]
    fn a_trailing_slash_of_the_public_base_is_dropped() {
        let config = read(&[("PUBLIC_BASE_URL", "https://thegallery.site/")]).unwrap();
        assert_eq!(
            config.public_base_url.join("/a.png"),
            "https://thegallery.site/a.png"
        );
    }

    #[test]
    fn sessions_are_read_from_the_redis_variables() {
        let config = read(&[("REDIS_PORT", "6380")]).unwrap();
        assert!(matches!(
            config.sessions,
            SessionSource::Redis(RedisConfig { ref host, port: 6380, .. }) if host == "127.0.0.1"
        ));
    }

    #[test]
    fn a_bad_base_and_a_bad_zone_are_reported_together() {
        let err = read(&[
            ("PUBLIC_BASE_URL", "ftp://example"),
            ("APP_TIMEZONE", "Mars/Olympus"),
        ])
        .unwrap_err();
        assert_eq!(err.variables(), ["PUBLIC_BASE_URL", "APP_TIMEZONE"]);
    }
}

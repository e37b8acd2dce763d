//! Configuration of the gallery service.

use platform::auth::{SessionSource, VerifyingKeys};
use platform::config::{
    ConfigError, Environment, Presentation, RedisConfig, ServiceBase, ServiceConfig, Vars,
};

/// Default port of the gallery service.
pub const DEFAULT_PORT: u16 = 8002;

/// Everything the gallery service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, database, broker and event-table retention.
    pub service: ServiceConfig,
    /// `PUBLIC_BASE_URL` (place image URIs are absolute from it) and `APP_TIMEZONE`.
    pub presentation: Presentation,
    /// `JWT_PUBLIC_KEYS`: keys that verify members' tokens.
    pub keys: VerifyingKeys,
    /// The sessions tokens are checked against (`REDIS_*`; member's store in standalone mode).
    pub sessions: SessionSource,
}

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let base = ServiceBase::read(&mut vars, DEFAULT_PORT, "gallery");
        let presentation = Presentation::read(&mut vars);
        let keys = VerifyingKeys::read(&mut vars);
        let redis = RedisConfig::read(&mut vars);
        vars.finish(|| {
            let service = base.finish()?;
            Some(Self {
                presentation,
                keys: keys?,
                sessions: SessionSource::Redis(redis?),
                service,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_host(host: &'static str) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("host", axum::http::HeaderValue::from_static(host));
        headers
    }

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
    fn the_public_base_and_zone_default_to_the_request_and_seoul() {
        let config = read(&[]).unwrap();
        let origin = platform::http::RequestOrigin::from_headers(&http_host("x:1"));
        assert_eq!(
            config.presentation.public_base_url.join(&origin, "/a"),
            "http://x:1/a"
        );
        assert_eq!(config.presentation.timezone, chrono_tz::Asia::Seoul);
    }

    #[test]
    fn a_trailing_slash_of_the_public_base_is_dropped() {
        let config = read(&[("PUBLIC_BASE_URL", "https://thegallery.site/")]).unwrap();
        let origin = platform::http::RequestOrigin::default();
        assert_eq!(
            config.presentation.public_base_url.join(&origin, "/a.png"),
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

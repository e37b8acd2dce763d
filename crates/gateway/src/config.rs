//! Configuration of the gateway.

use platform::config::{ConfigError, Environment, HostPort, HttpConfig, RedisConfig, Vars};

/// Default port of the gateway.
pub const DEFAULT_PORT: u16 = 8000;

/// Everything the gateway reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub http: HttpConfig,
    /// Sessions and rate limits.
    pub redis: RedisConfig,
    /// `MEMBER_SERVER`, default `member-svc:8001`.
    pub member: HostPort,
    /// `GALLERY_SERVER`, default `gallery-svc:8002`.
    pub gallery: HostPort,
    /// `POST_SERVER`, default `post-svc:8003`.
    pub post: HostPort,
}

fn upstream(vars: &mut Vars<'_>, key: &str, host: &str, port: u16) -> HostPort {
    vars.or(
        key,
        HostPort {
            host: host.to_owned(),
            port,
        },
    )
}

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let http = HttpConfig::read(&mut vars, DEFAULT_PORT);
        let redis = RedisConfig::read(&mut vars);
        let member = upstream(&mut vars, "MEMBER_SERVER", "member-svc", 8001);
        let gallery = upstream(&mut vars, "GALLERY_SERVER", "gallery-svc", 8002);
        let post = upstream(&mut vars, "POST_SERVER", "post-svc", 8003);
        vars.finish(|| {
            Some(Self {
                http,
                redis: redis?,
                member,
                gallery,
                post,
            })
        })
    }
}

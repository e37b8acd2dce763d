//! Configuration of the gateway.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use platform::auth::VerifyingKeys;
use platform::config::{
    ConfigError, Environment, Flag, HostPort, HostPortList, HttpConfig, RedisConfig, Vars,
};

/// Default port of the gateway.
pub const DEFAULT_PORT: u16 = 8000;

/// Everything the gateway reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub http: HttpConfig,
    /// Sessions and rate limits.
    pub redis: RedisConfig,
    /// `MEMBER_SERVER`, default `member-svc:8001`: one or more `host:port`, comma-separated, each
    /// name standing for all its addresses.
    pub member: HostPortList,
    /// `GALLERY_SERVER`, default `gallery-svc:8002`.
    pub gallery: HostPortList,
    /// `POST_SERVER`, default `post-svc:8003`.
    pub post: HostPortList,
    /// `UPSTREAM_RESOLVE_INTERVAL_MS`, default 2000: how often upstream names are resolved again,
    /// so that replicas that come or go are seen within that time (plus the DNS server's cache).
    pub resolve_interval: Duration,
    /// `GATEWAY_MAX_CONNECTIONS`, default 10000: client connections open at once, across workers;
    /// a connection past it gets 503 and is closed.
    pub max_connections: usize,
    /// `JWT_PUBLIC_KEYS` (or `JWT_PUBLIC_KEYS_FILE`): the keys tokens may be signed with.
    pub keys: VerifyingKeys,
    /// Timeouts, CORS, rate limits and proxy trust: the same in both modes.
    pub policy: Policy,
}

/// Behaviour shared by the distributed gateway and the one fronting in-process services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `UPSTREAM_CONNECT_TIMEOUT_MS`, default 2000: connecting to an upstream (504 beyond).
    pub connect_timeout: Duration,
    /// `UPSTREAM_RESPONSE_TIMEOUT_MS`, default 60000: from forwarding until the response head (504
    /// beyond). Generous because it includes sending a 50 MB upload.
    pub response_timeout: Duration,
    /// `CORS_ORIGINS` and `CORS_ALLOW_CREDENTIALS`.
    pub cors: Cors,
    /// `RATE_LIMIT_*`.
    pub limits: Limits,
    /// `FORWARDED_HOPS`, default 0: how many proxies in front of the gateway append to
    /// `X-Forwarded-For`; the client address is taken that many entries from the right.
    pub forwarded_hops: usize,
    /// `ACCESS_LOG`, default true: one JSON line per request on stderr.
    pub access_log: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(60),
            cors: Cors::default(),
            limits: Limits::default(),
            forwarded_hops: 0,
            access_log: true,
        }
    }
}

/// Cross-origin access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Allowed origins, exact (`https://thegallery.site`), or `*` for any. Empty: no CORS headers.
    pub origins: Vec<String>,
    /// Whether browsers may send the cookie cross-origin (`Access-Control-Allow-Credentials`).
    pub allow_credentials: bool,
}

impl Default for Cors {
    fn default() -> Self {
        Self {
            origins: Vec::new(),
            allow_credentials: true,
        }
    }
}

/// A token bucket: `burst` tokens, `refill` tokens added every `period` (continuously).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Capacity of the bucket.
    pub burst: u32,
    /// Tokens added per period.
    pub refill: u32,
    /// The period.
    pub period: Duration,
}

impl Rate {
    /// `burst` tokens, `refill` more every `period`.
    pub const fn new(burst: u32, refill: u32, period: Duration) -> Self {
        Self {
            burst,
            refill,
            period,
        }
    }
}

/// A rate written as `<burst>,<refill>/<seconds>s` (e.g. `3,2/3s`), or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting(pub Option<Rate>);

impl FromStr for RateSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        let bad =
            || format!("expected <burst>,<refill>/<seconds>s such as 3,2/3s, or off; got {s:?}");
        let (burst, rest) = s.split_once(',').ok_or_else(bad)?;
        let (refill, period) = rest.split_once('/').ok_or_else(bad)?;
        let seconds = period.trim().strip_suffix('s').ok_or_else(bad)?;
        let number = |v: &str| v.trim().parse::<u32>().ok().filter(|n| *n > 0);
        match (number(burst), number(refill), number(seconds)) {
            (Some(burst), Some(refill), Some(seconds)) => Ok(Self(Some(Rate::new(
                burst,
                refill,
                Duration::from_secs(u64::from(seconds)),
            )))),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for RateSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(r) => write!(f, "{},{}/{}s", r.burst, r.refill, r.period.as_secs()),
        }
    }
}

/// The gateway's rate limits (docs/gateway.md, "Rate limits"); `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RATE_LIMIT_SIGNIN`, per client address on login, callback, sign-in and sign-up; default
    /// `10,10/60s`.
    pub signin: Option<Rate>,
    /// `RATE_LIMIT_PUBLIC_READ`, per client address on public GETs; default `200,100/1s`.
    pub public_read: Option<Rate>,
    /// `RATE_LIMIT_WRITE`, per member on authenticated writes; default `30,30/60s`.
    pub write: Option<Rate>,
    /// `RATE_LIMIT_COMMENT`, per member on comment creation; default `3,2/3s` (the original's).
    pub comment: Option<Rate>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            signin: Some(Rate::new(10, 10, Duration::from_secs(60))),
            public_read: Some(Rate::new(200, 100, Duration::from_secs(1))),
            write: Some(Rate::new(30, 30, Duration::from_secs(60))),
            comment: Some(Rate::new(3, 2, Duration::from_secs(3))),
        }
    }
}

impl Limits {
    /// Every limit off.
    pub const fn off() -> Self {
        Self {
            signin: None,
            public_read: None,
            write: None,
            comment: None,
        }
    }
}

/// A comma-separated origin list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origins(Vec<String>);

impl FromStr for Origins {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let origins: Vec<String> = s
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        for origin in &origins {
            let scheme_ok = origin.starts_with("http://") || origin.starts_with("https://");
            if origin != "*" && (!scheme_ok || origin.matches('/').count() != 2) {
                return Err(format!(
                    "{origin:?} is not an origin such as https://thegallery.site (or *)"
                ));
            }
        }
        Ok(Self(origins))
    }
}

fn millis(vars: &mut Vars<'_>, key: &str, default: Duration) -> Duration {
    let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(vars.or(key, default_ms))
}

impl Policy {
    /// Reads the `UPSTREAM_*`, `CORS_*`, `RATE_LIMIT_*` and `FORWARDED_HOPS` variables.
    pub fn read(vars: &mut Vars<'_>) -> Self {
        let default = Self::default();
        let limits = default.limits;
        let mut rate = |key: &str, default: Option<Rate>| vars.or(key, RateSetting(default)).0;
        let limits = Limits {
            signin: rate("RATE_LIMIT_SIGNIN", limits.signin),
            public_read: rate("RATE_LIMIT_PUBLIC_READ", limits.public_read),
            write: rate("RATE_LIMIT_WRITE", limits.write),
            comment: rate("RATE_LIMIT_COMMENT", limits.comment),
        };
        Self {
            connect_timeout: millis(vars, "UPSTREAM_CONNECT_TIMEOUT_MS", default.connect_timeout),
            response_timeout: millis(
                vars,
                "UPSTREAM_RESPONSE_TIMEOUT_MS",
                default.response_timeout,
            ),
            cors: Cors {
                origins: vars.or("CORS_ORIGINS", Origins(Vec::new())).0,
                allow_credentials: vars.or("CORS_ALLOW_CREDENTIALS", Flag(true)).0,
            },
            limits,
            forwarded_hops: vars.or("FORWARDED_HOPS", 0),
            access_log: vars.or("ACCESS_LOG", Flag(true)).0,
        }
    }
}

fn upstream(vars: &mut Vars<'_>, key: &str, host: &str, port: u16) -> HostPortList {
    let default = HostPort {
        host: host.to_owned(),
        port,
    };
    vars.or(key, HostPortList(vec![default]))
}

/// The default of `GATEWAY_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// The default of `UPSTREAM_RESOLVE_INTERVAL_MS`.
pub const DEFAULT_RESOLVE_INTERVAL: Duration = Duration::from_secs(2);
/// Shorter intervals would only load the DNS server.
const MIN_RESOLVE_INTERVAL: Duration = Duration::from_millis(100);

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let http = HttpConfig::read(&mut vars, DEFAULT_PORT);
        let redis = RedisConfig::read(&mut vars);
        let member = upstream(&mut vars, "MEMBER_SERVER", "member-svc", 8001);
        let gallery = upstream(&mut vars, "GALLERY_SERVER", "gallery-svc", 8002);
        let post = upstream(&mut vars, "POST_SERVER", "post-svc", 8003);
        let resolve_interval = millis(
            &mut vars,
            "UPSTREAM_RESOLVE_INTERVAL_MS",
            DEFAULT_RESOLVE_INTERVAL,
        )
        .max(MIN_RESOLVE_INTERVAL);
        let max_connections = vars
            .or("GATEWAY_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS)
            .max(1);
        let keys = VerifyingKeys::read(&mut vars);
        let policy = Policy::read(&mut vars);
        vars.finish(|| {
            Some(Self {
                http,
                redis: redis?,
                member,
                gallery,
                post,
                resolve_interval,
                max_connections,
                keys: keys?,
                policy,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_reads_burst_refill_and_period() {
        let rate: RateSetting = "3,2/3s".parse().unwrap_or(RateSetting(None));
        assert_eq!(rate.0, Some(Rate::new(3, 2, Duration::from_secs(3))));
    }

    #[test]
    fn off_turns_a_rate_off_and_nonsense_is_refused() {
        assert_eq!("off".parse::<RateSetting>(), Ok(RateSetting(None)));
        assert!("3/2".parse::<RateSetting>().is_err());
        assert!("0,1/1s".parse::<RateSetting>().is_err());
    }

    #[test]
    fn an_upstream_is_one_or_more_host_ports() {
        let env = [
            ("REDIS_HOST", "127.0.0.1"),
            ("MEMBER_SERVER", "member-headless:8001"),
            ("POST_SERVER", "10.0.0.1:8003, post-b:8003"),
            ("GALLERY_SERVER", "gallery:8002,"),
            ("JWT_PUBLIC_KEYS", "not a key"),
        ];
        let error = Config::from_env(&env)
            .err()
            .map(|e| e.variables().join(","));
        assert_eq!(error.as_deref(), Some("JWT_PUBLIC_KEYS"));
        let list: Result<HostPortList, _> = "10.0.0.1:8003, post-b:8003".parse();
        assert_eq!(list.map(|l| l.0.len()), Ok(2));
        assert!("post-a:8003,post-b".parse::<HostPortList>().is_err());
    }

    #[test]
    fn every_bad_variable_is_reported_at_once() {
        let env = [
            ("REDIS_HOST", "127.0.0.1"),
            ("RATE_LIMIT_WRITE", "lots"),
            ("CORS_ORIGINS", "thegallery.site"),
            ("UPSTREAM_RESPONSE_TIMEOUT_MS", "soon"),
        ];
        let error = Config::from_env(&env)
            .err()
            .map(|e| e.variables().join(","));
        assert_eq!(
            error.as_deref(),
            Some("JWT_PUBLIC_KEYS,RATE_LIMIT_WRITE,UPSTREAM_RESPONSE_TIMEOUT_MS,CORS_ORIGINS")
        );
    }
}

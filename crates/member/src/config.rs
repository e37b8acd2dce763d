//! Configuration of the member service.

use platform::SecretString;
use platform::auth::SigningKey;
use platform::config::{
    ConfigError, Environment, Flag, RedisConfig, ServiceBase, ServiceConfig, Vars,
};
use url::Url;

use crate::oauth::parse_endpoint;

/// Default port of the member service.
pub const DEFAULT_PORT: u16 = 8001;

/// One OAuth provider's client settings and endpoints.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `<P>_CLIENT_ID`.
    pub client_id: String,
    /// `<P>_CLIENT_SECRET` (required for Google, optional for Kakao).
    pub client_secret: Option<SecretString>,
    /// `<P>_REDIRECT_URI`: the SPA route the provider sends the browser back to.
    pub redirect_uri: String,
    /// `<P>_AUTHORIZE_URL`.
    pub authorize_url: Url,
    /// `<P>_TOKEN_URL`.
    pub token_url: Url,
    /// `<P>_PROFILE_URL`.
    pub profile_url: Url,
}

/// Default endpoints of a provider.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    /// Authorize page.
    pub authorize: &'static str,
    /// Code exchange.
    pub token: &'static str,
    /// Profile.
    pub profile: &'static str,
}

/// Kakao's endpoints.
pub const KAKAO: Endpoints = Endpoints {
    authorize: "https://kauth.kakao.com/oauth/authorize",
    token: "https://kauth.kakao.com/oauth/token",
    profile: "https://kapi.kakao.com/v2/user/me",
};

/// Google's endpoints.
pub const GOOGLE: Endpoints = Endpoints {
    authorize: "https://accounts.google.com/o/oauth2/v2/auth",
    token: "https://oauth2.googleapis.com/token",
    profile: "https://www.googleapis.com/oauth2/v3/userinfo",
};

impl ProviderConfig {
    /// Reads `<prefix>_*`; `None` when `<prefix>_CLIENT_ID` is unset (the provider is off).
    pub fn read(
        vars: &mut Vars<'_>,
        prefix: &str,
        defaults: Endpoints,
        secret_required: bool,
    ) -> Option<Self> {
        let client_id = vars.raw(&format!("{prefix}_CLIENT_ID"))?;
        let redirect_uri = vars.required(&format!("{prefix}_REDIRECT_URI"));
        let secret_key = format!("{prefix}_CLIENT_SECRET");
        let client_secret = if secret_required {
            vars.required_secret(&secret_key)
        } else {
            vars.secret(&secret_key)
        };
        let authorize_url = endpoint(vars, &format!("{prefix}_AUTHORIZE_URL"), defaults.authorize);
        let token_url = endpoint(vars, &format!("{prefix}_TOKEN_URL"), defaults.token);
        let profile_url = endpoint(vars, &format!("{prefix}_PROFILE_URL"), defaults.profile);
        if secret_required && client_secret.is_none() {
            return None;
        }
        Some(Self {
            client_id,
            client_secret,
            redirect_uri: redirect_uri?,
            authorize_url: authorize_url?,
            token_url: token_url?,
            profile_url: profile_url?,
        })
    }
}

fn endpoint(vars: &mut Vars<'_>, key: &str, default: &str) -> Option<Url> {
    let raw = vars.raw(key).unwrap_or_else(|| default.to_owned());
    match parse_endpoint(&raw) {
        Ok(url) => Some(url),
        Err(reason) => {
            vars.problem(key, reason);
            None
        }
    }
}

/// What the member service needs besides its stores: keys, cookie policy, providers, time zone.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `JWT_PRIVATE_KEY[_FILE]`: signs tokens.
    pub signing_key: SigningKey,
    /// `COOKIE_SECURE`, default true.
    pub cookie_secure: bool,
    /// Kakao, when `KAKAO_CLIENT_ID` is set.
    pub kakao: Option<ProviderConfig>,
    /// Google, when `GOOGLE_CLIENT_ID` is set.
    pub google: Option<ProviderConfig>,
    /// `APP_TIMEZONE`, default `Asia/Seoul`: zone of rendered timestamps.
    pub timezone: chrono_tz::Tz,
}

/// Member settings besides the key, read alike in distributed and standalone mode.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `COOKIE_SECURE`.
    pub cookie_secure: bool,
    /// Kakao, when `KAKAO_CLIENT_ID` is set.
    pub kakao: Option<ProviderConfig>,
    /// Google, when `GOOGLE_CLIENT_ID` is set.
    pub google: Option<ProviderConfig>,
    /// `APP_TIMEZONE`, default `Asia/Seoul`.
    pub timezone: chrono_tz::Tz,
}

impl Settings {
    /// Reads `COOKIE_SECURE` (default `cookie_default`), `APP_TIMEZONE`, `KAKAO_*`, `GOOGLE_*`.
    pub fn read(vars: &mut Vars<'_>, cookie_default: bool) -> Self {
        Self {
            cookie_secure: vars.or("COOKIE_SECURE", Flag(cookie_default)).0,
            kakao: ProviderConfig::read(vars, "KAKAO", KAKAO, false),
            google: ProviderConfig::read(vars, "GOOGLE", GOOGLE, true),
            timezone: vars.or("APP_TIMEZONE", chrono_tz::Asia::Seoul),
        }
    }
}

impl Default for Settings {
    /// Standalone without variables: plain-HTTP cookie (the process serves `http://localhost`),
    /// no OAuth providers, `Asia/Seoul`.
    fn default() -> Self {
        Self {
            cookie_secure: false,
            kakao: None,
            google: None,
            timezone: chrono_tz::Asia::Seoul,
        }
    }
}

impl AuthConfig {
    /// The key with its settings.
    pub fn new(signing_key: SigningKey, settings: Settings) -> Self {
        Self {
            signing_key,
            cookie_secure: settings.cookie_secure,
            kakao: settings.kakao,
            google: settings.google,
            timezone: settings.timezone,
        }
    }

    /// `signing_key` with the standalone defaults of [`Settings::default`].
    pub fn standalone(signing_key: SigningKey) -> Self {
        Self::new(signing_key, Settings::default())
    }
}

/// The signing key in `dir` (standalone's `DATA_DIR`), generated there on first start so that
/// standalone tokens survive restarts.
pub fn load_or_create_key(dir: &std::path::Path) -> anyhow::Result<SigningKey> {
    let (key, created) = SigningKey::load_or_create(dir)?;
    if created {
        let path = dir.join(platform::auth::PRIVATE_KEY_FILE);
        tracing::info!(kid = key.kid(), path = %path.display(), "generated the token signing key");
    }
    Ok(key)
}

/// Everything the member service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, database, broker and event-table retention.
    pub service: ServiceConfig,
    /// Session store; `None` in standalone mode, where sessions live in the database.
    pub redis: Option<RedisConfig>,
    /// Keys, cookie, OAuth providers.
    pub auth: AuthConfig,
}

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let base = ServiceBase::read(&mut vars, DEFAULT_PORT, "member");
        let redis = RedisConfig::read(&mut vars);
        let key = SigningKey::read(&mut vars);
        let settings = Settings::read(&mut vars, true);
        vars.finish(|| {
            let service = base.finish()?;
            Some(Self {
                redis: Some(redis?),
                auth: AuthConfig::new(key?, settings),
                service,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_member_variable_is_reported_at_once() {
        let env = [
            ("KAKAO_CLIENT_ID", "abc"),
            ("KAKAO_TOKEN_URL", "ftp://nope"),
            ("GOOGLE_CLIENT_ID", "g"),
            ("COOKIE_SECURE", "maybe"),
        ];
        let error = Config::from_env(&env).unwrap_err();
        let variables = error.variables();
        for expected in [
            "MYSQL_SERVER",
            "REDIS_HOST",
            "KAFKA_SERVER",
            "JWT_PRIVATE_KEY",
            "COOKIE_SECURE",
            "KAKAO_REDIRECT_URI",
            "KAKAO_TOKEN_URL",
            "GOOGLE_REDIRECT_URI",
            "GOOGLE_CLIENT_SECRET",
        ] {
            assert!(
                variables.contains(&expected),
                "{expected} missing from {variables:?}"
            );
        }
    }

    #[test]
    fn the_standalone_key_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_key(dir.path()).unwrap();
        let second = load_or_create_key(dir.path()).unwrap();
        assert_eq!(first.kid(), second.kid());
        assert!(dir.path().join(platform::auth::PUBLIC_KEY_FILE).exists());
    }

    #[test]
    fn settings_turn_a_provider_on_with_its_client_id() {
        let env = [
            ("KAKAO_CLIENT_ID", "abc"),
            ("KAKAO_REDIRECT_URI", "http://localhost:8000/oauth/kakao"),
        ];
        let mut vars = Vars::new(&env);
        let settings = Settings::read(&mut vars, false);
        assert!(vars.finish(|| Some(())).is_ok());
        assert!(!settings.cookie_secure);
        assert_eq!(settings.kakao.unwrap().token_url.as_str(), KAKAO.token);
        assert!(settings.google.is_none());
    }

    #[test]
    fn providers_are_off_without_a_client_id() {
        let env: [(&str, &str); 0] = [];
        let mut vars = Vars::new(&env);
        assert!(ProviderConfig::read(&mut vars, "KAKAO", KAKAO, false).is_none());
        assert!(vars.finish(|| Some(())).is_ok());
    }
}

//! Configuration of the post service.

use chrono_tz::Tz;
use platform::SecretString;
use platform::auth::{SessionSource, VerifyingKeys};
use platform::config::{
    ConfigError, Environment, RedisConfig, ServiceBase, ServiceConfig, StorageConfig, Vars,
};
use url::Url;

/// Default port of the post service.
pub const DEFAULT_PORT: u16 = 8003;

/// Where images are served from when the service serves them itself (local storage).
pub const LOCAL_IMAGE_BASE_URL: &str = "/api/post/image/";

/// Everything the post service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, database, broker and event-table retention.
    pub service: ServiceConfig,
    /// Where images are stored.
    pub storage: StorageConfig,
    /// Public keys that verify members' tokens.
    pub auth: VerifyingKeys,
    /// The sessions tokens are checked against (`REDIS_*`; member's store in standalone mode).
    pub sessions: SessionSource,
    /// Image URLs, time zone and music providers.
    pub settings: Settings,
}

/// The post-specific settings, shared by both modes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `IMAGE_BASE_URL`: prefix of every `imageURL` (the key is appended).
    pub image_base_url: String,
    /// `APP_TIMEZONE`: zone of rendered timestamps.
    pub timezone: Tz,
    /// Spotify (`GET /api/post/music/list`); `None` answers 503 GP008.
    pub spotify: Option<SpotifyConfig>,
    /// YouTube (`POST /api/post/music`); `None` answers 503 GP008.
    pub youtube: Option<YoutubeConfig>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            image_base_url: LOCAL_IMAGE_BASE_URL.to_owned(),
            timezone: chrono_tz::Asia::Seoul,
            spotify: None,
            youtube: None,
        }
    }
}

/// Spotify client credentials and endpoints.
#[derive(Debug, Clone)]
pub struct SpotifyConfig {
    /// `SPOTIFY_CLIENT_ID`.
    pub client_id: String,
    /// `SPOTIFY_CLIENT_SECRET`.
    pub client_secret: SecretString,
    /// `SPOTIFY_TOKEN_URL`: the client-credentials token endpoint.
    pub token_url: Url,
    /// `SPOTIFY_SEARCH_URL`: the track search endpoint.
    pub search_url: Url,
}

/// YouTube Data API key and endpoint.
#[derive(Debug, Clone)]
pub struct YoutubeConfig {
    /// `YOUTUBE_API_KEY`.
    pub api_key: SecretString,
    /// `YOUTUBE_SEARCH_URL`: the search endpoint.
    pub search_url: Url,
}

impl Config {
    /// Reads the distributed-mode configuration; every problem is reported at once.
    pub fn from_env(env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut vars = Vars::new(env);
        let base = ServiceBase::read(&mut vars, DEFAULT_PORT, "post");
        let storage = StorageConfig::read(&mut vars, "./data/images");
        let auth = VerifyingKeys::read(&mut vars);
        let redis = RedisConfig::read(&mut vars);
        let settings = Settings::read(&mut vars, storage.as_ref());
        vars.finish(|| {
            let service = base.finish()?;
            Some(Self {
                storage: storage?,
                auth: auth?,
                sessions: SessionSource::Redis(redis?),
                settings: settings?,
                service,
            })
        })
    }
}

impl Settings {
    /// Reads `IMAGE_BASE_URL`, `APP_TIMEZONE`, `SPOTIFY_*` and `YOUTUBE_*`.
    ///
    /// `IMAGE_BASE_URL` is required with S3 storage, whose objects the service does not serve.
    pub fn read(vars: &mut Vars<'_>, storage: Option<&StorageConfig>) -> Option<Self> {
        let image_base_url = match (vars.raw("IMAGE_BASE_URL"), storage) {
            (Some(url), _) => url,
            (None, Some(StorageConfig::S3 { .. })) => {
                vars.problem("IMAGE_BASE_URL", "is required with s3:// storage");
                String::new()
            }
            (None, _) => LOCAL_IMAGE_BASE_URL.to_owned(),
        };
        let timezone = vars.or("APP_TIMEZONE", chrono_tz::Asia::Seoul);
        let spotify = read_spotify(vars);
        let youtube = read_youtube(vars);
        Some(Self {
            image_base_url,
            timezone,
            spotify,
            youtube,
        })
    }
}

fn url_or(vars: &mut Vars<'_>, key: &str, default: &str) -> Url {
    vars.optional(key)
        .unwrap_or_else(|| Url::parse(default).unwrap_or_else(|_| unreachable_default(default)))
}

#[expect(
    clippy::panic,
    reason = "the defaults are constants checked by a unit test"
)]
fn unreachable_default(default: &str) -> Url {
    panic!("built-in URL {default} does not parse")
}

fn read_spotify(vars: &mut Vars<'_>) -> Option<SpotifyConfig> {
    let token_url = url_or(vars, "SPOTIFY_TOKEN_URL", SPOTIFY_TOKEN_URL);
    let search_url = url_or(vars, "SPOTIFY_SEARCH_URL", SPOTIFY_SEARCH_URL);
    let client_id = vars.raw("SPOTIFY_CLIENT_ID");
    let client_secret = vars.secret("SPOTIFY_CLIENT_SECRET");
    match (client_id, client_secret) {
        (Some(client_id), Some(client_secret)) => Some(SpotifyConfig {
            client_id,
            client_secret,
            token_url,
            search_url,
        }),
        (None, None) => None,
        (Some(_), None) => {
            vars.problem(
                "SPOTIFY_CLIENT_SECRET",
                "is required with SPOTIFY_CLIENT_ID",
            );
            None
        }
        (None, Some(_)) => {
            vars.problem(
                "SPOTIFY_CLIENT_ID",
                "is required with SPOTIFY_CLIENT_SECRET",
            );
            None
        }
    }
}

fn read_youtube(vars: &mut Vars<'_>) -> Option<YoutubeConfig> {
    let search_url = url_or(vars, "YOUTUBE_SEARCH_URL", YOUTUBE_SEARCH_URL);
    let api_key = vars.secret("YOUTUBE_API_KEY")?;
    Some(YoutubeConfig {
        api_key,
        search_url,
    })
}

/// Spotify's token endpoint.
pub const SPOTIFY_TOKEN_URL: &str = "https://accounts.spotify.com/api/token";
/// Spotify's search endpoint.
pub const SPOTIFY_SEARCH_URL: &str = "https://api.spotify.com/v1/search";
/// YouTube Data API v3 search endpoint.
pub const YOUTUBE_SEARCH_URL: &str = "https://www.googleapis.com/youtube/v3/search";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_provider_urls_parse() {
        for url in [SPOTIFY_TOKEN_URL, SPOTIFY_SEARCH_URL, YOUTUBE_SEARCH_URL] {
            Url::parse(url).unwrap();
        }
    }

    #[test]
    fn music_is_off_and_images_are_served_locally_by_default() {
        let env: [(&str, &str); 0] = [];
        let mut vars = Vars::new(&env);
        let settings = Settings::read(&mut vars, None).unwrap();
        assert!(settings.spotify.is_none() && settings.youtube.is_none());
        assert_eq!(settings.image_base_url, LOCAL_IMAGE_BASE_URL);
        assert_eq!(settings.timezone, chrono_tz::Asia::Seoul);
    }

    #[test]
    fn every_bad_music_or_zone_variable_is_reported_at_once() {
        let env = [
            ("SPOTIFY_CLIENT_ID", "id"),
            ("APP_TIMEZONE", "Mars/Olympus"),
            ("YOUTUBE_SEARCH_URL", "not a url"),
        ];
        let mut vars = Vars::new(&env);
        let _ = Settings::read(&mut vars, None);
        let error = vars.finish(|| Some(())).unwrap_err();
        assert_eq!(
            error.variables(),
            [
                "APP_TIMEZONE",
                "SPOTIFY_CLIENT_SECRET",
                "YOUTUBE_SEARCH_URL"
            ]
        );
    }
}

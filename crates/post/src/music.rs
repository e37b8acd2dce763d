//! Spotify track search (`GET /api/post/music/list`) and YouTube video lookup (`POST /api/post/music`), endpoints and credentials from config.

use std::time::{Duration, Instant};

use platform::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::config::{SpotifyConfig, YoutubeConfig};
use crate::error::PostError;

/// A Spotify track offered to the user (`TrackCandidate` in the document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackCandidate {
    /// Track name.
    pub title: String,
    /// First artist.
    pub artist: String,
    /// Largest album image.
    #[serde(rename = "coverURL")]
    pub cover_url: Option<String>,
    /// Album release date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`).
    pub released_date: String,
}

/// Talks to the music providers; a provider that is not configured answers 503 GP008.
#[derive(Debug)]
pub struct MusicClient {
    http: reqwest::Client,
    spotify: Option<SpotifyConfig>,
    youtube: Option<YoutubeConfig>,
    token: Mutex<Option<CachedToken>>,
}

#[derive(Debug)]
struct CachedToken {
    value: String,
    expires: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct SearchAnswer {
    tracks: Tracks,
}

#[derive(Deserialize)]
struct Tracks {
    items: Vec<Track>,
}

#[derive(Deserialize)]
struct Track {
    name: String,
    artists: Vec<Named>,
    album: Album,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Album {
    #[serde(default)]
    images: Vec<Image>,
    release_date: String,
}

#[derive(Deserialize)]
struct Image {
    url: String,
}

#[derive(Deserialize)]
struct YoutubeAnswer {
    #[serde(default)]
    items: Vec<YoutubeItem>,
}

#[derive(Deserialize)]
struct YoutubeItem {
    id: YoutubeId,
}

#[derive(Deserialize)]
struct YoutubeId {
    #[serde(rename = "videoId")]
    video_id: Option<String>,
}

/// Spotify answers with at most this many candidates.
const SEARCH_LIMIT: &str = "3";
/// Refresh a token this long before Spotify says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// Sends `request` and reads its JSON answer; an error status fails like a failed send.
async fn json_answer<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> reqwest::Result<T> {
    request.send().await?.error_for_status()?.json().await
}

impl MusicClient {
    /// A client for the configured providers.
    pub fn new(spotify: Option<SpotifyConfig>, youtube: Option<YoutubeConfig>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            http,
            spotify,
            youtube,
            token: Mutex::new(None),
        }
    }

    /// Up to three Spotify tracks matching `query`.
    pub async fn search(&self, query: &str) -> Result<Vec<TrackCandidate>, PostError> {
        let spotify = self.spotify.as_ref().ok_or(PostError::MusicNotConfigured)?;
        let token = self.token(spotify).await?;
        let request = self.http.get(spotify.search_url.clone()).query(&[
            ("q", query),
            ("type", "track"),
            ("limit", SEARCH_LIMIT),
            ("market", "KR"),
            ("locale", "ko_KR"),
        ]);
        let answer: SearchAnswer = json_answer(request.bearer_auth(token))
            .await
            .map_err(PostError::MusicUnavailable)?;
        Ok(answer.tracks.items.into_iter().map(candidate).collect())
    }

    async fn token(&self, spotify: &SpotifyConfig) -> Result<String, PostError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.expires > Instant::now()) {
            return Ok(token.value.clone());
        }
        let secret = spotify.client_secret.expose_secret();
        let request = self.http.post(spotify.token_url.clone());
        let request = request.basic_auth(&spotify.client_id, Some(secret));
        let answer: TokenAnswer =
            json_answer(request.form(&[("grant_type", "client_credentials")]))
                .await
                .map_err(PostError::MusicUnavailable)?;
        let lifetime = Duration::from_secs(answer.expires_in).saturating_sub(TOKEN_MARGIN);
        *cached = Some(CachedToken {
            value: answer.access_token.clone(),
            expires: Instant::now() + lifetime,
        });
        Ok(answer.access_token)
    }

    /// The first YouTube video for a track, if any.
    pub async fn find_video(&self, artist: &str, title: &str) -> Result<Option<String>, PostError> {
        let youtube = self.youtube.as_ref().ok_or(PostError::MusicNotConfigured)?;
        let query = format!("{artist} {title}");
        let request = self.http.get(youtube.search_url.clone()).query(&[
            ("part", "snippet"),
            ("type", "video"),
            ("q", query.as_str()),
            ("key", youtube.api_key.expose_secret()),
            ("maxResults", "1"),
            (
                "fields",
                "items(id(videoId),snippet(title,thumbnails(high(url))))",
            ),
        ]);
        // The URL carries the API key, so errors drop it.
        let answer: YoutubeAnswer = json_answer(request)
            .await
            .map_err(|e| PostError::MusicUnavailable(e.without_url()))?;
        Ok(answer
            .items
            .into_iter()
            .find_map(|item| item.id.video_id.filter(|id| !id.is_empty())))
    }

    /// Whether the YouTube lookup is configured (checked before touching the cache).
    pub fn has_youtube(&self) -> bool {
        self.youtube.is_some()
    }
}

fn candidate(track: Track) -> TrackCandidate {
    TrackCandidate {
        title: track.name,
        artist: track
            .artists
            .into_iter()
            .next()
            .map(|a| a.name)
            .unwrap_or_default(),
        cover_url: track.album.images.into_iter().next().map(|i| i.url),
        released_date: track.album.release_date,
    }
}

//! `GET /api/post/music/list` Spotify search and `POST /api/post/music` YouTube lookup, cached in the music table.

use axum::extract::State;
use platform::auth::AuthMember;
use platform::http::{ApiResponse, Json, Query};
use serde::Deserialize;
use utoipa::ToSchema;

use super::posts::MusicInfo;
use crate::AppState;
use crate::domain::{Invalid, messages};
use crate::error::PostError;
use crate::music::TrackCandidate;
use crate::store::{self, NewMusic};

/// `GET /api/post/music/list` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Search text.
    pub q: Option<String>,
}

/// Up to three Spotify tracks.
#[utoipa::path(get, path = "/api/post/music/list", tag = "music", params(SearchQuery),
    responses((status = 200, description = "음악 목록 조회에 성공했습니다", body = platform::http::openapi::Envelope<Vec<TrackCandidate>>),
        (status = 400, description = "GP004 q missing"),
        (status = 503, description = "GP008 Spotify not configured or unreachable")))]
pub async fn search(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<ApiResponse<Vec<TrackCandidate>>, PostError> {
    let q = query
        .q
        .filter(|q| !q.trim().is_empty())
        .ok_or(PostError::MissingParameter)?;
    let tracks = state.music.search(&q).await?;
    Ok(ApiResponse::data("음악 목록 조회에 성공했습니다", tracks))
}

/// `POST /api/post/music` body: the chosen track candidate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackChoice {
    /// Title.
    pub title: Option<String>,
    /// Artist.
    pub artist: Option<String>,
    /// Cover URL.
    #[serde(rename = "coverURL")]
    pub cover_url: Option<String>,
    /// Release date.
    pub released_date: Option<String>,
}

fn required(value: Option<String>) -> Result<String, Invalid> {
    value
        .filter(|v| !v.trim().is_empty() && v.chars().count() <= 255)
        .ok_or(Invalid(messages::MUSIC))
}

/// The cached music of a track, or a new row with its first YouTube video.
#[utoipa::path(post, path = "/api/post/music", tag = "music", request_body = TrackChoice,
    responses((status = 200, description = "음악 조회에 성공했습니다", body = platform::http::openapi::Envelope<MusicInfo>),
        (status = 400, description = "GP005"),
        (status = 404, description = "GP001 no video found"),
        (status = 503, description = "GP008 YouTube not configured or unreachable")))]
pub async fn lookup(
    State(state): State<AppState>,
    _member: AuthMember,
    Json(choice): Json<TrackChoice>,
) -> Result<ApiResponse<MusicInfo>, PostError> {
    let title = required(choice.title)?;
    let artist = required(choice.artist)?;
    let released_date = required(choice.released_date)?;
    if let Some(row) = store::find_music_by_track(&state.db, &artist, &title).await? {
        return Ok(ApiResponse::data("음악 조회에 성공했습니다", row.into()));
    }
    let video_id = state
        .music
        .find_video(&artist, &title)
        .await?
        .ok_or(PostError::MusicNotFound)?;
    let new = NewMusic {
        title,
        artist,
        video_id,
        cover_url: choice.cover_url,
        released_date,
    };
    let row = store::insert_music(&state.db, new).await?;
    Ok(ApiResponse::data("음악 조회에 성공했습니다", row.into()))
}

//! `GET /api/post/music/list` and `POST /api/post/music` against a local stand-in for Spotify and YouTube, and without configuration.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::Harness;
use platform::SecretString;
use post::Settings;
use post::config::{SpotifyConfig, YoutubeConfig};
use serde_json::{Value, json};
use testkit::error_body as error;

#[derive(Default)]
struct Calls {
    tokens: AtomicUsize,
    searches: AtomicUsize,
    videos: AtomicUsize,
}

async fn token(
    State(calls): State<Arc<Calls>>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, StatusCode> {
    calls.tokens.fetch_add(1, Ordering::SeqCst);
    // base64("id:secret")
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if basic != Some("Basic aWQ6c2VjcmV0") || body != "grant_type=client_credentials" {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(Json(
        json!({"access_token": "tok", "token_type": "Bearer", "expires_in": 3600}),
    ))
}

async fn search(
    State(calls): State<Arc<Calls>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    calls.searches.fetch_add(1, Ordering::SeqCst);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let expected = [
        ("type", "track"),
        ("limit", "3"),
        ("market", "KR"),
        ("locale", "ko_KR"),
    ];
    if bearer != Some("Bearer tok")
        || expected
            .iter()
            .any(|(k, v)| query.get(*k).map(String::as_str) != Some(*v))
    {
        return Err(StatusCode::UNAUTHORIZED);
    }
    if query["q"] == "boom" {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Ok(Json(json!({"tracks": {"items": [
        {"name": "밤편지", "artists": [{"name": "아이유"}, {"name": "other"}],
         "album": {"images": [{"url": "https://img/large.jpg"}, {"url": "https://img/small.jpg"}],
                   "release_date": "2017-03-24"}},
        {"name": "Untitled", "artists": [{"name": "Nobody"}],
         "album": {"images": [], "release_date": "2001"}}
    ]}})))
}

async fn youtube(
    State(calls): State<Arc<Calls>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    calls.videos.fetch_add(1, Ordering::SeqCst);
    if query.get("key").map(String::as_str) != Some("ytkey") || query["maxResults"] != "1" {
        return Err(StatusCode::FORBIDDEN);
    }
    if query["q"].contains("없는") {
        return Ok(Json(json!({"items": []})));
    }
    assert_eq!(query["q"], "아이유 밤편지");
    Ok(Json(json!({"items": [{"id": {"videoId": "BzYnNdJhZQw"}}]})))
}

/// Starts the stand-in and a post service configured to use it.
async fn with_providers() -> (Harness, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let app = Router::new()
        .route("/token", post(token))
        .route("/search", get(search))
        .route("/youtube", get(youtube))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let settings = Settings {
        spotify: Some(SpotifyConfig {
            client_id: "id".into(),
            client_secret: SecretString::from("secret"),
            token_url: format!("{base}/token").parse().unwrap(),
            search_url: format!("{base}/search").parse().unwrap(),
        }),
        youtube: Some(YoutubeConfig {
            api_key: SecretString::from("ytkey"),
            search_url: format!("{base}/youtube").parse().unwrap(),
        }),
        ..Settings::default()
    };
    (Harness::mysql_with(settings).await, calls)
}

/// Searches the music catalogue at `uri`, anonymously.
async fn search_music(h: &Harness, uri: &str) -> (StatusCode, Value) {
    h.call(axum::http::Method::GET, uri, None, None).await
}

/// Asks for the video of the track `body` describes, as `member`.
async fn look_up(h: &Harness, member: Option<i64>, body: Value) -> (StatusCode, Value) {
    h.call(
        axum::http::Method::POST,
        "/api/post/music",
        member,
        Some(body),
    )
    .await
}

fn choice(title: &str) -> Value {
    json!({"title": title, "artist": "아이유", "coverURL": "https://img/large.jpg", "releasedDate": "2017-03-24"})
}

#[tokio::test]
async fn a_search_answers_track_candidates_from_spotify() {
    let (h, _) = with_providers().await;
    let answer = search_music(&h, "/api/post/music/list?q=%EB%B0%A4").await;
    let expected = json!({"message": "음악 목록 조회에 성공했습니다", "data": [
        {"title": "밤편지", "artist": "아이유", "coverURL": "https://img/large.jpg", "releasedDate": "2017-03-24"},
        {"title": "Untitled", "artist": "Nobody", "coverURL": null, "releasedDate": "2001"}
    ]});
    assert_eq!(answer, (StatusCode::OK, expected));
}

#[tokio::test]
async fn the_spotify_token_is_reused_between_searches() {
    let (h, calls) = with_providers().await;
    for _ in 0..3 {
        search_music(&h, "/api/post/music/list?q=a").await;
    }
    assert_eq!(calls.tokens.load(Ordering::SeqCst), 1);
    assert_eq!(calls.searches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_search_without_q_is_a_missing_parameter() {
    let (h, _) = with_providers().await;
    for uri in ["/api/post/music/list", "/api/post/music/list?q="] {
        let answer = search_music(&h, uri).await;
        assert_eq!(answer, error(400, "GP004", "필수 파라미터 누락"), "{uri}");
    }
}

#[tokio::test]
async fn a_failing_spotify_answers_503() {
    let (h, _) = with_providers().await;
    let answer = search_music(&h, "/api/post/music/list?q=boom").await;
    assert_eq!(
        answer,
        error(
            503,
            "GP008",
            "음악 서비스에 연결할 수 없습니다. 잠시 후 다시 시도해주세요"
        )
    );
}

#[tokio::test]
async fn a_chosen_track_gets_its_youtube_video_and_is_cached() {
    let (h, calls) = with_providers().await;
    let (status, first) = look_up(&h, Some(1), choice("밤편지")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["message"], "음악 조회에 성공했습니다");
    let data = &first["data"];
    assert!(data["musicId"].as_i64().unwrap() > 0);
    assert_eq!(
        data,
        &json!({"musicId": data["musicId"], "title": "밤편지", "artist": "아이유",
                "releasedDate": "2017-03-24", "videoId": "BzYnNdJhZQw", "coverURL": "https://img/large.jpg"})
    );
    let (_, second) = look_up(&h, Some(2), choice("밤편지")).await;
    assert_eq!(second, first);
    assert_eq!(calls.videos.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_track_without_a_video_is_not_found_and_not_cached() {
    let (h, _) = with_providers().await;
    let answer = look_up(&h, Some(1), choice("없는 노래")).await;
    assert_eq!(
        answer,
        error(404, "GP001", "음악 정보가 존재하지 않습니다.")
    );
    assert!(
        post::store::find_music_by_track(&h.state.db, "아이유", "없는 노래")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_track_without_title_is_refused() {
    let (h, _) = with_providers().await;
    let body = json!({"artist": "아이유", "releasedDate": "2017"});
    let answer = look_up(&h, Some(1), body).await;
    assert_eq!(answer, error(400, "GP005", "음악 정보를 확인해주세요"));
}

#[tokio::test]
async fn music_lookup_needs_a_token() {
    let (h, _) = with_providers().await;
    let answer = look_up(&h, None, choice("밤편지")).await;
    assert_eq!(answer, error(400, "GATE004", "missing cookie"));
}

#[tokio::test]
async fn without_configured_providers_music_answers_503_gp008() {
    let h = Harness::mysql().await;
    let expected = error(
        503,
        "GP008",
        "음악 검색이 설정되지 않았습니다. 관리자에게 문의해주세요",
    );
    let search = search_music(&h, "/api/post/music/list?q=a").await;
    assert_eq!(search, expected);
    let lookup = look_up(&h, Some(1), choice("밤편지")).await;
    assert_eq!(lookup, expected);
}

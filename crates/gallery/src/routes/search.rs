//! `GET /api/gallery/search`: gallery search by title and/or author nickname.

use axum::extract::State;
use platform::http::{ApiResponse, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Envelope, ErrorBody};
use crate::domain::{PageRequest, SearchType};
use crate::error::Result;
use crate::store::SearchHit;
use crate::{AppState, store};

/// The search's query.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// `all`, `title` or `author`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: String,
    /// Text to find; empty matches every title.
    pub query: String,
    /// Zero-based page, default 0.
    #[param(minimum = 0, maximum = 10_000_000)]
    pub page: Option<u64>,
    /// Page size, default 100.
    #[param(minimum = 1, maximum = 100)]
    pub size: Option<u64>,
}

/// One search result: the original's `GallerySearchItem` (docs/api.md, gallery search).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GallerySearchItem {
    /// Gallery id.
    pub gallery_id: i64,
    /// The gallery's name.
    pub title: String,
    /// Description.
    pub content: Option<String>,
    /// Author.
    pub member_id: i64,
    /// Author's nickname; `null` when not known yet.
    pub nickname: Option<String>,
    /// Creation time, offset-less in `APP_TIMEZONE`.
    pub created_date: String,
}

/// The galleries found, newest first; `[]` when nothing matches.
#[utoipa::path(get, path = "/api/gallery/search", tag = "gallery", params(SearchQuery),
    responses((status = 200, description = "`{message: \"갤러리 검색을 성공했습니다\", data: [GallerySearchItem]}`", body = Envelope<Vec<GallerySearchItem>>),
        (status = 400, description = "GG005 unknown type, bad paging or a missing parameter", body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Query(params): Query<SearchQuery>,
) -> Result<ApiResponse<Vec<GallerySearchItem>>> {
    let kind: SearchType = params.kind.parse()?;
    let page = PageRequest::parse(params.page, params.size)?;
    let hits = store::search(&state.db, &state.search_index, kind, &params.query, page).await?;
    let items = hits.into_iter().map(|h| item(&state, h)).collect();
    Ok(ApiResponse::data("갤러리 검색을 성공했습니다", items))
}

fn item(state: &AppState, hit: SearchHit) -> GallerySearchItem {
    GallerySearchItem {
        gallery_id: hit.gallery.gallery_id,
        title: hit.gallery.name,
        content: hit.gallery.content,
        member_id: hit.gallery.member_id,
        nickname: hit.nickname,
        created_date: platform::time::render(state.timezone, hit.gallery.created_date),
    }
}

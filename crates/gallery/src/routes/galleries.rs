//! The gallery routes: create, list mine, check a name, get, update and delete galleries.

use axum::extract::State;
use platform::auth::AuthMember;
use platform::http::{ApiResponse, Json, PathId, Query, RequestOrigin};
use platform::id::RawId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Envelope, ErrorBody, GalleryInfo, MessageOnly};
use crate::domain::{Gallery, GalleryDraft, GalleryId, GalleryName, MemberId, PlaceId};
use crate::error::{GalleryError, Result};
use crate::{AppState, store};
use platform::time::now_utc;

/// The body of `POST /api/gallery` and `PATCH /api/gallery/{galleryId}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GalleryForm {
    /// An existing place.
    #[schema(value_type = Option<PlaceId>)]
    pub place_id: Option<RawId>,
    /// 1–50 characters, no leading or trailing whitespace, unique among the member's galleries.
    #[schema(min_length = 1, max_length = 50)]
    pub name: Option<String>,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub content: Option<String>,
}

impl GalleryForm {
    fn parse(self) -> Result<GalleryDraft> {
        GalleryDraft::parse(self.place_id, self.name.as_deref(), self.content)
    }
}

/// `POST /api/gallery`'s data.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedGallery {
    /// The new gallery's id.
    pub gallery_id: i64,
}

/// `GET /api/gallery/check/name`'s query.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NameQuery {
    /// The name to check.
    pub name: String,
}

fn member(auth: &AuthMember) -> MemberId {
    MemberId(auth.member_id)
}

/// Opens a gallery; `gallery.created` is written in the same transaction.
#[utoipa::path(post, path = "/api/gallery", tag = "gallery", request_body = GalleryForm,
    responses((status = 200, description = "`{message: \"갤러리가 생성되었습니다.\", data: {galleryId}}`", body = Envelope<CreatedGallery>),
        (status = 400, description = "GG005 validation", body = ErrorBody), (status = 404, description = "GG007 unknown place", body = ErrorBody),
        (status = 409, description = "GG006 name taken", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthMember,
    Json(form): Json<GalleryForm>,
) -> Result<ApiResponse<CreatedGallery>> {
    let draft = form.parse()?;
    let created =
        store::create_gallery(&state.outbox, &state.db, member(&auth), draft, now_utc()).await?;
    let data = CreatedGallery {
        gallery_id: created.gallery,
    };
    Ok(ApiResponse::data("갤러리가 생성되었습니다.", data))
}

/// The caller's galleries, newest first.
#[utoipa::path(get, path = "/api/gallery/list", tag = "gallery",
    responses((status = 200, description = "`{message: \"갤러리 목록 조회를 성공했습니다\", data: [GalleryInfo]}`", body = Envelope<Vec<GalleryInfo>>)))]
pub async fn mine(
    State(state): State<AppState>,
    origin: RequestOrigin,
    auth: AuthMember,
) -> Result<ApiResponse<Vec<GalleryInfo>>> {
    let views = store::galleries_of(&state.db, member(&auth)).await?;
    let body = views
        .into_iter()
        .map(|v| state.gallery_info(&origin, v))
        .collect();
    Ok(ApiResponse::data("갤러리 목록 조회를 성공했습니다", body))
}

/// Whether the caller can use `name`.
#[utoipa::path(get, path = "/api/gallery/check/name", tag = "gallery", params(NameQuery),
    responses((status = 200, description = "`{message: \"사용 가능한 갤러리 이름입니다\"}`", body = MessageOnly),
        (status = 400, description = "GG005 validation", body = ErrorBody), (status = 409, description = "GG006 name taken", body = ErrorBody)))]
pub async fn check_name(
    State(state): State<AppState>,
    auth: AuthMember,
    Query(query): Query<NameQuery>,
) -> Result<ApiResponse<()>> {
    let name = GalleryName::parse(Some(&query.name))?;
    if store::name_taken(&state.db, member(&auth), &name).await? {
        return Err(GalleryError::NameTakenCheck);
    }
    Ok(ApiResponse::message("사용 가능한 갤러리 이름입니다"))
}

/// One gallery, public.
#[utoipa::path(get, path = "/api/gallery/{galleryId}", tag = "gallery",
    params(("galleryId" = GalleryId, Path, description = "gallery id")),
    responses((status = 200, description = "`{message: \"갤러리 조회에 성공했습니다\", data: GalleryInfo}`", body = Envelope<GalleryInfo>),
        (status = 400, description = "GG005: the id is not an integer of 64 bits", body = ErrorBody), (status = 404, description = "GG007: no such gallery (also an id below 1)", body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    origin: RequestOrigin,
    PathId(id): PathId<Gallery>,
) -> Result<ApiResponse<GalleryInfo>> {
    let view = store::gallery(&state.db, id).await?;
    Ok(ApiResponse::data(
        "갤러리 조회에 성공했습니다",
        state.gallery_info(&origin, view),
    ))
}

/// Overwrites the caller's gallery.
#[utoipa::path(patch, path = "/api/gallery/{galleryId}", tag = "gallery", request_body = GalleryForm,
    params(("galleryId" = GalleryId, Path, description = "gallery id")),
    responses((status = 200, description = "`{message: \"갤러리 정보 수정을 성공했습니다\"}`", body = MessageOnly),
        (status = 400, description = "GG005 validation", body = ErrorBody),
        (status = 404, description = "GG007 unknown place, or no such gallery of the caller", body = ErrorBody),
        (status = 409, description = "GG006 name taken", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: AuthMember,
    PathId(id): PathId<Gallery>,
    Json(form): Json<GalleryForm>,
) -> Result<ApiResponse<()>> {
    let draft = form.parse()?;
    store::update(&state.db, member(&auth), id, draft, now_utc()).await?;
    Ok(ApiResponse::message("갤러리 정보 수정을 성공했습니다"))
}

/// Deletes the caller's gallery; `gallery.deleted` is written in the same transaction.
#[utoipa::path(delete, path = "/api/gallery/{galleryId}", tag = "gallery",
    params(("galleryId" = GalleryId, Path, description = "gallery id")),
    responses((status = 200, description = "`{message: \"갤러리가 삭제되었습니다\"}`", body = MessageOnly),
        (status = 404, description = "GG007 no such gallery of the caller", body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthMember,
    PathId(id): PathId<Gallery>,
) -> Result<ApiResponse<()>> {
    store::delete_gallery(&state.outbox, &state.db, member(&auth), id).await?;
    Ok(ApiResponse::message("갤러리가 삭제되었습니다"))
}

//! The caller's profile: `GET /api/member` (read), `GET /api/member/check/nickname` (nickname check), `PATCH /api/member` (rename), `DELETE /api/member` (withdraw).

use axum::extract::State;
use axum::response::Response;
use platform::http::{ApiResponse, Json, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Caller;
use super::auth::with_cleared_cookie;
use crate::AppState;
use crate::domain::Nickname;
use crate::error::MemberError;
use crate::store::{Conflict, WriteError};
use platform::time::render as render_local;

/// Data of `GET /api/member`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MemberData {
    /// Nickname.
    nickname: String,
    /// `ROLE_USER` or `ROLE_ADMIN`.
    role: String,
    /// Registration time, offset-less in `APP_TIMEZONE`.
    created_date: String,
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/member", tag = "profile",
    responses((status = 200, body = platform::http::openapi::Envelope<MemberData>),
        (status = 404, description = "GA007 no such member")))]
pub(super) async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ApiResponse<MemberData>, MemberError> {
    let member = state
        .store
        .find_active(caller.member_id)
        .await?
        .ok_or(MemberError::MemberNotFound)?;
    Ok(ApiResponse::data(
        "회원 정보 조회 성공",
        MemberData {
            nickname: member.nickname,
            role: member.role,
            created_date: render_local(state.timezone, member.created_date),
        },
    ))
}

/// Query of `GET /api/member/check/nickname`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct NicknameQuery {
    /// The nickname to check: 2–10 Hangul, Latin letters or digits.
    #[param(pattern = "^[A-Za-z0-9ㄱ-ㅎㅏ-ㅣ가-힣]{2,10}$")]
    nickname: Option<String>,
}

/// Whether a nickname is valid and free among active members.
#[utoipa::path(get, path = "/api/member/check/nickname", params(NicknameQuery), tag = "profile",
    responses((status = 200, description = "`{message}`", body = platform::http::openapi::MessageOnly),
        (status = 409, description = "GA006 nickname taken")))]
pub(super) async fn check_nickname(
    State(state): State<AppState>,
    Query(query): Query<NicknameQuery>,
) -> Result<ApiResponse<()>, MemberError> {
    let nickname = Nickname::parse(query.nickname.as_deref().unwrap_or_default())?;
    if !state.store.nickname_free(&nickname).await? {
        return Err(MemberError::NicknameTaken);
    }
    Ok(ApiResponse::message("사용 가능한 닉네임 입니다"))
}

/// Body of `PATCH /api/member`.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct RenameBody {
    /// The new nickname: 2–10 Hangul, Latin letters or digits.
    #[schema(pattern = "^[A-Za-z0-9ㄱ-ㅎㅏ-ㅣ가-힣]{2,10}$")]
    nickname: Option<String>,
}

/// Renames the caller; the unique index decides between concurrent requests.
#[utoipa::path(patch, path = "/api/member", request_body = RenameBody, tag = "profile",
    responses((status = 200, description = "`{message}`", body = platform::http::openapi::MessageOnly),
        (status = 404, description = "GA007 no such member"),
        (status = 409, description = "GA006 nickname taken")))]
pub(super) async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<RenameBody>,
) -> Result<ApiResponse<()>, MemberError> {
    let raw = body
        .nickname
        .filter(|n| !n.trim().is_empty())
        .ok_or(MemberError::InvalidBody)?;
    let nickname = Nickname::parse(&raw)?;
    if !state.store.nickname_free(&nickname).await? {
        return Err(MemberError::NicknameTaken);
    }
    match state
        .store
        .change_nickname(caller.member_id, &nickname)
        .await
    {
        Ok(true) => Ok(ApiResponse::message("성공적으로 변경되었습니다")),
        Ok(false) => Err(MemberError::MemberNotFound),
        Err(WriteError::Conflict(Conflict::Nickname)) => Err(MemberError::NicknameTaken),
        Err(WriteError::Conflict(_)) => Err(MemberError::NicknameTaken),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

/// Withdraws the caller: sessions revoked, row soft-deleted, nickname freed, cookie cleared.
///
/// Sessions are revoked before the row changes so an unreachable session store (503) leaves the
/// account untouched, and again afterwards to catch a login that raced the withdrawal.
#[utoipa::path(delete, path = "/api/member", tag = "profile",
    responses((status = 200, description = "`{message}`, cookie cleared", body = platform::http::openapi::MessageOnly),
        (status = 404, description = "GA007 no such member")))]
pub(super) async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, MemberError> {
    state.sessions.delete_all(caller.member_id).await?;
    if !state.store.withdraw(caller.member_id).await? {
        return Err(MemberError::DeleteTargetNotFound);
    }
    if let Err(e) = state.sessions.delete_all(caller.member_id).await {
        tracing::warn!(error = %platform::http::ErrorChain(&e), "second session sweep failed");
    }
    Ok(with_cleared_cookie(ApiResponse::message(
        "성공적으로 삭제되었습니다",
    )))
}

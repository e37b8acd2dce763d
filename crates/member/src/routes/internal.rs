//! Lookups kept for compatibility (`GET /api/member/nickname`, `GET /api/member/memberId`, `POST /api/member/nickname/list`); thegallery's own services use event projections.
//! They include withdrawn members, as the original did.

use std::collections::BTreeMap;

use axum::extract::State;
use platform::http::{ApiResponse, Json, Query};
use platform::id::{Id, IdKind, RawId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::MemberError;

const FOUND: &str = "닉네임 조회 성공";
/// Most ids one `POST /api/member/nickname/list` request may ask for.
const MAX_IDS: usize = 1000;

/// Members, as the kind of a client-sent id: one no member can have is an unknown member.
#[derive(Debug)]
pub(super) enum Member {}

impl IdKind for Member {
    type Error = MemberError;
    fn unknown() -> MemberError {
        MemberError::MemberNotFound
    }
}

/// A member id a client sent: 1 to 2^63−1.
pub(super) type MemberId = Id<Member>;

/// Query of `GET /api/member/nickname`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(super) struct MemberIdQuery {
    /// Member id.
    #[param(value_type = Option<MemberId>)]
    member_id: Option<RawId>,
}

/// The nickname of a member id.
#[utoipa::path(get, path = "/api/member/nickname", params(MemberIdQuery), tag = "internal",
    responses((status = 200, description = "`{message, data: nickname}`", body = platform::http::openapi::Envelope<String>),
        (status = 404, description = "GA007 no such member")))]
pub(super) async fn nickname(
    State(state): State<AppState>,
    Query(query): Query<MemberIdQuery>,
) -> Result<ApiResponse<String>, MemberError> {
    let id = query.member_id.ok_or(MemberError::MissingParameter)?;
    let id = id.parse::<Member>()?;
    let member = state
        .store
        .find_any(id.get())
        .await?
        .ok_or(MemberError::MemberNotFound)?;
    Ok(ApiResponse::data(FOUND, member.nickname))
}

/// Query of `GET /api/member/memberId`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct NicknameQuery {
    /// Exact nickname.
    nickname: Option<String>,
}

/// The member id of a nickname.
#[utoipa::path(get, path = "/api/member/memberId", params(NicknameQuery), tag = "internal",
    responses((status = 200, description = "`{message, data: memberId}`", body = platform::http::openapi::Envelope<i64>),
        (status = 404, description = "GA007 no such member")))]
pub(super) async fn member_id(
    State(state): State<AppState>,
    Query(query): Query<NicknameQuery>,
) -> Result<ApiResponse<i64>, MemberError> {
    let nickname = query
        .nickname
        .filter(|n| !n.trim().is_empty())
        .ok_or(MemberError::MissingParameter)?;
    let member = state
        .store
        .find_by_nickname(&nickname)
        .await?
        .ok_or(MemberError::MemberNotFound)?;
    Ok(ApiResponse::data(FOUND, member.member_id))
}

/// Nicknames of several ids, keyed by the id as a string; unknown ids are left out.
#[utoipa::path(post, path = "/api/member/nickname/list", request_body = Vec<RawId>, tag = "internal",
    responses((status = 200, description = "`{message, data: {\"<id>\": nickname}}`", body = platform::http::openapi::Envelope<std::collections::HashMap<String, String>>)))]
pub(super) async fn nicknames(
    State(state): State<AppState>,
    Json(ids): Json<Vec<RawId>>,
) -> Result<ApiResponse<BTreeMap<String, String>>, MemberError> {
    if ids.len() > MAX_IDS {
        return Err(MemberError::InvalidBody);
    }
    // Unknown ids are left out of the answer, and so are ids no member can have.
    let ids: Vec<i64> = ids
        .into_iter()
        .filter_map(RawId::in_range::<Member>)
        .map(Id::get)
        .collect();
    let found = state.store.nicknames(&ids).await?;
    let map = found
        .into_iter()
        .map(|(id, nickname)| (id.to_string(), nickname))
        .collect();
    Ok(ApiResponse::data(FOUND, map))
}

//! The comment routes: comments, with ownership on edit and delete and nicknames from the local projection.

use std::time::Instant;

use axum::extract::State;
use platform::auth::AuthMember;
use platform::http::{ApiResponse, Json, PageQuery, Path, PathId, Query};
use platform::id::RawId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::domain::ids::{Comment, CommentId, Post, PostId};
use crate::domain::{CommentText, Invalid, messages};
use crate::error::PostError;
use crate::store;
use platform::time::render as render_time;

/// Shown when the projection has not heard of the author yet.
const UNKNOWN_NICKNAME: &str = "알 수 없음";

/// A comment as `GET /api/post/comment/list/{postId}` lists it (`CommentInfo` in the document).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentInfo {
    /// Comment id.
    pub comment_id: i64,
    /// Author's current nickname.
    pub nickname: String,
    /// Text.
    pub content: String,
    /// Created, offset-less in `APP_TIMEZONE`.
    pub created_date: String,
}

/// `POST /api/post/comment` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewComment {
    /// The post commented on.
    #[schema(value_type = Option<PostId>)]
    pub post_id: Option<RawId>,
    /// 1–100 characters, the first not whitespace.
    #[schema(min_length = 1, max_length = 100)]
    pub content: Option<String>,
}

/// `PATCH /api/post/comment/{commentId}` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditComment {
    /// 1–100 characters, the first not whitespace.
    #[schema(min_length = 1, max_length = 100)]
    pub content: Option<String>,
}

/// Comments on a post, within the per-member rate limit.
#[utoipa::path(post, path = "/api/post/comment", tag = "comment", request_body = NewComment,
    responses((status = 200, description = "댓글이 생성되었습니다"),
        (status = 400, description = "GP005"), (status = 404, description = "GP007 post"),
        (status = 429, description = "rate limit")))]
pub async fn create(
    State(state): State<AppState>,
    member: AuthMember,
    Json(body): Json<NewComment>,
) -> Result<ApiResponse<()>, PostError> {
    let post_id = body.post_id.ok_or(Invalid(messages::POST_ID))?;
    let content = CommentText::parse(body.content.unwrap_or_default())?;
    let post_id = post_id.parse::<Post>()?.get();
    if store::find_post(&state.db, post_id).await?.is_none() {
        return Err(PostError::PostNotFound);
    }
    state
        .comment_limit
        .try_take(member.member_id, Instant::now())
        .map_err(|retry_after| PostError::TooManyComments { retry_after })?;
    store::insert_comment(&state.db, post_id, member.member_id, content).await?;
    Ok(ApiResponse::message("댓글이 생성되었습니다"))
}

/// A post's comments, oldest first.
#[utoipa::path(get, path = "/api/post/comment/list/{postId}", tag = "comment",
    params(("postId" = RawId, Path, description = "post id; an id below 1 names no post, so its list is empty"), PageQuery),
    responses((status = 200, description = "댓글 목록 조회 성공", body = platform::http::openapi::Envelope<Vec<CommentInfo>>)))]
pub async fn list(
    State(state): State<AppState>,
    Path(post_id): Path<RawId>,
    Query(page): Query<PageQuery>,
) -> Result<ApiResponse<Vec<CommentInfo>>, PostError> {
    let page = page
        .parse()
        .map_err(|_| Invalid(platform::http::paging::PAGING_MESSAGE))?;
    // An unknown post has no comments; neither has an id no post can have.
    let Some(post_id) = post_id.in_range::<Post>() else {
        return Ok(ApiResponse::data("댓글 목록 조회 성공", Vec::new()));
    };
    let zone = state.settings.timezone;
    let comments = store::list_comments(&state.db, post_id.get(), page)
        .await?
        .into_iter()
        .map(|(c, nickname)| CommentInfo {
            comment_id: c.id,
            nickname: nickname.unwrap_or_else(|| UNKNOWN_NICKNAME.to_owned()),
            content: c.content,
            created_date: render_time(zone, c.created_date),
        })
        .collect();
    Ok(ApiResponse::data("댓글 목록 조회 성공", comments))
}

/// Edits one's own comment.
#[utoipa::path(patch, path = "/api/post/comment/{commentId}", tag = "comment",
    params(("commentId" = CommentId, Path, description = "comment id")), request_body = EditComment,
    responses((status = 200, description = "댓글이 수정되었습니다"),
        (status = 400, description = "GP005"),
        (status = 404, description = "GP007 comment not found or not owned")))]
pub async fn edit(
    State(state): State<AppState>,
    member: AuthMember,
    PathId(comment_id): PathId<Comment>,
    Json(body): Json<EditComment>,
) -> Result<ApiResponse<()>, PostError> {
    let content = CommentText::parse(body.content.unwrap_or_default())?;
    let comment = store::find_own_comment(&state.db, comment_id.get(), member.member_id)
        .await?
        .ok_or(PostError::CommentNotFound)?;
    store::update_comment(&state.db, comment, content).await?;
    Ok(ApiResponse::message("댓글이 수정되었습니다"))
}

/// Deletes one's own comment.
#[utoipa::path(delete, path = "/api/post/comment/{commentId}", tag = "comment",
    params(("commentId" = CommentId, Path, description = "comment id")),
    responses((status = 200, description = "댓글이 삭제되었습니다"),
        (status = 404, description = "GP007 comment not found or not owned")))]
pub async fn delete(
    State(state): State<AppState>,
    member: AuthMember,
    PathId(comment_id): PathId<Comment>,
) -> Result<ApiResponse<()>, PostError> {
    store::find_own_comment(&state.db, comment_id.get(), member.member_id)
        .await?
        .ok_or(PostError::CommentNotFound)?;
    store::delete_comment(&state.db, comment_id.get()).await?;
    Ok(ApiResponse::message("댓글이 삭제되었습니다"))
}

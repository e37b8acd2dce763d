//! `GET /api/post/list/{galleryId}` list, `PATCH /api/post/list/{galleryId}` bulk edit with streamed images, `POST /api/post/dummy` dummy posts.

use std::collections::{BTreeMap, HashSet};

use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use platform::auth::AuthMember;
use platform::http::{ApiResponse, Path, PathId, Query};
use platform::id::RawId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::domain::ids::{Gallery, GalleryId, Music, Post};
use crate::domain::{Invalid, PostContent, PostTitle, messages};
use crate::entity::{music, post};
use crate::error::PostError;
use crate::images::{UploadBudget, multipart_error};
use crate::store::{self, PostUpdate};
use platform::time::render as render_time;

/// A frame as `GET /api/post/list/{galleryId}` lists it (`PostInfo` in the document).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostInfo {
    /// Post id.
    pub post_id: i64,
    /// Position, renumbered 1..N.
    pub order: i64,
    /// Title.
    pub title: String,
    /// Content.
    pub content: String,
    /// `IMAGE_BASE_URL` + key.
    #[serde(rename = "imageURL")]
    pub image_url: String,
    /// Created, offset-less in `APP_TIMEZONE`.
    pub created_date: String,
    /// Modified, offset-less in `APP_TIMEZONE`.
    pub modified_date: String,
    /// The chosen music, or `null`.
    pub music: Option<MusicInfo>,
    /// Whether the frame is shown.
    pub is_active: bool,
}

/// Music as posts and `POST /api/post/music` show it (`MusicInfo` in the document).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MusicInfo {
    /// Music id.
    pub music_id: i64,
    /// Title.
    pub title: String,
    /// Artist.
    pub artist: String,
    /// Release date string.
    pub released_date: String,
    /// YouTube video id.
    pub video_id: String,
    /// Cover image URL.
    #[serde(rename = "coverURL")]
    pub cover_url: Option<String>,
}

impl From<music::Model> for MusicInfo {
    fn from(m: music::Model) -> Self {
        Self {
            music_id: m.id,
            title: m.title,
            artist: m.artist,
            released_date: m.released_date,
            video_id: m.video_id,
            cover_url: m.cover_url,
        }
    }
}

fn post_info(state: &AppState, order: i64, p: post::Model, m: Option<music::Model>) -> PostInfo {
    let zone = state.settings.timezone;
    PostInfo {
        post_id: p.id,
        order,
        title: p.title,
        content: p.content,
        image_url: format!("{}{}", state.settings.image_base_url, p.image_key),
        created_date: render_time(zone, p.created_date),
        modified_date: render_time(zone, p.modified_date),
        music: m.map(MusicInfo::from),
        is_active: p.is_active,
    }
}

/// Every post of a gallery in display order; an unknown gallery has none.
#[utoipa::path(get, path = "/api/post/list/{galleryId}", tag = "post",
    params(("galleryId" = RawId, Path, description = "gallery id; an id below 1 names no gallery, so its list is empty")),
    responses((status = 200, description = "게시물 목록 조회 성공", body = platform::http::openapi::Envelope<Vec<PostInfo>>)))]
pub async fn list(
    State(state): State<AppState>,
    Path(gallery_id): Path<RawId>,
) -> Result<ApiResponse<Vec<PostInfo>>, PostError> {
    // An unknown gallery has no posts; neither has an id no gallery can have.
    let Some(gallery_id) = gallery_id.in_range::<Gallery>() else {
        return Ok(ApiResponse::data("게시물 목록 조회 성공", Vec::new()));
    };
    let rows = store::list_posts(&state.db, gallery_id.get()).await?;
    let posts = (1..)
        .zip(rows)
        .map(|(order, (p, m))| post_info(&state, order, p, m))
        .collect();
    Ok(ApiResponse::data("게시물 목록 조회 성공", posts))
}

/// The parts of one `posts[i]` as they arrived.
#[derive(Debug, Default)]
struct Draft {
    post_id: Option<String>,
    order: Option<String>,
    title: Option<String>,
    content: Option<String>,
    music_id: Option<String>,
    is_active: Option<String>,
    image_key: Option<String>,
}

/// More posts than any gallery has frames is a malformed request, not a reason to allocate.
const MAX_POSTS: usize = 100;
/// Longest text part: 500 characters of 4 bytes, with room to spare.
const MAX_TEXT_BYTES: usize = 8 * 1024;

/// `PATCH /api/post/list/{galleryId}`'s multipart form: parts named `posts[i].<field>` for `i` in `0..MAX_POSTS`; OpenAPI 3.1 states
/// that pattern with `propertyNames`.
#[derive(Debug)]
pub struct FramesForm;

impl utoipa::PartialSchema for FramesForm {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let name = ObjectBuilder::new().schema_type(Type::String).pattern(Some(
            r"^posts\[[0-9]{1,2}\]\.(postId|order|title|content|musicId|isActive|image)$",
        ));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(name))
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(
                "postId, order: integers from 1 to 9223372036854775807 (a postId of 0 or below \
                 names no post: 404); title: up to 50 characters; content: up to 500; \
                 musicId: such an integer or empty; isActive: true or false; image: a PNG, JPEG or \
                 WebP file up to 10 MB (50 MB per request), empty to keep the image",
            ))
            .into()
    }
}

impl ToSchema for FramesForm {}

/// Edits posts of an owned gallery; all-or-nothing, images streamed to storage.
#[utoipa::path(patch, path = "/api/post/list/{galleryId}", tag = "post",
    params(("galleryId" = GalleryId, Path, description = "gallery id")),
    request_body(content = FramesForm, content_type = "multipart/form-data",
        description = "posts[i].postId, posts[i].order, posts[i].title, posts[i].content, \
                       posts[i].musicId, posts[i].isActive, posts[i].image (file; empty keeps the image)"),
    responses(
        (status = 200, description = "게시물 목록 수정 성공"),
        (status = 400, description = "GP005 validation or image type"),
        (status = 404, description = "GP007 gallery or post not found or not owned; GP001 unknown music"),
        (status = 413, description = "image over 10 MB or request over 50 MB")))]
pub async fn update(
    State(state): State<AppState>,
    member: AuthMember,
    PathId(gallery_id): PathId<Gallery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<ApiResponse<()>, PostError> {
    let gallery_id = gallery_id.get();
    if store::gallery_owner(&state.db, gallery_id).await? != Some(member.member_id) {
        return Err(PostError::GalleryNotFound);
    }
    let mut multipart = multipart.map_err(|rejection| {
        tracing::debug!(%rejection, "not a multipart request");
        PostError::Invalid(Invalid(messages::MULTIPART))
    })?;
    let mut stored = Vec::new();
    match edit(&state, gallery_id, &mut multipart, &mut stored).await {
        Ok(()) => {
            // The replaced images were queued in the edit's transaction; deleting them now
            // rather than at the next sweep frees them at once, and whatever fails stays queued.
            if let Err(error) = crate::reactions::sweep_images(&state).await {
                tracing::warn!(error = %platform::http::ErrorChain(&error), "image sweep failed");
            }
            Ok(ApiResponse::message("게시물 목록 수정 성공"))
        }
        Err(error) => {
            forget_uploads(&state, stored).await;
            Err(error)
        }
    }
}

/// Images stored for an edit that did not happen: deleted, and queued for the sweeper if that fails.
async fn forget_uploads(state: &AppState, stored: Vec<String>) {
    let failed = state.images.delete_all(stored).await;
    if let Err(error) = store::trash_images(&state.db, failed).await {
        tracing::warn!(error = %platform::http::ErrorChain(&error), "cannot queue images for deletion");
    }
}

/// Reads the form, then applies it in one transaction, queueing the images it replaced.
async fn edit(
    state: &AppState,
    gallery_id: i64,
    multipart: &mut Multipart,
    stored: &mut Vec<String>,
) -> Result<(), PostError> {
    let drafts = read_form(state, multipart, stored).await?;
    let updates = drafts
        .into_values()
        .map(validate)
        .collect::<Result<Vec<_>, _>>()?;
    if updates.is_empty() {
        return Err(Invalid(messages::NO_POSTS).into());
    }
    let used: HashSet<String> = updates.iter().filter_map(|u| u.image_key.clone()).collect();
    let unused: Vec<String> = stored
        .iter()
        .filter(|k| !used.contains(*k))
        .cloned()
        .collect();
    apply(state, gallery_id, updates, unused).await
}

async fn read_form(
    state: &AppState,
    multipart: &mut Multipart,
    stored: &mut Vec<String>,
) -> Result<BTreeMap<usize, Draft>, PostError> {
    let mut drafts: BTreeMap<usize, Draft> = BTreeMap::new();
    let mut budget = UploadBudget::default();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        let Some((index, property)) = field.name().and_then(part_name) else {
            continue;
        };
        if index >= MAX_POSTS {
            return Err(Invalid(messages::POST_ID).into());
        }
        let property = property.to_owned();
        let draft = drafts.entry(index).or_default();
        if property == "image" {
            // A text part (no file name) means "keep", as in the original.
            if field.file_name().is_some()
                && let Some(key) = state.images.upload(&mut field, &mut budget).await?
            {
                stored.push(key.as_str().to_owned());
                draft.image_key = Some(key.as_str().to_owned());
            }
            continue;
        }
        let text = read_text(&mut field).await?;
        let slot = match property.as_str() {
            "postId" => &mut draft.post_id,
            "order" => &mut draft.order,
            "title" => &mut draft.title,
            "content" => &mut draft.content,
            "musicId" => &mut draft.music_id,
            "isActive" => &mut draft.is_active,
            _ => continue,
        };
        *slot = Some(text);
    }
    Ok(drafts)
}

/// Splits `posts[3].title` into `(3, "title")`.
fn part_name(name: &str) -> Option<(usize, &str)> {
    let rest = name.strip_prefix("posts[")?;
    let (index, rest) = rest.split_once(']')?;
    let property = rest.strip_prefix('.')?;
    let index = index
        .parse()
        .ok()
        .filter(|_| index.bytes().all(|b| b.is_ascii_digit()))?;
    Some((index, property))
}

async fn read_text(field: &mut Field<'_>) -> Result<String, PostError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        if bytes.len() + chunk.len() > MAX_TEXT_BYTES {
            return Err(Invalid(text_message(field.name())).into());
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| Invalid(messages::MULTIPART).into())
}

fn text_message(name: Option<&str>) -> &'static str {
    match name.and_then(part_name).map(|(_, p)| p) {
        Some("title") => messages::TITLE,
        Some("content") => messages::CONTENT,
        _ => messages::MULTIPART,
    }
}

fn integer(raw: Option<&str>, message: &'static str) -> Result<i64, Invalid> {
    raw.and_then(|v| v.trim().parse::<i64>().ok())
        .ok_or(Invalid(message))
}

fn positive(raw: Option<&str>, message: &'static str) -> Result<i64, Invalid> {
    integer(raw, message).and_then(|v| if v > 0 { Ok(v) } else { Err(Invalid(message)) })
}

/// An id part as the form sent it: not a signed 64-bit integer is malformed (400); the range is
/// the id kind's question, asked once the whole post has passed validation.
fn id_part(raw: Option<&str>, message: &'static str) -> Result<RawId, Invalid> {
    integer(raw, message).map(RawId::from)
}

/// Checks one post's parts: every malformed value first (400 GP005), then whether its ids are
/// ones a post and a music row can have (as unknown ones, 404).
fn validate(draft: Draft) -> Result<PostUpdate, PostError> {
    let post_id = id_part(draft.post_id.as_deref(), messages::POST_ID)?;
    let order = positive(draft.order.as_deref(), messages::ORDER)?;
    let title = PostTitle::parse(draft.title.unwrap_or_default())?;
    let content = PostContent::parse(draft.content.unwrap_or_default())?;
    let music_id = match draft.music_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(id_part(Some(raw), messages::MUSIC_ID)?),
    };
    let is_active = match draft.is_active.as_deref().map(str::trim) {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(Invalid(messages::IS_ACTIVE).into()),
    };
    let post_id = post_id.parse::<Post>()?.get();
    let music_id = music_id
        .map(|raw| raw.parse::<Music>().map(platform::id::Id::get))
        .transpose()?;
    Ok(PostUpdate {
        post_id,
        order,
        title,
        content,
        music_id,
        is_active,
        image_key: draft.image_key,
    })
}

/// Checks every post and music id, then updates in one transaction that also queues the replaced
/// images and the `unused` uploads for deletion (the trash table and its sweeper, as for deleted galleries).
async fn apply(
    state: &AppState,
    gallery_id: i64,
    updates: Vec<PostUpdate>,
    mut unused: Vec<String>,
) -> Result<(), PostError> {
    let ids: Vec<i64> = updates.iter().map(|u| u.post_id).collect();
    if ids.iter().collect::<HashSet<_>>().len() != ids.len() {
        return Err(Invalid(messages::POST_ID).into());
    }
    let music: HashSet<i64> = updates.iter().filter_map(|u| u.music_id).collect();
    let music: Vec<i64> = music.into_iter().collect();
    let txn = platform::db::begin_write(&state.db).await?;
    let mut current: BTreeMap<i64, post::Model> = store::posts_of_gallery(&txn, gallery_id, &ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    if current.len() != ids.len() {
        return Err(PostError::PostNotFound);
    }
    if !music.is_empty() && store::count_music(&txn, &music).await? != music.len() as u64 {
        return Err(PostError::MusicNotFound);
    }
    for update in updates {
        let Some(post) = current.remove(&update.post_id) else {
            return Err(PostError::PostNotFound);
        };
        unused.extend(store::update_post(&txn, post, update).await?);
    }
    store::trash_images(&txn, unused).await?;
    txn.commit().await?;
    Ok(())
}

/// `galleryId` of `POST /api/post/dummy`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DummyQuery {
    /// Gallery id.
    #[param(value_type = GalleryId)]
    pub gallery_id: RawId,
}

/// Two blank posts for an owned gallery that has none.
#[utoipa::path(post, path = "/api/post/dummy", tag = "post", params(DummyQuery),
    responses((status = 200, description = "empty body"),
        (status = 404, description = "GP007 gallery not found or not owned"),
        (status = 409, description = "GP006 the gallery has posts")))]
pub async fn dummy(
    State(state): State<AppState>,
    member: AuthMember,
    Query(query): Query<DummyQuery>,
) -> Result<impl IntoResponse, PostError> {
    let gallery_id = query.gallery_id.parse::<Gallery>()?.get();
    if store::gallery_owner(&state.db, gallery_id).await? != Some(member.member_id) {
        return Err(PostError::GalleryNotFound);
    }
    let txn = platform::db::begin_write(&state.db).await?;
    if store::count_posts(&txn, gallery_id).await? > 0 {
        return Err(PostError::PostsExist);
    }
    store::insert_blank_posts(&txn, gallery_id, 2).await?;
    txn.commit().await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_split_into_index_and_property() {
        assert_eq!(part_name("posts[0].postId"), Some((0, "postId")));
        assert_eq!(part_name("posts[12].image"), Some((12, "image")));
        for bad in [
            "name",
            "posts[].title",
            "posts[-1].title",
            "posts[+1].x",
            "posts[1]title",
        ] {
            assert_eq!(part_name(bad), None, "{bad}");
        }
    }
}

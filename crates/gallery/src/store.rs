//! Persistence of places, galleries and the nickname projection; every query is written once and
//! runs on MySQL/MariaDB and SQLite. A change others must hear about (`gallery.created`,
//! `gallery.deleted`) is made here with its outbox event in one transaction, as in member's store.

use chrono::NaiveDateTime;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};

use crate::domain::{
    GalleryDraft, GalleryId, GalleryName, LIKE_ESCAPE, MemberId, PageRequest, PlaceId, SearchType,
    like_contains,
};
use crate::entity::{gallery, place};
use crate::error::{GalleryError, Result};
use crate::search_index::{self, SearchIndex};
use events::nicknames::{self, member_nickname};
use events::{GalleryEvent, Outbox};

/// A gallery with its place, as the gallery list and the gallery read show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalleryView {
    /// The gallery.
    pub gallery: gallery::Model,
    /// Its place.
    pub place: place::Model,
}

/// One search result: a gallery and its author's nickname, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The gallery.
    pub gallery: gallery::Model,
    /// The author's nickname from the projection.
    pub nickname: Option<String>,
}

/// A gallery that was created or deleted, for the events that announce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// The gallery's key.
    pub gallery: i64,
    /// Its owner.
    pub member: MemberId,
    /// Its place's key.
    pub place: i64,
    /// Frames of the place.
    pub frames: i32,
}

/// Creates a gallery and records `gallery.created` in one transaction.
pub async fn create_gallery(
    outbox: &Outbox,
    db: &DatabaseConnection,
    member: MemberId,
    draft: GalleryDraft,
    now: NaiveDateTime,
) -> Result<Changed> {
    let mut change = outbox.begin(db).await?;
    let created = create(change.txn(), member, draft, now).await?;
    change.announce(&created_event(&created)).await?;
    change.commit().await?;
    Ok(created)
}

/// Deletes the member's gallery and records `gallery.deleted` in one transaction.
pub async fn delete_gallery(
    outbox: &Outbox,
    db: &DatabaseConnection,
    member: MemberId,
    id: GalleryId,
) -> Result<Changed> {
    let mut change = outbox.begin(db).await?;
    let deleted = delete(change.txn(), member, id).await?;
    change.announce(&deleted_event(&deleted)).await?;
    change.commit().await?;
    Ok(deleted)
}

fn created_event(created: &Changed) -> GalleryEvent {
    GalleryEvent::Created {
        gallery_id: created.gallery,
        member_id: created.member.0,
        place_id: created.place,
        frame_count: created.frames,
    }
}

pub(crate) fn deleted_event(deleted: &Changed) -> GalleryEvent {
    GalleryEvent::Deleted {
        gallery_id: deleted.gallery,
        member_id: deleted.member.0,
    }
}

/// Every place, in id order.
pub async fn places(db: &impl ConnectionTrait) -> Result<Vec<place::Model>> {
    Ok(place::Entity::find()
        .order_by_asc(place::Column::PlaceId)
        .all(db)
        .await?)
}

async fn existing_place(db: &impl ConnectionTrait, id: PlaceId) -> Result<place::Model> {
    place::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .ok_or(GalleryError::PlaceNotFound)
}

fn name_conflict(err: DbErr) -> GalleryError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => GalleryError::NameTaken,
        _ => GalleryError::Database(err),
    }
}

/// Inserts a gallery inside `txn` after checking its place; a taken name is refused by the
/// unique index, so two racing requests cannot both win.
pub async fn create(
    txn: &impl ConnectionTrait,
    member: MemberId,
    draft: GalleryDraft,
    now: NaiveDateTime,
) -> Result<Changed> {
    let place = existing_place(txn, draft.place).await?;
    let row = gallery::ActiveModel {
        member_id: Set(member.0),
        place_id: Set(place.place_id),
        name: Set(draft.name.as_str().to_owned()),
        content: Set(draft.content.into_inner()),
        created_date: Set(now),
        modified_date: Set(now),
        ..Default::default()
    };
    let inserted = gallery::Entity::insert(row)
        .exec(txn)
        .await
        .map_err(name_conflict)?;
    search_index::add(txn, inserted.last_insert_id, draft.name.as_str()).await?;
    Ok(Changed {
        gallery: inserted.last_insert_id,
        member,
        place: place.place_id,
        frames: place.maximum_frame_number,
    })
}

/// The member's galleries with their places, newest first.
pub async fn galleries_of(db: &impl ConnectionTrait, member: MemberId) -> Result<Vec<GalleryView>> {
    let rows = gallery::Entity::find()
        .filter(gallery::Column::MemberId.eq(member.0))
        .find_also_related(place::Entity)
        .order_by_desc(gallery::Column::GalleryId)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(view).collect())
}

fn view((gallery, place): (gallery::Model, Option<place::Model>)) -> Option<GalleryView> {
    place.map(|place| GalleryView { gallery, place })
}

/// Whether the member already has a gallery called `name`.
pub async fn name_taken(
    db: &impl ConnectionTrait,
    member: MemberId,
    name: &GalleryName,
) -> Result<bool> {
    let found = gallery::Entity::find()
        .filter(gallery::Column::MemberId.eq(member.0))
        .filter(gallery::Column::Name.eq(name.as_str()))
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// One gallery with its place; missing when the id or its place is unknown.
pub async fn gallery(db: &impl ConnectionTrait, id: GalleryId) -> Result<GalleryView> {
    gallery::Entity::find_by_id(id.get())
        .find_also_related(place::Entity)
        .one(db)
        .await?
        .and_then(view)
        .ok_or(GalleryError::GalleryNotFound)
}

/// Overwrites the member's gallery with `draft`; checks run place, ownership, then name.
pub async fn update(
    db: &DatabaseConnection,
    member: MemberId,
    id: GalleryId,
    draft: GalleryDraft,
    now: NaiveDateTime,
) -> Result<()> {
    let txn = platform::db::begin_write(db).await?;
    let place = existing_place(&txn, draft.place).await?;
    let current = owned(&txn, member, id).await?;
    let old_name = current.name.clone();
    let mut row: gallery::ActiveModel = current.into();
    row.place_id = Set(place.place_id);
    row.name = Set(draft.name.as_str().to_owned());
    row.content = Set(draft.content.into_inner());
    row.modified_date = Set(now);
    row.update(&txn).await.map_err(name_conflict)?;
    search_index::rename(&txn, id.get(), &old_name, draft.name.as_str()).await?;
    txn.commit().await?;
    Ok(())
}

async fn owned(
    db: &impl ConnectionTrait,
    member: MemberId,
    id: GalleryId,
) -> Result<gallery::Model> {
    // Locked: the title read here decides which index rows the change replaces.
    gallery::Entity::find_by_id(id.get())
        .filter(gallery::Column::MemberId.eq(member.0))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(GalleryError::GalleryNotFound)
}

/// Deletes the member's gallery inside `txn`; someone else's gallery is "not found".
pub async fn delete(
    txn: &impl ConnectionTrait,
    member: MemberId,
    id: GalleryId,
) -> Result<Changed> {
    let current = owned(txn, member, id).await?;
    gallery::Entity::delete_by_id(current.gallery_id)
        .exec(txn)
        .await?;
    search_index::remove(txn, current.gallery_id, &current.name).await?;
    Ok(changed(&current))
}

fn changed(row: &gallery::Model) -> Changed {
    Changed {
        gallery: row.gallery_id,
        member: MemberId(row.member_id),
        place: row.place_id,
        frames: 0,
    }
}

/// Deletes every gallery of `member` inside `txn`, returning what was deleted.
pub async fn delete_all_of(txn: &impl ConnectionTrait, member: MemberId) -> Result<Vec<Changed>> {
    let rows = gallery::Entity::find()
        .filter(gallery::Column::MemberId.eq(member.0))
        .order_by_asc(gallery::Column::GalleryId)
        .lock_exclusive()
        .all(txn)
        .await?;
    for row in &rows {
        search_index::remove(txn, row.gallery_id, &row.name).await?;
    }
    gallery::Entity::delete_many()
        .filter(gallery::Column::MemberId.eq(member.0))
        .exec(txn)
        .await?;
    Ok(rows.iter().map(changed).collect())
}

/// The gallery search: galleries whose title contains `query` (wildcards literal, ASCII case ignored) and/or
/// whose author's nickname equals it, newest first, one page. Uses the substring index when
/// `index` says it is ready; the answers are the same either way.
pub async fn search(
    db: &impl ConnectionTrait,
    index: &SearchIndex,
    kind: SearchType,
    query: &str,
    page: PageRequest,
) -> Result<Vec<SearchHit>> {
    if query.is_empty() || kind == SearchType::Author || !index.usable(db).await? {
        return search_like(db, kind, query, page).await;
    }
    let authors = if kind == SearchType::Title {
        Vec::new()
    } else {
        nicknames::named(db, query).await?
    };
    let Some(plan) = search_index::plan(db, query).await? else {
        // No title can match: what is left is the authors' galleries.
        return authors_page(db, &authors, page.size, page.offset()).await;
    };
    if authors.is_empty() {
        return title_page(db, &plan, query, page.size, page.offset()).await;
    }
    titles_or_authors(db, &plan, query, &authors, page).await
}

async fn title_page(
    db: &impl ConnectionTrait,
    plan: &search_index::TitlePlan,
    query: &str,
    limit: u64,
    offset: u64,
) -> Result<Vec<SearchHit>> {
    let rows = search_index::title_hits(db, plan, query, limit, offset).await?;
    Ok(rows
        .into_iter()
        .map(|(gallery, nickname)| SearchHit { gallery, nickname })
        .collect())
}

/// One page of the union of title matches and the authors' galleries: the union's first
/// `offset + size` galleries are among the first `offset + size` of each side.
async fn titles_or_authors(
    db: &impl ConnectionTrait,
    plan: &search_index::TitlePlan,
    query: &str,
    authors: &[i64],
    page: PageRequest,
) -> Result<Vec<SearchHit>> {
    let wanted = page.offset().saturating_add(page.size);
    let mut hits = title_page(db, plan, query, wanted, 0).await?;
    hits.extend(authors_page(db, authors, wanted, 0).await?);
    hits.sort_by_key(|hit| std::cmp::Reverse(hit.gallery.gallery_id));
    hits.dedup_by_key(|hit| hit.gallery.gallery_id);
    let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let take = usize::try_from(page.size).unwrap_or(usize::MAX);
    Ok(hits.into_iter().skip(skip).take(take).collect())
}

/// The galleries of `authors` (none when empty) with their nicknames, newest first.
async fn authors_page(
    db: &impl ConnectionTrait,
    authors: &[i64],
    limit: u64,
    offset: u64,
) -> Result<Vec<SearchHit>> {
    if authors.is_empty() {
        return Ok(Vec::new());
    }
    let condition = Condition::all().add(gallery::Column::MemberId.is_in(authors.iter().copied()));
    page_where(db, condition, limit, offset).await
}

/// The galleries meeting `condition` with their authors' nicknames, newest first.
async fn page_where(
    db: &impl ConnectionTrait,
    condition: Condition,
    limit: u64,
    offset: u64,
) -> Result<Vec<SearchHit>> {
    let rows = gallery::Entity::find()
        .filter(condition)
        .find_also_related(member_nickname::Entity)
        .order_by_desc(gallery::Column::GalleryId)
        .limit(limit)
        .offset(offset)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(hit).collect())
}

fn hit((gallery, author): (gallery::Model, Option<member_nickname::Model>)) -> SearchHit {
    SearchHit {
        gallery,
        nickname: author.map(|a| a.nickname),
    }
}

/// The gallery search without the index: `LOWER(name) LIKE '%query%'` over the galleries newest first.
async fn search_like(
    db: &impl ConnectionTrait,
    kind: SearchType,
    query: &str,
    page: PageRequest,
) -> Result<Vec<SearchHit>> {
    let title = || {
        Expr::expr(Func::lower(Expr::col((
            gallery::Entity,
            gallery::Column::Name,
        ))))
        .like(LikeExpr::new(like_contains(query)).escape(LIKE_ESCAPE))
    };
    let authors = if kind == SearchType::Title {
        Vec::new()
    } else {
        nicknames::named(db, query).await?
    };
    let by_author = || gallery::Column::MemberId.is_in(authors.iter().copied());
    let condition = match kind {
        SearchType::Title => Condition::all().add(title()),
        SearchType::Author if authors.is_empty() => return Ok(Vec::new()),
        SearchType::Author => Condition::all().add(by_author()),
        SearchType::All if authors.is_empty() => Condition::all().add(title()),
        SearchType::All => Condition::any().add(title()).add(by_author()),
    };
    page_where(db, condition, page.size, page.offset()).await
}

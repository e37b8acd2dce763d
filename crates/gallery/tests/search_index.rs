//! The substring index of titles, on MariaDB and on SQLite: its answers equal the plain `LIKE`'s
//! for generated titles and queries, every write (create, rename, delete, withdrawal) leaves it
//! exactly the grams of the current titles, and the backfill of older galleries resumes after an
//! interruption and stays exact when galleries change under it.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use common::Service;
use events::{MemberEvent, Relay};
use gallery::domain::{GalleryDraft, MemberId, PageRequest, SearchType};
use gallery::search_index::{self, IndexBuilder, Progress, SearchIndex};
use gallery::store::{self, SearchHit};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde_json::json;

both!(
    a_created_gallery_is_indexed_by_every_gram_of_its_title,
    a_rename_replaces_the_old_titles_grams_with_the_new_ones,
    a_deleted_gallery_leaves_no_gram_behind,
    a_withdrawal_removes_the_grams_of_every_gallery_of_the_member,
    a_query_matches_only_titles_holding_all_its_trigrams,
    an_interrupted_backfill_resumes_and_completes_the_index,
    writes_to_galleries_the_backfill_has_not_reached_leave_the_index_exact,
    searches_keep_using_like_until_the_backfill_is_complete,
);

/// Characters titles and queries are made of: Hangul, Latin of both cases, digits, `LIKE`'s
/// wildcards and escapes, spaces, and letters whose lower case is unusual.
const ALPHABET: &[char] = &[
    '봄', '갤', '러', '리', '가', 'a', 'A', 'b', 'B', 'z', 'Z', '0', '1', '7', '%', '_', '\\', '!',
    ' ', 'İ', 'K', 'k', 'Σ', 'σ', 'ς', 'É', 'é', 'ß',
];

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 1..=max)
        .prop_map(|chars| chars.into_iter().collect())
}

/// A valid title: no blank, no edge whitespace.
fn title() -> impl Strategy<Value = String> {
    text(12).prop_filter_map("edge whitespace", |t| {
        let trimmed = t.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    })
}

/// A query: a random text, or a piece of a title (with its case flipped), so matches are common.
fn queries(titles: Vec<String>) -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    let pieces = titles.clone();
    let piece = (0..pieces.len(), 0usize..12, 1usize..9, any::<bool>()).prop_map(
        move |(i, start, len, flip)| {
            let chars: Vec<char> = pieces[i].chars().collect();
            let start = start % chars.len();
            let end = (start + len).min(chars.len());
            let piece: String = chars[start..end].iter().collect();
            if flip { piece.to_uppercase() } else { piece }
        },
    );
    let query = prop_oneof![text(8), piece];
    (Just(titles), prop::collection::vec(query, 1..6))
}

fn case() -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    prop::collection::vec(title(), 1..16).prop_flat_map(queries)
}

#[test]
fn index_answers_equal_like_answers_on_mariadb() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let service = runtime.block_on(Service::mysql());
    equivalence(&runtime, &service);
    runtime.block_on(service.finish());
}

#[test]
fn index_answers_equal_like_answers_on_sqlite() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let service = runtime.block_on(Service::sqlite());
    equivalence(&runtime, &service);
    runtime.block_on(service.finish());
}

fn equivalence(runtime: &tokio::runtime::Runtime, service: &Service) {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&case(), |(titles, queries)| {
            runtime.block_on(same_answers(service, &titles, &queries))
        })
        .unwrap();
}

/// Stores `titles` (authors 1–4, one nickname equal to a query) and compares every search type
/// and a few pages of each query with the index and without.
async fn same_answers(
    s: &Service,
    titles: &[String],
    queries: &[String],
) -> Result<(), TestCaseError> {
    let db = &s.state.db;
    for table in ["gallery", "gallery_gram", "member_nickname"] {
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
    events::nicknames::set(db, 1, &queries[0]).await.unwrap();
    for (i, title) in titles.iter().enumerate() {
        insert(db, (i % 4 + 1) as i64, title).await;
    }
    let (index, like) = (SearchIndex::new(), SearchIndex::like_only());
    prop_assert!(index.usable(db).await.unwrap());
    let pages = [(0, 100), (0, 2), (1, 2), (3, 1)];
    for query in queries {
        for kind in [SearchType::Title, SearchType::All, SearchType::Author] {
            for (page, size) in pages {
                let page = PageRequest::parse(Some(page), Some(size)).unwrap();
                let with_index = ids(store::search(db, &index, kind, query, page).await.unwrap());
                let with_like = ids(store::search(db, &like, kind, query, page).await.unwrap());
                prop_assert_eq!(
                    with_index,
                    with_like,
                    "{:?} {:?} {:?} over {:?}",
                    kind,
                    query,
                    page,
                    titles
                );
            }
        }
    }
    Ok(())
}

/// A gallery through the write path; a title its member already has is skipped.
async fn insert(db: &DatabaseConnection, member: i64, title: &str) {
    let draft = GalleryDraft::parse(Some(1.into()), Some(title), None).unwrap();
    let txn = platform::db::begin_write(db).await.unwrap();
    let now = chrono::Utc::now().naive_utc();
    match store::create(&txn, MemberId(member), draft, now).await {
        Ok(_) => txn.commit().await.unwrap(),
        Err(gallery::error::GalleryError::NameTaken) => txn.rollback().await.unwrap(),
        Err(other) => panic!("{other:?}"),
    }
}

fn ids(hits: Vec<SearchHit>) -> Vec<(i64, Option<String>)> {
    hits.into_iter()
        .map(|h| (h.gallery.gallery_id, h.nickname))
        .collect()
}

/// `(gram, gallery)` rows of the index.
async fn index_rows(db: &DatabaseConnection) -> BTreeSet<(i64, i64)> {
    let sql = "SELECT gram, gallery_id FROM gallery_gram";
    pairs(db, sql).await.into_iter().collect()
}

/// The two integer columns of every row `sql` selects.
async fn pairs(db: &DatabaseConnection, sql: &str) -> Vec<(i64, i64)> {
    let statement = Statement::from_string(db.get_database_backend(), sql);
    let rows = db.query_all_raw(statement).await.unwrap();
    rows.iter()
        .map(|row| {
            let first = row.try_get_by_index(0).unwrap();
            (first, row.try_get_by_index(1).unwrap())
        })
        .collect()
}

/// The rows the index must hold for the galleries as they are now.
async fn expected_rows(db: &DatabaseConnection) -> BTreeSet<(i64, i64)> {
    let statement = Statement::from_string(
        db.get_database_backend(),
        "SELECT gallery_id, name FROM gallery",
    );
    let mut rows = BTreeSet::new();
    for row in db.query_all_raw(statement).await.unwrap() {
        let id: i64 = row.try_get_by_index(0).unwrap();
        let name: String = row.try_get_by_index(1).unwrap();
        rows.extend(
            search_index::title_grams(&name)
                .into_iter()
                .map(|g| (g, id)),
        );
    }
    rows
}

async fn assert_index_exact(db: &DatabaseConnection) {
    let expected = expected_rows(db).await;
    assert!(!expected.is_empty());
    assert_eq!(index_rows(db).await, expected);
}

async fn title_search(s: &Service, query: &str) -> Vec<String> {
    s.search_titles("title", query).await
}

async fn a_created_gallery_is_indexed_by_every_gram_of_its_title(s: &Service) {
    s.create(1, 1, "봄 Blue 7").await;
    s.create(2, 2, "여름 바다").await;
    assert_eq!(
        index_rows(&s.state.db).await.len(),
        search_index::title_grams("봄 Blue 7").len() + search_index::title_grams("여름 바다").len()
    );
    assert_index_exact(&s.state.db).await;
    assert_eq!(title_search(s, "blue").await, ["봄 Blue 7"]);
}

async fn a_rename_replaces_the_old_titles_grams_with_the_new_ones(s: &Service) {
    let id = s.create(1, 1, "봄 풍경").await;
    s.create(1, 1, "겨울 숲").await;
    let answer = s
        .send(
            Method::PATCH,
            &format!("/api/gallery/{id}"),
            Some(1),
            Some(json!({"placeId": 2, "name": "가을 정물", "content": null})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    assert_index_exact(&s.state.db).await;
    assert!(title_search(s, "봄 풍").await.is_empty());
    assert_eq!(title_search(s, "가을 정").await, ["가을 정물"]);
}

async fn a_deleted_gallery_leaves_no_gram_behind(s: &Service) {
    let id = s.create(1, 1, "봄 풍경").await;
    s.create(2, 1, "봄 바다").await;
    let answer = s
        .send(Method::DELETE, &format!("/api/gallery/{id}"), Some(1), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    assert_index_exact(&s.state.db).await;
    assert_eq!(title_search(s, "봄").await, ["봄 바다"]);
}

struct EventsOnly;

impl MigratorTrait for EventsOnly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        events::migration::migrations()
    }
}

/// Publishes `event` from a member side of the in-process bus and lets the consumer apply it.
async fn deliver(s: &Service, event: MemberEvent) {
    let dir = tempfile::tempdir().unwrap();
    let config = platform::config::DatabaseConfig::sqlite(dir.path().join("member.db"));
    let db = platform::db::connect(&config).await.unwrap();
    platform::db::migrate::<EventsOnly>(&db).await.unwrap();
    let relay: Relay = s.bus.relay(db.clone(), &["member"]).await.unwrap();
    relay.outbox().enqueue(&db, &event).await.unwrap();
    assert_eq!(relay.publish_batch().await.unwrap(), 1);
    assert_eq!(s.consumer.process_batch().await.unwrap(), 1);
}

async fn a_withdrawal_removes_the_grams_of_every_gallery_of_the_member(s: &Service) {
    for name in ["봄 하나", "봄 둘", "봄 셋"] {
        s.create(5, 1, name).await;
    }
    s.create(6, 1, "봄 넷").await;
    deliver(s, MemberEvent::Withdrawn { member_id: 5 }).await;
    assert_index_exact(&s.state.db).await;
    assert_eq!(title_search(s, "봄").await, ["봄 넷"]);
}

/// Galleries written before the index existed: rows only, and the backfill reset to the start.
async fn galleries_without_index(db: &DatabaseConnection, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        let sql = format!(
            "INSERT INTO gallery (member_id, place_id, name, content, created_date, modified_date) \
             VALUES ({}, 1, '{name}', NULL, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            i + 1
        );
        db.execute_unprepared(&sql).await.unwrap();
    }
    db.execute_unprepared("UPDATE gallery_search_index SET done = 0, next_gallery_id = 0")
        .await
        .unwrap();
}

async fn a_query_matches_only_titles_holding_all_its_trigrams(s: &Service) {
    // Every trigram of `abcd` is indexed, but only one title holds them all.
    for (member, name) in [(1, "xabc"), (2, "bcdy"), (3, "zabcd"), (4, "abc bcd")] {
        s.create(member, 1, name).await;
    }
    assert_eq!(title_search(s, "ABCD").await, ["zabcd"]);
    assert_eq!(title_search(s, "abc bcd").await, ["abc bcd"]);
}

async fn an_interrupted_backfill_resumes_and_completes_the_index(s: &Service) {
    let db = &s.state.db;
    galleries_without_index(db, &["봄 하나", "봄 둘", "여름 셋", "가을 넷", "겨울 다섯"]).await;
    let first = IndexBuilder::new(db.clone(), SearchIndex::new(), 2);
    let Progress::Indexed(through) = first.step().await.unwrap() else {
        panic!("the first batch found nothing");
    };
    drop(first);
    // A restart: a new builder starts from the stored position, not from the first gallery.
    let index = SearchIndex::new();
    let again = IndexBuilder::new(db.clone(), index.clone(), 2);
    let Progress::Indexed(next) = again.step().await.unwrap() else {
        panic!("the second batch found nothing");
    };
    assert_eq!(next, through + 2);
    while again.step().await.unwrap() != Progress::Complete {}
    assert!(index.usable(db).await.unwrap());
    assert_index_exact(db).await;
}

async fn searches_keep_using_like_until_the_backfill_is_complete(s: &Service) {
    let db = &s.state.db;
    galleries_without_index(db, &["봄 하나", "봄 둘"]).await;
    let index = SearchIndex::new();
    assert!(!index.usable(db).await.unwrap());
    let page = PageRequest::parse(None, None).unwrap();
    let hits = store::search(db, &index, SearchType::Title, "봄", page)
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    while IndexBuilder::new(db.clone(), index.clone(), 100)
        .step()
        .await
        .unwrap()
        != Progress::Complete
    {}
    assert!(index.usable(db).await.unwrap());
}

/// `(gallery, member)` of every gallery, oldest first.
async fn galleries(db: &DatabaseConnection) -> Vec<(i64, i64)> {
    pairs(
        db,
        "SELECT gallery_id, member_id FROM gallery ORDER BY gallery_id",
    )
    .await
}

async fn writes_to_galleries_the_backfill_has_not_reached_leave_the_index_exact(s: &Service) {
    let db = &s.state.db;
    galleries_without_index(db, &["봄 하나", "봄 둘", "여름 셋", "가을 넷"]).await;
    let index = SearchIndex::new();
    let builder = IndexBuilder::new(db.clone(), index.clone(), 1);
    assert!(matches!(
        builder.step().await.unwrap(),
        Progress::Indexed(_)
    ));
    let rows = galleries(db).await;
    let (renamed, renamer) = rows[2];
    let answer = s
        .send(
            Method::PATCH,
            &format!("/api/gallery/{renamed}"),
            Some(renamer),
            Some(json!({"placeId": 1, "name": "여름 셋째", "content": null})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    let (deleted, deleter) = rows[3];
    let answer = s
        .send(
            Method::DELETE,
            &format!("/api/gallery/{deleted}"),
            Some(deleter),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    s.create(9, 1, "겨울 새것").await;
    while builder.step().await.unwrap() != Progress::Complete {}
    assert!(index.usable(db).await.unwrap());
    assert_index_exact(db).await;
}

//! The substring index behind the gallery search's title matches: every 1-, 2- and 3-character piece ("gram") of
//! each gallery title, case-folded, in `gallery_gram`, kept in the same transaction as the title.
//! It only picks candidates: a search walks the postings of its rarest gram, keeps those that
//! hold every other gram of the query (point reads of the same key), and only then reads the
//! gallery row, where the real `LIKE` of today's search decides. So the answers are exactly
//! `LIKE`'s, and a gram that is stale or folded too coarsely costs a wasted row read, never a
//! wrong answer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use platform::CancellationToken;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use crate::domain::like_contains;
use crate::entity::gallery;
use crate::error::Result;

/// Postings counted per gram when choosing the one to walk: enough to tell a rare gram from a
/// frequent one, few enough that counting every trigram of a long query stays cheap.
const COUNT_CAP: u64 = 500;

/// Gram rows per `INSERT`, under SQLite's limit on statement size.
const INSERT_CHUNK: usize = 2_000;

/// The character a title character is indexed under. `LIKE` compares the query, lower-cased in
/// Rust, with the database's `LOWER(name)` (MariaDB: Unicode simple lower case, then code point
/// equality; SQLite: ASCII lower case, then ASCII-case-insensitive equality). Folding with Rust's
/// lower case maps a character, its database lower case and its ASCII-case twin to the same
/// character, so a title `LIKE` matches always holds every gram of the query.
fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// A gram of one to three characters as one integer: 21 bits per character, each offset by one so
/// that lengths never collide ("a" differs from "\0a").
fn encode(chars: &[char]) -> i64 {
    chars
        .iter()
        .fold(0_i64, |acc, &c| (acc << 21) | (i64::from(u32::from(c)) + 1))
}

/// Every distinct gram of a title.
pub fn title_grams(name: &str) -> BTreeSet<i64> {
    let chars: Vec<char> = name.chars().map(fold).collect();
    (1..=3)
        .flat_map(|len| chars.windows(len).map(encode).collect::<Vec<_>>())
        .collect()
}

/// The grams every title matching `query` holds: the query itself when it is three characters or
/// fewer, its distinct trigrams otherwise; empty for an empty query (every title matches).
pub fn query_grams(query: &str) -> Vec<i64> {
    let chars: Vec<char> = query.to_lowercase().chars().map(fold).collect();
    if chars.len() <= 3 {
        return if chars.is_empty() {
            Vec::new()
        } else {
            vec![encode(&chars)]
        };
    }
    let mut seen = BTreeSet::new();
    chars
        .windows(3)
        .map(encode)
        .filter(|gram| seen.insert(*gram))
        .collect()
}

/// Whether searches may use the index: once the backfill has covered every gallery that existed
/// before the index, the flag stays set for the life of the process.
#[derive(Clone, Debug)]
pub struct SearchIndex {
    ready: Arc<AtomicBool>,
    enabled: bool,
}

impl Default for SearchIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl SearchIndex {
    /// Uses the index as soon as the backfill is complete.
    pub fn new() -> Self {
        Self {
            ready: Arc::new(AtomicBool::new(false)),
            enabled: true,
        }
    }

    /// Never uses the index (today's plain `LIKE`), for comparisons in tests and benchmarks.
    pub fn like_only() -> Self {
        Self {
            ready: Arc::new(AtomicBool::new(false)),
            enabled: false,
        }
    }

    /// Whether this search may use the index; reads the backfill state until it is complete.
    pub async fn usable(&self, db: &impl ConnectionTrait) -> Result<bool> {
        if !self.enabled {
            return Ok(false);
        }
        if self.ready.load(Ordering::Acquire) {
            return Ok(true);
        }
        let done = backfill_state(db, false).await?.done;
        if done {
            self.ready.store(true, Ordering::Release);
        }
        Ok(done)
    }
}

/// Indexes a new title of gallery `id`.
pub async fn add(db: &impl ConnectionTrait, id: i64, name: &str) -> Result<()> {
    insert_grams(db, title_grams(name).into_iter().map(|gram| (gram, id))).await
}

/// Removes the grams of gallery `id`'s title `name`.
pub async fn remove(db: &impl ConnectionTrait, id: i64, name: &str) -> Result<()> {
    delete_grams(db, id, title_grams(name)).await
}

/// Moves gallery `id` from title `old` to title `new`, touching only the grams that differ.
pub async fn rename(db: &impl ConnectionTrait, id: i64, old: &str, new: &str) -> Result<()> {
    let (old, new) = (title_grams(old), title_grams(new));
    delete_grams(db, id, old.difference(&new).copied().collect()).await?;
    insert_grams(db, new.difference(&old).map(|&gram| (gram, id))).await
}

async fn insert_grams(
    db: &impl ConnectionTrait,
    rows: impl Iterator<Item = (i64, i64)>,
) -> Result<()> {
    let rows: Vec<(i64, i64)> = rows.collect();
    // Ignoring duplicates lets the backfill and the write path both add a gallery's grams.
    let verb = match db.get_database_backend() {
        DbBackend::MySql => "INSERT IGNORE",
        _ => "INSERT OR IGNORE",
    };
    for chunk in rows.chunks(INSERT_CHUNK) {
        // Integers only, so they are written into the statement rather than bound one by one.
        let values: Vec<String> = chunk.iter().map(|(g, id)| format!("({g},{id})")).collect();
        let sql = format!(
            "{verb} INTO gallery_gram (gram, gallery_id) VALUES {}",
            values.join(",")
        );
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

async fn delete_grams(db: &impl ConnectionTrait, id: i64, grams: BTreeSet<i64>) -> Result<()> {
    if grams.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = grams.iter().map(i64::to_string).collect();
    let sql = format!(
        "DELETE FROM gallery_gram WHERE gallery_id = {id} AND gram IN ({})",
        list.join(",")
    );
    db.execute_unprepared(&sql).await?;
    Ok(())
}

/// How the index answers one title query: the gram whose postings are walked newest first, and
/// the other grams every posting must also hold, rarest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitlePlan {
    walk: i64,
    checks: Vec<i64>,
}

/// The plan for `query` (not empty: the empty query lists every gallery without the index), or
/// `None` when one of its grams has no posting, so no title can match.
pub async fn plan(db: &impl ConnectionTrait, query: &str) -> Result<Option<TitlePlan>> {
    let grams = query_grams(query);
    if let [only] = grams.as_slice() {
        // One gram: walking it finds nothing as fast as counting would.
        return Ok(Some(TitlePlan {
            walk: *only,
            checks: Vec::new(),
        }));
    }
    let mut counted = posting_counts(db, &grams).await?;
    counted.sort_unstable();
    let Some(&(fewest, walk)) = counted.first() else {
        return Ok(None);
    };
    if fewest == 0 {
        return Ok(None);
    }
    let checks = counted[1..].iter().map(|&(_, gram)| gram).collect();
    Ok(Some(TitlePlan { walk, checks }))
}

/// The galleries whose title contains `query` (today's `LIKE`) with their authors' nicknames,
/// newest first, `limit` after skipping `offset`, in one statement: the walk checks every other
/// gram of the plan in `gallery_gram`'s key before it reads a `gallery` row, and that row's
/// `LIKE` decides.
pub async fn title_hits(
    db: &impl ConnectionTrait,
    plan: &TitlePlan,
    query: &str,
    limit: u64,
    offset: u64,
) -> Result<Vec<(gallery::Model, Option<String>)>> {
    let statement = title_statement(db.get_database_backend(), plan, query, limit, offset);
    let rows = db.query_all_raw(statement).await?;
    rows.iter()
        .map(|row| {
            Ok((
                gallery::Model::from_query_result(row, "")?,
                row.try_get::<Option<String>>("", "nickname")?,
            ))
        })
        .collect()
}

fn title_statement(
    backend: DbBackend,
    plan: &TitlePlan,
    query: &str,
    limit: u64,
    offset: u64,
) -> Statement {
    // The join order written here is the plan: postings first, the gallery row last. MariaDB
    // is held to it by STRAIGHT_JOIN, SQLite by CROSS JOIN.
    let (straight, join) = match backend {
        DbBackend::MySql => ("STRAIGHT_JOIN ", "JOIN"),
        _ => ("", "CROSS JOIN"),
    };
    let mut sql = format!(
        "SELECT {straight}g.gallery_id, g.member_id, g.place_id, g.name, g.content, \
         g.created_date, g.modified_date, n.nickname FROM gallery_gram d"
    );
    // The grams are parameters, not literals: the statement's text then depends only on how many
    // checks it has, so the driver's cache of prepared statements keeps it. A new text per
    // search would evict a cached statement each time, and the driver's close of it (a packet
    // MariaDB never answers) followed by the next request stalls on delayed ACKs: 40 ms a search.
    let mut values: Vec<Value> = Vec::with_capacity(plan.checks.len() + 4);
    for (i, &gram) in plan.checks.iter().enumerate() {
        // The key makes each a point read.
        sql.push_str(&format!(
            " {join} gallery_gram c{i} ON c{i}.gram = ? AND c{i}.gallery_id = d.gallery_id"
        ));
        values.push(gram.into());
    }
    sql.push_str(&format!(
        " {join} gallery g ON g.gallery_id = d.gallery_id \
         LEFT JOIN member_nickname n ON n.member_id = g.member_id \
         WHERE d.gram = ? AND LOWER(g.name) LIKE ? ESCAPE '!' \
         ORDER BY d.gallery_id DESC LIMIT ? OFFSET ?"
    ));
    values.extend([
        plan.walk.into(),
        like_contains(query).into(),
        clamp(limit).into(),
        clamp(offset).into(),
    ]);
    Statement::from_sql_and_values(backend, sql, values)
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// How many galleries hold each gram, counted up to [`COUNT_CAP`], in one statement.
async fn posting_counts(db: &impl ConnectionTrait, grams: &[i64]) -> Result<Vec<(i64, i64)>> {
    let statement = counts_statement(db.get_database_backend(), grams);
    let rows = db.query_all_raw(statement).await?;
    rows.iter()
        .map(|row| {
            let gram: i64 = row.try_get_by_index(0)?;
            let n: i64 = row.try_get_by_index(1)?;
            Ok((n, gram))
        })
        .collect()
}

fn counts_statement(backend: DbBackend, grams: &[i64]) -> Statement {
    // Parameters, as in `title_statement`: one statement text per number of grams.
    let part = format!(
        "SELECT CAST(? AS SIGNED) AS gram, COUNT(*) AS n FROM \
         (SELECT 1 AS one FROM gallery_gram WHERE gram = ? LIMIT {COUNT_CAP}) c"
    );
    let sql = vec![part; grams.len()].join(" UNION ALL ");
    let values: Vec<Value> = grams.iter().flat_map(|&g| [g.into(), g.into()]).collect();
    Statement::from_sql_and_values(backend, sql, values)
}

/// Where the backfill stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BackfillState {
    /// Galleries up to this id are indexed.
    through: i64,
    /// Every gallery that predates the index is indexed.
    done: bool,
}

async fn backfill_state(db: &impl ConnectionTrait, lock: bool) -> Result<BackfillState> {
    let backend = db.get_database_backend();
    let lock = if lock && backend == DbBackend::MySql {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!("SELECT next_gallery_id, done FROM gallery_search_index WHERE id = 1{lock}");
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("gallery_search_index".into()))?;
    Ok(BackfillState {
        through: row.try_get_by_index(0)?,
        done: row.try_get_by_index(1)?,
    })
}

/// What one backfill step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Indexed one batch; galleries up to this id are now covered.
    Indexed(i64),
    /// Nothing was left: the index serves searches.
    Complete,
}

/// Indexes the galleries that predate the index, one short transaction per batch, so the
/// service serves meanwhile; the position is stored with each batch, so an interrupted backfill
/// resumes where it stopped.
#[derive(Debug, Clone)]
pub struct IndexBuilder {
    db: DatabaseConnection,
    index: SearchIndex,
    batch: u64,
}

impl IndexBuilder {
    /// Galleries per batch by default.
    pub const BATCH: u64 = 1_000;

    /// A builder of batches of `batch` galleries that marks `index` ready at the end.
    pub fn new(db: DatabaseConnection, index: SearchIndex, batch: u64) -> Self {
        Self { db, index, batch }
    }

    /// Indexes the next batch, or records completion when none is left.
    pub async fn step(&self) -> Result<Progress> {
        let txn = platform::db::begin_write(&self.db).await?;
        let state = backfill_state(&txn, true).await?;
        if state.done {
            txn.commit().await?;
            self.index.ready.store(true, Ordering::Release);
            return Ok(Progress::Complete);
        }
        // Locked so that a concurrent rename waits for this batch instead of racing it.
        let rows = gallery::Entity::find()
            .filter(gallery::Column::GalleryId.gt(state.through))
            .order_by_asc(gallery::Column::GalleryId)
            .limit(self.batch)
            .lock_exclusive()
            .all(&txn)
            .await?;
        let Some(last) = rows.last().map(|row| row.gallery_id) else {
            txn.execute_unprepared("UPDATE gallery_search_index SET done = 1 WHERE id = 1")
                .await?;
            txn.commit().await?;
            self.index.ready.store(true, Ordering::Release);
            return Ok(Progress::Complete);
        };
        let grams = rows.iter().flat_map(|row| {
            title_grams(&row.name)
                .into_iter()
                .map(|g| (g, row.gallery_id))
        });
        insert_grams(&txn, grams).await?;
        txn.execute_unprepared(&format!(
            "UPDATE gallery_search_index SET next_gallery_id = {last} WHERE id = 1"
        ))
        .await?;
        txn.commit().await?;
        Ok(Progress::Indexed(last))
    }

    /// Steps until complete or `shutdown`; a failed batch is retried after a pause.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let pause = match self.step().await {
                Ok(Progress::Complete) => return,
                Ok(Progress::Indexed(through)) => {
                    tracing::debug!(through, "search index backfill batch");
                    Duration::from_millis(5)
                }
                Err(error) => {
                    tracing::warn!(error = %anyhow::Error::from(error), "search index backfill failed, retrying");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_of_one_shape_share_one_statement_text_whatever_their_words() {
        for backend in [DbBackend::MySql, DbBackend::Sqlite] {
            let plan = |q: &str| {
                let grams = query_grams(q);
                TitlePlan {
                    walk: grams[0],
                    checks: grams[1..].to_vec(),
                }
            };
            let (a, b) = ("작가123", "봄여름12");
            let title = |q: &str| title_statement(backend, &plan(q), q, 100, 0).sql;
            let counts = |q: &str| counts_statement(backend, &query_grams(q)).sql;
            assert_eq!(title(a), title(b));
            assert_eq!(counts(a), counts(b));
            assert_ne!(counts("작가1234"), counts(a), "another shape, another text");
        }
    }

    #[test]
    fn a_short_query_is_one_gram_of_the_title() {
        let grams = query_grams("봄A");
        assert_eq!(grams.len(), 1);
        assert!(title_grams("새 봄a 풍경").contains(&grams[0]));
    }

    #[test]
    fn a_long_query_is_its_distinct_trigrams() {
        assert_eq!(query_grams("7777"), query_grams("777"));
        assert_eq!(query_grams("abcd").len(), 2);
    }

    #[test]
    fn grams_of_different_lengths_never_collide() {
        assert_ne!(encode(&['a']), encode(&['\0', 'a']));
        assert!(encode(&['\u{10FFFF}'; 3]) > 0);
    }
}

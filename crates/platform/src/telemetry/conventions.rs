//! Database spans in OpenTelemetry's current semantic conventions. sea-orm's `tracing-spans` names
//! its spans after its own calls (`sea_orm.query_one`) and gives them the attributes of the
//! conventions before 1.26 (`db.system`, `db.operation`, `db.statement`); before export, each is
//! renamed `<operation> <table>` (e.g. `SELECT galleries`) with `db.system.name`,
//! `db.operation.name`, `db.collection.name` and `db.query.text`, as trace backends expect.

use std::borrow::Cow;
use std::time::Duration;

use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

/// A span processor that renames database spans, then hands every span to the next one.
#[derive(Debug)]
pub(super) struct Conventions<P>(pub(super) P);

impl<P: SpanProcessor> SpanProcessor for Conventions<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        database(&mut span);
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// Renames a sea-orm span and its attributes; leaves every other span alone.
fn database(span: &mut SpanData) {
    let Some(call) = span.name.strip_prefix("sea_orm.") else {
        return;
    };
    // Transactions carry no statement: their call is the operation.
    let transaction = match call {
        "begin" => Some("BEGIN"),
        "commit" => Some("COMMIT"),
        "rollback" => Some("ROLLBACK"),
        _ => None,
    };
    for attribute in &mut span.attributes {
        let renamed = match attribute.key.as_str() {
            "db.system" => "db.system.name",
            "db.operation" => "db.operation.name",
            "db.statement" => "db.query.text",
            _ => continue,
        };
        attribute.key = Key::from_static_str(renamed);
    }
    let text = attribute(span, "db.query.text");
    let operation = transaction
        .map(str::to_owned)
        .or_else(|| text.as_deref().and_then(first_word))
        .or_else(|| attribute(span, "db.operation.name"));
    let Some(operation) = operation else {
        return;
    };
    let table = text
        .as_deref()
        .and_then(|sql| table(sql, &operation))
        .map(str::to_owned);
    set(span, "db.operation.name", operation.clone());
    span.name = Cow::Owned(match &table {
        Some(table) => format!("{operation} {table}"),
        None => operation,
    });
    if let Some(table) = table {
        span.attributes
            .push(KeyValue::new("db.collection.name", table));
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key.as_str() == key)
        .map(|a| a.value.as_str().into_owned())
}

fn set(span: &mut SpanData, key: &'static str, value: String) {
    match span.attributes.iter_mut().find(|a| a.key.as_str() == key) {
        Some(attribute) => attribute.value = Value::from(value),
        None => span.attributes.push(KeyValue::new(key, value)),
    }
}

/// The statement's keyword, upper-cased (`SELECT`, `INSERT`, `SET`, …).
fn first_word(sql: &str) -> Option<String> {
    let word = sql.split_ascii_whitespace().next()?;
    word.chars()
        .all(|c| c.is_ascii_alphabetic())
        .then(|| word.to_ascii_uppercase())
}

/// The table a single-table statement names after `FROM`, `INTO` or `UPDATE`, without its
/// quotes; `None` when it names something else there (a subquery, an expression).
fn table<'a>(sql: &'a str, operation: &str) -> Option<&'a str> {
    let keyword = match operation {
        "SELECT" | "DELETE" => "FROM",
        "INSERT" | "REPLACE" => "INTO",
        "UPDATE" => "UPDATE",
        _ => return None,
    };
    let mut words = sql.split_ascii_whitespace();
    words.find(|w| w.eq_ignore_ascii_case(keyword))?;
    let name = words.next()?.trim_matches(|c| c == '`' || c == '"');
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    plain.then_some(name)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

    use super::database;

    fn span(name: &'static str, attributes: Vec<KeyValue>) -> SpanData {
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: name.into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    fn value(span: &SpanData, key: &str) -> Option<String> {
        super::attribute(span, key)
    }

    #[test]
    fn a_query_span_is_named_after_its_operation_and_table_with_current_attributes() {
        let mut span = span(
            "sea_orm.query_all",
            vec![
                KeyValue::new("db.system", "mysql"),
                KeyValue::new("db.operation", "SELECT"),
                KeyValue::new(
                    "db.statement",
                    "SELECT `galleries`.`id` FROM `galleries` WHERE `galleries`.`id` = ?",
                ),
            ],
        );
        database(&mut span);
        assert_eq!(span.name, "SELECT galleries");
        assert_eq!(value(&span, "db.system.name").as_deref(), Some("mysql"));
        assert_eq!(value(&span, "db.operation.name").as_deref(), Some("SELECT"));
        assert_eq!(
            value(&span, "db.collection.name").as_deref(),
            Some("galleries")
        );
        assert!(value(&span, "db.query.text").is_some_and(|q| q.starts_with("SELECT")));
        assert_eq!(value(&span, "db.statement"), None);
    }

    #[test]
    fn an_insert_into_a_double_quoted_table_names_that_table() {
        let mut span = span(
            "sea_orm.execute",
            vec![KeyValue::new(
                "db.statement",
                "INSERT INTO \"outbox\" (\"topic\", \"body\") VALUES (?, ?)",
            )],
        );
        database(&mut span);
        assert_eq!(span.name, "INSERT outbox");
    }

    #[test]
    fn a_statement_sea_orm_calls_execute_is_named_by_its_own_keyword() {
        let mut span = span(
            "sea_orm.execute",
            vec![
                KeyValue::new("db.operation", "EXECUTE"),
                KeyValue::new(
                    "db.statement",
                    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
                ),
            ],
        );
        database(&mut span);
        assert_eq!(span.name, "SET");
    }

    #[test]
    fn a_select_from_a_subquery_is_named_by_its_operation_alone() {
        let mut span = span(
            "sea_orm.query_one",
            vec![KeyValue::new(
                "db.statement",
                "SELECT COUNT(*) FROM (SELECT 1 FROM `galleries`) AS `sub`",
            )],
        );
        database(&mut span);
        assert_eq!(span.name, "SELECT");
        assert_eq!(value(&span, "db.collection.name"), None);
    }

    #[test]
    fn a_commit_span_is_named_commit() {
        let mut span = span(
            "sea_orm.commit",
            vec![KeyValue::new("db.operation", "EXECUTE")],
        );
        database(&mut span);
        assert_eq!(span.name, "COMMIT");
        assert_eq!(value(&span, "db.operation.name").as_deref(), Some("COMMIT"));
    }

    #[test]
    fn a_span_that_is_not_the_databases_keeps_its_name_and_attributes() {
        let mut span = span(
            "GET /api/gallery/{id}",
            vec![KeyValue::new("db.system", "x")],
        );
        database(&mut span);
        assert_eq!(span.name, "GET /api/gallery/{id}");
        assert_eq!(value(&span, "db.system").as_deref(), Some("x"));
    }
}

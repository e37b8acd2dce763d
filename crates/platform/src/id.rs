//! Ids that clients send (in paths, queries and bodies), parsed into bounded types so handlers and
//! stores only ever see an id some object can have: an integer from 1 to 2^63−1, the range of the
//! databases' auto-increment keys (docs/api.md, "Ids").
//!
//! Two steps, because the contract answers two ways (as the original did): a value that is not a
//! signed 64-bit integer is a malformed request (400 with the service's validation code, refused
//! while deserializing [`RawId`]); an integer that fits but is 0 or negative names no object, and
//! is answered like an unknown id of its kind ([`IdKind::unknown`], the service's 404).

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The smallest id an object can have.
pub const MIN: i64 = 1;
/// The largest id: the top of a signed 64-bit key.
pub const MAX: i64 = i64::MAX;

/// What kind of object an [`Id`] names, and how its service answers an id that names nothing.
pub trait IdKind: 'static {
    /// The service's error type.
    type Error;
    /// The answer for an id no object of this kind can have: the same as for an unknown one.
    fn unknown() -> Self::Error;
}

/// An id as it arrived: any signed 64-bit integer. Anything else (text, a fraction, a number past
/// 2^63−1) fails to deserialize, which the extractors answer with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(transparent)]
pub struct RawId(i64);

impl RawId {
    /// The id of kind `K`, or that kind's answer for an unknown id.
    pub fn parse<K: IdKind>(self) -> Result<Id<K>, K::Error> {
        Id::new(self.0).ok_or_else(K::unknown)
    }

    /// The id if it is in range; an out-of-range one names nothing, so it can be dropped (`POST /api/member/nickname/list`).
    pub fn in_range<K: IdKind>(self) -> Option<Id<K>> {
        Id::new(self.0)
    }
}

impl From<i64> for RawId {
    /// An integer read from a form part or a query by hand, before its range is checked.
    fn from(value: i64) -> Self {
        Self(value)
    }
}

/// The schema of every client-sent id: the range [`Id`] enforces.
fn id_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(MIN))
        .maximum(Some(MAX))
        .into()
}

/// Where a route answers an id no object can have with success (an empty list, an entry left
/// out), its document states what it does enforce: a signed 64-bit integer.
impl PartialSchema for RawId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(i64::MIN))
            .maximum(Some(i64::MAX))
            .description(Some(
                "An id as sent: any signed 64-bit integer; one below 1 names no object",
            ))
            .into()
    }
}

impl ToSchema for RawId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Int64Id")
    }
}

/// An id of kind `K` in `MIN..=MAX`.
pub struct Id<K> {
    value: i64,
    kind: PhantomData<fn() -> K>,
}

impl<K> Id<K> {
    /// `raw` if some object can have it.
    pub fn new(raw: i64) -> Option<Self> {
        (raw >= MIN).then_some(Self {
            value: raw,
            kind: PhantomData,
        })
    }

    /// The number, for storage.
    pub fn get(self) -> i64 {
        self.value
    }
}

// Derives would demand the same traits of the marker `K`, which is never a value.
impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Id<K> {}

impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K> Eq for Id<K> {}

impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

impl<K> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.value)
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

impl<K> Serialize for Id<K> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.value)
    }
}

impl<K> PartialSchema for Id<K> {
    fn schema() -> RefOr<Schema> {
        id_schema()
    }
}

impl<K> ToSchema for Id<K> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Unknown;
    enum Thing {}
    impl IdKind for Thing {
        type Error = Unknown;
        fn unknown() -> Unknown {
            Unknown
        }
    }

    fn raw(json: &str) -> Result<RawId, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn one_is_the_smallest_id() {
        assert_eq!(raw("1").unwrap().parse::<Thing>().map(Id::get), Ok(1));
    }

    #[test]
    fn the_largest_signed_integer_is_an_id() {
        let id = raw("9223372036854775807").unwrap().parse::<Thing>();
        assert_eq!(id.map(Id::get), Ok(i64::MAX));
    }

    #[test]
    fn a_number_past_the_largest_signed_integer_is_malformed() {
        assert!(raw("9223372036854775808").is_err());
    }

    #[test]
    fn a_fraction_is_malformed() {
        assert!(raw("1.5").is_err());
    }

    #[test]
    fn text_is_malformed() {
        assert!(raw("\"abc\"").is_err());
    }

    #[test]
    fn zero_names_no_object() {
        assert_eq!(raw("0").unwrap().parse::<Thing>(), Err(Unknown));
    }

    #[test]
    fn a_negative_id_names_no_object() {
        assert_eq!(
            raw("-9223372036854775808").unwrap().parse::<Thing>(),
            Err(Unknown)
        );
    }

    #[test]
    fn the_raw_schema_states_the_signed_64_bit_range() {
        let schema = serde_json::to_value(RawId::schema()).unwrap();
        assert_eq!(schema["format"], "int64");
        assert_eq!(schema["minimum"], i64::MIN);
        assert_eq!(schema["maximum"], i64::MAX);
    }

    #[test]
    fn the_schema_states_the_range_and_format() {
        let schema = serde_json::to_value(Id::<Thing>::schema()).unwrap();
        assert_eq!(schema["type"], "integer");
        assert_eq!(schema["format"], "int64");
        assert_eq!(schema["minimum"], 1);
        assert_eq!(schema["maximum"], i64::MAX);
    }
}

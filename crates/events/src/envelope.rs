//! The envelope every event travels in, its JSON codec, and the typed events of each topic.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One event as it travels on a topic (JSON, camelCase keys; docs/events.md, "Envelope").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// UUIDv7: unique, and ordered by creation time.
    pub event_id: Uuid,
    /// Dotted type, e.g. `member.registered`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Schema version of the payload; a consumer rejects versions it does not know.
    pub version: u32,
    /// When it happened, RFC 3339 in UTC.
    #[serde(with = "rfc3339")]
    pub occurred_at: DateTime<Utc>,
    /// The entity the event is about; the Kafka key, so its events stay in order.
    pub aggregate_id: String,
    /// Type-specific fields, camelCase.
    pub payload: serde_json::Value,
}

mod rfc3339 {
    use super::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Why bytes or an envelope could not be turned into an event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a JSON envelope.
    #[error("not a valid event envelope")]
    Json(#[from] serde_json::Error),
    /// A type this build does not know on this topic.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// A known type with a version this build does not understand.
    #[error("unsupported version {version} of event type {event_type:?}")]
    UnsupportedVersion {
        /// The type.
        event_type: String,
        /// The version received.
        version: u32,
    },
    /// The payload does not match the type's schema.
    #[error("payload of {event_type:?} does not match its schema")]
    Payload {
        /// The type.
        event_type: String,
        /// The cause.
        source: serde_json::Error,
    },
}

impl Envelope {
    /// A new envelope with a fresh UUIDv7 and the current time.
    pub fn new(
        event_type: impl Into<String>,
        version: u32,
        aggregate_id: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            version,
            occurred_at: Utc::now(),
            aggregate_id: aggregate_id.into(),
            payload,
        }
    }

    /// The JSON bytes carried as the message value.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses the JSON bytes of a message value.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// `occurredAt` as written on the wire.
    pub fn occurred_at_rfc3339(&self) -> String {
        self.occurred_at
            .to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// Decodes into a typed event, rejecting unknown types and versions.
    pub fn decode<E: Event>(&self) -> Result<E, DecodeError> {
        E::from_envelope(self)
    }
}

/// An event type family published on one topic.
pub trait Event: Sized + Send + Sync {
    /// The topic all events of this family go to.
    const TOPIC: &'static str;

    /// The dotted type name, e.g. `member.registered`.
    fn event_type(&self) -> &'static str;

    /// The schema version written by this build.
    fn version(&self) -> u32 {
        1
    }

    /// The key that keeps this aggregate's events in order.
    fn aggregate_id(&self) -> String;

    /// The camelCase payload.
    fn payload(&self) -> serde_json::Value;

    /// Reads an envelope of this topic; unknown types or versions are errors.
    fn from_envelope(envelope: &Envelope) -> Result<Self, DecodeError>;

    /// Wraps the event in a fresh envelope.
    fn to_envelope(&self) -> Envelope {
        Envelope::new(
            self.event_type(),
            self.version(),
            self.aggregate_id(),
            self.payload(),
        )
    }
}

pub(crate) fn payload_of<T: serde::de::DeserializeOwned>(
    envelope: &Envelope,
    known_version: u32,
) -> Result<T, DecodeError> {
    if envelope.version != known_version {
        return Err(DecodeError::UnsupportedVersion {
            event_type: envelope.event_type.clone(),
            version: envelope.version,
        });
    }
    serde_json::from_value(envelope.payload.clone()).map_err(|source| DecodeError::Payload {
        event_type: envelope.event_type.clone(),
        source,
    })
}

//! The typed events of the `member` and `gallery` topics (docs/events.md, "Topics"), version 1.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::envelope::{DecodeError, Envelope, Event, payload_of};

/// Topic of [`MemberEvent`].
pub const MEMBER_TOPIC: &str = "member";
/// Topic of [`GalleryEvent`].
pub const GALLERY_TOPIC: &str = "gallery";

/// What the member service announces; key = member id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// `member.registered`: `{memberId, nickname}`.
    Registered {
        /// The new member.
        member_id: i64,
        /// Their nickname.
        nickname: String,
    },
    /// `member.nickname-changed`: `{memberId, nickname}`.
    NicknameChanged {
        /// The member.
        member_id: i64,
        /// The new nickname.
        nickname: String,
    },
    /// `member.withdrawn`: `{memberId}`.
    Withdrawn {
        /// The member who left.
        member_id: i64,
    },
}

/// What the gallery service announces; key = gallery id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GalleryEvent {
    /// `gallery.created`: `{galleryId, memberId, placeId, frameCount}`.
    Created {
        /// The new gallery.
        gallery_id: i64,
        /// Its owner.
        member_id: i64,
        /// The place it was opened in.
        place_id: i64,
        /// How many frames the place has.
        frame_count: i32,
    },
    /// `gallery.deleted`: `{galleryId, memberId}`.
    Deleted {
        /// The deleted gallery.
        gallery_id: i64,
        /// Its owner.
        member_id: i64,
    },
}

/// An event of either topic, for a consumer that reads both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyEvent {
    /// From the `member` topic.
    Member(MemberEvent),
    /// From the `gallery` topic.
    Gallery(GalleryEvent),
}

impl AnyEvent {
    /// Reads `envelope` as whichever family its type belongs to; unknown types are errors.
    pub fn from_envelope(envelope: &Envelope) -> Result<Self, DecodeError> {
        match MemberEvent::from_envelope(envelope) {
            Err(DecodeError::UnknownType(_)) => {
                GalleryEvent::from_envelope(envelope).map(Self::Gallery)
            }
            member => member.map(Self::Member),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberNickname {
    member_id: i64,
    nickname: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberOnly {
    member_id: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GalleryCreated {
    gallery_id: i64,
    member_id: i64,
    place_id: i64,
    frame_count: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GalleryDeleted {
    gallery_id: i64,
    member_id: i64,
}

impl Event for MemberEvent {
    const TOPIC: &'static str = MEMBER_TOPIC;

    fn event_type(&self) -> &'static str {
        match self {
            Self::Registered { .. } => "member.registered",
            Self::NicknameChanged { .. } => "member.nickname-changed",
            Self::Withdrawn { .. } => "member.withdrawn",
        }
    }

    fn aggregate_id(&self) -> String {
        match self {
            Self::Registered { member_id, .. }
            | Self::NicknameChanged { member_id, .. }
            | Self::Withdrawn { member_id } => member_id.to_string(),
        }
    }

    fn payload(&self) -> serde_json::Value {
        match self {
            Self::Registered {
                member_id,
                nickname,
            }
            | Self::NicknameChanged {
                member_id,
                nickname,
            } => json!({ "memberId": member_id, "nickname": nickname }),
            Self::Withdrawn { member_id } => json!({ "memberId": member_id }),
        }
    }

    fn from_envelope(envelope: &Envelope) -> Result<Self, DecodeError> {
        match envelope.event_type.as_str() {
            "member.registered" => {
                let p: MemberNickname = payload_of(envelope, 1)?;
                Ok(Self::Registered {
                    member_id: p.member_id,
                    nickname: p.nickname,
                })
            }
            "member.nickname-changed" => {
                let p: MemberNickname = payload_of(envelope, 1)?;
                Ok(Self::NicknameChanged {
                    member_id: p.member_id,
                    nickname: p.nickname,
                })
            }
            "member.withdrawn" => {
                let p: MemberOnly = payload_of(envelope, 1)?;
                Ok(Self::Withdrawn {
                    member_id: p.member_id,
                })
            }
            other => Err(DecodeError::UnknownType(other.to_owned())),
        }
    }
}

impl Event for GalleryEvent {
    const TOPIC: &'static str = GALLERY_TOPIC;

    fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "gallery.created",
            Self::Deleted { .. } => "gallery.deleted",
        }
    }

    fn aggregate_id(&self) -> String {
        match self {
            Self::Created { gallery_id, .. } | Self::Deleted { gallery_id, .. } => {
                gallery_id.to_string()
            }
        }
    }

    fn payload(&self) -> serde_json::Value {
        match self {
            Self::Created {
                gallery_id,
                member_id,
                place_id,
                frame_count,
            } => json!({
                "galleryId": gallery_id,
                "memberId": member_id,
                "placeId": place_id,
                "frameCount": frame_count,
            }),
            Self::Deleted {
                gallery_id,
                member_id,
            } => json!({ "galleryId": gallery_id, "memberId": member_id }),
        }
    }

    fn from_envelope(envelope: &Envelope) -> Result<Self, DecodeError> {
        match envelope.event_type.as_str() {
            "gallery.created" => {
                let p: GalleryCreated = payload_of(envelope, 1)?;
                Ok(Self::Created {
                    gallery_id: p.gallery_id,
                    member_id: p.member_id,
                    place_id: p.place_id,
                    frame_count: p.frame_count,
                })
            }
            "gallery.deleted" => {
                let p: GalleryDeleted = payload_of(envelope, 1)?;
                Ok(Self::Deleted {
                    gallery_id: p.gallery_id,
                    member_id: p.member_id,
                })
            }
            other => Err(DecodeError::UnknownType(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_of_either_topic_reads_as_its_family() {
        let member = MemberEvent::Withdrawn { member_id: 7 };
        let gallery = GalleryEvent::Deleted {
            gallery_id: 3,
            member_id: 7,
        };
        assert_eq!(
            AnyEvent::from_envelope(&member.to_envelope()).unwrap(),
            AnyEvent::Member(member)
        );
        assert_eq!(
            AnyEvent::from_envelope(&gallery.to_envelope()).unwrap(),
            AnyEvent::Gallery(gallery)
        );
    }

    #[test]
    fn a_type_of_neither_family_is_an_error() {
        let mut envelope = MemberEvent::Withdrawn { member_id: 7 }.to_envelope();
        envelope.event_type = "post.liked".into();
        assert!(matches!(
            AnyEvent::from_envelope(&envelope),
            Err(DecodeError::UnknownType(t)) if t == "post.liked"
        ));
    }
}

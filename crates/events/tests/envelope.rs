//! The envelope's JSON shape and the typed events' codec, including what a consumer rejects.

use events::{DecodeError, Envelope, Event, GalleryEvent, MemberEvent};
use serde_json::json;

#[test]
fn an_envelope_serialises_with_camel_case_keys_and_an_rfc3339_utc_time() {
    let envelope = MemberEvent::Registered {
        member_id: 42,
        nickname: "갤러리🎨".into(),
    }
    .to_envelope();
    let value: serde_json::Value = serde_json::from_slice(&envelope.to_json()).unwrap();
    assert_eq!(value["type"], "member.registered");
    assert_eq!(value["version"], 1);
    assert_eq!(value["aggregateId"], "42");
    assert_eq!(
        value["payload"],
        json!({"memberId": 42, "nickname": "갤러리🎨"})
    );
    assert!(value["occurredAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(envelope.event_id.get_version_num(), 7);
}

#[test]
fn every_typed_event_survives_the_round_trip_through_json() {
    let members = [
        MemberEvent::Registered {
            member_id: 1,
            nickname: "a".into(),
        },
        MemberEvent::NicknameChanged {
            member_id: 1,
            nickname: "b".into(),
        },
        MemberEvent::Withdrawn { member_id: 1 },
    ];
    for event in members {
        let back = Envelope::from_json(&event.to_envelope().to_json()).unwrap();
        assert_eq!(back.decode::<MemberEvent>().unwrap(), event);
    }
    let galleries = [
        GalleryEvent::Created {
            gallery_id: 3,
            member_id: 1,
            place_id: 2,
            frame_count: 9,
        },
        GalleryEvent::Deleted {
            gallery_id: 3,
            member_id: 1,
        },
    ];
    for event in galleries {
        let back = Envelope::from_json(&event.to_envelope().to_json()).unwrap();
        assert_eq!(back.decode::<GalleryEvent>().unwrap(), event);
    }
}

#[test]
fn the_gallery_created_payload_uses_the_documented_keys() {
    let event = GalleryEvent::Created {
        gallery_id: 3,
        member_id: 1,
        place_id: 2,
        frame_count: 9,
    };
    assert_eq!(
        event.payload(),
        json!({"galleryId": 3, "memberId": 1, "placeId": 2, "frameCount": 9})
    );
    assert_eq!(GalleryEvent::TOPIC, "gallery");
    assert_eq!(event.aggregate_id(), "3");
}

#[test]
fn an_unknown_type_is_rejected() {
    let envelope = Envelope::new("member.promoted", 1, "1", json!({"memberId": 1}));
    assert!(matches!(
        envelope.decode::<MemberEvent>(),
        Err(DecodeError::UnknownType(t)) if t == "member.promoted"
    ));
}

#[test]
fn an_unknown_version_is_rejected() {
    let envelope = Envelope::new("member.withdrawn", 2, "1", json!({"memberId": 1}));
    assert!(matches!(
        envelope.decode::<MemberEvent>(),
        Err(DecodeError::UnsupportedVersion { version: 2, .. })
    ));
}

#[test]
fn a_payload_missing_a_field_is_rejected() {
    let envelope = Envelope::new("member.registered", 1, "1", json!({"memberId": 1}));
    assert!(matches!(
        envelope.decode::<MemberEvent>(),
        Err(DecodeError::Payload { .. })
    ));
}

#[test]
fn bytes_that_are_not_an_envelope_are_rejected() {
    assert!(Envelope::from_json(b"{\"type\":\"x\"}").is_err());
}

//! Gallery domain values; each checks its rules on construction, so handlers and the store only
//! ever see valid data.

use std::fmt;

use platform::id::{Id, IdKind, RawId};

use crate::error::GalleryError;

/// Largest gallery name, in characters; a name also needs at least one and no edge whitespace.
pub const NAME_MAX_CHARS: usize = 50;
/// Largest gallery description, in characters; it may be empty.
pub const CONTENT_MAX_CHARS: usize = 500;

/// Why a request's values were refused; each message is shown to people as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// `placeId` missing.
    #[error("공간을 선택해주세요")]
    PlaceMissing,
    /// `name` missing, blank or too long.
    #[error("갤러리 이름은 최소 1자, 최대 50자 이내로 작성해주세요")]
    NameLength,
    /// `name` starts or ends with whitespace.
    #[error("갤러리 이름은 좌우 공백 없이 입력해주세요")]
    NameEdgeWhitespace,
    /// `content` too long.
    #[error("갤러리 설명은 최대 500자 이내로 작성해주세요")]
    ContentLength,
    /// `page` or `size` out of range.
    #[error("{}", platform::http::paging::PAGING_MESSAGE)]
    Paging,
}

/// A member, as named by a verified token or a member event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub i64);

/// Galleries, as the kind of a client-sent id; an id no gallery can have is an unknown gallery.
#[derive(Debug)]
pub enum Gallery {}

impl IdKind for Gallery {
    type Error = GalleryError;
    fn unknown() -> GalleryError {
        GalleryError::GalleryNotFound
    }
}

/// A gallery id a client sent: 1 to 2^63−1 (`platform::id`); whether it exists is the store's
/// question.
pub type GalleryId = Id<Gallery>;

/// Places, as the kind of a client-sent id; an id no place can have is an unknown place.
#[derive(Debug)]
pub enum Place {}

impl IdKind for Place {
    type Error = GalleryError;
    fn unknown() -> GalleryError {
        GalleryError::PlaceNotFound
    }
}

/// A place id a client sent: 1 to 2^63−1; whether the place exists is the store's question.
pub type PlaceId = Id<Place>;

/// A gallery name: 1–50 characters, not blank, no leading or trailing whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GalleryName(String);

impl GalleryName {
    /// Checks `raw` against the name rules.
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        let raw = raw.ok_or(Invalid::NameLength)?;
        if raw.trim().is_empty() || raw.chars().count() > NAME_MAX_CHARS {
            return Err(Invalid::NameLength);
        }
        if raw.trim() != raw {
            return Err(Invalid::NameEdgeWhitespace);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GalleryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A gallery description of at most 500 characters; absent stays absent (`null`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalleryContent(Option<String>);

impl GalleryContent {
    /// Checks `raw` against the length rule.
    pub fn parse(raw: Option<String>) -> Result<Self, Invalid> {
        match raw {
            Some(text) if text.chars().count() > CONTENT_MAX_CHARS => Err(Invalid::ContentLength),
            other => Ok(Self(other)),
        }
    }

    /// The description, if any.
    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

/// Everything `POST /api/gallery` and `PATCH /api/gallery/{galleryId}` write: a place, a name and an optional description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalleryDraft {
    /// The chosen place.
    pub place: PlaceId,
    /// The gallery's name.
    pub name: GalleryName,
    /// The gallery's description.
    pub content: GalleryContent,
}

impl GalleryDraft {
    /// Checks the fields in the order the contract reports them: place (missing), name, content,
    /// then whether the place id is one a place can have (as an unknown place, 404).
    pub fn parse(
        place: Option<RawId>,
        name: Option<&str>,
        content: Option<String>,
    ) -> Result<Self, GalleryError> {
        let place = place.ok_or(Invalid::PlaceMissing)?;
        let name = GalleryName::parse(name)?;
        let content = GalleryContent::parse(content)?;
        let place = place.parse::<Place>()?;
        Ok(Self {
            place,
            name,
            content,
        })
    }
}

/// What `GET /api/gallery/search` searches in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchType {
    /// Title contains the query, or the author's nickname equals it.
    All,
    /// Title contains the query.
    Title,
    /// The author's nickname equals the query.
    Author,
}

/// A `type` value other than `all`, `title` or `author`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("지원하지 않는 검색 타입입니다 : {0}")]
pub struct UnsupportedSearchType(pub String);

impl std::str::FromStr for SearchType {
    type Err = UnsupportedSearchType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Self::All),
            "title" => Ok(Self::Title),
            "author" => Ok(Self::Author),
            other => Err(UnsupportedSearchType(other.to_owned())),
        }
    }
}

/// A page of results: `page` from 0, `size` 1–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Zero-based page number.
    pub page: u64,
    /// Items per page.
    pub size: u64,
}

impl PageRequest {
    /// Checks the bounds, the same on every list (`platform::http::Page`).
    pub fn parse(page: Option<u64>, size: Option<u64>) -> Result<Self, Invalid> {
        let page = platform::http::Page::parse(page, size).map_err(|_| Invalid::Paging)?;
        Ok(Self {
            page: page.page(),
            size: page.size(),
        })
    }

    /// Rows to skip.
    pub fn offset(self) -> u64 {
        self.page * self.size
    }
}

/// Escapes the LIKE wildcards of a search text so it matches literally, with `!` as escape.
pub fn like_contains(query: &str) -> String {
    let mut pattern = String::with_capacity(query.len() + 2);
    pattern.push('%');
    for c in query.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The character that escapes wildcards in [`like_contains`] patterns.
pub const LIKE_ESCAPE: char = '!';

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_of_fifty_hangul_characters_is_accepted() {
        assert!(GalleryName::parse(Some(&"갤".repeat(50))).is_ok());
    }

    #[test]
    fn a_name_of_fifty_one_characters_is_refused() {
        assert_eq!(
            GalleryName::parse(Some(&"a".repeat(51))),
            Err(Invalid::NameLength)
        );
    }

    #[test]
    fn a_blank_name_is_a_length_error_not_a_whitespace_error() {
        assert_eq!(GalleryName::parse(Some("   ")), Err(Invalid::NameLength));
    }

    #[test]
    fn a_name_with_a_trailing_space_is_refused() {
        assert_eq!(
            GalleryName::parse(Some("봄 ")),
            Err(Invalid::NameEdgeWhitespace)
        );
    }

    #[test]
    fn inner_spaces_and_emoji_are_allowed_in_a_name() {
        assert!(GalleryName::parse(Some("나의 🎨 전시")).is_ok());
    }

    #[test]
    fn the_place_is_checked_before_the_name() {
        assert!(matches!(
            GalleryDraft::parse(None, None, None),
            Err(GalleryError::Invalid(Invalid::PlaceMissing))
        ));
    }

    fn raw(value: i64) -> RawId {
        RawId::from(value)
    }

    #[test]
    fn a_place_id_of_zero_is_an_unknown_place() {
        assert!(matches!(
            GalleryDraft::parse(Some(raw(0)), Some("봄"), None),
            Err(GalleryError::PlaceNotFound)
        ));
    }

    #[test]
    fn a_name_error_is_reported_before_an_impossible_place_id() {
        assert!(matches!(
            GalleryDraft::parse(Some(raw(-1)), Some(" 봄"), None),
            Err(GalleryError::Invalid(Invalid::NameEdgeWhitespace))
        ));
    }

    #[test]
    fn content_of_five_hundred_and_one_characters_is_refused() {
        assert_eq!(
            GalleryContent::parse(Some("x".repeat(501))),
            Err(Invalid::ContentLength)
        );
    }

    #[test]
    fn wildcards_and_the_escape_character_are_escaped() {
        assert_eq!(like_contains("50%_!A"), "%50!%!_!!a%");
    }

    #[test]
    fn paging_rejects_size_zero_and_above_one_hundred() {
        assert_eq!(PageRequest::parse(None, Some(0)), Err(Invalid::Paging));
        assert_eq!(PageRequest::parse(None, Some(101)), Err(Invalid::Paging));
        assert_eq!(
            PageRequest::parse(Some(1 << 63), None),
            Err(Invalid::Paging)
        );
    }

    #[test]
    fn unknown_search_types_name_themselves_in_the_message() {
        let err = "writer".parse::<SearchType>().unwrap_err();
        assert_eq!(err.to_string(), "지원하지 않는 검색 타입입니다 : writer");
    }
}

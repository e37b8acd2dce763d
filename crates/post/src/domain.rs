//! Domain values of the post service; each checks its rules on construction. Titles and contents
//! take any characters and may be empty (at most 50 and 500 characters); comments take 1–100,
//! the first not whitespace.

/// The key of the image every blank frame shows; bundled with the service and never deleted.
pub const DEFAULT_IMAGE_KEY: &str = "Default.png";

/// Validation messages answered with 400 GP005.
pub mod messages {
    /// A post title over 50 characters.
    pub const TITLE: &str = "게시물 제목은 50자 이내로 작성해주세요";
    /// A post content over 500 characters.
    pub const CONTENT: &str = "게시물 내용은 500자 이내로 작성해주세요";
    /// A missing or malformed post id.
    pub const POST_ID: &str = "게시물 아이디를 확인해주세요";
    /// A missing or malformed order.
    pub const ORDER: &str = "게시물 순서를 확인해주세요";
    /// A missing or malformed `isActive`.
    pub const IS_ACTIVE: &str = "게시물 공개 여부를 확인해주세요";
    /// A malformed music id.
    pub const MUSIC_ID: &str = "음악 아이디를 확인해주세요";
    /// A `PATCH /api/post/list/{galleryId}` request without any post.
    pub const NO_POSTS: &str = "수정할 게시물 정보가 없습니다";
    /// A comment that is empty, too long or starts with whitespace.
    pub const COMMENT: &str = "댓글은 최소 1자 이상 입력해주세요";
    /// A music lookup without title, artist or release date, or with overlong values.
    pub const MUSIC: &str = "음악 정보를 확인해주세요";
    /// An image that is not PNG, JPEG or WebP.
    pub const IMAGE_TYPE: &str = "이미지는 PNG, JPEG, WebP 형식만 업로드할 수 있습니다";
    /// A request that is not a readable multipart form.
    pub const MULTIPART: &str = "multipart/form-data 요청을 확인해주세요";
}

/// A rule violation; carries one of the [`messages`], answered with 400 GP005.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub &'static str);

/// The kinds of ids clients send to post, each answered like an unknown object of its kind when
/// no object can have it (`platform::id`): 1 to 2^63−1.
pub mod ids {
    use platform::id::{Id, IdKind};

    use crate::error::PostError;

    macro_rules! kind {
        ($(#[$doc:meta])* $kind:ident, $alias:ident, $unknown:ident) => {
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $kind {}

            impl IdKind for $kind {
                type Error = PostError;
                fn unknown() -> PostError {
                    PostError::$unknown
                }
            }

            $(#[$doc])*
            pub type $alias = Id<$kind>;
        };
    }

    kind!(
        /// A gallery, as the frame routes name it.
        Gallery,
        GalleryId,
        GalleryNotFound
    );
    kind!(
        /// A post (frame).
        Post,
        PostId,
        PostNotFound
    );
    kind!(
        /// A comment.
        Comment,
        CommentId,
        CommentNotFound
    );
    kind!(
        /// A music row.
        Music,
        MusicId,
        MusicNotFound
    );
}

/// A post title: 0–50 characters of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostTitle(String);

impl PostTitle {
    /// Checks the length.
    pub fn parse(raw: impl Into<String>) -> Result<Self, Invalid> {
        let raw = raw.into();
        if raw.chars().count() > 50 {
            return Err(Invalid(messages::TITLE));
        }
        Ok(Self(raw))
    }

    /// The text.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A post content: 0–500 characters of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostContent(String);

impl PostContent {
    /// Checks the length.
    pub fn parse(raw: impl Into<String>) -> Result<Self, Invalid> {
        let raw = raw.into();
        if raw.chars().count() > 500 {
            return Err(Invalid(messages::CONTENT));
        }
        Ok(Self(raw))
    }

    /// The text.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A comment: 1–100 characters, the first not whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentText(String);

impl CommentText {
    /// Checks length and the first character.
    pub fn parse(raw: impl Into<String>) -> Result<Self, Invalid> {
        let raw = raw.into();
        let starts_well = raw.chars().next().is_some_and(|c| !c.is_whitespace());
        if !starts_well || raw.chars().count() > 100 {
            return Err(Invalid(messages::COMMENT));
        }
        Ok(Self(raw))
    }

    /// The text.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An image format accepted for upload, recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
}

impl ImageKind {
    /// How many leading bytes [`Self::sniff`] needs.
    pub const SNIFF_LEN: usize = 12;

    /// The format whose signature `head` starts with.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    /// File extension used in generated keys.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
        }
    }

    /// MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }

    fn from_extension(extension: &str) -> Option<Self> {
        match extension {
            "png" => Some(Self::Png),
            "jpg" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }
}

/// The key of a stored image: a generated UUID with an extension, or [`DEFAULT_IMAGE_KEY`].
///
/// Anything else (path separators, `..`, client file names) cannot be constructed, so a key from a
/// URL can never leave the image store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageKey {
    key: String,
    kind: ImageKind,
}

impl ImageKey {
    /// A fresh key for an image of `kind`.
    pub fn generate(kind: ImageKind) -> Self {
        Self {
            key: format!("{}.{}", uuid::Uuid::new_v4(), kind.extension()),
            kind,
        }
    }

    /// Accepts only keys this service generates.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw == DEFAULT_IMAGE_KEY {
            return Some(Self {
                key: raw.to_owned(),
                kind: ImageKind::Png,
            });
        }
        let (stem, extension) = raw.split_once('.')?;
        let kind = ImageKind::from_extension(extension)?;
        let uuid = uuid::Uuid::try_parse(stem).ok()?;
        // Only the canonical hyphenated lowercase form, so one image has one key.
        (uuid.hyphenated().to_string() == stem).then(|| Self {
            key: raw.to_owned(),
            kind,
        })
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The image's format.
    pub fn kind(&self) -> ImageKind {
        self.kind
    }

    /// Whether this is the bundled default image.
    pub fn is_default(&self) -> bool {
        self.key == DEFAULT_IMAGE_KEY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_of_fifty_characters_is_accepted_and_fifty_one_refused() {
        assert!(PostTitle::parse("가".repeat(50)).is_ok());
        assert_eq!(
            PostTitle::parse("가".repeat(51)),
            Err(Invalid(messages::TITLE))
        );
    }

    #[test]
    fn empty_title_and_content_are_allowed() {
        assert!(PostTitle::parse("").is_ok());
        assert!(PostContent::parse("").is_ok());
        assert!(PostContent::parse("x".repeat(501)).is_err());
    }

    #[test]
    fn a_comment_must_start_with_a_visible_character_and_fit_in_100() {
        assert!(CommentText::parse("좋아요\n정말").is_ok());
        assert!(CommentText::parse(" 좋아요").is_err());
        assert!(CommentText::parse("").is_err());
        assert!(CommentText::parse("a".repeat(100)).is_ok());
        assert!(CommentText::parse("a".repeat(101)).is_err());
    }

    #[test]
    fn image_formats_are_recognised_by_their_signatures() {
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n0000"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(ImageKind::sniff(b"GIF89a......"), None);
    }

    #[test]
    fn only_generated_keys_and_the_default_parse() {
        let key = ImageKey::generate(ImageKind::Webp);
        assert_eq!(ImageKey::parse(key.as_str()), Some(key));
        assert!(ImageKey::parse("Default.png").unwrap().is_default());
        for bad in [
            "../etc/passwd",
            "a/b.png",
            "photo.png",
            "..",
            "",
            "x.png.png",
        ] {
            assert_eq!(ImageKey::parse(bad), None, "{bad}");
        }
        let upper = uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase();
        assert_eq!(ImageKey::parse(&format!("{upper}.png")), None);
    }
}

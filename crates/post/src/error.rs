//! The post service's one error type and the one place mapping it to status and code (docs/api.md, "Error codes").

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::http::ApiError;

use crate::domain::Invalid;

/// Everything a post request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// A value breaks a domain rule, e.g. a title over 50 characters (400 GP005).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A required query parameter is missing (400 GP004).
    #[error("missing parameter")]
    MissingParameter,
    /// Unknown post, or a post of another gallery (404 GP007).
    #[error("no such post")]
    PostNotFound,
    /// Unknown comment, or another member's (404 GP007).
    #[error("no such comment")]
    CommentNotFound,
    /// Unknown gallery, or another member's (404 GP007).
    #[error("no such gallery")]
    GalleryNotFound,
    /// Unknown music id, or no YouTube video for a track (404 GP001).
    #[error("no such music")]
    MusicNotFound,
    /// Unknown image key (404 GP007).
    #[error("no such image")]
    ImageNotFound,
    /// `POST /api/post/dummy` on a gallery that has posts (409 GP006).
    #[error("the gallery already has posts")]
    PostsExist,
    /// An upload that is not PNG, JPEG or WebP (400 GP005).
    #[error("unsupported image type")]
    ImageType,
    /// One image over 10 MB (413).
    #[error("image too large")]
    ImageTooLarge,
    /// More than 50 MB of images in one request (413).
    #[error("request too large")]
    RequestTooLarge,
    /// Comment creation over the rate limit (429).
    #[error("too many comments")]
    TooManyComments {
        /// Seconds until a token is back.
        retry_after: u64,
    },
    /// Spotify or YouTube is not configured (503 GP008).
    #[error("music provider not configured")]
    MusicNotConfigured,
    /// Spotify or YouTube failed (503 GP008).
    #[error("music provider failed")]
    MusicUnavailable(#[source] reqwest::Error),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    /// Object storage failed.
    #[error("object storage error")]
    Storage(#[from] object_store::Error),
}

/// Result of post operations.
pub type Result<T, E = PostError> = std::result::Result<T, E>;

/// The 429 message of the original comment limit.
pub const TOO_MANY_COMMENTS: &str =
    "짧은 시간에 많은 댓글을 작성할 수 없습니다. \n잠시후 다시 시도해주세요.";

impl PostError {
    /// The contract's status, code and message of this error.
    pub fn to_api_error(&self) -> ApiError {
        use StatusCode as S;
        let e = |status, code: &'static str, message: &'static str| {
            ApiError::new(status, code, message)
        };
        match self {
            Self::Invalid(Invalid(message)) => e(S::BAD_REQUEST, "GP005", message),
            Self::MissingParameter => e(S::BAD_REQUEST, "GP004", "필수 파라미터 누락"),
            Self::PostNotFound => e(S::NOT_FOUND, "GP007", "존재하지 않는 게시물입니다"),
            Self::CommentNotFound => e(S::NOT_FOUND, "GP007", "존재하지 않는 댓글입니다"),
            Self::GalleryNotFound => e(S::NOT_FOUND, "GP007", "존재하지 않는 갤러리입니다"),
            Self::MusicNotFound => e(S::NOT_FOUND, "GP001", "음악 정보가 존재하지 않습니다."),
            Self::ImageNotFound => e(S::NOT_FOUND, "GP007", "존재하지 않는 이미지입니다"),
            Self::PostsExist => e(S::CONFLICT, "GP006", "이미 존재하는 갤러리입니다"),
            Self::ImageType => e(S::BAD_REQUEST, "GP005", crate::domain::messages::IMAGE_TYPE),
            Self::ImageTooLarge => e(
                S::PAYLOAD_TOO_LARGE,
                "GP005",
                "이미지는 한 장에 10MB 이하만 업로드할 수 있습니다",
            ),
            Self::RequestTooLarge => e(
                S::PAYLOAD_TOO_LARGE,
                "GP005",
                "한 번에 업로드하는 이미지는 모두 합쳐 50MB 이하여야 합니다",
            ),
            Self::TooManyComments { .. } => e(S::TOO_MANY_REQUESTS, "GP009", TOO_MANY_COMMENTS),
            Self::MusicNotConfigured => e(
                S::SERVICE_UNAVAILABLE,
                "GP008",
                "음악 검색이 설정되지 않았습니다. 관리자에게 문의해주세요",
            ),
            Self::MusicUnavailable(cause) => {
                let mut error = ApiError::unavailable("GP008", cause);
                error.message =
                    "음악 서비스에 연결할 수 없습니다. 잠시 후 다시 시도해주세요".into();
                error
            }
            Self::Database(cause) => database_error(cause),
            Self::Storage(cause) => ApiError::unavailable("GP001", cause),
        }
    }
}

fn database_error(cause: &sea_orm::DbErr) -> ApiError {
    use sea_orm::DbErr;
    match cause {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => ApiError::unavailable("GP001", cause),
        _ => ApiError::internal("GP001", cause),
    }
}

impl IntoResponse for PostError {
    fn into_response(self) -> Response {
        let mut response = self.to_api_error().into_response();
        if let Self::TooManyComments { retry_after } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

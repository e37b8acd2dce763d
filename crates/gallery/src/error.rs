//! The one error type of the gallery service and the one place that maps it to status and code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use platform::http::ApiError;
use sea_orm::{DbErr, RuntimeErr};

use crate::domain::{Invalid, UnsupportedSearchType};

/// Everything a gallery request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// A field broke a validation rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// `GET /api/gallery/search` with an unknown `type`.
    #[error(transparent)]
    SearchType(#[from] UnsupportedSearchType),
    /// The chosen place does not exist.
    #[error("place not found")]
    PlaceNotFound,
    /// No such gallery, or not the caller's.
    #[error("gallery not found")]
    GalleryNotFound,
    /// The member already has a gallery of that name (`POST /api/gallery`, `PATCH /api/gallery/{galleryId}`).
    #[error("gallery name taken")]
    NameTaken,
    /// The name is taken (its message differs from `POST /api/gallery`'s by one space, as the original).
    #[error("gallery name taken (check)")]
    NameTakenCheck,
    /// The database failed.
    #[error("database failure")]
    Database(#[from] DbErr),
    /// An event could not be written to the outbox.
    #[error(transparent)]
    Outbox(#[from] events::OutboxError),
}

/// Result of gallery operations.
pub type Result<T, E = GalleryError> = std::result::Result<T, E>;

const VALIDATION: &str = "GG005";

impl GalleryError {
    /// The contract's status, code and message.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Self::Invalid(invalid) => {
                ApiError::new(StatusCode::BAD_REQUEST, VALIDATION, invalid.to_string())
            }
            Self::SearchType(err) => {
                ApiError::new(StatusCode::BAD_REQUEST, VALIDATION, err.to_string())
            }
            Self::PlaceNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "GG007", "존재하지 않는 공간입니다")
            }
            Self::GalleryNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "GG007",
                "해당 갤러리 정보가 없습니다",
            ),
            Self::NameTaken => ApiError::new(
                StatusCode::CONFLICT,
                "GG006",
                "이미 사용중인 갤러리 이름입니다",
            ),
            Self::NameTakenCheck => ApiError::new(
                StatusCode::CONFLICT,
                "GG006",
                "이미 사용중인 갤러리 이름 입니다",
            ),
            Self::Database(err) if is_unavailable(err) => ApiError::unavailable("GG001", err),
            Self::Database(err) => ApiError::internal("GG001", err),
            Self::Outbox(err) if is_unavailable(&err.source) => ApiError::unavailable("GG001", err),
            Self::Outbox(err) => ApiError::internal("GG001", err),
        }
    }
}

/// Whether the database could not be reached at all (503) rather than failing a statement (500).
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => matches!(
            e.as_ref(),
            Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed
        ),
        _ => false,
    }
}

impl IntoResponse for GalleryError {
    fn into_response(self) -> Response {
        self.to_api_error().into_response()
    }
}

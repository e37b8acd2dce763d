//! Every way a member request can fail, and the one place that maps it to status, code and message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::auth::SessionError;
use platform::http::ApiError;

use crate::domain::Invalid;
use crate::password::HashError;
use crate::store::StoreError;
use crate::throttle::ThrottleError;

/// A failed member request.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// A required value is missing or blank (GA004).
    #[error("missing parameter")]
    MissingParameter,
    /// A JSON body field is missing or blank (400 GA005, like any body that fails validation).
    #[error("invalid body")]
    InvalidBody,
    /// `type` names no supported provider.
    #[error("unsupported provider")]
    UnsupportedProvider,
    /// The provider refused the authorization code.
    #[error("invalid authorization code")]
    InvalidCode,
    /// The `state` sent back was not issued here or has expired.
    #[error("invalid state")]
    InvalidState,
    /// The nickname breaks the nickname rule.
    #[error("invalid nickname")]
    InvalidNickname,
    /// The e-mail address is malformed.
    #[error("invalid email")]
    InvalidEmail,
    /// The password is shorter than 8 or longer than 128 characters.
    #[error("password length")]
    PasswordLength,
    /// The password is on the common-password list.
    #[error("common password")]
    CommonPassword,
    /// An active member already has the nickname.
    #[error("nickname taken")]
    NicknameTaken,
    /// An account already uses the e-mail address.
    #[error("email taken")]
    EmailTaken,
    /// No free nickname was found for a new member.
    #[error("nickname generation failed")]
    NicknameGenerationFailed,
    /// The member does not exist or has withdrawn.
    #[error("member not found")]
    MemberNotFound,
    /// The account vanished while logging in (concurrent withdrawal).
    #[error("member vanished during login")]
    LoginMemberMissing,
    /// The member to withdraw does not exist or has withdrawn already.
    #[error("member to delete not found")]
    DeleteTargetNotFound,
    /// Unknown e-mail or wrong password; one answer for both.
    #[error("bad credentials")]
    BadCredentials,
    /// Too many failed sign-ins for this account.
    #[error("too many attempts")]
    TooManyAttempts {
        /// Seconds until the next attempt is accepted.
        retry_after: u64,
    },
    /// The OAuth provider failed in an unexpected way.
    #[error("oauth provider failed: {0}")]
    Provider(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session store is unreachable.
    #[error(transparent)]
    Sessions(#[from] SessionError),
    /// The throttle store is unreachable.
    #[error(transparent)]
    Throttle(#[from] ThrottleError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Signing the token failed.
    #[error("cannot sign the token")]
    Token(#[from] platform::auth::TokenError),
}

const GA001: &str = "GA001";
const GA004: &str = "GA004";
const GA005: &str = "GA005";
const GA006: &str = "GA006";
const GA007: &str = "GA007";
const GA008: &str = "GA008";
const GA009: &str = "GA009";

/// Message of GA004 and of body validation (GA005); docs/member.md lists every code and message.
pub const CHECK_PARAMETERS: &str = "파라미터를 확인해주세요";
/// Message of an invalid nickname.
pub const NICKNAME_RULE: &str = "닉네임은 한글, 영어, 숫자 조합 2~10자로 입력해주세요";
/// Message of a taken nickname.
pub const NICKNAME_TAKEN: &str = "이미 사용중인 닉네임입니다";
/// Message of a failed sign-in, whichever part was wrong.
pub const BAD_CREDENTIALS: &str = "이메일 또는 비밀번호가 올바르지 않습니다";

/// Result of member operations.
pub type Result<T, E = MemberError> = std::result::Result<T, E>;

impl From<Invalid> for MemberError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::BlankNickname => Self::MissingParameter,
            Invalid::Nickname => Self::InvalidNickname,
            Invalid::BlankEmail => Self::InvalidBody,
            Invalid::Email => Self::InvalidEmail,
            Invalid::PasswordLength => Self::PasswordLength,
            Invalid::CommonPassword => Self::CommonPassword,
        }
    }
}

impl MemberError {
    /// Status, code and message of this error, as docs/member.md lists them per route.
    pub fn to_api_error(&self) -> ApiError {
        use StatusCode as S;
        let (status, code, message) = match self {
            Self::MissingParameter => (S::BAD_REQUEST, GA004, CHECK_PARAMETERS),
            Self::InvalidBody => (S::BAD_REQUEST, GA005, CHECK_PARAMETERS),
            Self::UnsupportedProvider => (S::BAD_REQUEST, GA005, "지원하지 않는 소셜 로그인입니다"),
            Self::InvalidCode => (S::BAD_REQUEST, GA005, "유효하지 않은 인가 코드"),
            Self::InvalidState => (S::BAD_REQUEST, GA005, "유효하지 않은 로그인 요청입니다"),
            Self::InvalidNickname => (S::BAD_REQUEST, GA005, NICKNAME_RULE),
            Self::InvalidEmail => (S::BAD_REQUEST, GA005, "이메일 형식을 확인해주세요"),
            Self::PasswordLength => (S::BAD_REQUEST, GA005, "비밀번호는 8~128자로 입력해주세요"),
            Self::CommonPassword => (
                S::BAD_REQUEST,
                GA005,
                "너무 흔한 비밀번호입니다. 다른 비밀번호를 입력해주세요",
            ),
            Self::NicknameTaken => (S::CONFLICT, GA006, NICKNAME_TAKEN),
            Self::EmailTaken => (S::CONFLICT, GA006, "이미 사용중인 이메일입니다"),
            Self::NicknameGenerationFailed => (S::CONFLICT, GA006, "닉네임 생성 실패"),
            Self::MemberNotFound => (S::NOT_FOUND, GA007, "사용자 정보가 없습니다"),
            Self::LoginMemberMissing => (S::NOT_FOUND, GA007, "존재하지 않는 회원입니다"),
            Self::DeleteTargetNotFound => (
                S::NOT_FOUND,
                GA007,
                "삭제하려는 회원 정보가 존재하지 않습니다",
            ),
            Self::BadCredentials => (S::UNAUTHORIZED, GA008, BAD_CREDENTIALS),
            Self::TooManyAttempts { .. } => (
                S::TOO_MANY_REQUESTS,
                GA009,
                "로그인 시도가 너무 많습니다. 잠시 후 다시 시도해주세요",
            ),
            Self::Store(StoreError::Unavailable(_)) => return ApiError::unavailable(GA001, self),
            Self::Provider(_) | Self::Store(_) | Self::Hash(_) | Self::Token(_) => {
                return ApiError::internal(GA001, self);
            }
            Self::Sessions(_) | Self::Throttle(_) => return ApiError::unavailable(GA001, self),
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for MemberError {
    fn into_response(self) -> Response {
        let mut response = self.to_api_error().into_response();
        if let Self::TooManyAttempts { retry_after } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

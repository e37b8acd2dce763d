//! Signing in and out: OAuth (`POST /api/member/login`, `POST /api/member/callback`), local accounts (signup, signin), logout (`POST /api/member/logout`, logout/all).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use platform::auth::{Claims, Role, Session, TOKEN_TTL, clear_cookie, session_cookie};
use platform::http::{ApiResponse, Json, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Caller;
use crate::AppState;
use crate::domain::{Email, NICKNAME_ATTEMPTS, NewPassword, Nickname, NicknameCandidates};
use crate::error::MemberError;
use crate::oauth::{Provider, ProviderProfile};
use crate::store::{Conflict, Identity, Member, WriteError};

/// Query of `POST /api/member/login`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LoginQuery {
    /// `kakao` or `google`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The provider's authorize URL, carrying a fresh `state`.
#[utoipa::path(post, path = "/api/member/login", params(LoginQuery), tag = "auth",
    responses((status = 200, description = "`{message, data: <authorize URL>}`", body = platform::http::openapi::Envelope<String>)))]
pub(super) async fn login(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Result<ApiResponse<String>, MemberError> {
    let provider = Provider::parse(query.kind.as_deref())?;
    if !state.oauth.supports(provider) {
        return Err(MemberError::UnsupportedProvider);
    }
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    state.throttle.issue_state(&nonce).await?;
    let url = state.oauth.authorize_url(provider, &nonce)?;
    Ok(ApiResponse::data("리다이렉트 URL 발급 성공", url))
}

/// Query of `POST /api/member/callback`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CallbackQuery {
    /// `kakao` or `google`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// The authorization code.
    code: Option<String>,
    /// The `state` from `POST /api/member/login`; optional because the original frontend does not send it.
    state: Option<String>,
}

/// Data of `POST /api/member/callback`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CallbackData {
    /// When the token expires, `yyyy-MM-ddTHH:mm:ss.SSS+00:00`.
    expiration_date: String,
}

/// Data of signin.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SigninData {
    /// When the token expires, `yyyy-MM-ddTHH:mm:ss.SSS+00:00`.
    expiration_date: String,
    /// The token, for clients that send `Authorization: Bearer`.
    access_token: String,
}

fn required(value: Option<&str>) -> Result<&str, MemberError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(MemberError::MissingParameter)
}

/// Exchanges the code, registers or reactivates the member, starts a session.
#[utoipa::path(post, path = "/api/member/callback", params(CallbackQuery), tag = "auth",
    responses((status = 200, body = platform::http::openapi::Envelope<CallbackData>, description = "Set-Cookie gallery_cookie"),
        (status = 409, description = "GA006 no free nickname could be made")))]
pub(super) async fn callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, MemberError> {
    let code = required(query.code.as_deref())?;
    let provider = Provider::parse(query.kind.as_deref())?;
    if let Some(nonce) = query
        .state
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        && !state.throttle.take_state(nonce).await?
    {
        return Err(MemberError::InvalidState);
    }
    let profile = state.oauth.sign_in(provider, code).await?;
    let member = find_or_register(&state, profile).await?;
    let login = start_session(&state, &member).await?;
    let data = CallbackData {
        expiration_date: login.expiration_date.clone(),
    };
    Ok(login.respond(ApiResponse::data("로그인 성공", data)))
}

async fn find_or_register(
    state: &AppState,
    profile: ProviderProfile,
) -> Result<Member, MemberError> {
    let candidates = NicknameCandidates::from_name(&profile.name);
    // A concurrent first login of the same account may win the insert; the loser reads its row.
    for _ in 0..2 {
        match state.store.find_by_provider(&profile.identity).await? {
            Some(member) if !member.is_deleted => return Ok(member),
            Some(member) => {
                if let Some(member) = reactivate(state, member.member_id, &candidates).await? {
                    return Ok(member);
                }
            }
            None => {
                if let Some(member) = register(state, profile.identity.clone(), &candidates).await?
                {
                    return Ok(member);
                }
            }
        }
    }
    Err(MemberError::LoginMemberMissing)
}

/// Registers with the first free candidate; `Ok(None)` when the identity was registered
/// concurrently.
async fn register(
    state: &AppState,
    identity: Identity,
    candidates: &NicknameCandidates,
) -> Result<Option<Member>, MemberError> {
    for attempt in 1..=NICKNAME_ATTEMPTS {
        let nickname = candidates.candidate(attempt);
        match state.store.register(identity.clone(), &nickname).await {
            Ok(member) => return Ok(Some(member)),
            Err(WriteError::Conflict(Conflict::Nickname)) => {}
            Err(WriteError::Conflict(Conflict::Identity)) => return Ok(None),
            Err(WriteError::Conflict(Conflict::Email)) => return Err(MemberError::EmailTaken),
            Err(WriteError::Store(e)) => return Err(e.into()),
        }
    }
    Err(MemberError::NicknameGenerationFailed)
}

async fn reactivate(
    state: &AppState,
    member_id: i64,
    candidates: &NicknameCandidates,
) -> Result<Option<Member>, MemberError> {
    for attempt in 1..=NICKNAME_ATTEMPTS {
        let nickname = candidates.candidate(attempt);
        match state.store.reactivate(member_id, &nickname).await {
            Ok(member) => return Ok(member),
            Err(WriteError::Conflict(_)) => {}
            Err(WriteError::Store(e)) => return Err(e.into()),
        }
    }
    Err(MemberError::NicknameGenerationFailed)
}

/// A started session: its token and cookie.
struct Login {
    token: String,
    expiration_date: String,
    secure: bool,
}

impl Login {
    fn respond(&self, body: impl IntoResponse) -> Response {
        let mut response = body.into_response();
        if let Some(cookie) = session_cookie(&self.token, self.secure) {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// `yyyy-MM-ddTHH:mm:ss.SSS+00:00`, Jackson's rendering of `java.util.Date`: the form the original
/// API gave `expirationDate`, kept so clients parse it unchanged.
fn java_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

/// Signs the token first and stores the session second, so a store failure (503) leaves neither a
/// session nor a cookie behind.
async fn start_session(state: &AppState, member: &Member) -> Result<Login, MemberError> {
    let role: Role = member.role.parse().unwrap_or(Role::User);
    let session = Session::start(member.member_id, role, TOKEN_TTL);
    // `iat` is derived from the session's expiry so `exp`, the session TTL and `expirationDate`
    // name the same second.
    let claims = Claims::new(
        member.member_id,
        role,
        session.sid.clone(),
        session.expires_at.timestamp() - i64::try_from(TOKEN_TTL.as_secs()).unwrap_or(0),
    );
    let token = state.signing_key.sign(&claims)?;
    state.sessions.create(&session).await?;
    Ok(Login {
        token,
        expiration_date: java_date(session.expires_at),
        secure: state.cookie_secure,
    })
}

/// Body of signup.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct SignupBody {
    /// E-mail address, unique (case-insensitive).
    email: Option<String>,
    /// 8–128 characters, not a common password.
    #[schema(min_length = 8, max_length = 128)]
    password: Option<String>,
    /// 2–10 Hangul, Latin letters or digits.
    #[schema(pattern = "^[A-Za-z0-9ㄱ-ㅎㅏ-ㅣ가-힣]{2,10}$")]
    nickname: Option<String>,
}

fn field(value: Option<&str>) -> Result<&str, MemberError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or(MemberError::InvalidBody)
}

/// Creates a local account.
#[utoipa::path(post, path = "/api/member/signup", request_body = SignupBody, tag = "auth",
    responses((status = 200, description = "`{message}`", body = platform::http::openapi::MessageOnly),
        (status = 409, description = "GA006 e-mail or nickname taken")))]
pub(super) async fn signup(
    State(state): State<AppState>,
    Json(body): Json<SignupBody>,
) -> Result<ApiResponse<()>, MemberError> {
    let email = Email::parse(field(body.email.as_deref())?)?;
    let password = NewPassword::parse(field(body.password.as_deref())?)?;
    let nickname = Nickname::parse(field(body.nickname.as_deref())?)?;
    if state.store.find_by_email(&email).await?.is_some() {
        return Err(MemberError::EmailTaken);
    }
    if !state.store.nickname_free(&nickname).await? {
        return Err(MemberError::NicknameTaken);
    }
    let password_hash = state.passwords.hash(&password).await?;
    let identity = Identity::Local {
        email,
        password_hash,
    };
    match state.store.register(identity, &nickname).await {
        Ok(_) => Ok(ApiResponse::message("회원가입 성공")),
        Err(WriteError::Conflict(Conflict::Nickname)) => Err(MemberError::NicknameTaken),
        Err(WriteError::Conflict(_)) => Err(MemberError::EmailTaken),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

/// Body of signin.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct SigninBody {
    /// E-mail address.
    email: Option<String>,
    /// Password.
    password: Option<String>,
}

/// Signs in with e-mail and password; unknown e-mail and wrong password answer alike.
#[utoipa::path(post, path = "/api/member/signin", request_body = SigninBody, tag = "auth",
    responses((status = 200, body = platform::http::openapi::Envelope<SigninData>, description = "Set-Cookie gallery_cookie"),
        (status = 401, description = "GA008 wrong e-mail or password")))]
pub(super) async fn signin(
    State(state): State<AppState>,
    Json(body): Json<SigninBody>,
) -> Result<Response, MemberError> {
    let raw_email = field(body.email.as_deref())?;
    let password = field(body.password.as_deref())?;
    let email = Email::parse(raw_email).map_err(|_| MemberError::BadCredentials)?;
    if let Some(retry_after) = state.throttle.blocked_for(email.as_str()).await? {
        return Err(MemberError::TooManyAttempts { retry_after });
    }
    let member = state.store.find_by_email(&email).await?;
    let hash = member.as_ref().and_then(|m| m.password_hash.as_deref());
    if !state.passwords.verify(password, hash).await? {
        state.throttle.failed(email.as_str()).await?;
        return Err(MemberError::BadCredentials);
    }
    let Some(member) = member else {
        return Err(MemberError::BadCredentials);
    };
    state.throttle.succeeded(email.as_str()).await?;
    let member = if member.is_deleted {
        let candidates = NicknameCandidates::from_name(email.local_part());
        reactivate(&state, member.member_id, &candidates)
            .await?
            .ok_or(MemberError::BadCredentials)?
    } else {
        member
    };
    let login = start_session(&state, &member).await?;
    let data = SigninData {
        expiration_date: login.expiration_date.clone(),
        access_token: login.token.clone(),
    };
    Ok(login.respond(ApiResponse::data("로그인 성공", data)))
}

fn cleared(body: ApiResponse<()>) -> Response {
    ([(header::SET_COOKIE, clear_cookie())], body).into_response()
}

/// Ends the caller's session and clears the cookie.
#[utoipa::path(post, path = "/api/member/logout", tag = "auth",
    responses((status = 200, description = "`{message}`, cookie cleared", body = platform::http::openapi::MessageOnly)))]
pub(super) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, MemberError> {
    state.sessions.delete(&caller.sid).await?;
    Ok(cleared(ApiResponse::message("로그아웃 되었습니다")))
}

/// Ends every session of the caller and clears the cookie.
#[utoipa::path(post, path = "/api/member/logout/all", tag = "auth",
    responses((status = 200, description = "`{message}`, cookie cleared", body = platform::http::openapi::MessageOnly)))]
pub(super) async fn logout_all(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, MemberError> {
    state.sessions.delete_all(caller.member_id).await?;
    Ok(cleared(ApiResponse::message(
        "모든 기기에서 로그아웃 되었습니다",
    )))
}

/// Shared with withdrawal, which also clears the cookie.
pub(super) fn with_cleared_cookie(body: ApiResponse<()>) -> Response {
    cleared(body)
}

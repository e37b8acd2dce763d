//! Extractors whose rejections answer in the contract's error shape with the service's codes.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::app::ServiceCodes;
use super::error::ApiError;
use crate::id::{Id, IdKind, RawId};

/// A JSON body; malformed JSON, wrong types and a wrong content type answer 4xx in the error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// A query string; a missing or mistyped parameter answers 400 in the error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

/// Path parameters; a mistyped segment (e.g. a non-numeric id) answers 400 in the error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

fn codes(extensions: &axum::http::Extensions) -> ServiceCodes {
    extensions
        .get::<ServiceCodes>()
        .copied()
        .unwrap_or_default()
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let codes = codes(req.extensions());
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(codes, &rejection)),
        }
    }
}

fn json_rejection(codes: ServiceCodes, rejection: &JsonRejection) -> ApiError {
    tracing::debug!(rejection = %rejection.body_text(), "rejected JSON body");
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => codes.payload_too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes.bad_request,
            "Content-Type은 application/json 이어야 합니다",
        ),
        _ => match rejection {
            JsonRejection::JsonSyntaxError(_) => {
                codes.bad_request_with("요청 본문이 올바른 JSON 형식이 아닙니다")
            }
            _ => codes.bad_request_with("요청 값의 형식이 올바르지 않습니다"),
        },
    }
}

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let codes = codes(&parts.extensions);
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(codes, &rejection)),
        }
    }
}

fn query_rejection(codes: ServiceCodes, rejection: &QueryRejection) -> ApiError {
    let text = rejection.body_text();
    tracing::debug!(rejection = %text, "rejected query string");
    if text.contains("missing field") {
        codes.missing_parameter()
    } else {
        codes.bad_request_with("파라미터의 형식이 올바르지 않습니다")
    }
}

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let codes = codes(&parts.extensions);
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(codes, &rejection)),
        }
    }
}

/// A path whose one parameter is an id: not a signed 64-bit integer answers 400 in the error shape
/// (as [`Path`]); an integer no object can have answers as an unknown id of kind `K` (crate::id).
#[derive(Debug)]
pub struct PathId<K>(pub Id<K>);

impl<S, K> FromRequestParts<S> for PathId<K>
where
    S: Send + Sync,
    K: IdKind + Send,
    K::Error: IntoResponse,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<RawId>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        raw.parse::<K>()
            .map(Self)
            .map_err(IntoResponse::into_response)
    }
}

fn path_rejection(codes: ServiceCodes, rejection: &PathRejection) -> ApiError {
    tracing::debug!(rejection = %rejection.body_text(), "rejected path parameter");
    codes.bad_request_with("경로 파라미터의 형식이 올바르지 않습니다")
}

//! The one place where errors become HTTP: `application/problem+json` (RFC 7807).
//!
//! A 4xx says what to fix: its `detail` names the parameter and what is wrong, and `parameter` carries the
//! name for programs. A 5xx is logged with its cause and answered opaquely.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::domain::ParamError;
use crate::store::db::StoreError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or body field could not be accepted (400).
    #[error("{0}")]
    BadParam(#[from] ParamError),
    /// The request as a whole is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such collection, feature or page (404).
    #[error("{0}")]
    NotFound(String),
    /// The method is not allowed on this path (405).
    #[error("method {method} is not allowed here; allowed: {allowed}")]
    MethodNotAllowed {
        /// The method the client used.
        method: String,
        /// The methods the path accepts.
        allowed: &'static str,
    },
    /// No representation matches the `Accept` header (406).
    #[error("{0}")]
    NotAcceptable(String),
    /// The request body is larger than allowed (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The query string is longer than allowed (414).
    #[error("{0}")]
    UriTooLong(String),
    /// The client did not send its body within the request time limit (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// Too many expensive requests at once (429); retry after the given seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// What is busy.
        detail: String,
        /// Suggested wait.
        retry_after_secs: u32,
    },
    /// The server cannot answer this now (503), e.g. the request ran past the time limit.
    #[error("{detail}")]
    Unavailable {
        /// Why.
        detail: String,
        /// Suggested wait.
        retry_after_secs: u32,
    },
    /// The request body has a media type the endpoint does not take (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No or an unknown bearer token (401, with `WWW-Authenticate: Bearer`).
    #[error("{0}")]
    Unauthorized(String),
    /// The token may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The resource existed and was deleted (410); `latest` links to its last version.
    #[error("{detail}")]
    Gone {
        /// What was deleted, and when.
        detail: String,
        /// The URL of its last version.
        latest: String,
    },
    /// The id is already taken (409).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` does not match (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// `If-Match` is required and missing (428).
    #[error("{0}")]
    PreconditionRequired(String),
    /// The body is well-formed but breaks a rule of the data (422).
    #[error("{0}")]
    Unprocessable(String),
    /// Something failed inside the server (500); the cause is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 for `parameter`.
    pub fn param(parameter: &str, detail: impl Into<String>) -> Self {
        Self::BadParam(ParamError::new(parameter, detail))
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::BadParam(_) => "invalid-parameter",
            Self::BadRequest(_) => "bad-request",
            Self::NotFound(_) => "not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::NotAcceptable(_) => "not-acceptable",
            Self::PayloadTooLarge(_) => "payload-too-large",
            Self::UriTooLong(_) => "uri-too-long",
            Self::RequestTimeout(_) => "request-timeout",
            Self::TooManyRequests { .. } => "too-many-requests",
            Self::Unavailable { .. } => "unavailable",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Gone { .. } => "gone",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed(_) => "precondition-failed",
            Self::PreconditionRequired(_) => "precondition-required",
            Self::Unprocessable(_) => "invalid-feature",
            Self::Internal(_) => "internal-error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadParam(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Gone { .. } => StatusCode::GONE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut body = json!({
            "type": format!("urn:planatlas:problem:{}", self.slug()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
        });
        match self {
            Self::BadParam(e) => {
                body["detail"] = json!(format!("parameter `{}`: {}", e.parameter, e.detail));
                body["parameter"] = json!(e.parameter);
            }
            Self::Unprocessable(detail) => {
                body["detail"] = json!(detail);
                if let Some(p) = property_named(detail) {
                    body["property"] = json!(p);
                }
            }
            Self::Internal(cause) => {
                tracing::error!(cause = %cause, "internal error");
                body["detail"] = json!("the server failed to answer this request; the cause is logged");
            }
            other => body["detail"] = json!(other.to_string()),
        }
        let mut builder = HttpResponse::build(status);
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let Self::MethodNotAllowed { allowed, .. } = self {
            builder.insert_header((header::ALLOW, *allowed));
        }
        if let Self::Unauthorized(_) = self {
            builder.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"planatlas\""));
        }
        if let Self::Gone { latest, .. } = self {
            body["links"] = json!([{ "href": latest, "rel": "latest-version" }]);
            builder.insert_header((header::LINK, format!("<{latest}>; rel=\"latest-version\"")));
        }
        if let Self::TooManyRequests { retry_after_secs, .. } | Self::Unavailable { retry_after_secs, .. } =
            self
        {
            builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        builder.body(body.to_string())
    }
}

/// The property a 422's detail names first, as the validators write it (`investment_period: …`,
/// `milestones[0].actual is …`, after an optional `feature 'id': `), so a client can point at the field.
fn property_named(detail: &str) -> Option<&str> {
    let rest = match detail.strip_prefix("feature '") {
        Some(r) => r.split_once("': ")?.1,
        None => detail,
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_[].".contains(c)))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(end);
    let named = name.starts_with(|c: char| c.is_ascii_lowercase())
        && (after.starts_with(':') || after.starts_with(" is ") || after.starts_with(" must "));
    named.then_some(name)
}

/// The result type of every handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<StoreError> for ApiError {
    /// A store that cannot be reached is a 503 with `Retry-After` (the service answers reads from memory
    /// meanwhile); any other store failure is a 500.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { .. } => Self::Unavailable {
                detail: format!("{e}; writes and history are refused until it is back, reads go on"),
                retry_after_secs: 5,
            },
            other => Self::Internal(format!("store: {other}")),
        }
    }
}

//! Every error the API answers with, mapped to its HTTP status in one place. The body is a
//! one-line reason (text renderings) or `{"errors":[{"detail": ...}]}` (JSON); the whole
//! cause chain of a server-side failure goes to the log once, never to the client.
//!
//! A reason may quote what the client sent, so it is bounded and escaped on its way out:
//! the body keeps the reason's own line breaks (an inject error's caret) and escapes every
//! other control character; the log gets one escaped line, once per request. The request
//! logger (tracing-actix-web) writes an error's `Display` and its `Debug` twice more on
//! that line, so `Display` is the bounded line and `Debug` only says which error it is.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::auth::AuthError;
use crate::domain::text::{Escaped, bounded};
use crate::lifecycle::create::CreateError;
use crate::lifecycle::expiry::ExtendError;
use crate::lifecycle::health::RepairError;
use crate::lifecycle::scale::ScaleError;
use crate::lifecycle::templates::{DeleteTemplateError, SaveTemplateError};
use crate::openstack::keystone::KeystoneError;
use crate::providers::preflight::QuotaError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiErrorKind {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    /// Not an error for a person with a browser: go there first (the dashboard's
    /// sign-in page).
    #[error("see {0}")]
    SeeOther(String),
    /// The database is unreachable or too busy (`StoreError::is_unavailable`), as the
    /// cause shows, which only the log gets.
    #[error(
        "the database is unavailable (unreachable or too busy to answer); try again in a few \
         seconds (the server log has the details)"
    )]
    DatabaseUnavailable(#[source] anyhow::Error),
    #[error("internal error; the server log has the details")]
    Internal(#[source] anyhow::Error),
}

impl ApiErrorKind {
    /// The caller's to fix (4xx), rather than the server's or a peer's.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            ApiErrorKind::Unavailable(_)
                | ApiErrorKind::DatabaseUnavailable(_)
                | ApiErrorKind::Internal(_)
        )
    }

    /// A 503's `Retry-After`, in seconds: a database back from a restart or a lock
    /// released is a matter of seconds; a peer (Keystone, the cloud) or a full server
    /// is given longer.
    fn retry_after(&self) -> Option<&'static str> {
        match self {
            ApiErrorKind::DatabaseUnavailable(_) => Some("5"),
            ApiErrorKind::Unavailable(_) => Some("30"),
            _ => None,
        }
    }
}

/// The most of a reason an answer carries, in bytes. The reasons the service words are
/// far shorter; this bounds one that quotes a client's text at length.
const ANSWERED_BYTES: usize = 4096;

/// The most of a reason the log line of a refused request carries, in bytes.
const LOGGED_BYTES: usize = 1024;

/// An error of a request. Its body is text; on routes that negotiate a rendering
/// (`negotiate::Negotiation`), JSON when that was chosen.
pub struct ApiError {
    pub kind: ApiErrorKind,
}

/// The reason on one line, escaped and bounded: what the log shows of the error.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = self.kind.to_string();
        let line = Escaped {
            text: &reason,
            kept: &[],
        }
        .to_string();
        f.write_str(&bounded(&line, LOGGED_BYTES))
    }
}

/// Which error it is, without the reason, which `Display` has already given the log.
impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status_code().as_u16())
            .finish_non_exhaustive()
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

impl ApiError {
    pub fn bad_request(reason: impl Into<String>) -> ApiError {
        ApiErrorKind::BadRequest(reason.into()).into()
    }

    pub fn not_found(reason: impl Into<String>) -> ApiError {
        ApiErrorKind::NotFound(reason.into()).into()
    }

    /// A server-side failure: 500, or 503 when it came of the database being
    /// unavailable (a `StoreError` in its chain that `is_unavailable`), however the
    /// code between wrapped it.
    pub fn internal(error: impl Into<anyhow::Error>) -> ApiError {
        let error = error.into();
        let unavailable = error.chain().any(|cause| {
            cause
                .downcast_ref::<StoreError>()
                .is_some_and(StoreError::is_unavailable)
        });
        if unavailable {
            ApiErrorKind::DatabaseUnavailable(error).into()
        } else {
            ApiErrorKind::Internal(error).into()
        }
    }

    /// The reason as the client reads it: its own line breaks kept, anything else that
    /// would change how it is shown escaped, at most `ANSWERED_BYTES`.
    pub fn reason(&self) -> String {
        let reason = self.kind.to_string();
        let escaped = Escaped {
            text: &reason,
            kept: &['\n'],
        }
        .to_string();
        bounded(&escaped, ANSWERED_BYTES).into_owned()
    }

    /// The answer, its body in the JSON rendering or as a line of text. Logs nothing:
    /// `error_response` logs a server-side failure once.
    pub fn response(&self, json: bool) -> HttpResponse {
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        if let ApiErrorKind::SeeOther(location) = &self.kind {
            return response
                .insert_header((header::LOCATION, location.clone()))
                .finish();
        }
        if let Some(secs) = self.kind.retry_after() {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static(secs)));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Keystone uri=\"/v3\""),
            ));
        }
        if json {
            response.json(serde_json::json!({ "errors": [{ "detail": self.reason() }] }))
        } else {
            response
                .content_type("text/plain; charset=utf-8")
                .body(format!("{}\n", self.reason()))
        }
    }
}

impl From<ApiErrorKind> for ApiError {
    fn from(kind: ApiErrorKind) -> ApiError {
        ApiError { kind }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NameTaken(_)
            | StoreError::WrongState { .. }
            | StoreError::TemplateTaken(_)
            | StoreError::InUse { .. }
            | StoreError::UsedNotReady { .. } => ApiErrorKind::Conflict(error.to_string()).into(),
            // A 503 when the database is unavailable, else a 500.
            other => ApiError::internal(other),
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(error: CreateError) -> ApiError {
        match error {
            CreateError::Attributes(_)
            | CreateError::Spec(_)
            | CreateError::Lifetime(_)
            | CreateError::ProviderUnavailable { .. }
            | CreateError::Resolution(_)
            | CreateError::UnknownTemplate { .. }
            | CreateError::FixedWhenStaged(_)
            | CreateError::Unsupported(_)
            | CreateError::UsedApart { .. }
            | CreateError::UserDataTooBig { .. } => ApiError::bad_request(error.to_string()),
            CreateError::Quota(quota) => quota.into(),
            CreateError::WrongState(reason) => ApiErrorKind::Conflict(reason).into(),
            CreateError::DelegationUnavailable(reason) => ApiErrorKind::Unavailable(reason).into(),
            CreateError::DelegationRefused(reason) => ApiErrorKind::Forbidden(reason).into(),
            CreateError::NameTaken(reason) => ApiErrorKind::Conflict(reason).into(),
            CreateError::SoleTenant(_) | CreateError::UsedNotReady { .. } => {
                ApiErrorKind::Conflict(error.to_string()).into()
            }
            CreateError::UsedUnknown(_) => ApiErrorKind::NotFound(error.to_string()).into(),
            CreateError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

impl From<SaveTemplateError> for ApiError {
    fn from(error: SaveTemplateError) -> ApiError {
        match error {
            SaveTemplateError::Invalid(_) => ApiError::bad_request(error.to_string()),
            SaveTemplateError::Taken(reason) => ApiErrorKind::Conflict(reason).into(),
            SaveTemplateError::Store(store) => store.into(),
        }
    }
}

impl From<DeleteTemplateError> for ApiError {
    fn from(error: DeleteTemplateError) -> ApiError {
        match error {
            DeleteTemplateError::Operator(_) => ApiErrorKind::Forbidden(error.to_string()).into(),
            DeleteTemplateError::Store(store) => store.into(),
        }
    }
}

impl From<QuotaError> for ApiError {
    fn from(error: QuotaError) -> ApiError {
        match error {
            QuotaError::Short { .. } | QuotaError::Gone { .. } => {
                ApiErrorKind::Conflict(error.to_string()).into()
            }
            QuotaError::Missing { .. } => ApiError::bad_request(error.to_string()),
            QuotaError::Unavailable(_) => ApiErrorKind::Unavailable(error.to_string()).into(),
        }
    }
}

impl From<ScaleError> for ApiError {
    fn from(error: ScaleError) -> ApiError {
        match error {
            ScaleError::Attribute { .. } | ScaleError::Unsupported(_) => {
                ApiError::bad_request(error.to_string())
            }
            ScaleError::Quota(quota) => quota.into(),
            ScaleError::Store(store) => store.into(),
        }
    }
}

impl From<ExtendError> for ApiError {
    fn from(error: ExtendError) -> ApiError {
        match error {
            ExtendError::Lifetime(_) | ExtendError::Attribute { .. } => {
                ApiError::bad_request(error.to_string())
            }
            ExtendError::Store(store) => store.into(),
        }
    }
}

impl From<RepairError> for ApiError {
    fn from(error: RepairError) -> ApiError {
        match error {
            RepairError::Unsupported(_) => ApiError::bad_request(format!("action: {error}")),
            RepairError::NothingFailing(_) | RepairError::NoAgent(_) => {
                ApiErrorKind::Conflict(error.to_string()).into()
            }
            RepairError::Store(store) => store.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> ApiError {
        match error {
            AuthError::Malformed { .. } | AuthError::Tenant { .. } => {
                ApiError::bad_request(error.to_string())
            }
            AuthError::UnexpandedVariable { .. } | AuthError::Missing => {
                ApiErrorKind::Unauthorized(error.to_string()).into()
            }
            AuthError::Keystone(ref keystone) => match keystone {
                KeystoneError::Unauthorized(_) => {
                    ApiErrorKind::Unauthorized(error.to_string()).into()
                }
                KeystoneError::Forbidden(_) => ApiErrorKind::Forbidden(error.to_string()).into(),
                _ => ApiErrorKind::Unavailable(error.to_string()).into(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.kind {
            ApiErrorKind::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiErrorKind::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiErrorKind::NotFound(_) => StatusCode::NOT_FOUND,
            ApiErrorKind::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiErrorKind::Conflict(_) => StatusCode::CONFLICT,
            ApiErrorKind::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiErrorKind::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiErrorKind::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiErrorKind::Unavailable(_) | ApiErrorKind::DatabaseUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiErrorKind::SeeOther(_) => StatusCode::SEE_OTHER,
            ApiErrorKind::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // Refusals are logged by the request logger with their reason; a server-side
        // failure's cause chain is logged here, once, and never sent to the client.
        match &self.kind {
            ApiErrorKind::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            ApiErrorKind::DatabaseUnavailable(cause) => {
                tracing::error!(error = ?cause, "request failed: the database is unavailable")
            }
            _ => {}
        }
        self.response(false)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, HttpResponse, web};

    use super::*;
    use crate::store::testing::pool_timeout;

    /// A handler that reaches a store whose database is gone, as a handler's `?` does.
    async fn store_down() -> Result<HttpResponse, ApiError> {
        let error = tokio::task::spawn_blocking(pool_timeout)
            .await
            .expect("pool");
        Err(error)?
    }

    #[actix_web::test]
    async fn a_handler_on_an_unreachable_database_answers_503_with_retry_after() {
        let app = init_service(App::new().route("/", web::get().to(store_down))).await;
        let response = call_service(&app, TestRequest::get().uri("/").to_request()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(HeaderValue::as_bytes),
            Some(&b"5"[..])
        );
        let body = String::from_utf8(read_body(response).await.to_vec()).expect("UTF-8");
        assert!(body.starts_with("the database is unavailable"), "{body}");
        // Neither the URL (its password) nor the client's cause reaches the client.
        for hidden in ["s3cret-pw", "127.0.0.1", "timed out", "connect"] {
            assert!(!body.contains(hidden), "{body}");
        }
    }

    #[actix_web::test]
    async fn an_unavailable_database_in_json_says_so_and_a_wrapped_one_too() {
        let error: ApiError = tokio::task::spawn_blocking(pool_timeout)
            .await
            .expect("pool")
            .into();
        let response = error.response(true);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(HeaderValue::as_bytes),
            Some(&b"5"[..])
        );
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let detail = json["errors"][0]["detail"].as_str().expect("detail");
        assert!(
            detail.starts_with("the database is unavailable"),
            "{detail}"
        );
        assert!(!error.kind.is_client_error());

        // Through a lifecycle error, wrapped with context on the way.
        let store = tokio::task::spawn_blocking(pool_timeout)
            .await
            .expect("pool");
        let create: ApiError =
            CreateError::Internal(anyhow::Error::from(store).context("queueing the deploy")).into();
        assert_eq!(create.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn other_store_failures_stay_500_without_retry_after_and_peers_keep_30_s() {
        let error: ApiError = StoreError::NoRow("SELECT 1".into()).into();
        let response = error.response(false);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());

        let peer: ApiError = ApiErrorKind::Unavailable("Keystone is unreachable".into()).into();
        let response = peer.response(false);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(HeaderValue::as_bytes),
            Some(&b"30"[..])
        );
    }
}

//! The dashboard's CSRF protection, a double-submit token: a random value in an
//! HttpOnly, SameSite=Strict cookie, made on a browser's first page, that every form
//! must repeat.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use crate::api::error::{ApiError, ApiErrorKind};

const CSRF_COOKIE: &str = "disco_csrf";

/// The CSRF token of this browser, and the cookie to set when it is new.
pub(crate) fn csrf_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(cookie) = req.cookie(CSRF_COOKIE)
        && cookie.value().len() == 64
    {
        return (cookie.value().to_string(), None);
    }
    let token = crate::auth::tokens::random_token();
    let cookie = Cookie::build(CSRF_COOKIE, token.clone())
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

/// A form's token must be the cookie's.
pub(crate) fn check_csrf(req: &HttpRequest, form: &[(String, String)]) -> Result<(), ApiError> {
    let cookie = req.cookie(CSRF_COOKIE);
    let given = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    match (cookie, given) {
        (Some(cookie), Some(given)) if crate::auth::tokens::tokens_match(cookie.value(), given) => {
            Ok(())
        }
        _ => Err(ApiErrorKind::Forbidden(
            "csrf: the form's token does not match this browser's; reload the page and try again"
                .into(),
        )
        .into()),
    }
}

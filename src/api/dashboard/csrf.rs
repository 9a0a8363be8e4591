//! The dashboard's CSRF protection: a random nonce in an HttpOnly, SameSite=Strict
//! cookie, made on a browser's first page, and in every form a token that is the
//! HMAC-SHA256 of that nonce and the browser's session id under a key only this process
//! has. A form must carry the token of the cookie and the session it is sent with: a
//! cookie someone else planted, or a token of another session, does not pass, and
//! neither does an empty one.

use std::sync::LazyLock;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::session::session_id;
use crate::api::error::{ApiError, ApiErrorKind};
use crate::auth::tokens::{random_token, tokens_match};

const CSRF_COOKIE: &str = "disco_csrf";

/// What signs the tokens: new with every start of the process, so a form from before a
/// restart asks for a reload, as a session from before it does.
static KEY: LazyLock<String> = LazyLock::new(random_token);

/// A nonce or token as this module makes them: 64 hex digits.
fn well_formed(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The form token of `nonce` in the session `session`.
fn token_for(nonce: &str, session: Option<&str>) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).expect("HMAC takes any key");
    mac.update(nonce.as_bytes());
    mac.update(b"\0");
    mac.update(session.unwrap_or_default().as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The CSRF token for this browser's forms, and the cookie to set when its nonce is new.
pub(crate) fn csrf_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    let session = session_id(req);
    if let Some(cookie) = req.cookie(CSRF_COOKIE)
        && well_formed(cookie.value())
    {
        return (token_for(cookie.value(), session.as_deref()), None);
    }
    let nonce = random_token();
    let token = token_for(&nonce, session.as_deref());
    let cookie = Cookie::build(CSRF_COOKIE, nonce)
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

/// A form's token must be the one of the cookie's nonce and the session it comes with.
pub(crate) fn check_csrf(req: &HttpRequest, form: &[(String, String)]) -> Result<(), ApiError> {
    let nonce = req.cookie(CSRF_COOKIE);
    let given = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    match (nonce, given) {
        (Some(nonce), Some(given))
            if well_formed(nonce.value())
                && well_formed(given)
                && tokens_match(&token_for(nonce.value(), session_id(req).as_deref()), given) =>
        {
            Ok(())
        }
        _ => Err(ApiErrorKind::Forbidden(
            "csrf: the form's token does not match this browser's; reload the page and try again"
                .into(),
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn form(token: &str) -> Vec<(String, String)> {
        vec![("csrf".to_string(), token.to_string())]
    }

    #[test]
    fn a_form_passes_only_with_the_token_of_its_cookie_and_session() {
        let nonce = random_token();
        let with_nonce = || TestRequest::default().cookie(Cookie::new(CSRF_COOKIE, nonce.clone()));
        let (token, new_cookie) = csrf_token(&with_nonce().to_http_request());
        assert!(new_cookie.is_none(), "the browser's nonce is kept");
        assert!(check_csrf(&with_nonce().to_http_request(), &form(&token)).is_ok());
        // The nonce itself, as a plain double-submit check would take it, is refused.
        assert!(check_csrf(&with_nonce().to_http_request(), &form(&nonce)).is_err());
        // Another session's token is refused.
        let signed_in = with_nonce()
            .cookie(Cookie::new("disco_session", random_token()))
            .to_http_request();
        assert!(check_csrf(&signed_in, &form(&token)).is_err());
        // Empty values, as an attacker may plant them, never pass.
        let empty = TestRequest::default()
            .cookie(Cookie::new(CSRF_COOKIE, ""))
            .to_http_request();
        assert!(check_csrf(&empty, &form("")).is_err());
        assert!(check_csrf(&with_nonce().to_http_request(), &form("")).is_err());
        assert!(check_csrf(&TestRequest::default().to_http_request(), &form(&token)).is_err());
    }
}

//! Who a dashboard request comes from. With Keystone: the browser's sign-in session, an
//! opaque id in an HttpOnly, SameSite=Strict cookie standing for the user's token, which
//! stays on the server. Without authentication: the request itself, as on the REST
//! interface.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use crate::api::AppState;
use crate::api::error::{ApiError, ApiErrorKind};
use crate::auth::{Credentials, Identity};
use crate::config::AuthMode;

const SESSION_COOKIE: &str = "disco_session";

/// Signed-in browsers, with Keystone: the session id stands for the user's token. Kept
/// in memory: a restart signs everybody out.
#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

struct Session {
    token: secrecy::SecretString,
    user: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Sessions {
    fn open(
        &self,
        token: secrecy::SecretString,
        user: String,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> String {
        let id = crate::auth::tokens::random_token();
        let mut sessions = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let now = chrono::Utc::now();
        sessions.retain(|_, s| s.expires_at.is_none_or(|at| at > now));
        sessions.insert(
            id.clone(),
            Session {
                token,
                user,
                expires_at,
            },
        );
        id
    }

    fn token(&self, id: &str) -> Option<(secrecy::SecretString, String)> {
        let sessions = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let session = sessions.get(id)?;
        if session
            .expires_at
            .is_some_and(|at| at <= chrono::Utc::now())
        {
            return None;
        }
        Some((session.token.clone(), session.user.clone()))
    }

    fn close(&self, id: &str) {
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// Who is asking. With Keystone: the browser's session, validated with Keystone on each
/// request; without one, a 303 to the sign-in page.
pub(crate) async fn who(req: &HttpRequest, state: &AppState) -> Result<Identity, ApiError> {
    if state.settings.auth.mode == AuthMode::None {
        return state.identify(req).await;
    }
    let signed_in = req
        .cookie(SESSION_COOKIE)
        .and_then(|c| state.sessions.token(c.value()));
    let Some((token, _)) = signed_in else {
        return Err(ApiErrorKind::SeeOther("/dashboard/login".into()).into());
    };
    let credentials = Credentials {
        token: Some(token),
        ..Credentials::default()
    };
    match state.auth.authenticate(&credentials).await {
        Ok(identity) => Ok(identity),
        // Expired or revoked: sign in again.
        Err(crate::auth::AuthError::Keystone(_)) | Err(crate::auth::AuthError::Missing) => {
            Err(ApiErrorKind::SeeOther("/dashboard/login".into()).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The id of the browser's session, as its cookie carries it: `None` when it has none.
pub(crate) fn session_id(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

/// The signed-in user's name, for the page header: `None` without a session.
pub(crate) fn signed_in_user(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(SESSION_COOKIE)
        .and_then(|c| state.sessions.token(c.value()))
        .map(|(_, user)| user)
}

/// Opens a session for a token Keystone gave: the cookie that carries its id.
pub(crate) fn sign_in(
    state: &AppState,
    token: secrecy::SecretString,
    user: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Cookie<'static> {
    let session = state.sessions.open(token, user, expires_at);
    Cookie::build(SESSION_COOKIE, session)
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// Forgets the browser's session and its token: the cookie that removes its id.
pub(crate) fn sign_out(req: &HttpRequest, state: &AppState) -> Cookie<'static> {
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        state.sessions.close(cookie.value());
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    gone.make_removal();
    gone
}

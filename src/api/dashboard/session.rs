//! Who a dashboard request comes from. With Keystone: the browser's sign-in session, an
//! opaque id in an HttpOnly, SameSite=Strict cookie standing for the user's token, which
//! stays on the server. Without authentication: the request itself, as on the REST
//! interface.
//!
//! Sessions are kept in the store, so that every replica knows them and a restart signs
//! nobody out. The store holds neither the session's id nor anything that opens its
//! token: a row is found by a hash of the id, and the token is sealed
//! (ChaCha20-Poly1305) with a key derived from the id, which only the browser holds. A
//! copy of the database, or its backups, gives no one a user's token; nor does a key in
//! the configuration need keeping, rotating and sharing between the replicas.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::api::AppState;
use crate::api::error::{ApiError, ApiErrorKind};
use crate::auth::{Credentials, Identity};
use crate::config::AuthMode;
use crate::store::{Store, StoredSession};

const SESSION_COOKIE: &str = "disco_session";

/// A session id's two uses, each its own hash of it: where its row is, and the key
/// that seals its token.
fn derived(id: &str, purpose: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"disco dashboard session ");
    hash.update(purpose.as_bytes());
    hash.update(b"\0");
    hash.update(id.as_bytes());
    hash.finalize().into()
}

fn row_key(id: &str) -> String {
    derived(id, "row")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn cipher(id: &str) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(&derived(id, "seal")))
}

/// The token sealed for session `id`: a fresh nonce and the ciphertext, in base64,
/// bound to the session's row.
fn seal(id: &str, token: &SecretString) -> String {
    use rand_core::RngCore as _;
    let mut nonce = [0u8; 12];
    rand_core::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher(id)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: token.expose_secret().as_bytes(),
                aad: row_key(id).as_bytes(),
            },
        )
        .expect("sealing a token of any size");
    let mut bytes = nonce.to_vec();
    bytes.extend(sealed);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The token sealed for session `id`, if `sealed` is one (and not forged or sealed for
/// another session).
fn open(id: &str, sealed: &str) -> Option<SecretString> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(12);
    let token = cipher(id)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: row_key(id).as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(token).ok().map(SecretString::from)
}

/// The signed-in session `id` stands for, if any: its token and user. A store that
/// cannot be read is an error (503 when it is unreachable), not a sign-out.
async fn signed_in(store: &Store, id: &str) -> Result<Option<(SecretString, String)>, ApiError> {
    let Some(session) = store.session(row_key(id)).await? else {
        return Ok(None);
    };
    Ok(open(id, &session.sealed_token).map(|token| (token, session.user)))
}

/// Who is asking. With Keystone: the browser's session, validated with Keystone on each
/// request; without one, a 303 to the sign-in page.
pub(crate) async fn who(req: &HttpRequest, state: &AppState) -> Result<Identity, ApiError> {
    if state.settings.auth.mode == AuthMode::None {
        return state.identify(req).await;
    }
    let signed_in = match req.cookie(SESSION_COOKIE) {
        Some(cookie) => signed_in(&state.store, cookie.value()).await?,
        None => None,
    };
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

/// The signed-in user's name, for the page header: `None` without a session (or when
/// the store cannot say: the header then names nobody).
pub(crate) async fn signed_in_user(req: &HttpRequest, state: &AppState) -> Option<String> {
    let cookie = req.cookie(SESSION_COOKIE)?;
    signed_in(&state.store, cookie.value())
        .await
        .ok()
        .flatten()
        .map(|(_, user)| user)
}

/// Opens a session for a token Keystone gave: the cookie that carries its id.
pub(crate) async fn sign_in(
    state: &AppState,
    token: SecretString,
    user: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Cookie<'static>, ApiError> {
    let id = crate::auth::tokens::random_token();
    let session = StoredSession {
        user,
        sealed_token: seal(&id, &token),
        expires_at,
    };
    state.store.open_session(row_key(&id), session).await?;
    Ok(Cookie::build(SESSION_COOKIE, id)
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish())
}

/// Forgets the browser's session and its token: the cookie that removes its id.
pub(crate) async fn sign_out(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Cookie<'static>, ApiError> {
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        state.store.close_session(row_key(cookie.value())).await?;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    gone.make_removal();
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use secrecy::{ExposeSecret, SecretString};

    use super::{open, row_key, seal};

    #[test]
    fn a_sealed_token_opens_with_its_session_id_only() {
        let token = SecretString::from("gAAAAAB-keystone-token");
        let id = crate::auth::tokens::random_token();
        let sealed = seal(&id, &token);
        assert!(!sealed.contains("keystone"), "{sealed}");
        assert_eq!(
            open(&id, &sealed).map(|t| t.expose_secret().to_string()),
            Some("gAAAAAB-keystone-token".to_string())
        );
        let other = crate::auth::tokens::random_token();
        assert!(open(&other, &sealed).is_none(), "another session's id");
        assert!(open(&id, "not base64!").is_none());
        let mut forged =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sealed)
                .expect("base64");
        *forged.last_mut().expect("bytes") ^= 1;
        let forged = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, forged);
        assert!(open(&id, &forged).is_none(), "a changed byte");
        assert_ne!(seal(&id, &token), sealed, "a fresh nonce each time");
        // The row is found by a hash, not by the id the browser holds.
        assert!(!row_key(&id).contains(&id));
        assert_eq!(row_key(&id).len(), 64);
    }
}

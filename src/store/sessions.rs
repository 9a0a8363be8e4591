//! Dashboard sign-in sessions, in the store so that every replica knows them. A row is
//! found by a hash of the session's id and holds the user's Keystone token sealed: the
//! store never sees the id itself, nor the key that opens the token
//! (`api::dashboard::session` derives both from the id, which only the browser holds).

use chrono::{DateTime, Utc};

use super::db::params;
use super::rows::{parse_time, timestamp};
use super::{Store, StoreError};

/// A session as stored: whose, its token sealed, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub user: String,
    pub sealed_token: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Keeps a session under `id_hash`, and forgets those that have expired.
    pub async fn open_session(
        &self,
        id_hash: String,
        session: StoredSession,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let now = timestamp(Utc::now());
            tx.execute(
                "DELETE FROM dashboard_sessions WHERE expires_at <> '' AND expires_at <= ?1",
                params![now.clone()],
            )?;
            tx.execute(
                "INSERT INTO dashboard_sessions (id_hash, user_name, sealed_token, expires_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id_hash,
                    session.user,
                    session.sealed_token,
                    session.expires_at.map(timestamp).unwrap_or_default(),
                    now
                ],
            )?;
            tx.commit()
        })
        .await
    }

    /// The session under `id_hash`, unless it has expired.
    pub async fn session(&self, id_hash: String) -> Result<Option<StoredSession>, StoreError> {
        self.read(move |conn| {
            let found = conn.query_opt(
                "SELECT user_name, sealed_token, expires_at FROM dashboard_sessions WHERE id_hash = ?1",
                params![id_hash],
                |row| {
                    let expires: String = row.get(2)?;
                    Ok(StoredSession {
                        user: row.get(0)?,
                        sealed_token: row.get(1)?,
                        expires_at: (!expires.is_empty())
                            .then(|| parse_time(&expires))
                            .transpose()
                            .map_err(|problem| StoreError::Corrupt {
                                id: "a dashboard session".into(),
                                problem,
                            })?,
                    })
                },
            )?;
            Ok(found.filter(|s| s.expires_at.is_none_or(|at| at > Utc::now())))
        })
        .await
    }

    /// Forgets the session under `id_hash` (signed out).
    pub async fn close_session(&self, id_hash: String) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM dashboard_sessions WHERE id_hash = ?1",
                params![id_hash],
            )?;
            Ok(())
        })
        .await
    }
}

//! Where the store is (`store.url`): empty, SQLite in the data directory; a
//! `postgres://` URL, that PostgreSQL database. The URL's password is never shown: not in
//! its `Debug` or `Display`, nor in an error about it.

use std::fmt;

/// A PostgreSQL connection URL, checked when the configuration is read.
#[derive(Clone)]
pub struct PostgresUrl {
    config: std::sync::Arc<postgres::Config>,
    /// The URL with its password replaced by `***`: what logs and errors show.
    shown: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreUrlError {
    #[error(
        "expected empty (SQLite in the data directory) or a postgres:// URL such as \
         postgres://user:password@host:5432/disco, got {0}"
    )]
    Unsupported(String),
    #[error("the PostgreSQL URL {shown} is not usable: {why}")]
    Invalid { shown: String, why: String },
}

impl PostgresUrl {
    /// `text` as a PostgreSQL URL; `None` for an empty one (SQLite).
    pub fn parse_setting(text: &str) -> Result<Option<PostgresUrl>, StoreUrlError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        PostgresUrl::parse(text).map(Some)
    }

    pub fn parse(text: &str) -> Result<PostgresUrl, StoreUrlError> {
        let url = url::Url::parse(text)
            .map_err(|e| StoreUrlError::Unsupported(format!("text that is not a URL ({e})")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(StoreUrlError::Unsupported(format!(
                "a {}: URL",
                url.scheme()
            )));
        }
        let shown = redacted(&url);
        if url.host_str().is_none_or(str::is_empty) {
            return Err(StoreUrlError::Invalid {
                shown,
                why: "it names no host".to_string(),
            });
        }
        if url.path().trim_start_matches('/').is_empty() {
            return Err(StoreUrlError::Invalid {
                shown,
                why: "it names no database (postgres://…/DATABASE)".to_string(),
            });
        }
        // The client's own parser reads the rest (its query options); its message may
        // quote the text, so only whether it failed is passed on.
        let config: postgres::Config = text.parse().map_err(|_| StoreUrlError::Invalid {
            shown: shown.clone(),
            why: "the PostgreSQL client cannot read its options".to_string(),
        })?;
        // The client is built without TLS: a URL that demands it would fail at every
        // connection; better at start, saying so.
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(StoreUrlError::Invalid {
                shown,
                why: "DISCO connects to PostgreSQL without TLS so far: sslmode=require cannot \
                      be met (reach the server over loopback, a Unix socket or a private \
                      network, with sslmode=disable or prefer)"
                    .to_string(),
            });
        }
        Ok(PostgresUrl {
            config: std::sync::Arc::new(config),
            shown,
        })
    }

    pub(crate) fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The same server with another database (tests and `migrate-store` use it).
    pub fn with_database(&self, name: &str) -> PostgresUrl {
        let mut config = (*self.config).clone();
        config.dbname(name);
        let mut url = url::Url::parse(&self.shown).expect("shown is a URL");
        url.set_path(name);
        PostgresUrl {
            config: std::sync::Arc::new(config),
            shown: url.to_string(),
        }
    }
}

/// The URL as logs and errors show it: a password in the user part, or given as a
/// `password` query parameter (the PostgreSQL client takes both), as `***`.
fn redacted(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    if shown
        .query_pairs()
        .any(|(key, _)| key.eq_ignore_ascii_case("password"))
    {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(key, value)| {
                let value = if key.eq_ignore_ascii_case("password") {
                    "***".to_string()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({})", self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::{PostgresUrl, StoreUrlError};

    const SECRET: &str = "s3cr3t-Pw";

    #[test]
    fn an_empty_url_is_sqlite_and_a_postgres_one_is_read_with_its_password_hidden() {
        assert!(PostgresUrl::parse_setting("  ").expect("empty").is_none());
        let url =
            PostgresUrl::parse_setting(&format!("postgres://disco:{SECRET}@db.example:6543/disco"))
                .expect("parsed")
                .expect("postgres");
        assert_eq!(
            url.to_string(),
            "postgres://disco:***@db.example:6543/disco"
        );
        assert!(!format!("{url:?}").contains(SECRET));
        assert_eq!(url.config().get_ports(), &[6543]);
        assert_eq!(url.config().get_dbname(), Some("disco"));
        assert_eq!(url.config().get_password(), Some(SECRET.as_bytes()));
    }

    #[test]
    fn a_password_given_as_a_query_parameter_is_hidden_too() {
        let url = PostgresUrl::parse_setting(&format!(
            "postgres://disco@db.example/disco?application_name=d&password={SECRET}"
        ))
        .expect("parsed")
        .expect("postgres");
        assert_eq!(
            url.to_string(),
            "postgres://disco@db.example/disco?application_name=d&password=***"
        );
        assert!(!format!("{url:?}").contains(SECRET));
        assert_eq!(url.config().get_password(), Some(SECRET.as_bytes()));
        let err = PostgresUrl::parse(&format!(
            "postgres://disco@db.example/disco?password={SECRET}&sslmode=sometimes"
        ))
        .expect_err("a bad sslmode");
        assert!(!err.to_string().contains(SECRET), "{err}");
    }

    #[test]
    fn a_bad_url_is_an_error_that_says_what_was_expected_and_never_shows_the_password() {
        for text in [
            format!("mysql://disco:{SECRET}@db/disco"),
            format!("postgres://disco:{SECRET}@/disco"),
            format!("postgres://disco:{SECRET}@db.example"),
            format!("postgres://disco:{SECRET}@db.example/disco?sslmode=sometimes"),
            format!("postgres://disco:{SECRET}@db.example/disco?sslmode=require"),
            format!("disco:{SECRET}@db.example/disco"),
        ] {
            let err = PostgresUrl::parse(&text).expect_err(&text);
            let shown = err.to_string();
            assert!(!shown.contains(SECRET), "{shown}");
            match err {
                StoreUrlError::Unsupported(_) => assert!(shown.contains("postgres://"), "{shown}"),
                StoreUrlError::Invalid { .. } => {
                    assert!(shown.contains("disco:***@"), "{shown}")
                }
            }
        }
    }
}

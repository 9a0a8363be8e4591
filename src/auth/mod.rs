//! Who is calling: the credentials a request carries (the original's X-Auth-Token,
//! X-User-Name, X-Password, X-Tenant-Name, X-Region-Name headers) and the authenticator
//! that turns them into an identity whose tenant owns clusters.

pub mod tokens;

use std::fmt;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::TenantId;
use crate::domain::ids::TenantError;
use crate::openstack::keystone::{Keystone, KeystoneError, PasswordAuth, Token, UserRef};

/// A request's credentials, as sent. Secrets stay wrapped so that they cannot be
/// formatted into a log line by accident.
#[derive(Default)]
pub struct Credentials {
    pub token: Option<SecretString>,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub tenant: Option<String>,
    pub region: Option<String>,
    /// A credential header that was sent but cannot be read as one value (not UTF-8,
    /// or sent more than once). Every authenticator refuses the request with it, rather
    /// than going on as though the header were absent, or the first one the only one.
    pub malformed: Option<MalformedHeader>,
}

/// A credential header that cannot be read, and what it should have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedHeader {
    pub header: &'static str,
    pub expected: &'static str,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("tenant", &self.tenant)
            .field("region", &self.region)
            .field("malformed", &self.malformed)
            .finish()
    }
}

/// The caller, once authenticated.
#[derive(Debug, Clone)]
pub struct Identity {
    pub tenant: TenantId,
    pub user: Option<String>,
    /// With Keystone: the caller's token, with which a provider can make the credential
    /// it acts with later.
    pub token: Option<Token>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "{header} is the literal text {variable:?}: the shell did not expand it \
         (it was inside single quotes); use double quotes or put the value itself"
    )]
    UnexpandedVariable {
        header: &'static str,
        variable: String,
    },
    #[error("{header}: expected {expected}")]
    Malformed {
        header: &'static str,
        expected: &'static str,
    },
    #[error(
        "{header}: expected printable text of at most 255 characters, without spaces at either \
         end; this one {reason}"
    )]
    Tenant {
        header: &'static str,
        reason: TenantError,
    },
    #[error("no credentials: send X-Auth-Token, or X-User-Name, X-Password and X-Tenant-Name")]
    Missing,
    #[error("{0}")]
    Keystone(#[from] KeystoneError),
}

#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Who well-formed credentials stand for.
    async fn identify(&self, credentials: &Credentials) -> Result<Identity, AuthError>;

    /// Who the credentials stand for; a malformed credential header is refused first,
    /// whichever authenticator it is.
    async fn authenticate(&self, credentials: &Credentials) -> Result<Identity, AuthError> {
        if let Some(MalformedHeader { header, expected }) = credentials.malformed {
            return Err(AuthError::Malformed { header, expected });
        }
        self.identify(credentials).await
    }
}

/// Auth mode `none`: no authentication, for one user on one machine. The tenant is the
/// X-Tenant-Name header, or "default".
pub struct NoAuth;

#[async_trait]
impl Authenticator for NoAuth {
    async fn identify(&self, credentials: &Credentials) -> Result<Identity, AuthError> {
        let tenant = match credentials.tenant.as_deref() {
            None | Some("") => TenantId::default_tenant(),
            // The original's curl commands single-quote this header, so it arrives as
            // `$OS_TENANT_NAME`. With no authentication it is only a label; treating it as
            // absent keeps those commands working as written.
            Some(value) if unexpanded_variable(value).is_some() => {
                tracing::warn!(
                    "X-Tenant-Name is the literal {value:?} (unexpanded shell variable); using tenant \"default\""
                );
                TenantId::default_tenant()
            }
            Some(value) => TenantId::parse(value).map_err(|reason| AuthError::Tenant {
                header: "X-Tenant-Name",
                reason,
            })?,
        };
        Ok(Identity {
            tenant,
            user: credentials.user.clone(),
            token: None,
        })
    }
}

/// Auth mode `keystone`: the caller's token is validated with Keystone, or their user,
/// password and project are exchanged for one; the tenant is the Keystone project's id.
pub struct KeystoneAuth {
    keystone: Keystone,
    user_domain: String,
    project_domain: String,
}

impl KeystoneAuth {
    pub fn new(keystone: Keystone, user_domain: &str, project_domain: &str) -> KeystoneAuth {
        KeystoneAuth {
            keystone,
            user_domain: user_domain.to_string(),
            project_domain: project_domain.to_string(),
        }
    }
}

#[async_trait]
impl Authenticator for KeystoneAuth {
    async fn identify(&self, credentials: &Credentials) -> Result<Identity, AuthError> {
        let token = match (&credentials.token, &credentials.password) {
            (Some(token), _) => {
                usable_secret("X-Auth-Token", token)?;
                self.keystone.validate(token).await?
            }
            (None, Some(password)) => {
                let user = usable_text("X-User-Name", credentials.user.as_deref())?;
                let project = usable_text("X-Tenant-Name", credentials.tenant.as_deref())?;
                let password = usable_secret("X-Password", password)?;
                self.keystone
                    .password(&PasswordAuth {
                        user: UserRef {
                            name: user.to_string(),
                            domain: self.user_domain.clone(),
                        },
                        password: SecretString::from(password),
                        project: project.to_string(),
                        project_domain: self.project_domain.clone(),
                    })
                    .await?
            }
            (None, None) => return Err(AuthError::Missing),
        };
        Ok(Identity {
            tenant: TenantId::parse(&token.project_id).map_err(|_| AuthError::Malformed {
                header: "X-Auth-Token",
                expected: "a token scoped to a project",
            })?,
            user: Some(token.user_name.clone()),
            token: Some(token),
        })
    }
}

/// A header that is about to be used as a credential: present, and not a literal
/// unexpanded shell variable.
fn usable_text<'a>(header: &'static str, value: Option<&'a str>) -> Result<&'a str, AuthError> {
    let value = value.ok_or(AuthError::Missing)?;
    match unexpanded_variable(value) {
        Some(_) => Err(AuthError::UnexpandedVariable {
            header,
            variable: value.trim().to_string(),
        }),
        None => Ok(value),
    }
}

/// The variable's name when `value` is a shell variable reference that was never expanded:
/// `$OS_PASSWORD` or `${OS_PASSWORD}`.
pub fn unexpanded_variable(value: &str) -> Option<&str> {
    let rest = value.trim().strip_prefix('$')?;
    let name = match rest.strip_prefix('{') {
        Some(braced) => braced.strip_suffix('}')?,
        None => rest,
    };
    let mut chars = name.chars();
    let starts_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    (starts_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(name)
}

/// A secret that is about to be used as a credential, refused when it is a literal
/// unexpanded shell variable (which would otherwise fail later with a puzzling 401).
pub fn usable_secret<'a>(
    header: &'static str,
    secret: &'a SecretString,
) -> Result<&'a str, AuthError> {
    let value = secret.expose_secret();
    match unexpanded_variable(value) {
        Some(_) => Err(AuthError::UnexpandedVariable {
            header,
            variable: value.trim().to_string(),
        }),
        None => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_variables_are_recognised_and_values_are_not() {
        assert_eq!(unexpanded_variable("$OS_PASSWORD"), Some("OS_PASSWORD"));
        assert_eq!(unexpanded_variable("${OS_PASSWORD}"), Some("OS_PASSWORD"));
        assert_eq!(unexpanded_variable("pa$$word"), None);
        assert_eq!(unexpanded_variable("$"), None);
        assert_eq!(unexpanded_variable("$1abc"), None);
        assert_eq!(unexpanded_variable("${OS_PASSWORD"), None);
    }

    #[test]
    fn an_unexpanded_password_is_refused_with_an_explanation() {
        let secret = SecretString::from("$OS_PASSWORD");
        let err = usable_secret("X-Password", &secret).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.starts_with("X-Password is the literal text \"$OS_PASSWORD\""),
            "{text}"
        );
        assert!(text.contains("single quotes"), "{text}");
        let real = SecretString::from("s3cret");
        assert_eq!(
            usable_secret("X-Password", &real).expect("usable"),
            "s3cret"
        );
    }

    #[tokio::test]
    async fn no_auth_takes_the_tenant_header_and_ignores_an_unexpanded_one() {
        let named = Credentials {
            tenant: Some("physics".into()),
            ..Credentials::default()
        };
        assert_eq!(
            NoAuth
                .authenticate(&named)
                .await
                .expect("ok")
                .tenant
                .as_str(),
            "physics"
        );
        let literal = Credentials {
            tenant: Some("$OS_TENANT_NAME".into()),
            ..Credentials::default()
        };
        assert_eq!(
            NoAuth
                .authenticate(&literal)
                .await
                .expect("ok")
                .tenant
                .as_str(),
            "default"
        );
        assert_eq!(
            NoAuth
                .authenticate(&Credentials::default())
                .await
                .expect("ok")
                .tenant
                .as_str(),
            "default"
        );
    }

    #[tokio::test]
    async fn a_malformed_or_padded_tenant_header_is_refused_not_taken_as_another() {
        let malformed = Credentials {
            tenant: None,
            malformed: Some(MalformedHeader {
                header: "X-Tenant-Name",
                expected: "UTF-8 text",
            }),
            ..Credentials::default()
        };
        let err = NoAuth.authenticate(&malformed).await.expect_err("refused");
        assert_eq!(err.to_string(), "X-Tenant-Name: expected UTF-8 text");
        let padded = Credentials {
            tenant: Some("physics\u{a0}".into()),
            ..Credentials::default()
        };
        let err = NoAuth.authenticate(&padded).await.expect_err("refused");
        assert!(
            err.to_string()
                .ends_with("begins or ends with a space character"),
            "{err}"
        );
    }

    #[test]
    fn credentials_debug_never_shows_secrets() {
        let creds = Credentials {
            token: Some("tok-123".into()),
            password: Some("hunter2".into()),
            ..Credentials::default()
        };
        let debug = format!("{creds:?}");
        assert!(
            !debug.contains("tok-123") && !debug.contains("hunter2"),
            "{debug}"
        );
    }
}

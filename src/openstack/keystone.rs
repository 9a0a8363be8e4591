//! Keystone v3: tokens (password, application credential), token validation, and
//! application credentials, which let DISCO act for a user long after the request that
//! created a cluster, without keeping the user's password.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

/// Where Keystone is and how long a call may take.
#[derive(Clone)]
pub struct Keystone {
    http: reqwest::Client,
    /// `.../v3`, without a trailing slash.
    auth_url: String,
}

/// A user's or the service's identity in a domain.
#[derive(Debug, Clone)]
pub struct UserRef {
    pub name: String,
    pub domain: String,
}

/// Password credentials scoped to a project.
#[derive(Clone)]
pub struct PasswordAuth {
    pub user: UserRef,
    pub password: SecretString,
    pub project: String,
    pub project_domain: String,
}

/// An issued token and what Keystone said about it.
#[derive(Clone)]
pub struct Token {
    pub id: SecretString,
    pub user_id: String,
    pub user_name: String,
    pub project_id: String,
    pub project_name: String,
    pub roles: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    catalog: Vec<CatalogEntry>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &"[REDACTED]")
            .field("user_name", &self.user_name)
            .field("project_name", &self.project_name)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
struct CatalogEntry {
    #[serde(rename = "type")]
    kind: String,
    endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Deserialize)]
struct Endpoint {
    interface: String,
    #[serde(default)]
    region_id: Option<String>,
    #[serde(default)]
    region: Option<String>,
    url: String,
}

impl Token {
    /// The URL of a service from the token's catalog.
    pub fn endpoint(
        &self,
        service_type: &str,
        interface: &str,
        region: Option<&str>,
    ) -> Option<String> {
        self.catalog
            .iter()
            .filter(|entry| entry.kind == service_type)
            .flat_map(|entry| &entry.endpoints)
            .find(|e| {
                e.interface == interface
                    && region.is_none_or(|r| {
                        e.region_id.as_deref() == Some(r) || e.region.as_deref() == Some(r)
                    })
            })
            .map(|e| e.url.trim_end_matches('/').to_string())
    }

    /// Whether the token will still be valid `margin` from now.
    pub fn fresh_for(&self, margin: Duration) -> bool {
        let margin = chrono::Duration::from_std(margin).unwrap_or_default();
        self.expires_at.is_none_or(|at| at > Utc::now() + margin)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum KeystoneError {
    /// Keystone refused the credentials; the message is Keystone's.
    #[error("Keystone refused the credentials: {0}")]
    Unauthorized(String),
    #[error("Keystone refused: {0}")]
    Forbidden(String),
    #[error("Keystone is unreachable: {0}")]
    Unreachable(String),
    #[error("Keystone answered {status}: {message}")]
    Unexpected { status: u16, message: String },
}

impl KeystoneError {
    /// Worth another attempt later.
    pub fn is_transient(&self) -> bool {
        match self {
            KeystoneError::Unreachable(_) => true,
            KeystoneError::Unexpected { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    user: Named,
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    roles: Vec<Named>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    catalog: Vec<CatalogEntry>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    #[serde(default)]
    name: String,
}

impl Keystone {
    pub fn new(auth_url: &url::Url, timeout: Duration) -> Result<Keystone, KeystoneError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| KeystoneError::Unreachable(e.to_string()))?;
        Ok(Keystone {
            http,
            auth_url: auth_url.as_str().trim_end_matches('/').to_string(),
        })
    }

    pub fn auth_url(&self) -> &str {
        &self.auth_url
    }

    /// A project-scoped token for a user and password.
    pub async fn password(&self, auth: &PasswordAuth) -> Result<Token, KeystoneError> {
        self.issue(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": auth.user.name,
                "domain": {"name": auth.user.domain},
                "password": auth.password.expose_secret(),
            }}},
            "scope": {"project": {"name": auth.project, "domain": {"name": auth.project_domain}}},
        }}))
        .await
    }

    /// A token for an application credential (scoped to the project it was made in).
    pub async fn application_credential(
        &self,
        id: &str,
        secret: &SecretString,
    ) -> Result<Token, KeystoneError> {
        self.issue(json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": id, "secret": secret.expose_secret()},
        }}}))
        .await
    }

    /// What Keystone says of a token a caller presented (a token may validate itself).
    pub async fn validate(&self, token: &SecretString) -> Result<Token, KeystoneError> {
        let response = self
            .http
            .get(format!("{}/auth/tokens", self.auth_url))
            .header("X-Auth-Token", token.expose_secret())
            .header("X-Subject-Token", token.expose_secret())
            .send()
            .await
            .map_err(unreachable)?;
        let response = check(response).await?;
        let body: TokenBody = response.json().await.map_err(undecodable)?;
        into_token(token.clone(), body.token)
    }

    /// Makes an application credential for the token's user on its project: its tokens
    /// are ordinary project tokens, with which Heat can create its own trust. It must be
    /// unrestricted for that (a restricted one may not create trusts).
    pub async fn create_application_credential(
        &self,
        owner: &Token,
        name: &str,
        description: &str,
    ) -> Result<(String, SecretString), KeystoneError> {
        let response = self
            .http
            .post(format!(
                "{}/users/{}/application_credentials",
                self.auth_url, owner.user_id
            ))
            .header("X-Auth-Token", owner.id.expose_secret())
            // The roles are named: left out, Keystone takes them from the request token,
            // and a token Heat has already made a trust from can come back with roles the
            // user was never assigned (seen with Keystone 30).
            .json(&json!({"application_credential": {
                "name": name,
                "description": description,
                "unrestricted": true,
                "roles": owner.roles.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
            }}))
            .send()
            .await
            .map_err(unreachable)?;
        let response = check(response).await?;
        let body: Value = response.json().await.map_err(undecodable)?;
        let credential = &body["application_credential"];
        match (credential["id"].as_str(), credential["secret"].as_str()) {
            (Some(id), Some(secret)) => Ok((id.to_string(), SecretString::from(secret))),
            _ => Err(undecodable(
                "no application credential in Keystone's answer",
            )),
        }
    }

    /// Removes an application credential; one already gone counts as removed.
    pub async fn delete_application_credential(
        &self,
        token: &Token,
        user_id: &str,
        id: &str,
    ) -> Result<(), KeystoneError> {
        let response = self
            .http
            .delete(format!(
                "{}/users/{user_id}/application_credentials/{id}",
                self.auth_url
            ))
            .header("X-Auth-Token", token.id.expose_secret())
            .send()
            .await
            .map_err(unreachable)?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        check(response).await.map(|_| ())
    }

    async fn issue(&self, body: Value) -> Result<Token, KeystoneError> {
        let response = self
            .http
            .post(format!("{}/auth/tokens", self.auth_url))
            .json(&body)
            .send()
            .await
            .map_err(unreachable)?;
        let response = check(response).await?;
        let id = response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(SecretString::from)
            .ok_or_else(|| undecodable("no X-Subject-Token in Keystone's answer"))?;
        let body: TokenBody = response.json().await.map_err(undecodable)?;
        into_token(id, body.token)
    }
}

#[cfg(test)]
impl Token {
    /// A token of project `project` with `catalog` (Keystone's JSON), for stand-ins.
    pub(crate) fn for_catalog(project: &str, catalog: serde_json::Value) -> Token {
        Token {
            id: SecretString::from("t0ken"),
            user_id: "u1".into(),
            user_name: "user".into(),
            project_id: project.into(),
            project_name: project.into(),
            roles: vec!["member".into()],
            expires_at: None,
            catalog: serde_json::from_value(catalog).expect("a catalog"),
        }
    }
}

fn into_token(id: SecretString, info: TokenInfo) -> Result<Token, KeystoneError> {
    let project = info
        .project
        .ok_or_else(|| KeystoneError::Forbidden("the token is not scoped to a project".into()))?;
    Ok(Token {
        id,
        user_id: info.user.id,
        user_name: info.user.name,
        project_id: project.id,
        project_name: project.name,
        roles: info.roles.into_iter().map(|r| r.name).collect(),
        expires_at: info
            .expires_at
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.with_timezone(&Utc)),
        catalog: info.catalog,
    })
}

/// A successful answer, or Keystone's own words about why not.
async fn check(response: reqwest::Response) -> Result<reqwest::Response, KeystoneError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let message = super::error_message(&text);
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND => KeystoneError::Unauthorized(message),
        StatusCode::FORBIDDEN => KeystoneError::Forbidden(message),
        _ => KeystoneError::Unexpected {
            status: status.as_u16(),
            message,
        },
    })
}

fn unreachable(error: reqwest::Error) -> KeystoneError {
    KeystoneError::Unreachable(error.without_url().to_string())
}

fn undecodable(error: impl std::fmt::Display) -> KeystoneError {
    KeystoneError::Unexpected {
        status: 200,
        message: format!("an answer DISCO cannot read: {error}"),
    }
}

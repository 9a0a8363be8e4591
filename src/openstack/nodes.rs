//! What a cluster's nodes can be made of, as the user's own token sees it: the active
//! images in Glance (v2) and the flavors in Nova (v2.1), each listed from the endpoint
//! in the token's catalog, following pagination. For the dashboard's create form.

use std::time::Duration;

use reqwest::Url;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keystone::Token;
use crate::config::OpenstackSettings;

/// At most this many pages are followed: a form cannot offer more anyway.
const MAX_PAGES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub id: String,
    pub name: String,
    /// The smallest root disk (GB) and memory (MB) the image boots with; 0 when unsaid.
    pub min_disk_gb: u64,
    pub min_ram_mb: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u64,
    pub ram_mb: u64,
    pub disk_gb: u64,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ListError {
    #[error("the project's catalog has no {interface} {service} endpoint{}", region_note(.region))]
    NoEndpoint {
        service: &'static str,
        interface: String,
        region: Option<String>,
    },
    #[error("{service} is unavailable: {reason}")]
    Unavailable {
        service: &'static str,
        reason: String,
    },
    #[error("{service} refused the listing ({status}): {message}")]
    Refused {
        service: &'static str,
        status: u16,
        message: String,
    },
}

fn region_note(region: &Option<String>) -> String {
    region
        .as_deref()
        .map(|r| format!(" in region {r}"))
        .unwrap_or_default()
}

/// The images and the flavors, each listed or the reason it could not be.
#[derive(Debug, Clone)]
pub struct NodeChoices {
    pub images: Result<Vec<Image>, ListError>,
    pub flavors: Result<Vec<Flavor>, ListError>,
}

/// Lists both at once, each within `settings.request_timeout_secs`.
pub async fn choices(token: &Token, settings: &OpenstackSettings) -> NodeChoices {
    let lister = match Lister::new(token, settings) {
        Ok(lister) => lister,
        Err(reason) => {
            let failed = |service| ListError::Unavailable {
                service,
                reason: reason.clone(),
            };
            return NodeChoices {
                images: Err(failed(GLANCE)),
                flavors: Err(failed(NOVA)),
            };
        }
    };
    let (images, flavors) = tokio::join!(lister.images(), lister.flavors());
    NodeChoices { images, flavors }
}

const GLANCE: &str = "Glance (images)";
const NOVA: &str = "Nova (flavors)";

/// GETs with the user's token from the endpoints of its catalog (also the quota check's).
pub(crate) struct Lister<'a> {
    http: reqwest::Client,
    token: &'a Token,
    settings: &'a OpenstackSettings,
}

impl<'a> Lister<'a> {
    /// Each call within `settings.request_timeout_secs`; the error is why no client.
    pub(crate) fn new(
        token: &'a Token,
        settings: &'a OpenstackSettings,
    ) -> Result<Lister<'a>, String> {
        let timeout = Duration::from_secs(settings.request_timeout_secs.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Lister {
            http,
            token,
            settings,
        })
    }

    /// The endpoint of the catalog's service of type `kind`, with a trailing slash.
    pub(crate) fn endpoint(&self, service: &'static str, kind: &str) -> Result<Url, ListError> {
        let no_endpoint = || ListError::NoEndpoint {
            service,
            interface: self.settings.interface.clone(),
            region: self.settings.region().map(str::to_string),
        };
        let url = self
            .token
            .endpoint(kind, &self.settings.interface, self.settings.region())
            .ok_or_else(no_endpoint)?;
        // A trailing slash, so that relative paths extend the endpoint's own path.
        Url::parse(&format!("{url}/")).map_err(|_| no_endpoint())
    }

    /// Active images the project may use, by name.
    pub(crate) async fn images(&self) -> Result<Vec<Image>, ListError> {
        // Glance's catalog entry is usually unversioned (http://host:9292, or a path
        // such as http://host/image); some clouds include /v2. Its `next` links are
        // paths from that root: /v2/images?marker=...
        let mut root = self.endpoint(GLANCE, "image")?;
        if root.path().ends_with("/v2/") {
            root = join(&root, "..", GLANCE)?;
        }
        let mut url = join(
            &root,
            "v2/images?status=active&sort=name:asc&limit=200",
            GLANCE,
        )?;
        let mut images = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.get(GLANCE, url.clone()).await?;
            #[derive(Deserialize)]
            struct Listed {
                id: String,
                #[serde(default)]
                name: Option<String>,
                #[serde(default)]
                min_disk: Option<u64>,
                #[serde(default)]
                min_ram: Option<u64>,
            }
            let listed: Vec<Listed> = serde_json::from_value(page["images"].clone())
                .map_err(|e| undecodable(GLANCE, e))?;
            images.extend(listed.into_iter().map(|i| {
                Image {
                    name: i
                        .name
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| i.id.clone()),
                    id: i.id,
                    min_disk_gb: i.min_disk.unwrap_or(0),
                    min_ram_mb: i.min_ram.unwrap_or(0),
                }
            }));
            match page["next"].as_str() {
                Some(next) => url = join(&root, next.trim_start_matches('/'), GLANCE)?,
                None => break,
            }
        }
        images.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(images)
    }

    /// The flavors the project may use, smallest first.
    pub(crate) async fn flavors(&self) -> Result<Vec<Flavor>, ListError> {
        let endpoint = self.endpoint(NOVA, "compute")?;
        let mut url = join(&endpoint, "flavors/detail", NOVA)?;
        let mut flavors = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.get(NOVA, url.clone()).await?;
            #[derive(Deserialize)]
            struct Listed {
                id: String,
                name: String,
                vcpus: u64,
                ram: u64,
                disk: u64,
            }
            let listed: Vec<Listed> = serde_json::from_value(page["flavors"].clone())
                .map_err(|e| undecodable(NOVA, e))?;
            flavors.extend(listed.into_iter().map(|f| Flavor {
                id: f.id,
                name: f.name,
                vcpus: f.vcpus,
                ram_mb: f.ram,
                disk_gb: f.disk,
            }));
            // Nova's next page is an absolute link among `flavors_links`, named as Nova
            // sees itself (behind a proxy: another scheme or host). Only its path and
            // query are taken, on the catalog's endpoint: the token goes nowhere else.
            let next = page["flavors_links"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["rel"] == "next")
                .and_then(|l| l["href"].as_str());
            match next {
                Some(next) => url = same_origin(&endpoint, next, NOVA)?,
                None => break,
            }
        }
        flavors.sort_by(|a, b| {
            (a.vcpus, a.ram_mb, a.disk_gb, &a.name).cmp(&(b.vcpus, b.ram_mb, b.disk_gb, &b.name))
        });
        Ok(flavors)
    }

    pub(crate) async fn get(&self, service: &'static str, url: Url) -> Result<Value, ListError> {
        let response = self
            .http
            .get(url)
            .header("X-Auth-Token", self.token.id.expose_secret())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| ListError::Unavailable {
                service,
                reason: e.without_url().to_string(),
            })?;
        let status = response.status();
        if status.is_server_error() {
            return Err(ListError::Unavailable {
                service,
                reason: format!("answered {status}"),
            });
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(ListError::Refused {
                service,
                status: status.as_u16(),
                message: super::error_message(&text),
            });
        }
        response.json().await.map_err(|e| undecodable(service, e))
    }
}

/// `link`'s path and query on `endpoint`'s scheme, host and port.
fn same_origin(endpoint: &Url, link: &str, service: &'static str) -> Result<Url, ListError> {
    let link = join(endpoint, link, service)?;
    let mut url = endpoint.clone();
    url.set_path(link.path());
    url.set_query(link.query());
    Ok(url)
}

pub(crate) fn join(base: &Url, next: &str, service: &'static str) -> Result<Url, ListError> {
    base.join(next).map_err(|e| undecodable(service, e))
}

fn undecodable(service: &'static str, error: impl std::fmt::Display) -> ListError {
    ListError::Unavailable {
        service,
        reason: format!("an answer DISCO cannot read: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_against_the_endpoint_and_its_path() {
        let root = Url::parse("http://cloud/image/").expect("url");
        let next = "/v2/images?marker=abc".trim_start_matches('/');
        assert_eq!(
            join(&root, next, GLANCE).expect("join").as_str(),
            "http://cloud/image/v2/images?marker=abc"
        );
        let versioned = Url::parse("http://cloud:9292/v2/").expect("url");
        assert_eq!(
            join(&versioned, "..", GLANCE).expect("join").as_str(),
            "http://cloud:9292/"
        );
        let proxied = "http://nova.internal:8774/v2.1/flavors/detail?marker=3";
        assert_eq!(
            same_origin(
                &Url::parse("https://cloud/compute/v2.1/").expect("url"),
                proxied,
                NOVA
            )
            .expect("url")
            .as_str(),
            "https://cloud/v2.1/flavors/detail?marker=3",
            "the token goes only to the catalog's host"
        );
        let nova = Url::parse("http://cloud:8774/v2.1/").expect("url");
        assert_eq!(
            join(&nova, "flavors/detail", NOVA).expect("join").as_str(),
            "http://cloud:8774/v2.1/flavors/detail"
        );
    }

    #[test]
    fn a_missing_endpoint_names_the_service_interface_and_region() {
        let error = ListError::NoEndpoint {
            service: NOVA,
            interface: "public".into(),
            region: Some("RegionTwo".into()),
        };
        assert_eq!(
            error.to_string(),
            "the project's catalog has no public Nova (flavors) endpoint in region RegionTwo"
        );
    }
}

//! The REST client the command line uses: DISCO's OCCI interface at `DISCO_URL`, with the
//! caller's OpenStack credentials sent the way the original's curl commands sent them.

use anyhow::{Context as _, anyhow, bail};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use crate::tasks::Task;

/// The kind's Category header, as every create sends it.
pub const CATEGORY: &str =
    r#"disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind""#;

/// Who the caller is: a token, or a user and password, and the project (tenant).
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub project: Option<String>,
}

impl Credentials {
    fn headers(&self) -> anyhow::Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &Option<String>| -> anyhow::Result<()> {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                let mut value = HeaderValue::from_str(value)
                    .with_context(|| format!("{name}: not a valid header value"))?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
            Ok(())
        };
        put("X-Auth-Token", &self.token)?;
        put("X-User-Name", &self.username)?;
        put("X-Password", &self.password)?;
        put("X-Tenant-Name", &self.project)?;
        Ok(headers)
    }
}

/// What `GET UUID/health` answers.
#[derive(Debug, serde::Deserialize)]
pub struct HealthAnswer {
    pub state: String,
    /// `None` when the cluster has none to show: not running, or not checked yet.
    pub health: Option<crate::domain::Health>,
}

/// A cluster as the listing shows it.
#[derive(Debug, Clone)]
pub struct ClusterRef {
    pub id: String,
    pub name: String,
    pub location: String,
    pub attributes: serde_json::Map<String, Value>,
}

impl ClusterRef {
    pub fn attribute(&self, name: &str) -> String {
        match self.attributes.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }
}

pub struct Client {
    base: String,
    http: reqwest::Client,
}

/// How many clusters the client asks for at a time when it reads them all.
const LIST_PAGE: usize = 500;

/// The `marker` of a `Link: <…?limit=N&marker=UUID>; rel="next"` header.
fn next_marker(link: &str) -> Option<String> {
    let (target, rel) = link.split_once(';')?;
    if rel.trim() != "rel=\"next\"" {
        return None;
    }
    let target = target.trim().trim_start_matches('<').trim_end_matches('>');
    url::Url::parse(target)
        .ok()?
        .query_pairs()
        .find(|(name, _)| name == "marker")
        .map(|(_, value)| value.into_owned())
}

impl Client {
    pub fn new(base: &str, credentials: &Credentials) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .default_headers(credentials.headers()?)
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; a non-2xx answer is an error carrying the server's reason.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach DISCO at {}", self.base))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let reason = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["errors"][0]["detail"].as_str().map(str::to_string))
            .unwrap_or_else(|| body.trim().to_string());
        bail!("{} {}", status.as_u16(), reason)
    }

    /// Every one of the caller's clusters, oldest first, read a page at a time.
    pub async fn clusters(&self) -> anyhow::Result<Vec<ClusterRef>> {
        let mut clusters = Vec::new();
        let mut marker = None;
        loop {
            let (page, next) = self.cluster_page(LIST_PAGE, marker.as_deref()).await?;
            clusters.extend(page);
            match next {
                Some(next) => marker = Some(next),
                None => return Ok(clusters),
            }
        }
    }

    /// One page of the caller's clusters: up to `limit` after the cluster `marker`, and
    /// the marker of the next page when more remain (from the answer's `Link`).
    pub async fn cluster_page(
        &self,
        limit: usize,
        marker: Option<&str>,
    ) -> anyhow::Result<(Vec<ClusterRef>, Option<String>)> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(marker) = marker {
            query.push(("marker", marker.to_string()));
        }
        let response = self
            .send(
                self.http
                    .get(self.url("/disco/"))
                    .query(&query)
                    .header("Accept", "application/occi+json"),
            )
            .await?;
        let next = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|link| link.to_str().ok())
            .and_then(next_marker);
        let body: Value = response.json().await?;
        let resources = body["resources"].as_array().cloned().unwrap_or_default();
        let clusters = resources
            .into_iter()
            .map(|resource| {
                let attributes = resource["attributes"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                let id = resource["id"].as_str().unwrap_or_default().to_string();
                ClusterRef {
                    name: attributes
                        .get("occi.core.title")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    location: resource["location"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| self.url(&format!("/disco/{id}"))),
                    id,
                    attributes,
                }
            })
            .collect();
        Ok((clusters, next))
    }

    /// The cluster named `wanted`: by name, UUID, or a unique UUID prefix of 8 or more.
    pub async fn find(&self, wanted: &str) -> anyhow::Result<ClusterRef> {
        let clusters = self.clusters().await?;
        if let Some(found) = clusters.iter().find(|c| c.name == wanted || c.id == wanted) {
            return Ok(found.clone());
        }
        let by_prefix: Vec<&ClusterRef> = clusters
            .iter()
            .filter(|c| wanted.len() >= 8 && c.id.starts_with(wanted))
            .collect();
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            [] => bail!("no cluster named {wanted:?} (disco ls lists yours)"),
            _ => bail!("{wanted:?} is the start of several clusters' ids; give more of it"),
        }
    }

    /// The cluster with its secrets, as its owner sees it (text/plain rendering).
    pub async fn show(&self, cluster: &ClusterRef) -> anyhow::Result<Vec<(String, String)>> {
        let text = self
            .send(
                self.http
                    .get(&cluster.location)
                    .header("Accept", "text/plain"),
            )
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter_map(|line| line.strip_prefix("X-OCCI-Attribute: "))
            .filter_map(|pair| {
                let attribute = crate::occi::text::parse_attributes(pair)
                    .ok()?
                    .into_iter()
                    .next()?;
                let value = match attribute.value {
                    crate::domain::Scalar::String(s) => s,
                    other => crate::occi::text::OcciValue(&other).to_string(),
                };
                Some((attribute.name, value))
            })
            .collect())
    }

    /// POST /disco/ with these attributes; the new cluster's location.
    pub async fn create(&self, attributes: &str) -> anyhow::Result<String> {
        let response = self
            .send(
                // In a text/plain body, not headers: init scripts can be longer than a
                // server takes a request's head.
                self.http
                    .post(self.url("/disco/"))
                    .header("Content-Type", "text/plain")
                    .body(format!(
                        "Category: {CATEGORY}\nX-OCCI-Attribute: {attributes}\n"
                    )),
            )
            .await?;
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("DISCO answered without a Location"))
    }

    /// `POST /disco/?dry_run=true`: the plan and what it would use; nothing is made.
    pub async fn dry_run(&self, attributes: &str) -> anyhow::Result<Value> {
        let response = self
            .send(
                self.http
                    .post(self.url("/disco/?dry_run=true"))
                    .header("Content-Type", "text/plain")
                    .header("Accept", "application/json")
                    .body(format!(
                        "Category: {CATEGORY}\nX-OCCI-Attribute: {attributes}\n"
                    )),
            )
            .await?;
        Ok(response.json().await?)
    }

    pub async fn deploy(&self, cluster: &ClusterRef) -> anyhow::Result<()> {
        self.action(cluster, "deploy").await
    }

    /// `POST UUID?action=scale` with the new number of slaves.
    pub async fn scale(&self, cluster: &ClusterRef, slaves: u16) -> anyhow::Result<()> {
        self.send(
            self.http
                .post(format!("{}?action=scale", cluster.location))
                .header("Category", CATEGORY)
                .header(
                    "X-OCCI-Attribute",
                    format!("icclab.disco.components.heat.slavecount={slaves}"),
                ),
        )
        .await?;
        Ok(())
    }

    /// A partial update (`POST UUID` with attributes and no action): the cluster's
    /// attributes afterwards, in the JSON rendering.
    pub async fn update(
        &self,
        cluster: &ClusterRef,
        attributes: &[(&str, String)],
    ) -> anyhow::Result<serde_json::Map<String, Value>> {
        let mut request = self
            .http
            .post(&cluster.location)
            .header("Category", CATEGORY)
            .header("Accept", "application/occi+json");
        for (name, value) in attributes {
            let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
            request = request.header("X-OCCI-Attribute", format!("{name}=\"{quoted}\""));
        }
        let body: Value = self.send(request).await?.json().await?;
        Ok(body["attributes"].as_object().cloned().unwrap_or_default())
    }

    /// `POST UUID?action=TERM`: deploy, stop, start, repair.
    pub async fn action(&self, cluster: &ClusterRef, term: &str) -> anyhow::Result<()> {
        self.send(
            self.http
                .post(format!("{}?action={term}", cluster.location))
                .header("Category", CATEGORY),
        )
        .await?;
        Ok(())
    }

    pub async fn delete(&self, cluster: &ClusterRef, cascade: bool) -> anyhow::Result<()> {
        let request = self.http.delete(&cluster.location);
        let request = if cascade {
            request.query(&[("cascade", "true")])
        } else {
            request
        };
        self.send(request).await?;
        Ok(())
    }

    /// `GET /disco/UUID/outputs`, secrets too when asked.
    pub async fn outputs(&self, cluster: &ClusterRef, secrets: bool) -> anyhow::Result<Value> {
        let request = self.http.get(format!("{}/outputs", cluster.location));
        let request = if secrets {
            request.query(&[("secrets", "true")])
        } else {
            request
        };
        Ok(self.send(request).await?.json().await?)
    }

    /// The cluster's state, or `None` once it is gone.
    pub async fn state(&self, cluster: &ClusterRef) -> anyhow::Result<Option<(String, String)>> {
        let response = self
            .http
            .get(&cluster.location)
            .header("Accept", "application/occi+json")
            .send()
            .await
            .with_context(|| format!("cannot reach DISCO at {}", self.base))?;
        if response.status() == 404 {
            return Ok(None);
        }
        if !response.status().is_success() {
            bail!("{}", response.status());
        }
        let body: Value = response.json().await?;
        let attribute = |name: &str| {
            body["attributes"][name]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        Ok(Some((
            attribute("icclab.disco.state"),
            attribute("icclab.disco.state_reason"),
        )))
    }

    pub async fn json(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .send(self.http.get(self.url(path)))
            .await?
            .json()
            .await?)
    }

    pub async fn tasks(&self, cluster: &ClusterRef) -> anyhow::Result<Task> {
        Ok(self
            .send(self.http.get(format!("{}/tasks", cluster.location)))
            .await?
            .json()
            .await?)
    }

    /// `GET UUID/health`: the cluster's state, and its health.
    pub async fn health(&self, cluster: &ClusterRef) -> anyhow::Result<HealthAnswer> {
        Ok(self
            .send(self.http.get(format!("{}/health", cluster.location)))
            .await?
            .json()
            .await?)
    }

    /// The events of the cluster's Heat stack (`GET .../events?source=heat`).
    pub async fn heat_events(&self, cluster: &ClusterRef) -> anyhow::Result<HeatEventsAnswer> {
        Ok(self
            .send(
                self.http
                    .get(format!("{}/events", cluster.location))
                    .query(&[("source", "heat")]),
            )
            .await?
            .json()
            .await?)
    }

    /// The Nth task of the cluster's history (1: the deploy).
    pub async fn task(&self, cluster: &ClusterRef, number: usize) -> anyhow::Result<Task> {
        Ok(self
            .send(
                self.http
                    .get(format!("{}/tasks?task={number}", cluster.location)),
            )
            .await?
            .json()
            .await?)
    }

    /// The cluster's task history as the table `task-status --all` prints.
    pub async fn task_history(&self, cluster: &ClusterRef) -> anyhow::Result<String> {
        Ok(self
            .send(
                self.http
                    .get(format!("{}/tasks?all=true", cluster.location))
                    .header("Accept", "text/plain"),
            )
            .await?
            .text()
            .await?)
    }

    pub async fn text(&self, url: &str) -> anyhow::Result<String> {
        Ok(self.send(self.http.get(url)).await?.text().await?)
    }

    /// Opens the cluster's event stream.
    pub async fn events(&self, cluster: &ClusterRef) -> anyhow::Result<EventStream> {
        let response = self
            .send(
                self.http
                    .get(format!("{}/events", cluster.location))
                    .header("Accept", "text/event-stream"),
            )
            .await?;
        Ok(EventStream {
            response,
            buffer: Vec::new(),
        })
    }
}

/// Server-Sent Events, one `(event, data)` at a time.
pub struct EventStream {
    response: reqwest::Response,
    /// Bytes, not text: a character may be split between two chunks.
    buffer: Vec<u8>,
}

impl EventStream {
    /// The next event; `None` when the stream ended.
    pub async fn next(&mut self) -> anyhow::Result<Option<(String, String)>> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8_lossy(&raw);
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event: ") {
                        name = value.to_string();
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data.push_str(value);
                    }
                }
                if data.is_empty() {
                    continue; // a keepalive comment
                }
                return Ok(Some((name, data)));
            }
            match self.response.chunk().await? {
                Some(chunk) => self.buffer.extend_from_slice(&chunk),
                None => return Ok(None),
            }
        }
    }
}

/// What `GET .../events?source=heat` answers.
#[derive(Debug, serde::Deserialize)]
pub struct HeatEventsAnswer {
    pub stack_id: String,
    pub events: Vec<crate::cluster::heat_events::HeatEvent>,
}

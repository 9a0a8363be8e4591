//! Heat (orchestration v1): create, find, read and delete stacks, and list a stack's
//! resources. Errors keep Heat's own words, and say whether another attempt could help.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Heat for one project: its endpoint (`.../v1/<project id>`) and a token.
pub struct Heat {
    http: reqwest::Client,
    endpoint: String,
    token: SecretString,
}

/// What `POST /stacks` takes.
#[derive(Debug, Serialize)]
pub struct CreateStack<'a> {
    pub stack_name: &'a str,
    /// The template, parsed: Heat takes a dict (or JSON text), not YAML text.
    pub template: &'a Value,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<&'a Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    pub timeout_mins: u32,
    pub disable_rollback: bool,
    /// Comma-separated tags: how a stack is told from another of the same name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tags: String,
}

/// A stack as Heat shows it (a listing leaves out the outputs).
#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    pub id: String,
    pub stack_name: String,
    pub stack_status: String,
    #[serde(default)]
    pub stack_status_reason: Option<String>,
    #[serde(default)]
    pub outputs: Vec<StackOutput>,
    #[serde(default)]
    pub creation_time: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The parameters it was created or last updated with (Heat shows them as text).
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StackOutput {
    pub output_key: String,
    #[serde(default)]
    pub output_value: Value,
}

impl Stack {
    pub fn output(&self, key: &str) -> Option<&Value> {
        self.outputs
            .iter()
            .find(|o| o.output_key == key)
            .map(|o| &o.output_value)
    }

    /// Whether the stack carries `tag`.
    pub fn tagged(&self, tag: &str) -> bool {
        self.tags.iter().flatten().any(|t| t == tag)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct StackResource {
    pub resource_name: String,
    pub resource_type: String,
    pub resource_status: String,
    #[serde(default)]
    pub resource_status_reason: Option<String>,
    /// The resource of the stack above whose nested stack holds this one (a member of a
    /// resource group names the group); listed only with a nested depth.
    #[serde(default)]
    pub parent_resource: Option<String>,
}

/// One of a stack's events as Heat's `GET .../events` lists it: a resource moved to
/// `resource_status` (`CREATE_IN_PROGRESS`, `CREATE_FAILED`, ...) at `event_time`.
#[derive(Debug, Clone, Deserialize)]
pub struct StackEvent {
    pub id: String,
    pub event_time: String,
    pub resource_name: String,
    /// Heat's summary listing leaves the type out; kept where a Heat shows it.
    #[serde(default)]
    pub resource_type: Option<String>,
    pub resource_status: String,
    #[serde(default)]
    pub resource_status_reason: Option<String>,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

impl StackEvent {
    /// The name of the stack the resource is in (its `stack` link: `.../stacks/NAME/ID`),
    /// a nested stack's for an event listed with a nested depth.
    pub fn stack_name(&self) -> Option<&str> {
        let href = &self.links.iter().find(|l| l.rel == "stack")?.href;
        let (_, tail) = href.rsplit_once("/stacks/")?;
        tail.split('/').next().filter(|name| !name.is_empty())
    }
}

/// Events asked for in one page: a small cluster's create makes fewer (the test bed's
/// Spark 1+2 made 43), so one page is one look.
pub const EVENTS_PAGE: usize = 200;

#[derive(Debug, Clone, thiserror::Error)]
pub enum HeatError {
    /// Unreachable, timed out, or a 5xx: worth another attempt.
    #[error("Heat is unavailable: {0}")]
    Unavailable(String),
    /// Heat refused the request; the message is Heat's own.
    #[error("{message}")]
    Refused { status: u16, message: String },
    #[error("no such stack")]
    NotFound,
}

impl HeatError {
    pub fn is_transient(&self) -> bool {
        matches!(self, HeatError::Unavailable(_))
    }
}

impl Heat {
    pub fn new(endpoint: &str, token: SecretString, timeout: Duration) -> Result<Heat, HeatError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| HeatError::Unavailable(e.to_string()))?;
        Ok(Heat {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates a stack; returns its id.
    pub async fn create_stack(&self, request: &CreateStack<'_>) -> Result<String, HeatError> {
        let response = self
            .send(
                self.http
                    .post(format!("{}/stacks", self.endpoint))
                    .json(request),
            )
            .await?;
        let body: Value = response.json().await.map_err(undecodable)?;
        body["stack"]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| undecodable("no stack id in Heat's answer"))
    }

    /// The project's stacks of this name that are not deleted, oldest first. Heat
    /// refuses a second create of a name only when the first is already stored, so two
    /// creates in flight at once can both succeed.
    pub async fn stacks_named(&self, name: &str) -> Result<Vec<Stack>, HeatError> {
        let response = self
            .send(
                self.http
                    .get(format!("{}/stacks", self.endpoint))
                    .query(&[("name", name)]),
            )
            .await?;
        #[derive(Deserialize)]
        struct Body {
            stacks: Vec<Stack>,
        }
        let body: Body = response.json().await.map_err(undecodable)?;
        let mut stacks: Vec<Stack> = body
            .stacks
            .into_iter()
            .filter(|s| s.stack_name == name && s.stack_status != "DELETE_COMPLETE")
            .collect();
        stacks.sort_by(|a, b| (&a.creation_time, &a.id).cmp(&(&b.creation_time, &b.id)));
        Ok(stacks)
    }

    /// A stack with its outputs.
    pub async fn stack(&self, name: &str, id: &str) -> Result<Stack, HeatError> {
        let response = self
            .send(
                self.http
                    .get(format!("{}/stacks/{name}/{id}", self.endpoint)),
            )
            .await?;
        #[derive(Deserialize)]
        struct Body {
            stack: Stack,
        }
        let body: Body = response.json().await.map_err(undecodable)?;
        Ok(body.stack)
    }

    /// The stack's resources and those of its nested stacks down to `depth` levels.
    pub async fn resources_to_depth(
        &self,
        name: &str,
        id: &str,
        depth: u8,
    ) -> Result<Vec<StackResource>, HeatError> {
        let response = self
            .send(
                self.http
                    .get(format!("{}/stacks/{name}/{id}/resources", self.endpoint))
                    .query(&[("nested_depth", depth)]),
            )
            .await?;
        #[derive(Deserialize)]
        struct Body {
            resources: Vec<StackResource>,
        }
        let body: Body = response.json().await.map_err(undecodable)?;
        Ok(body.resources)
    }

    /// The stack's events and those of its nested stacks down to `depth`, oldest first,
    /// after the event `after` (all of them without); with how many pages (calls) it
    /// took. At most `max_pages` pages are read: the rest come at the next call, after
    /// the last event returned.
    pub async fn events(
        &self,
        name: &str,
        id: &str,
        depth: u8,
        after: Option<&str>,
        max_pages: usize,
    ) -> Result<(Vec<StackEvent>, usize), HeatError> {
        #[derive(Deserialize)]
        struct Body {
            events: Vec<StackEvent>,
        }
        let mut events: Vec<StackEvent> = Vec::new();
        let mut marker = after.map(str::to_string);
        let mut pages = 0;
        while pages < max_pages.max(1) {
            let mut query: Vec<(&str, String)> = vec![
                ("nested_depth", depth.to_string()),
                ("sort_dir", "asc".into()),
                ("limit", EVENTS_PAGE.to_string()),
            ];
            if let Some(marker) = &marker {
                query.push(("marker", marker.clone()));
            }
            let response = self
                .send(
                    self.http
                        .get(format!("{}/stacks/{name}/{id}/events", self.endpoint))
                        .query(&query),
                )
                .await?;
            pages += 1;
            let body: Body = response.json().await.map_err(undecodable)?;
            let full = body.events.len() >= EVENTS_PAGE;
            marker = body.events.last().map(|e| e.id.clone()).or(marker);
            events.extend(body.events);
            if !full {
                break;
            }
        }
        Ok((events, pages))
    }

    /// Updates a stack's parameters, keeping its template, environment, files and every
    /// other parameter (PATCH: Heat's "existing" update).
    pub async fn update_parameters(
        &self,
        name: &str,
        id: &str,
        parameters: &BTreeMap<String, Value>,
    ) -> Result<(), HeatError> {
        self.send(
            self.http
                .patch(format!("{}/stacks/{name}/{id}", self.endpoint))
                .json(&serde_json::json!({ "parameters": parameters })),
        )
        .await
        .map(drop)
    }

    /// Asks Heat to run a stack action (`suspend`, `resume`) on a stack; it runs on in
    /// Heat, and the stack's status says how it goes (`SUSPEND_COMPLETE`, ...).
    pub async fn stack_action(&self, name: &str, id: &str, action: &str) -> Result<(), HeatError> {
        let mut body = serde_json::Map::new();
        body.insert(action.to_string(), serde_json::Value::Null);
        self.send(
            self.http
                .post(format!("{}/stacks/{name}/{id}/actions", self.endpoint))
                .json(&body),
        )
        .await
        .map(drop)
    }

    pub async fn delete_stack(&self, name: &str, id: &str) -> Result<(), HeatError> {
        match self
            .send(
                self.http
                    .delete(format!("{}/stacks/{name}/{id}", self.endpoint)),
            )
            .await
        {
            Ok(_) | Err(HeatError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, HeatError> {
        let response = request
            .header("X-Auth-Token", self.token.expose_secret())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| HeatError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        if status == StatusCode::NOT_FOUND {
            return Err(HeatError::NotFound);
        }
        let message = super::error_message(&text);
        if status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE {
            Err(HeatError::Unavailable(format!(
                "{}: {message}",
                status.as_u16()
            )))
        } else {
            Err(HeatError::Refused {
                status: status.as_u16(),
                message,
            })
        }
    }
}

fn undecodable(error: impl std::fmt::Display) -> HeatError {
    HeatError::Unavailable(format!("an answer DISCO cannot read: {error}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A stand-in for Heat's event listing on a loopback port: its endpoint and what it
    /// was asked.
    async fn serve(
        answer: fn(&str) -> (u16, String),
    ) -> (String, crate::openstack::stand_in::Asked) {
        let (address, asked) = crate::openstack::stand_in::serve(answer).await;
        (format!("http://{address}/v1/p"), asked)
    }

    fn page(from: usize, count: usize) -> String {
        let events: Vec<Value> = (from..from + count)
            .map(|i| {
                serde_json::json!({"id": format!("e{i}"), "event_time": "2026-12-01T23:20:27Z",
                    "resource_name": "master", "resource_status": "CREATE_IN_PROGRESS",
                    "resource_status_reason": "state changed", "links": []})
            })
            .collect();
        serde_json::json!({ "events": events }).to_string()
    }

    fn heat(endpoint: &str) -> Heat {
        Heat::new(endpoint, SecretString::from("t"), Duration::from_secs(5)).expect("a client")
    }

    #[tokio::test]
    async fn events_are_read_page_after_page_from_the_last_one_each_gave() {
        let (endpoint, asked) = serve(|target| {
            if target.contains("marker=e199") {
                (200, page(200, 3))
            } else {
                (200, page(0, EVENTS_PAGE))
            }
        })
        .await;
        let (events, pages) = heat(&endpoint)
            .events("disco-1", "9", 2, None, 5)
            .await
            .expect("the events");
        assert_eq!((events.len(), pages), (EVENTS_PAGE + 3, 2));
        assert_eq!(events.last().map(|e| e.id.as_str()), Some("e202"));
        let asked = asked.lock().expect("asked").clone();
        assert!(asked[0].starts_with("/v1/p/stacks/disco-1/9/events?nested_depth=2"));
        assert!(!asked[0].contains("marker") && asked[1].ends_with("marker=e199"));
        // At most the pages it may read; the rest come after the last one returned.
        let (events, pages) = heat(&endpoint)
            .events("disco-1", "9", 2, None, 1)
            .await
            .expect("the events");
        assert_eq!((events.len(), pages), (EVENTS_PAGE, 1));
    }

    #[tokio::test]
    async fn an_answer_that_is_not_an_event_listing_is_worth_another_attempt_and_a_gone_stack_is_not_found()
     {
        let (endpoint, _) = serve(|target| {
            if target.contains("/gone/") {
                (
                    404,
                    r#"{"error": {"message": "The Stack (gone) could not be found."}}"#.into(),
                )
            } else {
                (200, r#"{"events": [{"id": "e1"}]}"#.into())
            }
        })
        .await;
        let undecodable = heat(&endpoint).events("disco-1", "9", 2, None, 5).await;
        match undecodable {
            Err(e @ HeatError::Unavailable(_)) => {
                assert!(e.is_transient());
                assert!(e.to_string().contains("an answer DISCO cannot read"), "{e}");
            }
            other => panic!("not refused as unreadable: {other:?}"),
        }
        let gone = heat(&endpoint).events("gone", "9", 2, None, 5).await;
        assert!(matches!(gone, Err(HeatError::NotFound)), "{gone:?}");
    }
}

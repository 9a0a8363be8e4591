//! A ready cluster's health: every check as the watcher last assessed it, for its owner
//! (`GET /disco/UUID/health`), the heartbeats the nodes' health reporters send with the
//! cluster's report token (`POST /disco/UUID/health`), and a repair's steps for the VM
//! agents that run them (`GET /disco/UUID/health/repair?node=`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::clusters::owned_cluster;
use super::error::ApiError;
use super::tasks::reporting_cluster;
use crate::domain::activity::ComponentActivity;
use crate::domain::health::CheckOutcome;
use crate::domain::text::{Escaped, bounded};
use crate::store::Heartbeat;

/// The most checks one heartbeat may carry, and the longest check name and output.
const MOST_CHECKS: usize = 64;
const LONGEST_CHECK: usize = 80;
const LONGEST_OUTPUT: usize = 300;

/// `GET /disco/UUID/health` (JSON): the cluster's state, and its health with every
/// check on every node (failing ones first), or `null` before the first look.
pub(super) async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = owned_cluster(&req, &path, &state).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "state": cluster.state,
            "health": cluster.shown_health(),
        })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeartbeatBody {
    node: String,
    checks: Vec<CheckBody>,
    #[serde(default)]
    activity: Vec<ActivityBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityBody {
    component: String,
    /// The activity step's line, as it printed it.
    answer: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    component: String,
    check: String,
    passing: bool,
    #[serde(default)]
    output: String,
}

/// `POST /disco/UUID/health`: a node's heartbeat, the outcome of its checks (and, on the
/// master, what its components' activity steps said) now, with
/// the cluster's report token. Only the cluster's own nodes and components; outputs
/// are kept short and with their control characters escaped (they reach reasons).
pub(super) async fn heartbeat(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = reporting_cluster(&req, &path, &state).await?;
    let id = cluster.id;
    let body: HeartbeatBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "heartbeat: expected JSON {{\"node\", \"checks\": [{{\"component\", \"check\", \"passing\", \"output\"}}]}}: {}",
            bounded(&e.to_string(), 200)
        ))
    })?;
    let nodes = cluster.plan.node_names();
    if !nodes.contains(&body.node) {
        return Err(ApiError::bad_request(format!(
            "heartbeat node: this cluster's nodes are {}, got {}",
            nodes.join(", "),
            crate::domain::text::quoted_excerpt(&body.node)
        )));
    }
    if body.checks.len() > MOST_CHECKS {
        return Err(ApiError::bad_request(format!(
            "heartbeat checks: at most {MOST_CHECKS}, got {}",
            body.checks.len()
        )));
    }
    let components = cluster.plan.component_names();
    let mut checks = Vec::with_capacity(body.checks.len());
    for (i, check) in body.checks.into_iter().enumerate() {
        if !components.contains(&check.component.as_str()) {
            return Err(ApiError::bad_request(format!(
                "heartbeat checks[{i}].component: this cluster's components are {}, got {}",
                components.join(", "),
                crate::domain::text::quoted_excerpt(&check.component)
            )));
        }
        if check.check.is_empty()
            || check.check.len() > LONGEST_CHECK
            || crate::domain::text::first_refused(&check.check).is_some()
        {
            return Err(ApiError::bad_request(format!(
                "heartbeat checks[{i}].check: expected a name of 1 to {LONGEST_CHECK} printable characters"
            )));
        }
        let output = Escaped {
            text: &check.output,
            kept: &[],
        }
        .to_string();
        checks.push(CheckOutcome {
            node: body.node.clone(),
            component: check.component,
            check: check.check,
            passing: check.passing,
            output: bounded(&output, LONGEST_OUTPUT).into_owned(),
        });
    }
    if body.activity.len() > components.len() {
        return Err(ApiError::bad_request(format!(
            "heartbeat activity: at most one answer per component ({}), got {}",
            components.len(),
            body.activity.len()
        )));
    }
    let mut activity = Vec::with_capacity(body.activity.len());
    for (i, answer) in body.activity.into_iter().enumerate() {
        if !components.contains(&answer.component.as_str()) {
            return Err(ApiError::bad_request(format!(
                "heartbeat activity[{i}].component: this cluster's components are {}, got {}",
                components.join(", "),
                crate::domain::text::quoted_excerpt(&answer.component)
            )));
        }
        let line = bounded(&answer.answer, 1024);
        activity.push(ComponentActivity::from_answer(&answer.component, &line));
    }
    state
        .store
        .record_heartbeat(
            id,
            Heartbeat {
                node: body.node,
                at: chrono::Utc::now(),
                checks,
                activity,
            },
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
pub(super) struct RepairQuery {
    node: String,
}

/// `GET /disco/UUID/health/repair?node=NODE`: for a node's agent, with the cluster's
/// report token: `{"repair": {"id", "script"}}` while the cluster is repairing and the
/// node is one of the repair's (the agent runs the script once per id, as root), else
/// `{"repair": null}`.
pub(super) async fn repair_for_agent(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<RepairQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = reporting_cluster(&req, &path, &state).await?;
    let nodes = cluster.plan.node_names();
    if !nodes.contains(&query.node) {
        return Err(ApiError::bad_request(format!(
            "node: this cluster's nodes are {}, got {}",
            nodes.join(", "),
            crate::domain::text::quoted_excerpt(&query.node)
        )));
    }
    let repair = state
        .lifecycle
        .repair_script(&cluster, &query.node)
        .await?
        .map(|(id, script)| serde_json::json!({ "id": id, "script": script }));
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "repair": repair })))
}

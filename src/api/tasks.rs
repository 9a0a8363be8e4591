//! What a deploy is doing: the nodes' reports coming in (`POST /disco/UUID/report`, with
//! the cluster's own token), and the task tree, its events and the deployment log going
//! out to the cluster's owner.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::stream;
use serde::Deserialize;

use super::AppState;
use super::clusters::{owned_cluster, parse_id};
use super::error::{ApiError, ApiErrorKind};
use super::negotiate::Rendering;
use crate::cluster::Cluster;
use crate::domain::{ClusterId, ClusterState};
use crate::domain::{Report, ReportStatus};
use crate::occi::MediaType;
use crate::store::Store;
use crate::tasks::{self, Task};

/// How often an event stream looks for news.
const EVENT_POLL: Duration = Duration::from_millis(300);
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEPALIVE: Duration = Duration::from_secs(15);
const LONGEST_STAGE: usize = 128;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    stage: String,
    node: String,
    status: String,
    #[serde(default)]
    rc: Option<i64>,
    #[serde(default)]
    output: String,
    #[serde(default)]
    error: String,
}

/// `POST /disco/UUID/report`: a node tells how a stage went. Authenticated by the
/// cluster's report token (`Authorization: Bearer`), not by the user's credentials:
/// nodes have none.
pub(super) async fn report(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(ApiErrorKind::Unauthorized(
            "Authorization: expected \"Bearer <the cluster's report token>\"".into(),
        )
        .into());
    };
    let id = parse_id(&path)?;
    // Output tails are cut by bytes on the node and may end in half a character, or
    // hold binary output: take what is text rather than lose the report.
    let body = String::from_utf8_lossy(&body);
    let body: ReportBody = serde_json::from_str(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "report: expected JSON {{\"stage\", \"node\", \"status\", \"rc\", \"output\", \"error\"}}: {e}"
        ))
    })?;
    let report = check(body)?;
    // A node that finished or failed may have finished the deploy: look now.
    let decisive = report.stage == tasks::NODE_READY || report.status == ReportStatus::Failed;
    if !state
        .store
        .add_report(id, token.to_string(), report)
        .await?
    {
        return Err(ApiErrorKind::Forbidden(
            "the report token is not this cluster's, or the cluster is deleted".into(),
        )
        .into());
    }
    if decisive {
        state.lifecycle.nudge();
    }
    Ok(HttpResponse::NoContent().finish())
}

fn check(body: ReportBody) -> Result<Report, ApiError> {
    let node_ok = body.node == "master"
        || body
            .node
            .strip_prefix("slaves:")
            .and_then(|n| n.parse::<u16>().ok())
            .is_some_and(|n| n > 0);
    if !node_ok {
        return Err(ApiError::bad_request(format!(
            "report node: expected master or slaves:N, got {:?}",
            body.node.chars().take(40).collect::<String>()
        )));
    }
    if body.stage.is_empty()
        || body.stage.len() > LONGEST_STAGE
        || body.stage.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "report stage: expected a name of 1 to {LONGEST_STAGE} printable characters"
        )));
    }
    let status = ReportStatus::parse(&body.status).ok_or_else(|| {
        ApiError::bad_request(format!(
            "report status: expected executing, succeeded or failed, got {:?}",
            body.status.chars().take(40).collect::<String>()
        ))
    })?;
    Ok(Report {
        at: chrono::Utc::now(),
        node: body.node,
        stage: body.stage,
        status,
        rc: body.rc,
        output: tasks::tail(&body.output),
        error: tasks::tail(&body.error),
    })
}

async fn task_of(store: &Store, cluster: &Cluster) -> Result<Task, ApiError> {
    let transitions = store.transitions(cluster.id).await?;
    let reports: Vec<Report> = store
        .reports(cluster.id, 0)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    Ok(tasks::deploy_task(cluster, &transitions, &reports))
}

/// `GET /disco/UUID/tasks`: the deploy's task tree, as JSON, or with `Accept:
/// text/plain` as the table `task-status` shows.
pub(super) async fn tasks(
    req: HttpRequest,
    Rendering(media): Rendering,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = owned_cluster(&req, &path, &state).await?;
    let task = task_of(&state.store, &cluster).await?;
    if media == MediaType::TextPlain {
        return Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(tasks::render::snapshot(&task)));
    }
    Ok(HttpResponse::Ok().json(task))
}

#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    node: Option<String>,
}

/// `GET /disco/UUID/logs[?node=slaves:1]`: the deployment log, from the nodes' reports.
pub(super) async fn logs(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LogQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = owned_cluster(&req, &path, &state).await?;
    let nodes = cluster.plan.node_names();
    if let Some(node) = &query.node
        && !nodes.contains(node)
    {
        return Err(ApiError::bad_request(format!(
            "node: expected one of {}, got {:?}",
            nodes.join(", "),
            node.chars().take(40).collect::<String>()
        )));
    }
    let reports = state.store.reports(cluster.id, 0).await?;
    let mut out = String::new();
    for (_, report) in reports
        .iter()
        .filter(|(_, r)| query.node.as_ref().is_none_or(|n| *n == r.node))
    {
        out.push_str(&tasks::render::log_lines(report));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(out))
}

/// Where an event stream is.
struct Watch {
    store: Store,
    id: ClusterId,
    last_report: i64,
    /// Every report so far: read once each, not again at every look.
    reports: Vec<Report>,
    last_state: Option<(ClusterState, String)>,
    last_task: Option<Task>,
    quiet_since: std::time::Instant,
    ended: bool,
}

fn event(name: &str, data: &impl serde::Serialize) -> web::Bytes {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    web::Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

impl Watch {
    /// The events since the last look: new reports, a state change, the task tree when
    /// it changed, and `end` once the cluster is ready, failed or gone.
    async fn next_events(&mut self) -> Vec<web::Bytes> {
        let mut events = Vec::new();
        let cluster = match self.store.cluster(None, self.id).await {
            Ok(Some(cluster)) => cluster,
            Ok(None) => {
                self.ended = true;
                events.push(event("end", &serde_json::json!({ "state": "deleted" })));
                return events;
            }
            // The store is busy or failing: try again at the next look.
            Err(e) => {
                tracing::warn!(cluster = %self.id, error = %e, "event stream: reading the cluster");
                return events;
            }
        };
        if let Ok(reports) = self.store.reports(self.id, self.last_report).await {
            for (number, report) in reports {
                self.last_report = number;
                events.push(event("report", &report));
                self.reports.push(report);
            }
        }
        let state = (cluster.state, cluster.state_reason.clone());
        if self.last_state.as_ref() != Some(&state) {
            events.push(event(
                "state",
                &serde_json::json!({ "state": state.0, "reason": state.1 }),
            ));
            self.last_state = Some(state);
        }
        if let Ok(transitions) = self.store.transitions(cluster.id).await
            && let task = tasks::deploy_task(&cluster, &transitions, &self.reports)
            && self.last_task.as_ref() != Some(&task)
        {
            events.push(event("tasks", &task));
            self.last_task = Some(task);
        }
        if matches!(
            cluster.state,
            ClusterState::Ready | ClusterState::Failed | ClusterState::Deleted
        ) {
            self.ended = true;
            events.push(event("end", &serde_json::json!({ "state": cluster.state })));
        }
        events
    }
}

/// `GET /disco/UUID/events`: Server-Sent Events — `state`, `report` (each node report,
/// the earlier ones first), `tasks` (the whole tree whenever it changes), then `end` once
/// the cluster is ready, failed or deleted.
pub(super) async fn events(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = owned_cluster(&req, &path, &state).await?;
    Ok(event_stream(&state.store, &cluster))
}

/// The event stream of a cluster its caller may see.
pub(super) fn event_stream(store: &Store, cluster: &Cluster) -> HttpResponse {
    let watch = Watch {
        store: store.clone(),
        id: cluster.id,
        last_report: 0,
        reports: Vec::new(),
        last_state: None,
        last_task: None,
        quiet_since: std::time::Instant::now(),
        ended: false,
    };
    // The first look always has news (the state), so a client sees where the cluster
    // is at once; later looks wait for some.
    let body = stream::unfold(watch, |mut watch| async move {
        if watch.ended {
            return None;
        }
        loop {
            let events = watch.next_events().await;
            if !events.is_empty() {
                watch.quiet_since = std::time::Instant::now();
                let chunk = web::Bytes::from(events.concat());
                return Some((Ok::<_, actix_web::Error>(chunk), watch));
            }
            if watch.quiet_since.elapsed() >= KEEPALIVE {
                watch.quiet_since = std::time::Instant::now();
                return Some((Ok(web::Bytes::from_static(b": keepalive\n\n")), watch));
            }
            tokio::time::sleep(EVENT_POLL).await;
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

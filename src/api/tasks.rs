//! What a deploy is doing: the nodes' reports coming in (`POST /disco/UUID/report`, with
//! the cluster's own token), and the task tree, its events and the deployment log going
//! out to the cluster's owner.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::stream;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::AppState;
use super::clusters::{owned_cluster, parse_id};
use super::error::{ApiError, ApiErrorKind};
use super::negotiate::Rendering;
use crate::cluster::Cluster;
use crate::config::ServerSettings;
use crate::domain::{ClusterId, ClusterState, HealthStatus};
use crate::domain::{Report, ReportStatus};
use crate::occi::MediaType;
use crate::store::Reported;
use crate::store::notify::{Limits, Subscription};
use crate::store::{Store, StoreError};
use crate::tasks::{self, Task};

/// When an event stream looks without a signal: in case a change came by a way that
/// does not signal (another process writing the database). Each stream adds up to half
/// of it again at random, so that streams opened together do not look together.
const FALLBACK_LOOK: Duration = Duration::from_secs(30);
/// How soon a stream looks again after the store failed it.
const RETRY_LOOK: Duration = Duration::from_secs(1);
/// A comment line this often keeps proxies from closing a quiet stream, and finds a
/// client that went away without closing its connection.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// How many streams look at the store at once. The store has one connection: more
/// only make more threads wait for it (1,000 streams opened together would each take
/// a thread of the blocking pool).
static LOOKS_AT_ONCE: Semaphore = Semaphore::const_new(4);
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
    let token = report_token(&req)?;
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
    match state
        .store
        .add_report(id, token.to_string(), report.clone())
        .await?
    {
        Reported::Stored => {}
        Reported::NotThisCluster => {
            return Err(ApiErrorKind::Forbidden(
                "the report token is not this cluster's, or the cluster is deleted".into(),
            )
            .into());
        }
        Reported::NoSuchNode(nodes) => {
            return Err(ApiError::bad_request(format!(
                "report node: this cluster's nodes are {}, got {:?}",
                nodes.join(", "),
                report.node
            )));
        }
    }
    if decisive {
        state.lifecycle.nudge();
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /disco/UUID/report[?node=slaves:N]`: what a node needs to know of the cluster as
/// it is now, with the same token: how many slaves it runs on (the ones given up on left
/// out), so that a master's smoke test waits for those and no others; and, for a slave
/// that names itself, whether it leaves the cluster (a scale-in), with the decommission
/// steps to run first (`decommission.script`, else `null`).
pub(super) async fn membership(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<MembershipQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = reporting_cluster(&req, &path, &state).await?;
    let lost = cluster.outputs.lost_nodes();
    let slaves = cluster.plan.slave_count();
    let decommission = match &query.node {
        Some(node) => state
            .lifecycle
            .decommission_script(&cluster, node)
            .await?
            .map(|script| serde_json::json!({ "script": script })),
        None => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "slave_count": slaves,
            "lost_slaves": lost,
            "expected_slaves": usize::from(slaves).saturating_sub(lost.len()),
            "decommission": decommission,
        })))
}

#[derive(Debug, Deserialize)]
pub(super) struct MembershipQuery {
    /// The node asking, as it names itself (`slaves:3`).
    #[serde(default)]
    node: Option<String>,
}

/// The cluster a node's request is for, authenticated by the cluster's report token
/// (`Authorization: Bearer`): `401` without one, `403` with another cluster's or once
/// the cluster is deleted.
pub(super) async fn reporting_cluster(
    req: &HttpRequest,
    path: &str,
    state: &AppState,
) -> Result<crate::cluster::Cluster, ApiError> {
    let token = report_token(req)?;
    let id = parse_id(path)?;
    match state.store.cluster(None, id).await? {
        Some(cluster)
            if cluster.state != ClusterState::Deleted
                && state.store.is_report_token(id, token.to_string()).await? =>
        {
            Ok(cluster)
        }
        _ => Err(ApiErrorKind::Forbidden(
            "the report token is not this cluster's, or the cluster is deleted".into(),
        )
        .into()),
    }
}

/// A `true`/`false` query parameter, absent meaning false; else a `400` naming it.
pub(crate) fn query_flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name}: expected true or false, got {}",
            crate::domain::text::quoted_excerpt(other)
        ))),
    }
}

/// The cluster's report token, as a node sends it (`Authorization: Bearer`).
pub(super) fn report_token(req: &HttpRequest) -> Result<&str, ApiError> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiErrorKind::Unauthorized(
                "Authorization: expected \"Bearer <the cluster's report token>\"".into(),
            )
            .into()
        })
}

fn check(body: ReportBody) -> Result<Report, ApiError> {
    let node_ok = body.node == "master" || crate::domain::node::slave_index(&body.node).is_some();
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

/// Every task the cluster ran, the deploy first; one not finished with what it is
/// expected to take.
async fn history_of(store: &Store, cluster: &Cluster) -> Result<Vec<Task>, ApiError> {
    let transitions = store.transitions(cluster.id).await?;
    let reports: Vec<Report> = store
        .reports(cluster.id, 0)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let mut history = tasks::history(cluster, &transitions, &reports);
    if history.iter().any(|task| !task.status.is_finished()) {
        let expectations = store.expectations(cluster).await?;
        let now = chrono::Utc::now();
        for task in &mut history {
            tasks::eta::expect(task, &expectations, now);
        }
    }
    Ok(history)
}

/// The cluster's latest task, as `latest_task` makes it, with what it is expected to
/// take: for the dashboard's timeline.
pub(crate) async fn latest_expected(store: &Store, cluster: &Cluster) -> Result<Task, StoreError> {
    let transitions = store.transitions(cluster.id).await?;
    let reports: Vec<Report> = store
        .reports(cluster.id, 0)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let mut task = tasks::latest_task(cluster, &transitions, &reports);
    if !task.status.is_finished() {
        let expectations = store.expectations(cluster).await?;
        tasks::eta::expect(&mut task, &expectations, chrono::Utc::now());
    }
    Ok(task)
}

#[derive(Debug, Deserialize)]
pub(super) struct TasksQuery {
    /// `true`: the cluster's task history, a row per task.
    #[serde(default)]
    all: Option<String>,
    /// The task of that number in the history (1: the deploy).
    #[serde(default)]
    task: Option<String>,
}

/// `GET /disco/UUID/tasks`: the latest task's tree (the one running, or the last that
/// ran), as JSON, or with `Accept: text/plain` as the table `task-status` shows.
/// `?task=N`: the Nth task of the history; `?all=true`: the history, each task with its
/// number, type, status, start, end and duration.
pub(super) async fn tasks(
    req: HttpRequest,
    Rendering(media): Rendering,
    path: web::Path<String>,
    query: web::Query<TasksQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = owned_cluster(&req, &path, &state).await?;
    let mut history = history_of(&state.store, &cluster).await?;
    match query.all.as_deref() {
        None | Some("false") => {}
        Some("true") => {
            if media == MediaType::TextPlain {
                return Ok(HttpResponse::Ok()
                    .content_type("text/plain; charset=utf-8")
                    .body(tasks::render::history(&history)));
            }
            let rows: Vec<serde_json::Value> = history
                .iter()
                .enumerate()
                .map(|(i, task)| {
                    serde_json::json!({
                        "task": i + 1,
                        "type": task.name,
                        "status": task.status,
                        "started_at": task.started_at,
                        "ended_at": task.ended_at,
                        "duration_secs": task.duration_secs(),
                    })
                })
                .collect();
            return Ok(HttpResponse::Ok().json(rows));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "all: expected true or false, got {:?}",
                other.chars().take(40).collect::<String>()
            )));
        }
    }
    let task = match query.task.as_deref() {
        // The history holds the deploy at least.
        None => history
            .pop()
            .unwrap_or_else(|| tasks::deploy_task(&cluster, &[], &[])),
        Some(number) => match number.parse::<usize>() {
            Ok(n) if (1..=history.len()).contains(&n) => history.swap_remove(n - 1),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "task: expected a task number from 1 to {}, got {:?}",
                    history.len(),
                    number.chars().take(40).collect::<String>()
                )));
            }
        },
    };
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
    /// Wakes the stream when the cluster changed.
    news: Subscription,
    last_report: i64,
    /// Every report so far: read once each, not again at every look.
    reports: Vec<Report>,
    last_state: Option<(ClusterState, String)>,
    last_task: Option<Task>,
    /// What the cluster's steps are expected to take: read again when its state
    /// changes (a run's samples are written with the move that ends it).
    expectations: tasks::eta::Expectations,
    /// The health last sent (`Some(None)`: that there is none now); `None` before the
    /// first is sent.
    last_health: Option<Option<(HealthStatus, String)>>,
    /// `?follow=true`: the stream goes on past ready, failed and stopped, until the
    /// cluster is deleted.
    follow: bool,
    /// A signal came (or the stream is new): look at the store.
    look_due: bool,
    /// When to look if no signal comes.
    next_look: Instant,
    last_sent: Instant,
    ended: bool,
}

fn event(name: &str, data: &impl serde::Serialize) -> web::Bytes {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    web::Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The fallback look's wait, with its share of randomness.
fn fallback_wait() -> Duration {
    use rand_core::RngCore as _;
    let spread = FALLBACK_LOOK.as_millis() as u64 / 2;
    FALLBACK_LOOK + Duration::from_millis(rand_core::OsRng.next_u64() % spread.max(1))
}

impl Watch {
    /// The events since the last look: new reports, a state change, the task tree when
    /// it changed, the health when what it says changed, and `end` once the cluster is
    /// ready, failed, stopped or gone (following: gone). Reads everything before it
    /// changes anything, so a failed read leaves the next look to do it all.
    async fn next_events(&mut self) -> Result<Vec<web::Bytes>, StoreError> {
        let _turn = LOOKS_AT_ONCE.acquire().await;
        let mut events = Vec::new();
        let Some(cluster) = self.store.cluster(None, self.id).await? else {
            self.ended = true;
            events.push(event("end", &serde_json::json!({ "state": "deleted" })));
            return Ok(events);
        };
        let reports = self.store.reports(self.id, self.last_report).await?;
        let transitions = self.store.transitions(cluster.id).await?;
        let moved = self.last_state.as_ref().map(|s| s.0) != Some(cluster.state);
        let expectations = if moved {
            Some(self.store.expectations(&cluster).await?)
        } else {
            None
        };
        for (number, report) in reports {
            self.last_report = number;
            events.push(event("report", &report));
            self.reports.push(report);
        }
        let state = (cluster.state, cluster.state_reason.clone());
        if let Some(expectations) = expectations {
            self.expectations = expectations;
        }
        if self.last_state.as_ref() != Some(&state) {
            events.push(event(
                "state",
                &serde_json::json!({ "state": state.0, "reason": state.1 }),
            ));
            self.last_state = Some(state);
        }
        let mut task = tasks::latest_task(&cluster, &transitions, &self.reports);
        tasks::eta::expect(&mut task, &self.expectations, chrono::Utc::now());
        if self.last_task.as_ref() != Some(&task) {
            events.push(event("tasks", &task));
            self.last_task = Some(task);
        }
        // What a user is told, not when it was last checked: a round that finds the
        // same says nothing. None before any was sent is nothing to say either.
        let health = cluster.shown_health();
        let told = health.map(|h| (h.status, h.reason.clone()));
        if self.last_health.as_ref() != Some(&told)
            && (self.last_health.is_some() || told.is_some())
        {
            let data = health.map(|h| {
                serde_json::json!({ "status": h.status, "reason": h.reason, "checked": h.checked })
            });
            events.push(event("health", &data));
            self.last_health = Some(told);
        }
        let ends = if self.follow {
            cluster.state == ClusterState::Deleted
        } else {
            matches!(
                cluster.state,
                ClusterState::Ready
                    | ClusterState::Failed
                    | ClusterState::Deleted
                    | ClusterState::Stopped
                    | ClusterState::Cancelled
            )
        };
        if ends {
            self.ended = true;
            events.push(event("end", &serde_json::json!({ "state": cluster.state })));
        }
        Ok(events)
    }

    /// The next chunk of the stream: events once there are some, else a keepalive when
    /// it is due. Between the two it sleeps until the store signals the cluster, or the
    /// fallback look is due.
    async fn next_chunk(&mut self) -> web::Bytes {
        loop {
            if self.look_due {
                self.look_due = false;
                // Seen before the look: a change committed while it looks wakes the
                // stream again.
                self.news.mark_seen();
                match self.next_events().await {
                    Ok(events) => {
                        self.next_look = Instant::now() + fallback_wait();
                        if !events.is_empty() {
                            self.last_sent = Instant::now();
                            return web::Bytes::from(events.concat());
                        }
                    }
                    Err(e) => {
                        tracing::warn!(cluster = %self.id, error = %e, "event stream: reading the cluster");
                        self.next_look = Instant::now() + RETRY_LOOK;
                    }
                }
            }
            let keepalive = self.last_sent + KEEPALIVE;
            tokio::select! {
                () = self.news.changed() => self.look_due = true,
                () = tokio::time::sleep_until(self.next_look.into()) => self.look_due = true,
                () = tokio::time::sleep_until(keepalive.into()) => {
                    self.last_sent = Instant::now();
                    return web::Bytes::from_static(b": keepalive\n\n");
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    /// `true`: the stream goes on until the cluster is deleted.
    #[serde(default)]
    follow: Option<String>,
    /// `heat`: the events of the cluster's Heat stack, as JSON, instead of the stream.
    #[serde(default)]
    source: Option<String>,
}

impl EventsQuery {
    /// Whether the stream follows the cluster past the end of its task.
    pub(crate) fn follow(&self) -> Result<bool, ApiError> {
        query_flag("follow", self.follow.as_deref())
    }
}

/// `GET /disco/UUID/events?source=heat`: the stack's events as JSON (`heat_events`).
/// `GET /disco/UUID/events[?follow=true]`: Server-Sent Events —
/// - `state` `{"state", "reason"}`: at once, then at each change;
/// - `report`: each node report, the earlier ones first;
/// - `tasks`: the latest task's whole tree whenever it changes;
/// - `health` `{"status", "reason", "checked"}`: a running cluster's health when its
///   status or reason changed (not when only its check time did), or `null` once it
///   has none to show (stopped, failed);
/// - `end` `{"state"}`, and the stream ends: once the cluster is ready, failed, stopped
///   or deleted — with `follow=true`, only once it is deleted, so that a client sees
///   every task after the first (stop, start, scale, repair) and every change of
///   health on the one stream.
pub(super) async fn events(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let follow = query.follow()?;
    let heat = match query.source.as_deref() {
        None => false,
        Some("heat") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "source: expected heat (the stack's events), or no source for the cluster's event stream; got {other:?}"
            )));
        }
    };
    let cluster = owned_cluster(&req, &path, &state).await?;
    if heat {
        return super::heat_events::list(&cluster, &state).await;
    }
    event_stream(&state.store, &state.settings.server, &cluster, follow)
}

/// The event stream of a cluster its caller may see; 503 when the server, or the
/// cluster's tenant, has as many streams open as it may.
///
/// A stream costs nothing while its cluster is quiet but a keepalive now and then and a
/// look at the store every half minute or so: it wakes when the store signals a change.
/// A staged cluster's stream stays open, so: a client sees the deploy the moment someone
/// asks for it, as it sees every other change; a `follow` stream stays open as long as
/// its cluster is there. The caps bound what such streams hold, and a stream ends when
/// its client goes away.
pub(super) fn event_stream(
    store: &Store,
    settings: &ServerSettings,
    cluster: &Cluster,
    follow: bool,
) -> Result<HttpResponse, ApiError> {
    let limits = Limits {
        total: settings.max_event_streams,
        per_tenant: settings.max_event_streams_per_tenant,
    };
    let news = store
        .notifier()
        .subscribe(cluster.id, &cluster.tenant, limits)
        .map_err(|full| {
            ApiErrorKind::Unavailable(format!(
                "too many event streams: {full}; close one, or try again later"
            ))
        })?;
    let now = Instant::now();
    let watch = Watch {
        store: store.clone(),
        id: cluster.id,
        news,
        last_report: 0,
        reports: Vec::new(),
        last_state: None,
        last_task: None,
        expectations: tasks::eta::Expectations::default(),
        last_health: None,
        follow,
        // The first look always has news (the state), so a client sees where the
        // cluster is at once.
        look_due: true,
        next_look: now,
        last_sent: now,
        ended: false,
    };
    let body = stream::unfold(watch, |mut watch| async move {
        if watch.ended {
            return None;
        }
        let chunk = watch.next_chunk().await;
        Some((Ok::<_, actix_web::Error>(chunk), watch))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

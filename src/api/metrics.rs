//! `GET /metrics` (Prometheus' text format) and the middleware that counts every request
//! by its route's pattern (`/disco/{id}`, never the path: no ids in labels).
//!
//! It answers without credentials and whatever the Host, like `/healthz`: it shows
//! counts only (of requests, jobs, clusters by state and provider, durations), never a
//! tenant, a cluster's id or name, or anything a cluster holds; a scraper sits on the
//! operator's network and has no Keystone token.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use super::AppState;
use super::error::ApiError;
use crate::metrics::{CONTENT_TYPE, Metrics};

/// Where a request that matched no route is counted.
const UNMATCHED: &str = "unmatched";

/// Counts the request and how long its answer took, by method, route pattern and status.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| std::sync::Arc::clone(state.lifecycle.metrics()));
    let started = Instant::now();
    let method = req.method().to_string();
    let response = next.call(req).await;
    if let Some(metrics) = metrics {
        let (route, status) = match &response {
            Ok(response) => (
                response.request().match_pattern(),
                response.status().as_u16(),
            ),
            Err(error) => (None, error.as_response_error().status_code().as_u16()),
        };
        observe(&metrics, &method, route.as_deref(), status, started);
    }
    response
}

fn observe(metrics: &Metrics, method: &str, route: Option<&str>, status: u16, started: Instant) {
    let route = route.unwrap_or(UNMATCHED);
    metrics
        .http_requests
        .with_label_values(&[method, route, &status.to_string()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[method, route])
        .observe(started.elapsed().as_secs_f64());
}

/// `GET /metrics`: the counters, and the store's counts read now.
pub(super) async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let metrics = state.lifecycle.metrics();
    // One scrape at a time reads past the high marks, so that each finished step and
    // deploy is observed once.
    let mut marks = metrics.marks.lock().await;
    let census = state.store.census(*marks).await?;
    *marks = census.marks;
    metrics.clusters.reset();
    for (cluster_state, provider, count) in &census.clusters {
        metrics
            .clusters
            .with_label_values(&[cluster_state.as_str(), provider.as_str()])
            .set(*count);
    }
    metrics.jobs_queued.reset();
    for (kind, count) in &census.queued {
        metrics.jobs_queued.with_label_values(&[kind]).set(*count);
    }
    for stage in &census.stages {
        let component = if stage.component.is_empty() {
            "nodes"
        } else {
            stage.component.as_str()
        };
        metrics
            .stage_duration
            .with_label_values(&[stage.provider.as_str(), component, stage.phase.as_str()])
            .observe(stage.seconds);
    }
    for deploy in &census.deploys {
        metrics
            .deploy_duration
            .with_label_values(&[deploy.provider.as_str(), deploy.outcome.as_str()])
            .observe(deploy.seconds);
    }
    drop(marks);
    let text = metrics
        .render()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("rendering the metrics: {e}")))?;
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text))
}

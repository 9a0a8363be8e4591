//! `GET /disco/UUID/events?source=heat`: the events of a cluster's Heat stack, as JSON,
//! oldest first (`/events` without `source` is the cluster's own event stream).

use actix_web::HttpResponse;
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, ApiErrorKind};
use crate::cluster::Cluster;
use crate::cluster::heat_events::HeatEvent;
use crate::providers::ProviderError;

#[derive(Serialize)]
struct Listing<'a> {
    stack_id: &'a str,
    events: &'a [HeatEvent],
}

/// The stack's events, asked of Heat now (once the stack is gone, those the cluster
/// kept). 404 for a cluster of a provider that makes no stack, 409 for one that has
/// none yet.
pub(super) async fn list(cluster: &Cluster, state: &AppState) -> Result<HttpResponse, ApiError> {
    let kind = cluster.spec.request.provider;
    let provider = state.providers.get(kind).ok_or_else(|| {
        ApiErrorKind::Conflict(format!("this server does not run the {kind} provider"))
    })?;
    let no_stack = || {
        ApiErrorKind::NotFound(format!(
            "source=heat: the cluster runs on the {kind} provider, which makes no Heat stack; its own events are GET /events without source"
        ))
    };
    let Some(stack_id) = cluster.outputs.stack_id.clone() else {
        return Err(if kind == crate::domain::ProviderKind::Openstack {
            ApiErrorKind::Conflict(format!(
                "source=heat: the cluster has no Heat stack yet (it is {}); ask again once it deploys",
                cluster.state
            ))
        } else {
            no_stack()
        }
        .into());
    };
    let events = provider
        .stack_events(cluster)
        .await
        .map_err(|e| match e {
            ProviderError::Transient(e) => ApiErrorKind::Unavailable(e),
            ProviderError::Permanent(e) => {
                ApiErrorKind::Conflict(format!("Heat would not list the stack's events: {e}"))
            }
        })?
        .ok_or_else(no_stack)?;
    Ok(HttpResponse::Ok().json(Listing {
        stack_id: &stack_id,
        events: &events.0,
    }))
}

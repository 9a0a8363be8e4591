//! `GET /disco/UUID/outputs`: what a cluster offers other clusters, as JSON. The
//! cluster's own infrastructure (addresses, network, web UIs) and each component's
//! `[[outputs]]`; secret values only with `?secrets=true`, for the owner (as every
//! route here), and never in a listing or a log.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::clusters::owned_cluster;
use super::error::ApiError;
use crate::cluster::Cluster;

#[derive(Deserialize)]
pub(super) struct OutputsQuery {
    secrets: Option<String>,
}

#[derive(Serialize)]
struct Shown<'a> {
    cluster: Infrastructure<'a>,
    components: BTreeMap<&'a str, BTreeMap<&'a str, ShownOutput<'a>>>,
    /// The clusters this one uses, each with what it serves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    uses: Vec<&'a crate::frameworks::plan::PlannedUse>,
}

#[derive(Serialize)]
struct Infrastructure<'a> {
    external_ip: Option<&'a str>,
    master_private_ip: Option<&'a str>,
    slave_ips: &'a [String],
    web_uis: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    security_group: Option<&'a str>,
}

#[derive(Serialize)]
struct ShownOutput<'a> {
    description: &'a str,
    secret: bool,
    /// Absent for a secret one unless asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
}

pub(super) async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<OutputsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let secrets = match query.secrets.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "secrets: expected true or false, got {}",
                crate::domain::text::quoted_excerpt(other)
            )));
        }
    };
    let cluster = owned_cluster(&req, &path, &state).await?;
    let mut response = HttpResponse::Ok();
    if secrets {
        response.insert_header((header::CACHE_CONTROL, "no-store"));
    }
    Ok(response.json(shown(&cluster, secrets)))
}

fn shown(cluster: &Cluster, secrets: bool) -> Shown<'_> {
    let outputs = &cluster.outputs;
    Shown {
        cluster: Infrastructure {
            external_ip: outputs.external_ip.as_deref(),
            master_private_ip: outputs.master_private_ip.as_deref(),
            slave_ips: &outputs.slave_ips,
            web_uis: &outputs.web_uis,
            network: outputs.network.as_deref(),
            security_group: outputs.security_group.as_deref(),
        },
        components: outputs
            .exports
            .iter()
            .map(|(component, exports)| {
                let shown = exports
                    .iter()
                    .map(|(name, export)| {
                        (
                            name.as_str(),
                            ShownOutput {
                                description: &export.description,
                                secret: export.secret,
                                value: (secrets || !export.secret).then_some(export.value.as_str()),
                            },
                        )
                    })
                    .collect();
                (component.as_str(), shown)
            })
            .collect(),
        uses: cluster.plan.uses.iter().collect(),
    }
}

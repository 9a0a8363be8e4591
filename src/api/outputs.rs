//! `GET /disco/UUID/outputs`: what a cluster offers other clusters, as JSON. The
//! cluster's own infrastructure (addresses, network, web UIs) and each component's
//! `[[outputs]]`; secret values only with `?secrets=true`, for the owner (as every
//! route here), and never in a listing or a log.
//!
//! `POST /disco/UUID/outputs`: a VM master's report, with the cluster's report token, of
//! the files its components' outputs are read from.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::clusters::owned_cluster;
use super::error::ApiError;
use super::tasks::{query_flag, reporting_cluster};
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
    let secrets = query_flag("secrets", query.secrets.as_deref())?;
    let cluster = owned_cluster(&req, &path, &state).await?;
    let mut response = HttpResponse::Ok();
    if secrets {
        response.insert_header((header::CACHE_CONTROL, "no-store"));
    }
    Ok(response.json(shown(&cluster, secrets)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportedFiles {
    files: BTreeMap<String, String>,
}

/// `POST /disco/UUID/outputs` `{"files": {"swarm/www/worker-token": "<base64>"}}`: what
/// the master read of its outputs' files; each must be a file an output of the plan
/// names, of at most `LONGEST_VALUE` bytes without NUL (not UTF-8 is taken as it comes
/// out, with replacement characters; a trailing line break is dropped, as a token's
/// file ends in one). `204`.
pub(super) async fn report(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    use crate::frameworks::catalogue::LONGEST_VALUE;
    let cluster = reporting_cluster(&req, &path, &state).await?;
    let id = cluster.id;
    let body: ReportedFiles = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request(
            "outputs: expected JSON {\"files\": {\"PATH\": \"the content in base64\"}}",
        )
    })?;
    let known = cluster.plan.output_files();
    let mut files = BTreeMap::new();
    for (file, encoded) in body.files {
        use base64::Engine as _;
        if !known.contains(&file) {
            return Err(ApiError::bad_request(format!(
                "outputs files: this cluster's outputs are read from {}, got {}",
                if known.is_empty() {
                    "no file".to_string()
                } else {
                    known.join(", ")
                },
                crate::domain::text::quoted_excerpt(&file)
            )));
        }
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return Err(ApiError::bad_request(format!(
                "outputs files.{}: expected the file's content in base64",
                crate::domain::text::quoted_excerpt(&file)
            )));
        };
        let content = String::from_utf8_lossy(&bytes);
        let content = content.strip_suffix('\n').unwrap_or(&content).to_string();
        files.insert(file, content);
    }
    for (file, content) in &files {
        if content.len() > LONGEST_VALUE || content.contains('\0') {
            return Err(ApiError::bad_request(format!(
                "outputs files.{file}: expected at most {LONGEST_VALUE} bytes of text, got {} bytes",
                content.len()
            )));
        }
    }
    state.store.set_reported_files(id, files).await?;
    Ok(HttpResponse::NoContent().finish())
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

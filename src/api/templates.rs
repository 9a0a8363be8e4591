//! `/disco/templates/`: the templates a tenant may create from (the operator's and its
//! own, JSON), saving its own, and `?action=save_template` on a cluster.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::error::ApiError;
use super::present;
use super::request::read_body;
use crate::cluster::Cluster;
use crate::domain::attributes::{TEMPLATE_DESCRIPTION, TEMPLATE_NAME};
use crate::occi::text::Attribute;
use crate::templates::{Origin, RawTemplate, Template, TemplateName};

/// `GET /disco/templates/`: the operator's templates, then the caller's tenant's.
pub(super) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = state.identify(&req).await?;
    let templates = state.creator.templates.list(&identity.tenant).await?;
    let shown: Vec<_> = templates
        .iter()
        .map(|(origin, t)| present::template(t, *origin, &state.manifest))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "templates": shown })))
}

/// `POST /disco/templates/` with the template as JSON: checked, saved as the tenant's.
pub(super) async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = state.identify(&req).await?;
    let body = read_body(&req, payload, state.settings.server.body_limit).await?;
    let raw = RawTemplate::from_json(&body)
        .map_err(|e| ApiError::bad_request(format!("template body (JSON): {e}")))?;
    if raw.name.is_none() {
        return Err(ApiError::bad_request(
            "name: missing; a template is named (a slug such as spark-notebook)",
        ));
    }
    let template = state.creator.templates.save(&identity.tenant, raw).await?;
    Ok(saved(&req, &state, &template))
}

/// `GET /disco/templates/NAME`: the operator's or the tenant's; another tenant's is a 404.
pub(super) async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = state.identify(&req).await?;
    let (origin, template) = state
        .creator
        .templates
        .find(&identity.tenant, &path)
        .await?
        .ok_or_else(|| no_template(&path))?;
    Ok(HttpResponse::Ok().json(present::template(&template, origin, &state.manifest)))
}

/// `DELETE /disco/templates/NAME`: the tenant's own; the operator's are files (403).
pub(super) async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = state.identify(&req).await?;
    if state
        .creator
        .templates
        .delete(&identity.tenant, &path)
        .await?
    {
        tracing::info!(tenant = identity.tenant.as_str(), template = %path, "template deleted");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(no_template(&path))
    }
}

/// `POST /disco/UUID?action=save_template` with `icclab.disco.template_name` (and
/// optionally `icclab.disco.template_description`): the cluster's create, as a template.
pub(super) async fn save_from_cluster(
    req: &HttpRequest,
    state: &AppState,
    tenant: &crate::domain::TenantId,
    cluster: &Cluster,
    attributes: &[Attribute],
) -> Result<HttpResponse, ApiError> {
    let text = |name: &str| {
        attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.to_string())
    };
    let name = text(TEMPLATE_NAME).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{TEMPLATE_NAME}: missing; save_template needs the name of the template"
        ))
    })?;
    let name = TemplateName::parse(&name).map_err(|expected| {
        ApiError::bad_request(format!("{TEMPLATE_NAME}: expected {expected}"))
    })?;
    let description = text(TEMPLATE_DESCRIPTION).unwrap_or_else(|| {
        format!(
            "saved from cluster {} ({})",
            cluster.spec.request.name,
            cluster.spec.component_names().join(", ")
        )
    });
    let template = state
        .creator
        .templates
        .save_from_cluster(tenant, cluster, name, description)
        .await?;
    Ok(saved(req, state, &template))
}

fn saved(req: &HttpRequest, state: &AppState, template: &Template) -> HttpResponse {
    let location = format!(
        "{}{}templates/{}",
        state.base_url(req),
        state.manifest.kind.location,
        template.name
    );
    HttpResponse::build(StatusCode::CREATED)
        .insert_header((header::LOCATION, location))
        .json(present::template(template, Origin::Tenant, &state.manifest))
}

fn no_template(name: &str) -> ApiError {
    let shown: String = name.chars().take(64).collect();
    ApiError::not_found(format!("no template {shown:?} here"))
}

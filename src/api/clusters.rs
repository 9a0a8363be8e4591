//! The disco kind's collection and instances: create, list, show, delete, actions.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use std::sync::Arc;

use super::AppState;
use super::error::ApiError;
use super::listing::{ListQuery, Listing, Page};
use super::negotiate::Rendering;
use super::present::{self, PrivateKey};
use super::request::read_occi;
use crate::cluster::Cluster;
use crate::domain::ClusterId;
use crate::domain::attributes::{LIFETIME, SLAVE_COUNT, TEMPLATE};
use crate::frameworks::catalogue::NodeGroup;
use crate::lifecycle::create::CreateRequest;
use crate::lifecycle::{expiry, scale};
use crate::manifest::Manifest;
use crate::occi::text::{Category, CategoryClass};
use crate::store::Operation;
use crate::templates::TEMPLATE_SCHEME;

#[derive(Deserialize)]
pub(super) struct CreateQuery {
    /// Check and plan the create, and make nothing (`?dry_run=true`).
    #[serde(default)]
    dry_run: bool,
}

pub(super) async fn create(
    req: HttpRequest,
    Rendering(media): Rendering,
    query: web::Query<CreateQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = state.identify(&req).await?;
    let request = create_request(&req, payload, &state).await?;
    if query.dry_run {
        let (cluster, preflight) = state.creator.dry_run(&identity, request).await?;
        return Ok(HttpResponse::Ok().json(serde_json::json!({
            "dry_run": true,
            "name": cluster.spec.request.name.to_string(),
            "provider": cluster.plan.provider,
            "plan": cluster.plan.redacted(),
            "resources": preflight.needs,
            "project": preflight.project,
            "left": preflight.left,
            "unchecked": preflight.unchecked,
        })));
    }
    let cluster = state.creator.create(&identity, request).await?;
    let resource = present::cluster_resource(
        &cluster,
        &state.manifest,
        &state.base_url(&req),
        PrivateKey::Hidden,
    );
    present::created(media, &resource)
}

/// What a create's OCCI request asks for.
async fn create_request(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<CreateRequest, ApiError> {
    let occi = read_occi(req, payload, state.settings.server.body_limit).await?;
    let (categories, template) = template_mixin(occi.categories)?;
    check_kind(&categories, &state.manifest)?;
    let mut attributes = occi.attributes;
    if let Some(term) = template {
        match attributes.iter().find(|a| a.name == TEMPLATE) {
            Some(named) if named.value.to_string() != term => {
                return Err(ApiError::bad_request(format!(
                    "{TEMPLATE}: {} disagrees with the template's Category {term:?}: give one",
                    named.value.quoted()
                )));
            }
            Some(_) => {}
            None => attributes.push(crate::occi::text::Attribute {
                name: TEMPLATE.to_string(),
                value: crate::domain::Scalar::String(term),
            }),
        }
    }
    Ok(CreateRequest {
        attributes,
        components: None,
        uses: used_links(&occi.links)?,
    })
}

/// The relation of a create's link to a cluster it uses.
pub const USES_REL: &str = "http://schemas.cloudcomplab.ch/occi/sm#uses";

/// The clusters a create's OCCI links say it uses (`Link: </disco/UUID>;
/// rel="...sm#uses"`), as UUIDs; a link of another relation is refused by name.
fn used_links(links: &[crate::occi::text::Link]) -> Result<Vec<String>, ApiError> {
    links
        .iter()
        .map(|link| {
            if link.rel != USES_REL {
                return Err(ApiError::bad_request(format!(
                    "Link: relation {:?} is not offered here; expected rel=\"{USES_REL}\" to a cluster this one uses",
                    link.rel
                )));
            }
            let target = link.target.trim_end_matches('/');
            let id = target.rsplit('/').next().unwrap_or_default();
            id.parse::<ClusterId>().map(|id| id.to_string()).map_err(|_| {
                ApiError::bad_request(format!(
                    "Link: target {:?} is not a cluster's location; expected /disco/UUID",
                    link.target
                ))
            })
        })
        .collect()
}

/// The template a create's Category names (a mixin of the templates' scheme), apart from
/// the other categories; at most one.
fn template_mixin(categories: Vec<Category>) -> Result<(Vec<Category>, Option<String>), ApiError> {
    let (templates, others): (Vec<Category>, Vec<Category>) = categories
        .into_iter()
        .partition(|c| c.class == CategoryClass::Mixin && c.scheme == TEMPLATE_SCHEME);
    match templates.as_slice() {
        [] => Ok((others, None)),
        [one] => Ok((others, Some(one.term.clone()))),
        several => Err(ApiError::bad_request(format!(
            "Category: {} templates named ({}); a create starts from one",
            several.len(),
            several
                .iter()
                .map(|c| c.term.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A create names exactly the service's kind; other categories are refused by name.
fn check_kind(categories: &[Category], manifest: &Manifest) -> Result<(), ApiError> {
    let expected = format!(
        "{}; scheme=\"{}\"; class=\"kind\"",
        manifest.kind.term, manifest.kind.scheme
    );
    let is_ours = |c: &Category| {
        c.class == CategoryClass::Kind
            && c.term == manifest.kind.term
            && c.scheme == manifest.kind.scheme
    };
    if categories.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Category: missing; expected {expected}"
        )));
    }
    if let Some(foreign) = categories.iter().find(|c| !is_ours(c)) {
        return Err(ApiError::bad_request(format!(
            "Category: {}{} ({}) is not offered here; expected {expected}",
            foreign.scheme, foreign.term, foreign.class
        )));
    }
    Ok(())
}

/// `GET /disco/`: the tenant's clusters, streamed; a page of them with `?limit=N`
/// (`&marker=UUID`: after that one), with a `Link: <…>; rel="next"` while more remain.
pub(super) async fn list(
    req: HttpRequest,
    Rendering(media): Rendering,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::of(&query)?;
    let identity = state.identify(&req).await?;
    let listing = Listing {
        store: state.store.clone(),
        tenant: identity.tenant,
        manifest: Arc::clone(&state.manifest),
        base: state.base_url(&req),
    };
    listing.respond(media, page).await
}

pub(super) async fn show(
    req: HttpRequest,
    Rendering(media): Rendering,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = state.identify(&req).await?;
    let asked = super::shown::Asked {
        cluster: parse_id(&path)?,
        media,
        base: state.base_url(&req),
    };
    // Taken before the read: a write after it makes what is read here out of date.
    let writes = state.store.writes();
    if let Some(answer) = state
        .shown
        .as_ref()
        .and_then(|shown| shown.answer(&asked, &identity.tenant, writes))
    {
        return Ok(answer);
    }
    let cluster = cluster_of(&identity.tenant, &path, &state).await?;
    let resource =
        present::cluster_resource(&cluster, &state.manifest, &asked.base, PrivateKey::Shown);
    // It holds the private key: no cache may keep a copy.
    let mut response = present::resource(StatusCode::OK, media, &resource)?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(match &state.shown {
        Some(shown) => shown.keep(asked, identity.tenant, writes, response).await,
        None => response,
    })
}

#[derive(Deserialize)]
pub(super) struct DeleteQuery {
    cascade: Option<String>,
}

/// `DELETE /disco/UUID`: a 409 naming the clusters that use it; with `?cascade=true`,
/// they are deleted first, then it.
pub(super) async fn delete(
    req: HttpRequest,
    Rendering(media): Rendering,
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = state.identify(&req).await?;
    let id = parse_id(&path)?;
    let cascade = super::tasks::query_flag("cascade", query.cascade.as_deref())?;
    let cluster = if cascade {
        let (cluster, dependents) = state
            .store
            .request_delete_cascade(&identity.tenant, id)
            .await?
            .ok_or_else(|| no_cluster(&path))?;
        for dependent in &dependents {
            tracing::info!(cluster = %dependent.id, with = %cluster.id, "delete requested (cascade)");
        }
        cluster
    } else {
        state
            .store
            .request_delete(&identity.tenant, id)
            .await?
            .ok_or_else(|| no_cluster(&path))?
    };
    state.lifecycle.wake();
    tracing::info!(cluster = %cluster.id, cascade, "delete requested");
    let resource = present::cluster_resource(
        &cluster,
        &state.manifest,
        &state.base_url(&req),
        PrivateKey::Hidden,
    );
    present::resource(StatusCode::OK, media, &resource)
}

#[derive(Deserialize)]
pub(super) struct ActionQuery {
    action: Option<String>,
}

/// `POST /disco/UUID?action=TERM`: deploy, stop, start, scale (with the new slave
/// count as an attribute). With no action, a partial update: the attributes to change,
/// of which only the slave count may (a scale).
pub(super) async fn action(
    req: HttpRequest,
    Rendering(media): Rendering,
    path: web::Path<String>,
    query: web::Query<ActionQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = state.identify(&req).await?;
    let id = parse_id(&path)?;
    let occi = read_occi(&req, payload, state.settings.server.body_limit).await?;
    let terms: Vec<&str> = state
        .manifest
        .actions
        .iter()
        .map(|a| a.term.as_str())
        .collect();
    // A partial update (OCCI 1.2 HTTP: POST to the entity with the attributes to change)
    // of a staged cluster: anything a create takes, checked and resolved again.
    if query.action.is_none() && !occi.attributes.is_empty() {
        let cluster = cluster_of(&identity.tenant, &path, &state).await?;
        // A change of its lifetime alone is the lifetime's (below), staged or not: it
        // does not resolve the cluster again (nor need the clusters it uses ready).
        let lifetime_only = occi
            .attributes
            .iter()
            .all(|a| crate::domain::attributes::LIFETIME.contains(&a.name.as_str()));
        if cluster.state == crate::domain::ClusterState::Pending
            && cluster.spec.staged
            && !lifetime_only
        {
            let cluster = state
                .creator
                .update_staged(&identity, id, occi.attributes)
                .await?
                .ok_or_else(|| no_cluster(&path))?;
            return changed(&req, media, &state, &cluster);
        }
        refuse_change_of_running(&cluster, &occi.attributes, &state.manifest)?;
    }
    // A partial update of the lifetime: its owner extends it (or shortens it).
    if query.action.is_none() && expiry::sets_lifetime(&occi.attributes) {
        let cluster = expiry::extend(
            &state.store,
            &state.settings.jobs.lifetimes(),
            &identity.tenant,
            id,
            &occi.attributes,
        )
        .await?
        .ok_or_else(|| no_cluster(&path))?;
        tracing::info!(cluster = %cluster.id, lifetime = ?cluster.spec.lifetime, "lifetime changed");
        return changed(&req, media, &state, &cluster);
    }
    let term = match query.action.as_deref() {
        Some(term) => term,
        None if !occi.attributes.is_empty() => "scale",
        None => {
            return Err(ApiError::bad_request(format!(
                "action: POST to a cluster needs ?action=, one of {}, or the attributes to \
                 change ({} of a running cluster, or its lifetime: {})",
                terms.join(", "),
                crate::domain::attributes::SLAVE_COUNT,
                crate::domain::attributes::LIFETIME.join(", ")
            )));
        }
    };
    let Some(action) = state.manifest.action(term) else {
        return Err(ApiError::bad_request(format!(
            "action: unknown action {term:?}; expected one of {}",
            terms.join(", ")
        )));
    };
    if action.attributes.is_empty()
        && let Some(given) = occi.attributes.first()
    {
        return Err(ApiError::bad_request(format!(
            "{}: action {} takes no attributes",
            given.name.chars().take(80).collect::<String>(),
            action.term
        )));
    }
    if action.term == "save_template" {
        let cluster = cluster_of(&identity.tenant, &path, &state).await?;
        return super::templates::save_from_cluster(
            &req,
            &state,
            &identity.tenant,
            &cluster,
            &occi.attributes,
        )
        .await;
    }
    let cluster = match action.term.as_str() {
        "deploy" => state.creator.deploy_staged(&identity, id).await?,
        "stop" => {
            state
                .store
                .request_operation(&identity.tenant, id, Operation::Stop)
                .await?
        }
        "start" => {
            state
                .store
                .request_operation(&identity.tenant, id, Operation::Start)
                .await?
        }
        "repair" => state.lifecycle.request_repair(&identity.tenant, id).await?,
        "cancel" => state.lifecycle.request_cancel(&identity.tenant, id).await?,
        "scale" => {
            let slaves = scale::requested_slaves(&occi.attributes)?;
            scale::request(&state.store, &state.providers, &identity, id, slaves).await?
        }
        other => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "the manifest declares action {other:?}, which has no handler"
            )));
        }
    }
    .ok_or_else(|| no_cluster(&path))?;
    state.lifecycle.wake();
    changed(&req, media, &state, &cluster)
}

/// The answer to a change of a cluster: 200 and the cluster as it now is, its private
/// key hidden.
fn changed(
    req: &HttpRequest,
    media: crate::occi::MediaType,
    state: &AppState,
    cluster: &Cluster,
) -> Result<HttpResponse, ApiError> {
    let resource = present::cluster_resource(
        cluster,
        &state.manifest,
        &state.base_url(req),
        PrivateKey::Hidden,
    );
    present::resource(StatusCode::OK, media, &resource)
}

/// A partial update of a cluster that is no longer staged: only its slave count (a
/// scale) and its lifetime change; any other attribute the manifest knows is a 409
/// naming its state (and one it does not, a 400).
fn refuse_change_of_running(
    cluster: &Cluster,
    attributes: &[crate::occi::text::Attribute],
    manifest: &Manifest,
) -> Result<(), ApiError> {
    let changeable = |name: &str| name == SLAVE_COUNT || LIFETIME.contains(&name);
    let Some(other) = attributes.iter().find(|a| !changeable(&a.name)) else {
        return Ok(());
    };
    if manifest.attribute(&other.name).is_none() {
        manifest
            .check_request_with(attributes, &[crate::domain::attributes::INJECT])
            .map_err(|errors| {
                ApiError::bad_request(crate::manifest::AttributeError::joined(&errors))
            })?;
    }
    Err(crate::api::error::ApiErrorKind::Conflict(format!(
        "cluster is {}: {} can be changed only while it is staged (pending, created with \
         icclab.disco.stage=\"true\", before ?action=deploy); once deployed, only {SLAVE_COUNT} \
         (a scale) and its lifetime ({}) change",
        cluster.state,
        other.name.chars().take(80).collect::<String>(),
        LIFETIME.join(", ")
    ))
    .into())
}

/// The caller's cluster named in the path; another tenant's is as absent as a missing one.
pub(super) async fn owned_cluster(
    req: &HttpRequest,
    path: &str,
    state: &AppState,
) -> Result<Cluster, ApiError> {
    let identity = state.identify(req).await?;
    cluster_of(&identity.tenant, path, state).await
}

/// The tenant's cluster `path` names; 404 for any other.
pub(super) async fn cluster_of(
    tenant: &crate::domain::TenantId,
    path: &str,
    state: &AppState,
) -> Result<Cluster, ApiError> {
    let id = parse_id(path)?;
    state
        .store
        .cluster(Some(tenant), id)
        .await?
        .ok_or_else(|| no_cluster(path))
}

pub(super) fn parse_id(path: &str) -> Result<ClusterId, ApiError> {
    path.parse().map_err(|_| no_cluster(path))
}

pub(super) fn no_cluster(path: &str) -> ApiError {
    let shown: String = path.chars().take(64).collect();
    ApiError::not_found(format!("no cluster {shown:?} here"))
}

/// `GET /disco/components`: the catalogue, for clients (JSON).
pub(super) async fn components(state: web::Data<AppState>) -> HttpResponse {
    let components: Vec<_> = state
        .catalogue
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "version": c.version,
                "description": c.description,
                "depends_on": c.depends_on,
                "providers": c.providers,
                "parameters": c.parameters,
                "ports": c.ports,
                "web_uis": c.web_uis,
            })
        })
        .collect();
    HttpResponse::Ok().json(serde_json::json!({ "components": components }))
}

/// `GET /disco/UUID/plan`: what the request resolved to (JSON), secrets hidden.
pub(super) async fn plan(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cluster = owned_cluster(&req, &path, &state).await?;
    Ok(HttpResponse::Ok().json(cluster.plan.redacted()))
}

#[derive(Deserialize)]
pub(super) struct TemplateQuery {
    /// `master` or `slaves`: that node group's script, in the clear, rather than the
    /// template (whose user data holds it compressed).
    #[serde(default)]
    node: Option<String>,
}

/// `GET /disco/UUID/template`: the Heat template the cluster deploys, secrets hidden;
/// with `?node=master|slaves`, that group's node script as it runs.
pub(super) async fn template(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TemplateQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let node = match query.node.as_deref() {
        None => None,
        Some("master") => Some(NodeGroup::Master),
        Some("slaves") => Some(NodeGroup::Slaves),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "node: expected master or slaves, got {}",
                crate::domain::text::quoted_excerpt(other)
            )));
        }
    };
    let mut cluster = owned_cluster(&req, &path, &state).await?;
    cluster.plan = cluster.plan.redacted();
    let composition = state
        .lifecycle
        .compose_shown(&cluster)
        .await
        .map_err(ApiError::internal)?;
    Ok(match node {
        None => HttpResponse::Ok()
            .content_type("application/yaml; charset=utf-8")
            .body(composition.template),
        Some(group) => HttpResponse::Ok()
            .content_type("text/x-shellscript; charset=utf-8")
            .body(match group {
                NodeGroup::Master => composition.master_script,
                NodeGroup::Slaves => composition.slave_script,
            }),
    })
}

//! The dashboard's handlers: each reads the request, asks the store (or Keystone), and
//! answers with a rendered page, a redirect or a download.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::csrf::{check_csrf, csrf_token};
use super::form::{create_request, field, template_form};
use super::node_choices;
use super::session::{self, who};
use super::timeline::Timeline;
use super::views::{Chrome, ClusterPage, ClustersPage, LoginPage, NewPage, WebUiLink, page};
use crate::api::AppState;
use crate::api::clusters::{cluster_of, no_cluster, parse_id};
use crate::api::error::ApiError;
use crate::api::listing::{ListQuery, Page};
use crate::api::tasks::EventsQuery;
use crate::auth::{Credentials, Identity};
use crate::cluster::Cluster;
use crate::config::AuthMode;
use crate::domain::{ClusterState, HealthStatus};
use crate::frameworks::catalogue::GroupScope;
use crate::lifecycle::create::CreateError;
use crate::lifecycle::scale;
use crate::openstack::nodes::NodeChoices;
use crate::store::Operation;
use crate::templates::{Origin, Template};

/// How long a web UI's port has to answer for its dot to be green.
const REACH_TIMEOUT: Duration = Duration::from_millis(500);

/// What every page's header needs: who is signed in, and the token to sign out.
async fn chrome(req: &HttpRequest, state: &AppState, csrf: &str) -> Chrome {
    Chrome::new(session::signed_in_user(req, state).await, csrf.to_string())
}

fn with_cookie(mut response: HttpResponse, cookie: Option<Cookie<'static>>) -> HttpResponse {
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// `GET /dashboard`: the caller's clusters.
pub(crate) async fn clusters(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let (csrf, cookie) = csrf_token(&req);
    let (clusters, next) = page_of_clusters(&state, &identity, &query).await?;
    let next = next.map(|(limit, marker)| format!("/dashboard?limit={limit}&marker={marker}"));
    let view = ClustersPage::new(chrome(&req, &state, &csrf).await, &clusters).with_next(next);
    Ok(with_cookie(page(&view)?, cookie))
}

/// `GET /dashboard/states`: each cluster's state and health (`null`: none to show),
/// for the live listing.
pub(crate) async fn states(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let (clusters, _) = page_of_clusters(&state, &identity, &query).await?;
    let states: BTreeMap<String, LiveState> = clusters
        .iter()
        .map(|c| {
            let live = LiveState {
                state: c.state,
                health: c.shown_health().map(|h| h.status),
            };
            (c.id.to_string(), live)
        })
        .collect();
    Ok(HttpResponse::Ok().json(states))
}

/// How many clusters a page of the dashboard's listing shows unless `?limit` says.
const DASHBOARD_PAGE: usize = 50;

/// The page of the caller's clusters the listing's query asks for (`DASHBOARD_PAGE`
/// without a limit), and the limit and marker of the next when more follow.
async fn page_of_clusters(
    state: &AppState,
    identity: &Identity,
    query: &ListQuery,
) -> Result<(Vec<Cluster>, Option<(usize, crate::domain::ClusterId)>), ApiError> {
    let page = Page::of(query)?.or_limit(DASHBOARD_PAGE);
    page.check_marker(&state.store, &identity.tenant).await?;
    let limit = page.limit().unwrap_or(DASHBOARD_PAGE);
    let clusters = state
        .store
        .clusters_after(&identity.tenant, page.marker(), limit)
        .await?;
    let next = page.next_marker(&state.store, &identity.tenant).await?;
    Ok((clusters, next.map(|marker| (limit, marker))))
}

/// A cluster as the live listing redraws it.
#[derive(serde::Serialize)]
struct LiveState {
    state: ClusterState,
    health: Option<HealthStatus>,
}

/// The create form: empty, or as `form` sent it with the reason it was refused.
async fn new_page(
    req: &HttpRequest,
    state: &AppState,
    csrf: &str,
    form: &[(String, String)],
    error: Option<String>,
    choices: Option<&NodeChoices>,
    offered: Offered<'_>,
) -> NewPage {
    NewPage::new(
        chrome(req, state, csrf).await,
        &state.catalogue,
        &state.providers.kinds(),
        &state.settings.provider.default.to_string(),
        form,
        error,
        node_choices::fields(form, choices),
    )
    .with_templates(offered.templates)
    .with_usable(offered.usable, form)
}

/// What the create form offers to start from: the caller's templates, and the clusters
/// it may use.
struct Offered<'a> {
    templates: &'a [(Origin, Template)],
    usable: &'a [crate::cluster::Cluster],
}

#[derive(serde::Deserialize)]
pub(crate) struct NewQuery {
    template: Option<String>,
}

/// `GET /dashboard/new`: the create form; `?template=NAME` fills it in from the
/// template (no script needed: the page's template select is a GET form).
pub(crate) async fn new_form(
    req: HttpRequest,
    query: web::Query<NewQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let choices = node_choices::listed(&state, &identity).await;
    let templates = state.creator.templates.list(&identity.tenant).await?;
    let usable = state.store.clusters(&identity.tenant).await?;
    let (csrf, cookie) = csrf_token(&req);
    let wanted = query.template.as_deref().filter(|t| !t.is_empty());
    let (form, error) = match wanted {
        None => (Vec::new(), None),
        Some(name) => match templates.iter().find(|(_, t)| t.name.as_str() == name) {
            Some((_, template)) => (template_form(template), None),
            None => (
                Vec::new(),
                Some(
                    CreateError::UnknownTemplate {
                        name: name.chars().take(80).collect(),
                        known: templates.iter().map(|(_, t)| t.name.to_string()).collect(),
                    }
                    .to_string(),
                ),
            ),
        },
    };
    let refused = error.is_some();
    let view = new_page(
        &req,
        &state,
        &csrf,
        &form,
        error,
        choices.as_ref(),
        Offered {
            templates: &templates,
            usable: &usable,
        },
    )
    .await;
    let mut response = page(&view)?;
    if refused {
        *response.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(with_cookie(response, cookie))
}

/// `POST /dashboard/new`: creates the cluster and shows its page; a refused request
/// shows the form again, filled in, with the reason.
pub(crate) async fn create(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    check_csrf(&req, &form)?;
    let identity = who(&req, &state).await?;
    let asking = identity.clone();
    let created = match create_request(&form) {
        Ok(request) => state.creator.create(&identity, request).await,
        Err(refused) => Err(refused),
    };
    match created {
        Ok(cluster) => Ok(see_other(&format!("/dashboard/clusters/{}", cluster.id))),
        Err(e) if e.is_refusal() => {
            let reason = e.to_string();
            let status = actix_web::ResponseError::status_code(&ApiError::from(e));
            let choices = node_choices::listed(&state, &asking).await;
            let templates = state.creator.templates.list(&asking.tenant).await?;
            let usable = state.store.clusters(&asking.tenant).await?;
            let (csrf, cookie) = csrf_token(&req);
            let view = new_page(
                &req,
                &state,
                &csrf,
                &form,
                Some(reason),
                choices.as_ref(),
                Offered {
                    templates: &templates,
                    usable: &usable,
                },
            )
            .await;
            let mut response = page(&view)?;
            *response.status_mut() = status;
            Ok(with_cookie(response, cookie))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /dashboard/clusters/UUID`: the cluster's page.
pub(crate) async fn cluster(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let cluster = cluster_of(&identity.tenant, &path, &state).await?;
    let (csrf, cookie) = csrf_token(&req);
    let web_uis = web_uis(&cluster).await;
    let repairs = state
        .providers
        .get(cluster.spec.request.provider)
        .is_some_and(|p| p.repairs());
    let task = crate::api::tasks::latest_expected(&state.store, &cluster).await?;
    let timeline = Timeline::of(cluster.id.to_string(), &task, chrono::Utc::now());
    let dependents = state
        .store
        .dependents(cluster.id)
        .await?
        .into_iter()
        .map(|(id, name)| super::views::ClusterLink::new(id, &name))
        .collect();
    let view = ClusterPage::new(
        chrome(&req, &state, &csrf).await,
        &cluster,
        web_uis,
        repairs,
        timeline,
    )
    .used_by(dependents);
    Ok(with_cookie(page(&view)?, cookie))
}

/// `GET /dashboard/clusters/UUID/timeline`: the cluster page's timeline of its latest
/// task, alone, for the page to redraw it when the task changes.
pub(crate) async fn timeline(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let cluster = cluster_of(&identity.tenant, &path, &state).await?;
    let task = crate::api::tasks::latest_expected(&state.store, &cluster).await?;
    let mut response = page(&Timeline::of(
        cluster.id.to_string(),
        &task,
        chrono::Utc::now(),
    ))?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The web UIs on the cluster's master, each checked for whether its port answers;
/// none before the cluster has an address.
async fn web_uis(cluster: &Cluster) -> Vec<WebUiLink> {
    let Some(address) = cluster
        .outputs
        .external_ip
        .as_deref()
        .filter(|a| !a.is_empty())
    else {
        return Vec::new();
    };
    let uis: Vec<_> = cluster
        .plan
        .components
        .iter()
        .flat_map(|c| c.web_uis.iter().map(move |ui| (c.name.clone(), ui.clone())))
        .filter(|(_, ui)| ui.node_group != GroupScope::Slaves)
        .collect();
    let checks = uis.iter().map(|(_, ui)| {
        let target = format!("{address}:{}", ui.port);
        async move {
            tokio::time::timeout(REACH_TIMEOUT, tokio::net::TcpStream::connect(target))
                .await
                .is_ok_and(|c| c.is_ok())
        }
    });
    let reachable = futures_util::future::join_all(checks).await;
    uis.into_iter()
        .zip(reachable)
        .map(|((component, ui), up)| WebUiLink {
            url: format!("http://{address}:{}{}", ui.port, ui.path),
            name: ui.name,
            component,
            up,
        })
        .collect()
}

/// `GET /dashboard/clusters/UUID/key`: the private key as a file (owner only).
pub(crate) async fn key(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let cluster = cluster_of(&identity.tenant, &path, &state).await?;
    let name: String = cluster
        .spec
        .request
        .name
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.key\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(cluster.keys.expose_private_key().to_string()))
}

/// `GET /dashboard/clusters/UUID/events[?follow=true]`: the cluster's event stream, for
/// its page, which follows it (its tasks and health) as long as it is open.
pub(crate) async fn events(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let follow = query.follow()?;
    let identity = who(&req, &state).await?;
    let cluster = cluster_of(&identity.tenant, &path, &state).await?;
    crate::api::tasks::event_stream(&state.store, &state.settings.server, &cluster, follow)
}

/// `POST /dashboard/clusters/UUID/delete`.
pub(crate) async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_csrf(&req, &form)?;
    let identity = who(&req, &state).await?;
    let id = parse_id(&path)?;
    // With the clusters that use it, when the form says so.
    if field(&form, "cascade") == "true" {
        state
            .store
            .request_delete_cascade(&identity.tenant, id)
            .await?
            .ok_or_else(|| no_cluster(&path))?;
    } else {
        state
            .store
            .request_delete(&identity.tenant, id)
            .await?
            .ok_or_else(|| no_cluster(&path))?;
    }
    state.lifecycle.wake();
    Ok(see_other("/dashboard"))
}

/// `POST /dashboard/clusters/UUID/deploy`: deploys a staged cluster.
pub(crate) async fn deploy(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_csrf(&req, &form)?;
    let identity = who(&req, &state).await?;
    let cluster = state
        .creator
        .deploy_staged(&identity, parse_id(&path)?)
        .await?
        .ok_or_else(|| no_cluster(&path))?;
    state.lifecycle.wake();
    Ok(see_other(&format!("/dashboard/clusters/{}", cluster.id)))
}

/// `POST /dashboard/clusters/UUID/repair`: starts again what fails on a ready cluster,
/// where it fails; back to its page, which follows the repair. A cluster with nothing
/// failing is refused (409) with the reason, as `?action=repair` refuses it.
pub(crate) async fn repair(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_csrf(&req, &form)?;
    let identity = who(&req, &state).await?;
    let cluster = state
        .lifecycle
        .request_repair(&identity.tenant, parse_id(&path)?)
        .await?
        .ok_or_else(|| no_cluster(&path))?;
    Ok(see_other(&format!("/dashboard/clusters/{}", cluster.id)))
}

/// `POST /dashboard/clusters/UUID/stop`, `.../start` and `.../scale` (field `slaves`):
/// stops a ready cluster, starts a stopped one, resizes a ready one; back to its page,
/// which follows it.
pub(crate) async fn operate(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_csrf(&req, &form)?;
    let identity = who(&req, &state).await?;
    let (id, term) = path.into_inner();
    let cluster_id = parse_id(&id)?;
    let cluster = match term.as_str() {
        "stop" | "start" => {
            let operation = if term == "stop" {
                Operation::Stop
            } else {
                Operation::Start
            };
            state
                .store
                .request_operation(&identity.tenant, cluster_id, operation)
                .await?
        }
        "scale" => {
            let given = field(&form, "slaves");
            let slaves = given
                .trim()
                .parse::<i64>()
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "slaves: expected a number of slaves, got {:?}",
                        given.chars().take(20).collect::<String>()
                    ))
                })
                .and_then(|n| {
                    crate::domain::SlaveCount::parse(n)
                        .map_err(|e| ApiError::bad_request(format!("slaves: expected {e}")))
                })?;
            scale::request(
                &state.store,
                &state.providers,
                &identity,
                cluster_id,
                slaves,
            )
            .await?
        }
        _ => return Err(no_cluster(&id)),
    }
    .ok_or_else(|| no_cluster(&id))?;
    state.lifecycle.wake();
    Ok(see_other(&format!("/dashboard/clusters/{}", cluster.id)))
}

/// `GET /dashboard/login`: the sign-in form (Keystone only).
pub(crate) async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.settings.auth.mode == AuthMode::None {
        return Ok(see_other("/dashboard"));
    }
    let (csrf, cookie) = csrf_token(&req);
    let view = LoginPage::new(csrf, None, String::new(), String::new());
    Ok(with_cookie(page(&view)?, cookie))
}

/// `POST /dashboard/login`: user, password and project, exchanged with Keystone for a
/// token that stays on the server; the browser gets a session cookie.
pub(crate) async fn login(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // With no authentication there is nobody to sign in as: back to the clusters, as
    // the sign-in form does.
    if state.settings.auth.mode == AuthMode::None {
        return Ok(see_other("/dashboard"));
    }
    check_csrf(&req, &form)?;
    let value = |key: &str| field(&form, key);
    let credentials = Credentials {
        user: Some(value("user")).filter(|v| !v.is_empty()),
        password: Some(secrecy::SecretString::from(value("password"))),
        tenant: Some(value("project")).filter(|v| !v.is_empty()),
        ..Credentials::default()
    };
    match state.auth.authenticate(&credentials).await {
        Ok(Identity {
            token: Some(token),
            user,
            ..
        }) => {
            let cookie = session::sign_in(
                &state,
                token.id.clone(),
                user.unwrap_or_default(),
                token.expires_at,
            )
            .await?;
            Ok(with_cookie(see_other("/dashboard"), Some(cookie)))
        }
        Ok(_) => Err(ApiError::internal(anyhow::anyhow!(
            "keystone authentication gave no token"
        ))),
        Err(e) => {
            let error: ApiError = e.into();
            if !error.kind.is_client_error() {
                return Err(error);
            }
            let (csrf, cookie) = csrf_token(&req);
            let view = LoginPage::new(
                csrf,
                Some(error.to_string()),
                value("user"),
                value("project"),
            );
            let mut response = page(&view)?;
            *response.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
            Ok(with_cookie(response, cookie))
        }
    }
}

/// `POST /dashboard/logout`: forgets the session and its token.
pub(crate) async fn logout(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_csrf(&req, &form)?;
    let gone = session::sign_out(&req, &state).await?;
    Ok(with_cookie(see_other("/dashboard/login"), Some(gone)))
}

/// `GET /dashboard/app.js`: the pages' script, compiled in as the templates are.
pub(crate) async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "no-cache"))
        .body(include_str!("app.js"))
}

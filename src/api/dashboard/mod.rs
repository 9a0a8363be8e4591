//! The web dashboard at `/dashboard`: server-rendered pages (handlebars, HTML-escaped,
//! compiled into the binary), a little JavaScript for live state and the task tree, no
//! build step. Forms are protected by a double-submit CSRF token: a random value in an
//! HttpOnly, SameSite=Strict cookie that each form must repeat.

mod node_choices;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::json;

use super::AppState;
use super::clusters::{cluster_of, no_cluster, parse_id};
use super::error::{ApiError, ApiErrorKind};
use crate::auth::{Credentials, Identity};
use crate::cluster::Cluster;
use crate::cluster::spec::SpecError;
use crate::config::AuthMode;
use crate::domain::ClusterState;
use crate::domain::ComponentName;
use crate::domain::Scalar;
use crate::frameworks::catalogue::GroupScope;
use crate::frameworks::request::ComponentRequest;
use crate::lifecycle::create::{CreateError, CreateRequest};
use crate::occi::text::Attribute;

const CSRF_COOKIE: &str = "disco_csrf";
const SESSION_COOKIE: &str = "disco_session";
/// How long a web UI's port has to answer for its dot to be green.
const REACH_TIMEOUT: Duration = Duration::from_millis(500);

fn templates() -> &'static Handlebars<'static> {
    static TEMPLATES: OnceLock<Handlebars<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(false);
        for (name, text) in [
            ("layout", include_str!("templates/layout.hbs")),
            ("clusters", include_str!("templates/clusters.hbs")),
            ("new", include_str!("templates/new.hbs")),
            ("cluster", include_str!("templates/cluster.hbs")),
            ("login", include_str!("templates/login.hbs")),
        ] {
            // The templates are part of the binary: a broken one is a bug found by any
            // test that renders it.
            if let Err(e) = hb.register_template_string(name, text) {
                tracing::error!(template = name, error = %e, "dashboard template");
            }
        }
        hb
    })
}

fn page(name: &str, data: &serde_json::Value) -> Result<HttpResponse, ApiError> {
    let html = templates()
        .render(name, data)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("rendering {name}: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(html))
}

/// Signed-in browsers, with Keystone: the session id (in an HttpOnly, SameSite=Strict
/// cookie) stands for the user's token, which stays on the server. Kept in memory: a
/// restart signs everybody out.
#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

struct Session {
    token: secrecy::SecretString,
    user: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Sessions {
    fn open(
        &self,
        token: secrecy::SecretString,
        user: String,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> String {
        let id = crate::auth::tokens::random_token();
        let mut sessions = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let now = chrono::Utc::now();
        sessions.retain(|_, s| s.expires_at.is_none_or(|at| at > now));
        sessions.insert(
            id.clone(),
            Session {
                token,
                user,
                expires_at,
            },
        );
        id
    }

    fn token(&self, id: &str) -> Option<(secrecy::SecretString, String)> {
        let sessions = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let session = sessions.get(id)?;
        if session
            .expires_at
            .is_some_and(|at| at <= chrono::Utc::now())
        {
            return None;
        }
        Some((session.token.clone(), session.user.clone()))
    }

    fn close(&self, id: &str) {
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// Who is asking. With Keystone: the browser's session, validated with Keystone on each
/// request; without one, a 303 to the sign-in page.
async fn who(req: &HttpRequest, state: &AppState) -> Result<Identity, ApiError> {
    if state.settings.auth.mode == AuthMode::None {
        return state.identify(req).await;
    }
    let signed_in = req
        .cookie(SESSION_COOKIE)
        .and_then(|c| state.sessions.token(c.value()));
    let Some((token, _)) = signed_in else {
        return Err(ApiErrorKind::SeeOther("/dashboard/login".into()).into());
    };
    let credentials = Credentials {
        token: Some(token),
        ..Credentials::default()
    };
    match state.auth.authenticate(&credentials).await {
        Ok(identity) => Ok(identity),
        // Expired or revoked: sign in again.
        Err(crate::auth::AuthError::Keystone(_)) | Err(crate::auth::AuthError::Missing) => {
            Err(ApiErrorKind::SeeOther("/dashboard/login".into()).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// What every page's header needs: who is signed in, and the token to sign out.
fn chrome(req: &HttpRequest, state: &AppState, csrf: &str) -> serde_json::Value {
    let user = req
        .cookie(SESSION_COOKIE)
        .and_then(|c| state.sessions.token(c.value()))
        .map(|(_, user)| user);
    json!({ "signed_in": user.is_some(), "user": user, "csrf": csrf })
}

/// `data` with the header's values added.
fn with_chrome(mut data: serde_json::Value, chrome: serde_json::Value) -> serde_json::Value {
    if let (Some(data), Some(chrome)) = (data.as_object_mut(), chrome.as_object()) {
        for (key, value) in chrome {
            data.entry(key.clone()).or_insert(value.clone());
        }
    }
    data
}

/// The CSRF token of this browser, made on its first page.
fn csrf_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(cookie) = req.cookie(CSRF_COOKIE)
        && cookie.value().len() == 64
    {
        return (cookie.value().to_string(), None);
    }
    let token = crate::auth::tokens::random_token();
    let cookie = Cookie::build(CSRF_COOKIE, token.clone())
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

fn with_cookie(mut response: HttpResponse, cookie: Option<Cookie<'static>>) -> HttpResponse {
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// A form's token must be the cookie's.
fn check_csrf(req: &HttpRequest, form: &[(String, String)]) -> Result<(), ApiError> {
    let cookie = req.cookie(CSRF_COOKIE);
    let given = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    match (cookie, given) {
        (Some(cookie), Some(given)) if crate::auth::tokens::tokens_match(cookie.value(), given) => {
            Ok(())
        }
        _ => Err(ApiErrorKind::Forbidden(
            "csrf: the form's token does not match this browser's; reload the page and try again"
                .into(),
        )
        .into()),
    }
}

/// A form field's value, trimmed; empty when absent.
fn field(form: &[(String, String)], key: &str) -> String {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    components: String,
    provider: String,
    nodes: u16,
    state: String,
    created: String,
}

fn row(cluster: &Cluster) -> Row {
    Row {
        id: cluster.id.to_string(),
        name: cluster.spec.request.name.to_string(),
        components: cluster.plan.component_names().join(", "),
        provider: cluster.spec.request.provider.to_string(),
        nodes: cluster.plan.slave_count() + 1,
        state: cluster.state.to_string(),
        created: cluster.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// `GET /dashboard`: the caller's clusters.
pub(super) async fn clusters(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let (csrf, cookie) = csrf_token(&req);
    let clusters = state.store.clusters(&identity.tenant).await?;
    let rows: Vec<Row> = clusters.iter().map(row).collect();
    let data = with_chrome(json!({ "clusters": rows }), chrome(&req, &state, &csrf));
    Ok(with_cookie(page("clusters", &data)?, cookie))
}

/// `GET /dashboard/states`: each cluster's state, for the live listing.
pub(super) async fn states(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let clusters = state.store.clusters(&identity.tenant).await?;
    let states: serde_json::Map<String, serde_json::Value> = clusters
        .iter()
        .map(|c| (c.id.to_string(), json!(c.state)))
        .collect();
    Ok(HttpResponse::Ok().json(states))
}

fn new_form_data(
    state: &AppState,
    csrf: &str,
    form: &[(String, String)],
    error: Option<String>,
    choices: Option<&crate::openstack::nodes::NodeChoices>,
) -> serde_json::Value {
    let value = |key: &str| field(form, key);
    let chosen: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "component")
        .map(|(_, v)| v.clone())
        .collect();
    let provider = match value("provider") {
        p if p.is_empty() => state.settings.provider.default.to_string(),
        p => p,
    };
    let providers: Vec<_> = state
        .providers
        .kinds()
        .into_iter()
        .map(|name| json!({ "name": name, "selected": name == provider }))
        .collect();
    let components: Vec<_> = state
        .catalogue
        .iter()
        .map(|c| {
            let params: Vec<_> = c
                .parameters
                .iter()
                .map(|(name, p)| {
                    json!({
                        "name": name,
                        "kind": p.kind.as_str(),
                        "secret": p.secret,
                        "description": p.description,
                        "default": p.default.to_string(),
                    })
                })
                .collect();
            json!({
                "name": c.name,
                "version": c.version,
                "description": c.description,
                "providers": c.providers.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
                "depends": c.depends_on.join(","),
                "checked": chosen.contains(&c.name),
                "params": params,
            })
        })
        .collect();
    let or = |key: &str, default: &str| match value(key) {
        v if v.is_empty() => default.to_string(),
        v => v,
    };
    json!({
        "csrf": csrf,
        "error": error,
        "providers": providers,
        "components": components,
        "nodes": node_choices::fields(form, choices),
        "form": {
            "name": value("name"),
            "slaves": or("slaves", "2"),
            "stage": value("stage") == "true",
        },
    })
}

/// `GET /dashboard/new`: the create form.
pub(super) async fn new_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let choices = node_choices::listed(&state, &identity).await;
    let (csrf, cookie) = csrf_token(&req);
    let data = with_chrome(
        new_form_data(&state, &csrf, &[], None, choices.as_ref()),
        chrome(&req, &state, &csrf),
    );
    Ok(with_cookie(page("new", &data)?, cookie))
}

/// The create request, from the form: the components chosen as values, the rest as
/// the attributes an OCCI request would give.
fn create_request(form: &[(String, String)]) -> Result<CreateRequest, CreateError> {
    let string = |name: &str, value: &str| Attribute {
        name: name.to_string(),
        value: Scalar::String(value.to_string()),
    };
    let value = |key: &str| field(form, key);
    let components = form
        .iter()
        .filter(|(k, _)| k == "component")
        .map(|(_, v)| {
            Ok(ComponentRequest {
                name: ComponentName::parse(v).map_err(|expected| SpecError::Invalid {
                    attribute: "component",
                    expected,
                })?,
                params: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    let mut attributes = vec![
        string("icclab.disco.name", &value("name")),
        string("icclab.disco.components.heat.slavecount", &value("slaves")),
    ];
    // Fields left empty keep the server's defaults.
    if !value("provider").is_empty() {
        attributes.push(string("icclab.disco.provider", &value("provider")));
    }
    for key in ["masterimage", "slaveimage", "masterflavor", "slaveflavor"] {
        let v = value(key);
        if !v.is_empty() {
            attributes.push(string(&format!("icclab.disco.components.heat.{key}"), &v));
        }
    }
    let chosen: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "component")
        .map(|(_, v)| v.as_str())
        .collect();
    for (key, v) in form {
        // Parameters of chosen components, those given: an empty field keeps the default.
        if let Some(rest) = key.strip_prefix("param.")
            && let Some((component, _)) = rest.split_once('.')
            && chosen.contains(&component)
            && !v.is_empty()
        {
            attributes.push(string(&format!("icclab.disco.components.{rest}"), v));
        }
    }
    if value("stage") == "true" {
        attributes.push(string("icclab.disco.stage", "true"));
    }
    Ok(CreateRequest {
        attributes,
        components: Some(components),
    })
}

/// `POST /dashboard/new`: creates the cluster and shows its page; a refused request
/// shows the form again, filled in, with the reason.
pub(super) async fn create(
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
            let (csrf, cookie) = csrf_token(&req);
            let data = with_chrome(
                new_form_data(&state, &csrf, &form, Some(reason), choices.as_ref()),
                chrome(&req, &state, &csrf),
            );
            let mut response = page("new", &data)?;
            *response.status_mut() = status;
            Ok(with_cookie(response, cookie))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /dashboard/clusters/UUID`: the cluster's page.
pub(super) async fn cluster(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let cluster = cluster_of(&identity.tenant, &path, &state).await?;
    let (csrf, cookie) = csrf_token(&req);
    let address = cluster.outputs.external_ip.clone().unwrap_or_default();
    let mut web_uis = Vec::new();
    if !address.is_empty() {
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
        for ((component, ui), up) in uis.into_iter().zip(reachable) {
            web_uis.push(json!({
                "name": ui.name,
                "component": component,
                "url": format!("http://{address}:{}{}", ui.port, ui.path),
                "up": up,
            }));
        }
    }
    let nodes = cluster.plan.node_names();
    let data = json!({
        "csrf": csrf,
        "cluster": {
            "id": cluster.id.to_string(),
            "name": cluster.spec.request.name.to_string(),
            "state": cluster.state,
            "reason": cluster.state_reason,
            "components": cluster.plan.component_names().join(", "),
            "provider": cluster.spec.request.provider.to_string(),
            "nodes": cluster.plan.slave_count() + 1,
            "external_ip": address,
        },
        "web_uis": web_uis,
        "nodes": nodes,
        "staged": cluster.state == ClusterState::Pending && cluster.spec.staged,
    });
    let data = with_chrome(data, chrome(&req, &state, &csrf));
    Ok(with_cookie(page("cluster", &data)?, cookie))
}

/// `GET /dashboard/clusters/UUID/key`: the private key as a file (owner only).
pub(super) async fn key(
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

/// `GET /dashboard/clusters/UUID/events`: the cluster's event stream, for its page.
pub(super) async fn events(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let identity = who(&req, &state).await?;
    let cluster = cluster_of(&identity.tenant, &path, &state).await?;
    Ok(super::tasks::event_stream(&state.store, &cluster))
}

/// `POST /dashboard/clusters/UUID/delete`.
pub(super) async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_csrf(&req, &form)?;
    let identity = who(&req, &state).await?;
    state
        .store
        .request_delete(&identity.tenant, parse_id(&path)?)
        .await?
        .ok_or_else(|| no_cluster(&path))?;
    state.lifecycle.wake();
    Ok(see_other("/dashboard"))
}

/// `POST /dashboard/clusters/UUID/deploy`: deploys a staged cluster.
pub(super) async fn deploy(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_csrf(&req, &form)?;
    let identity = who(&req, &state).await?;
    let cluster = state
        .store
        .request_deploy(&identity.tenant, parse_id(&path)?)
        .await?
        .ok_or_else(|| no_cluster(&path))?;
    state.lifecycle.wake();
    Ok(see_other(&format!("/dashboard/clusters/{}", cluster.id)))
}

/// `GET /dashboard/login`: the sign-in form (Keystone only).
pub(super) async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.settings.auth.mode == AuthMode::None {
        return Ok(see_other("/dashboard"));
    }
    let (csrf, cookie) = csrf_token(&req);
    let data = json!({ "csrf": csrf, "form": { "user": "", "project": "" } });
    Ok(with_cookie(page("login", &data)?, cookie))
}

/// `POST /dashboard/login`: user, password and project, exchanged with Keystone for a
/// token that stays on the server; the browser gets a session cookie.
pub(super) async fn login(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
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
            let session =
                state
                    .sessions
                    .open(token.id.clone(), user.unwrap_or_default(), token.expires_at);
            let cookie = Cookie::build(SESSION_COOKIE, session)
                .path("/dashboard")
                .http_only(true)
                .same_site(SameSite::Strict)
                .finish();
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
            let data = json!({
                "csrf": csrf,
                "error": error.to_string(),
                "form": { "user": value("user"), "project": value("project") },
            });
            let mut response = page("login", &data)?;
            *response.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
            Ok(with_cookie(response, cookie))
        }
    }
}

/// `POST /dashboard/logout`: forgets the session and its token.
pub(super) async fn logout(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_csrf(&req, &form)?;
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        state.sessions.close(cookie.value());
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    gone.make_removal();
    Ok(with_cookie(see_other("/dashboard/login"), Some(gone)))
}

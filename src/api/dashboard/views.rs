//! What the dashboard's pages show: the handlebars templates (compiled into the binary,
//! HTML-escaped, strict: a field a template names must be in its view model), one
//! typed view model per page, and the rendered page with its security headers.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use handlebars::Handlebars;
use serde::Serialize;

use super::form::{chosen_components, field};
use super::timeline::Timeline;
use crate::api::error::ApiError;
use crate::cluster::Cluster;
use crate::domain::{ClusterState, HealthStatus};
use crate::frameworks::catalogue::{Catalogue, Component, Parameter};
use crate::templates::{Origin, Template};

/// A page's view model, and the template that draws it.
pub(crate) trait View: Serialize {
    const TEMPLATE: &'static str;
}

fn templates() -> &'static Handlebars<'static> {
    static TEMPLATES: OnceLock<Handlebars<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        for (name, text) in [
            ("layout", include_str!("templates/layout.hbs")),
            (
                ClustersPage::TEMPLATE,
                include_str!("templates/clusters.hbs"),
            ),
            (NewPage::TEMPLATE, include_str!("templates/new.hbs")),
            (ClusterPage::TEMPLATE, include_str!("templates/cluster.hbs")),
            // A part of the cluster's page, and on its own the fragment that redraws it.
            (Timeline::TEMPLATE, include_str!("templates/timeline.hbs")),
            (LoginPage::TEMPLATE, include_str!("templates/login.hbs")),
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

/// What a page may load and do: scripts only from this server (`/dashboard/app.js`),
/// forms posted only here, no `<base>`, never framed.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page drawn from `view`, as an HTML response.
pub(crate) fn page<V: View>(view: &V) -> Result<HttpResponse, ApiError> {
    let html = render(view)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("rendering {}: {e}", V::TEMPLATE)))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(html))
}

fn render<V: View>(view: &V) -> Result<String, handlebars::RenderError> {
    templates().render(V::TEMPLATE, view)
}

/// What every page's header (the layout) shows: who is signed in, and the CSRF token
/// that its sign-out form, and every other form on the page, repeats.
#[derive(Serialize)]
pub(crate) struct Chrome {
    signed_in: bool,
    user: Option<String>,
    csrf: String,
}

impl Chrome {
    pub(crate) fn new(user: Option<String>, csrf: String) -> Chrome {
        Chrome {
            signed_in: user.is_some(),
            user,
            csrf,
        }
    }
}

/// `GET /dashboard`: the caller's clusters.
#[derive(Serialize)]
pub(crate) struct ClustersPage {
    #[serde(flatten)]
    chrome: Chrome,
    clusters: Vec<ClusterRow>,
    /// The link to the page after this one, when more clusters follow.
    next: Option<String>,
}

impl View for ClustersPage {
    const TEMPLATE: &'static str = "clusters";
}

impl ClustersPage {
    pub(crate) fn new(chrome: Chrome, clusters: &[Cluster]) -> ClustersPage {
        ClustersPage {
            chrome,
            clusters: clusters.iter().map(ClusterRow::of).collect(),
            next: None,
        }
    }

    /// The page with a "Next page" link to `next`.
    pub(crate) fn with_next(self, next: Option<String>) -> ClustersPage {
        ClustersPage { next, ..self }
    }
}

/// One line of the listing.
#[derive(Serialize)]
struct ClusterRow {
    id: String,
    name: String,
    components: String,
    provider: String,
    nodes: u16,
    state: String,
    /// healthy, degraded, unhealthy, unknown; `-` for none to show.
    health: &'static str,
    created: String,
}

impl ClusterRow {
    fn of(cluster: &Cluster) -> ClusterRow {
        ClusterRow {
            id: cluster.id.to_string(),
            name: cluster.spec.request.name.to_string(),
            components: cluster.plan.component_names().join(", "),
            provider: cluster.spec.request.provider.to_string(),
            nodes: cluster.plan.slave_count() + 1,
            state: cluster.state.to_string(),
            health: cluster
                .shown_health()
                .map_or(NO_HEALTH, |h| h.status.as_str()),
            created: cluster.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

/// What the listing says of a cluster with no health to show (its script too).
const NO_HEALTH: &str = "-";

/// `GET /dashboard/new`, and the same form again, filled in, when a create is refused.
#[derive(Serialize)]
pub(crate) struct NewPage {
    #[serde(flatten)]
    chrome: Chrome,
    /// Why the create was refused.
    error: Option<String>,
    providers: Vec<ProviderOption>,
    components: Vec<ComponentChoice>,
    nodes: NodeFields,
    form: NewFormValues,
    /// The templates the form may start from (`?template=NAME` fills it in).
    templates: Vec<TemplateOption>,
    /// The caller's ready clusters the new one may use (`icclab.disco.uses`).
    usable: Vec<UsableCluster>,
}

#[derive(Serialize)]
struct UsableCluster {
    name: String,
    /// Its components, for the option's text.
    components: String,
    selected: bool,
}

#[derive(Serialize)]
struct TemplateOption {
    name: String,
    description: String,
    selected: bool,
}

impl View for NewPage {
    const TEMPLATE: &'static str = "new";
}

impl NewPage {
    /// The form offering the `providers` here and the catalogue's components, with the
    /// values `form` sent (none on a first visit) kept.
    pub(crate) fn new(
        chrome: Chrome,
        catalogue: &Catalogue,
        providers: &[&str],
        default_provider: &str,
        form: &[(String, String)],
        error: Option<String>,
        nodes: NodeFields,
    ) -> NewPage {
        let value = |key: &str| field(form, key);
        let chosen = chosen_components(form);
        let provider = match value("provider") {
            p if p.is_empty() => default_provider.to_string(),
            p => p,
        };
        let slaves = match value("slaves") {
            v if v.is_empty() => "2".to_string(),
            v => v,
        };
        NewPage {
            chrome,
            error,
            providers: providers
                .iter()
                .map(|&name| ProviderOption {
                    name: name.to_string(),
                    selected: name == provider,
                })
                .collect(),
            components: catalogue
                .iter()
                .map(|c| ComponentChoice::of(c, chosen.contains(&c.name.as_str()), form))
                .collect(),
            nodes,
            form: NewFormValues {
                name: value("name"),
                slaves,
                stage: value("stage") == "true",
                init: value("init"),
                template: value("template"),
            },
            templates: Vec::new(),
            usable: Vec::new(),
        }
    }

    /// The page offering the caller's ready `clusters` to use, those the form chose
    /// selected.
    pub(crate) fn with_usable(
        mut self,
        clusters: &[crate::cluster::Cluster],
        form: &[(String, String)],
    ) -> NewPage {
        self.usable = clusters
            .iter()
            .filter(|c| c.state == ClusterState::Ready)
            .map(|c| {
                let name = c.spec.request.name.to_string();
                UsableCluster {
                    selected: form.iter().any(|(k, v)| k == "uses" && *v == name),
                    components: c.plan.component_names().join(", "),
                    name,
                }
            })
            .collect();
        self
    }

    /// The page offering these templates to start from, the form's own selected.
    pub(crate) fn with_templates(mut self, templates: &[(Origin, Template)]) -> NewPage {
        self.templates = templates
            .iter()
            .map(|(_, t)| TemplateOption {
                name: t.name.to_string(),
                description: t.description.clone(),
                selected: t.name.as_str() == self.form.template,
            })
            .collect();
        self
    }
}

#[derive(Serialize)]
struct ProviderOption {
    name: String,
    selected: bool,
}

/// A component's checkbox, with its parameters' fields.
#[derive(Serialize)]
struct ComponentChoice {
    name: String,
    version: String,
    description: String,
    /// The providers it runs on, for the hint; empty when any.
    providers: String,
    /// The components it needs, comma-separated, for the script that ticks them too.
    depends: String,
    checked: bool,
    params: Vec<ParamField>,
}

impl ComponentChoice {
    fn of(component: &Component, checked: bool, form: &[(String, String)]) -> ComponentChoice {
        ComponentChoice {
            name: component.name.clone(),
            version: component.version.clone(),
            description: component.description.clone(),
            providers: component
                .providers
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            depends: component.depends_on.join(","),
            checked,
            params: component
                .parameters
                .iter()
                .map(|(name, p)| {
                    let given = field(form, &format!("param.{}.{name}", component.name));
                    ParamField::of(name, p, given)
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct ParamField {
    name: String,
    kind: &'static str,
    /// A password field, without its default shown.
    secret: bool,
    description: String,
    default: String,
}

impl ParamField {
    /// The field of a parameter, holding what the form gave (a secret's never shown
    /// again), else its default.
    fn of(name: &str, parameter: &Parameter, given: String) -> ParamField {
        let default = if given.is_empty() || parameter.secret {
            parameter.default.to_string()
        } else {
            given
        };
        ParamField {
            name: name.to_string(),
            kind: parameter.kind.as_str(),
            secret: parameter.secret,
            description: parameter.description.clone(),
            default,
        }
    }
}

/// The create form's own fields, as sent.
#[derive(Serialize)]
struct NewFormValues {
    name: String,
    slaves: String,
    stage: bool,
    /// The init actions' JSON, as typed.
    init: String,
    /// The template the form was filled in from, sent again with it.
    template: String,
}

/// The create form's four node fields (master/slave image and flavor), and what the
/// cloud could not list, and why.
#[derive(Debug, Serialize)]
pub(crate) struct NodeFields {
    /// The cloud listed images or flavors with the user's token.
    pub(crate) listed: bool,
    pub(crate) problems: Vec<String>,
    pub(crate) fields: Vec<NodeField>,
}

/// A select when the cloud listed something, else a text input.
#[derive(Debug, Serialize)]
pub(crate) struct NodeField {
    pub(crate) id: &'static str,
    pub(crate) label: &'static str,
    /// The text input's value.
    pub(crate) value: String,
    /// The select's options; `None` draws a text input.
    pub(crate) options: Option<Vec<NodeOption>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct NodeOption {
    pub(crate) value: String,
    pub(crate) text: String,
    pub(crate) selected: bool,
}

/// `GET /dashboard/clusters/UUID`: one cluster.
#[derive(Serialize)]
pub(crate) struct ClusterPage {
    #[serde(flatten)]
    chrome: Chrome,
    cluster: ClusterSummary,
    web_uis: Vec<WebUiLink>,
    /// The nodes whose deployment logs it links to.
    nodes: Vec<String>,
    /// Staged and not deployed yet: it offers the deploy button.
    staged: bool,
    /// Ready: it offers the stop button; stopped: the start button.
    stoppable: bool,
    startable: bool,
    /// Ready: the slave-count field, with the cluster's bounds.
    scale: Option<ScaleField>,
    /// Ready, not healthy, and its provider repairs: it offers the repair button.
    repairable: bool,
    /// The latest task, drawn as a timeline.
    timeline: Timeline,
    /// What Heat said of the stack, as the deploy kept it, oldest first.
    heat_events: Vec<HeatEventRow>,
    /// How many older ones the page leaves out (it shows the newest `HEAT_EVENTS_SHOWN`).
    heat_events_left_out: usize,
    heat_events_shown: usize,
    /// The clusters it uses, and those that use it, linked.
    uses: Vec<ClusterLink>,
    used_by: Vec<ClusterLink>,
}

#[derive(Serialize)]
pub(crate) struct ClusterLink {
    id: String,
    name: String,
}

impl ClusterLink {
    pub(crate) fn new(id: crate::domain::ClusterId, name: &str) -> ClusterLink {
        ClusterLink {
            id: id.to_string(),
            name: name.to_string(),
        }
    }
}

/// The most Heat events the cluster page shows: the newest.
const HEAT_EVENTS_SHOWN: usize = 200;

fn heat_events_left_out(cluster: &Cluster) -> usize {
    cluster
        .outputs
        .heat_events
        .0
        .len()
        .saturating_sub(HEAT_EVENTS_SHOWN)
}

/// A row of the page's Heat events.
#[derive(Serialize)]
pub(crate) struct HeatEventRow {
    time: String,
    node: String,
    resource: String,
    status: String,
    failed: bool,
    reason: String,
}

impl HeatEventRow {
    fn of(event: &crate::cluster::heat_events::HeatEvent) -> HeatEventRow {
        HeatEventRow {
            time: event
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            node: event.node.clone().unwrap_or_default(),
            resource: event.resource.clone(),
            status: event.status.clone(),
            failed: event.failed(),
            reason: event.reason.clone().unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ScaleField {
    slaves: u16,
    min: u16,
    max: u16,
}

impl View for ClusterPage {
    const TEMPLATE: &'static str = "cluster";
}

impl ClusterPage {
    /// The page, linking the clusters that use this one.
    pub(crate) fn used_by(mut self, dependents: Vec<ClusterLink>) -> ClusterPage {
        self.used_by = dependents;
        self
    }

    /// The page of `cluster`, whose provider can start its failing components again
    /// when `repairs` (the repair button is offered then only).
    pub(crate) fn new(
        chrome: Chrome,
        cluster: &Cluster,
        web_uis: Vec<WebUiLink>,
        repairs: bool,
        timeline: Timeline,
    ) -> ClusterPage {
        ClusterPage {
            chrome,
            timeline,
            heat_events: cluster
                .outputs
                .heat_events
                .iter()
                .skip(heat_events_left_out(cluster))
                .map(HeatEventRow::of)
                .collect(),
            heat_events_left_out: heat_events_left_out(cluster),
            heat_events_shown: HEAT_EVENTS_SHOWN,
            uses: cluster
                .plan
                .uses
                .iter()
                .map(|u| ClusterLink::new(u.cluster, &u.name))
                .collect(),
            used_by: Vec::new(),
            cluster: ClusterSummary {
                id: cluster.id.to_string(),
                name: cluster.spec.request.name.to_string(),
                state: cluster.state,
                reason: cluster.state_reason.clone(),
                components: cluster.plan.component_names().join(", "),
                provider: cluster.spec.request.provider.to_string(),
                nodes: cluster.plan.slave_count() + 1,
                external_ip: cluster.outputs.external_ip.clone().unwrap_or_default(),
                expires: cluster
                    .expiry()
                    .map(|expiry| {
                        format!(
                            "{}: {}, then {}",
                            expiry.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            expiry.why,
                            cluster.spec.lifetime.on_expiry.done()
                        )
                    })
                    .unwrap_or_else(|| "never".to_string()),
                health: HealthRow::of(cluster),
            },
            web_uis,
            nodes: cluster.plan.node_names(),
            staged: cluster.state == ClusterState::Pending && cluster.spec.staged,
            stoppable: cluster.state == ClusterState::Ready,
            startable: cluster.state == ClusterState::Stopped,
            repairable: repairs
                && cluster.state == ClusterState::Ready
                && cluster
                    .shown_health()
                    .is_some_and(|h| h.status != HealthStatus::Healthy),
            scale: (cluster.state == ClusterState::Ready).then(|| {
                let bounds = cluster.spec.request.bounds();
                ScaleField {
                    slaves: cluster.plan.slave_count(),
                    min: bounds.min.map_or(0, |m| m.get()),
                    max: bounds
                        .max
                        .map_or(crate::domain::SlaveCount::MAX, |m| m.get()),
                }
            }),
        }
    }
}

/// The timeline alone: what the cluster's page fetches to redraw it.
impl View for Timeline {
    const TEMPLATE: &'static str = "timeline";
}

#[derive(Serialize)]
struct ClusterSummary {
    id: String,
    name: String,
    state: ClusterState,
    reason: String,
    components: String,
    provider: String,
    nodes: u16,
    /// Empty until the provider gives one.
    external_ip: String,
    /// When its lifetime ends, why, and what then; `never`.
    expires: String,
    health: HealthRow,
}

/// The cluster page's health: its status, why, and when it was checked; or why there
/// is none to show.
#[derive(Serialize)]
struct HealthRow {
    /// healthy, degraded, unhealthy, unknown; `none`.
    status: &'static str,
    /// The failing checks, or that all pass; why there is no health.
    reason: String,
    /// When it was checked; empty for none.
    checked: String,
}

impl HealthRow {
    fn of(cluster: &Cluster) -> HealthRow {
        match cluster.shown_health() {
            Some(health) => HealthRow {
                status: health.status.as_str(),
                reason: health.reason.clone(),
                checked: health
                    .checked
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
            None => HealthRow {
                status: "none",
                reason: match cluster.state {
                    ClusterState::Ready => "not checked yet".to_string(),
                    state => format!(
                        "none while the cluster is {state}: only a running cluster is checked"
                    ),
                },
                checked: String::new(),
            },
        }
    }
}

/// A component's web UI on the master, and whether its port answered.
#[derive(Serialize)]
pub(crate) struct WebUiLink {
    pub(crate) name: String,
    pub(crate) component: String,
    pub(crate) url: String,
    pub(crate) up: bool,
}

/// `GET /dashboard/login`, and the same form again, with the reason, when Keystone
/// refuses.
#[derive(Serialize)]
pub(crate) struct LoginPage {
    #[serde(flatten)]
    chrome: Chrome,
    error: Option<String>,
    form: LoginFormValues,
}

impl View for LoginPage {
    const TEMPLATE: &'static str = "login";
}

impl LoginPage {
    /// The header shows nobody signed in, whatever session the browser holds.
    pub(crate) fn new(csrf: String, error: Option<String>, user: String, project: String) -> Self {
        LoginPage {
            chrome: Chrome::new(None, csrf),
            error,
            form: LoginFormValues { user, project },
        }
    }
}

/// What the user typed, kept; never the password.
#[derive(Serialize)]
struct LoginFormValues {
    user: String,
    project: String,
}

#[cfg(test)]
mod tests;

//! What the dashboard's pages show: the handlebars templates (compiled into the binary,
//! HTML-escaped, strict: a field a template names must be in its view model), one
//! typed view model per page, and the rendered page with its security headers.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use handlebars::Handlebars;
use serde::Serialize;

use super::form::{chosen_components, field};
use crate::api::error::ApiError;
use crate::cluster::spec::Scalar;
use crate::cluster::{Cluster, ClusterState};
use crate::frameworks::catalogue::{Catalogue, Component, Parameter};

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

/// The page drawn from `view`, as an HTML response.
pub(crate) fn page<V: View>(view: &V) -> Result<HttpResponse, ApiError> {
    let html = render(view)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("rendering {}: {e}", V::TEMPLATE)))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'"))
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
}

impl View for ClustersPage {
    const TEMPLATE: &'static str = "clusters";
}

impl ClustersPage {
    pub(crate) fn new(chrome: Chrome, clusters: &[Cluster]) -> ClustersPage {
        ClustersPage {
            chrome,
            clusters: clusters.iter().map(ClusterRow::of).collect(),
        }
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
    created: String,
}

impl ClusterRow {
    fn of(cluster: &Cluster) -> ClusterRow {
        ClusterRow {
            id: cluster.id.to_string(),
            name: cluster.spec.name.to_string(),
            components: cluster.plan.component_names().join(", "),
            provider: cluster.spec.provider.to_string(),
            nodes: cluster.plan.slave_count() + 1,
            state: cluster.state.to_string(),
            created: cluster.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

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
                .map(|c| ComponentChoice::of(c, chosen.contains(&c.name.as_str())))
                .collect(),
            nodes,
            form: NewFormValues {
                name: value("name"),
                slaves,
                stage: value("stage") == "true",
            },
        }
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
    fn of(component: &Component, checked: bool) -> ComponentChoice {
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
                .map(|(name, p)| ParamField::of(name, p))
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
    fn of(name: &str, parameter: &Parameter) -> ParamField {
        ParamField {
            name: name.to_string(),
            kind: parameter.kind.as_str(),
            secret: parameter.secret,
            description: parameter.description.clone(),
            default: match &parameter.default {
                Scalar::String(s) => s.clone(),
                Scalar::Integer(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Bool(b) => b.to_string(),
            },
        }
    }
}

/// The create form's own fields, as sent.
#[derive(Serialize)]
struct NewFormValues {
    name: String,
    slaves: String,
    stage: bool,
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
}

impl View for ClusterPage {
    const TEMPLATE: &'static str = "cluster";
}

impl ClusterPage {
    pub(crate) fn new(chrome: Chrome, cluster: &Cluster, web_uis: Vec<WebUiLink>) -> ClusterPage {
        ClusterPage {
            chrome,
            cluster: ClusterSummary {
                id: cluster.id.to_string(),
                name: cluster.spec.name.to_string(),
                state: cluster.state,
                reason: cluster.state_reason.clone(),
                components: cluster.plan.component_names().join(", "),
                provider: cluster.spec.provider.to_string(),
                nodes: cluster.plan.slave_count() + 1,
                external_ip: cluster.outputs.external_ip.clone().unwrap_or_default(),
            },
            web_uis,
            nodes: cluster.plan.node_names(),
            staged: cluster.state == ClusterState::Pending && cluster.spec.staged,
        }
    }
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
mod tests {
    //! Every template, drawn from its view model in each of its branches: strict mode
    //! turns a field a template names and its view lacks into a failing test here,
    //! not a blank on a page. (Only where it is drawn: `{{#if absent}}` is simply false,
    //! strict or not, which is why the view models keep every field, `None` as null.)

    use std::path::Path;

    use chrono::Utc;

    use super::*;
    use crate::cluster::keys::KeyPair;
    use crate::cluster::spec::ClusterSpec;
    use crate::cluster::{ClusterId, Outputs, ProviderKind, TenantId};
    use crate::manifest::Manifest;
    use crate::occi::text::{Attribute, AttributeValue};

    fn drawn<V: View>(view: &V) -> String {
        render(view).unwrap_or_else(|e| panic!("{} does not render: {e}", V::TEMPLATE))
    }

    fn chrome(user: Option<&str>) -> Chrome {
        Chrome::new(user.map(str::to_string), "tok".to_string())
    }

    /// A spark cluster with two slaves, made from these attributes besides.
    fn cluster(attributes: &[(&str, &str)]) -> Cluster {
        let given: Vec<Attribute> = [
            ("icclab.disco.name", "web-1"),
            ("icclab.disco.dependencies.inject", "['spark']"),
            ("icclab.disco.components.heat.slavecount", "2"),
        ]
        .iter()
        .chain(attributes)
        .map(|(name, value)| Attribute {
            name: name.to_string(),
            value: AttributeValue::String(value.to_string()),
        })
        .collect();
        let checked = Manifest::built_in()
            .expect("manifest")
            .check_request(&given)
            .expect("valid");
        let id = ClusterId::new();
        let spec = ClusterSpec::from_attributes(id, &checked, ProviderKind::File).expect("spec");
        let plan =
            crate::frameworks::resolve::resolve(&spec, &crate::frameworks::testing::standard())
                .expect("plan");
        let now = Utc::now();
        Cluster {
            id,
            tenant: TenantId::default_tenant(),
            plan,
            spec,
            delegation: Default::default(),
            state: ClusterState::Pending,
            state_reason: String::new(),
            outputs: Outputs::default(),
            keys: KeyPair::generate("k").expect("key"),
            created_at: now,
            updated_at: now,
        }
    }

    fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn free_text(id: &'static str, value: &str) -> NodeField {
        NodeField {
            id,
            label: "A label",
            value: value.to_string(),
            options: None,
        }
    }

    #[test]
    fn a_template_naming_a_field_its_view_lacks_does_not_render() {
        #[derive(Serialize)]
        struct HeaderOnly {
            #[serde(flatten)]
            chrome: Chrome,
        }
        impl View for HeaderOnly {
            const TEMPLATE: &'static str = "cluster";
        }
        let refused = render(&HeaderOnly {
            chrome: chrome(None),
        })
        .expect_err("strict mode");
        assert!(refused.to_string().contains("cluster.name"), "{refused}");
    }

    #[test]
    fn the_listing_renders_empty_and_with_a_cluster_for_a_signed_in_user() {
        let empty = drawn(&ClustersPage::new(chrome(None), &[]));
        assert!(empty.contains("No clusters yet."), "{empty}");
        assert!(!empty.contains("Sign out"), "nobody signed in");

        let web = cluster(&[]);
        let listing = drawn(&ClustersPage::new(
            chrome(Some("<b>demo</b>")),
            std::slice::from_ref(&web),
        ));
        assert!(
            listing.contains("Sign out &lt;b&gt;demo&lt;/b&gt;"),
            "{listing}"
        );
        assert!(listing.contains(&format!("<tr data-id=\"{}\">", web.id)));
        assert!(listing.contains(">spark</td>"), "{listing}");
        assert!(listing.contains("<td>3</td>"), "a master and two slaves");
        assert_eq!(
            listing.matches("name=\"csrf\" value=\"tok\"").count(),
            2,
            "the sign-out form and the row's delete form repeat the token"
        );
    }

    #[test]
    fn the_create_form_renders_the_shipped_catalogue_and_again_as_sent_with_the_reason() {
        let catalogue = Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks"))
            .expect("the shipped frameworks");
        let providers = ["file", "local", "openstack"];
        let nodes = |form: &[(String, String)]| super::super::node_choices::fields(form, None);
        let first = drawn(&NewPage::new(
            chrome(None),
            &catalogue,
            &providers,
            "local",
            &[],
            None,
            nodes(&[]),
        ));
        for component in catalogue.iter() {
            assert!(
                first.contains(&format!("id=\"c-{}\"", component.name)),
                "{}",
                component.name
            );
        }
        assert!(
            first.contains("<option value=\"local\" selected>"),
            "{first}"
        );
        assert!(first.contains("id=\"slaves\" name=\"slaves\" min=\"0\" max=\"100\" value=\"2\""));
        assert!(first.contains("type=\"password\""), "a secret parameter");
        assert!(!first.contains("role=\"alert\""), "{first}");

        let sent = form(&[
            ("name", "<b>x</b>"),
            ("provider", "file"),
            ("component", "spark"),
            ("slaves", "5"),
            ("stage", "true"),
            ("masterimage", "my-image"),
        ]);
        let again = drawn(&NewPage::new(
            chrome(None),
            &catalogue,
            &providers,
            "local",
            &sent,
            Some("<i>refused</i>".to_string()),
            nodes(&sent),
        ));
        assert!(
            again.contains("role=\"alert\">&lt;i&gt;refused&lt;/i&gt;</div>"),
            "{again}"
        );
        assert!(again.contains("value=\"&lt;b&gt;x&lt;/b&gt;\""), "{again}");
        assert!(again.contains("<option value=\"file\" selected>"));
        assert!(
            again.contains("value=\"spark\" data-depends=\"\" checked>"),
            "{again}"
        );
        assert!(again.contains("value=\"5\""));
        assert!(again.contains("value=\"true\" checked>"), "staged");
        assert!(
            again.contains("name=\"masterimage\" value=\"my-image\""),
            "{again}"
        );
    }

    #[test]
    fn the_node_fields_draw_a_select_where_the_cloud_listed_and_say_what_it_did_not() {
        let catalogue = crate::frameworks::testing::standard();
        let nodes = NodeFields {
            listed: true,
            problems: vec!["Flavors could not be listed: <no>.".to_string()],
            fields: vec![
                NodeField {
                    id: "masterimage",
                    label: "Master image",
                    value: "debian".to_string(),
                    options: Some(vec![
                        NodeOption {
                            value: "debian".to_string(),
                            text: "debian — needs 10 GB disk".to_string(),
                            selected: false,
                        },
                        NodeOption {
                            value: "ubuntu".to_string(),
                            text: "ubuntu".to_string(),
                            selected: true,
                        },
                    ]),
                },
                free_text("masterflavor", "m1.medium"),
            ],
        };
        let html = drawn(&NewPage::new(
            chrome(Some("demo")),
            &catalogue,
            &["openstack"],
            "openstack",
            &[],
            None,
            nodes,
        ));
        assert!(html.contains("Listed from the cloud with your token"));
        assert!(html.contains("role=\"status\">Flavors could not be listed: &lt;no&gt;.</p>"));
        assert!(html.contains(
            "<select id=\"masterimage\" name=\"masterimage\"><option value=\"debian\">debian — needs 10 GB disk</option><option value=\"ubuntu\" selected>ubuntu</option></select>"
        ), "{html}");
        assert!(html.contains(
            "<input type=\"text\" id=\"masterflavor\" name=\"masterflavor\" value=\"m1.medium\">"
        ));
    }

    #[test]
    fn a_staged_cluster_s_page_offers_deploy_and_its_web_uis_with_their_state() {
        let mut staged = cluster(&[("icclab.disco.stage", "true")]);
        staged.state_reason = "<script>alert(1)</script>".to_string();
        staged.outputs.external_ip = Some("10.0.0.5".to_string());
        let web_uis = vec![
            WebUiLink {
                name: "Spark master".to_string(),
                component: "spark".to_string(),
                url: "http://10.0.0.5:8080/".to_string(),
                up: true,
            },
            WebUiLink {
                name: "History".to_string(),
                component: "spark".to_string(),
                url: "http://10.0.0.5:18080/".to_string(),
                up: false,
            },
        ];
        let html = drawn(&ClusterPage::new(chrome(None), &staged, web_uis));
        assert!(html.contains("<title>web-1 · DISCO</title>"), "{html}");
        assert!(html.contains(&format!(
            "action=\"/dashboard/clusters/{}/deploy\"",
            staged.id
        )));
        assert!(html.contains("id=\"reason\">&lt;script&gt;alert(1)&lt;/script&gt;</dd>"));
        assert!(html.contains("class=\"dot dot-up\""));
        assert!(html.contains("class=\"dot dot-down\""));
        assert!(html.contains("<a href=\"http://10.0.0.5:8080/\""), "{html}");
        assert!(html.contains(&format!("/disco/{}/logs?node=slaves:2", staged.id)));
    }

    #[test]
    fn a_cluster_s_page_without_an_address_has_no_web_uis_yet_and_no_deploy() {
        let mut ready = cluster(&[]);
        ready.state = ClusterState::Ready;
        let html = drawn(&ClusterPage::new(chrome(Some("demo")), &ready, Vec::new()));
        assert!(
            html.contains("<li>None yet (no address yet).</li>"),
            "{html}"
        );
        assert!(!html.contains("/deploy\""), "not staged");
        assert!(html.contains("class=\"state state-ready\""));
        assert!(html.contains("Sign out demo"));
    }

    #[test]
    fn the_sign_in_page_renders_empty_and_again_with_the_refusal() {
        let first = drawn(&LoginPage::new(
            "tok".to_string(),
            None,
            String::new(),
            String::new(),
        ));
        assert!(!first.contains("role=\"alert\""));
        assert!(!first.contains("Sign out"), "the header shows nobody");
        assert!(first.contains("name=\"csrf\" value=\"tok\""));

        let refused = drawn(&LoginPage::new(
            "tok".to_string(),
            Some("wrong <password>".to_string()),
            "<demo>".to_string(),
            "demo".to_string(),
        ));
        assert!(refused.contains("role=\"alert\">wrong &lt;password&gt;</div>"));
        assert!(
            refused.contains(
                "name=\"user\" required autocomplete=\"username\" value=\"&lt;demo&gt;\""
            )
        );
        assert!(refused.contains("name=\"project\" required value=\"demo\""));
    }
}

//! Every template, drawn from its view model in each of its branches: strict mode
//! turns a field a template names and its view lacks into a failing test here,
//! not a blank on a page. (Only where it is drawn: `{{#if absent}}` is simply false,
//! strict or not, which is why the view models keep every field, `None` as null.)

use std::path::Path;

use super::*;

fn drawn<V: View>(view: &V) -> String {
    render(view).unwrap_or_else(|e| panic!("{} does not render: {e}", V::TEMPLATE))
}

fn chrome(user: Option<&str>) -> Chrome {
    Chrome::new(user.map(str::to_string), "tok".to_string())
}

/// A spark cluster with two slaves, made from these attributes besides.
fn cluster(attributes: &[(&str, &str)]) -> Cluster {
    let given: Vec<(&str, &str)> = [
        ("icclab.disco.name", "web-1"),
        ("icclab.disco.dependencies.inject", "['spark']"),
        ("icclab.disco.components.heat.slavecount", "2"),
    ]
    .iter()
    .chain(attributes)
    .copied()
    .collect();
    crate::cluster::testing::cluster(&given)
}

/// The page of `cluster`, its timeline that of its deploy's tree as it stands (no
/// transitions, no reports).
fn cluster_page(
    chrome: Chrome,
    cluster: &Cluster,
    web_uis: Vec<WebUiLink>,
    repairs: bool,
) -> ClusterPage {
    let task = crate::tasks::deploy_task(cluster, &[], &[]);
    let timeline = Timeline::of(cluster.id.to_string(), &task, chrono::Utc::now());
    ClusterPage::new(chrome, cluster, web_uis, repairs, timeline)
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
    assert!(
        listing.contains("<td data-label=\"Nodes\">3</td>"),
        "a master and two slaves"
    );
    assert!(
        listing.contains("<td class=\"health health--\" data-label=\"Health\" data-health>-</td>"),
        "a pending cluster has no health: {listing}"
    );
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
    let html = drawn(&cluster_page(chrome(None), &staged, web_uis, true));
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
    let html = drawn(&cluster_page(
        chrome(Some("demo")),
        &ready,
        Vec::new(),
        true,
    ));
    assert!(
        html.contains("<li>None yet (no address yet).</li>"),
        "{html}"
    );
    assert!(!html.contains("/deploy\""), "not staged");
    assert!(html.contains("class=\"state state-ready\""));
    assert!(html.contains("Sign out demo"));
}

/// `cluster`, ready, whose dask worker on slaves:1 fails (or passes).
fn ready_with_worker(passing: bool) -> Cluster {
    use crate::domain::health::{CheckOutcome, Health, Observation};
    let mut ready = cluster(&[]);
    ready.state = ClusterState::Ready;
    let check = |node: &str, check: &str, passing: bool| CheckOutcome {
        node: node.to_string(),
        component: "spark".to_string(),
        check: check.to_string(),
        passing,
        output: if passing {
            String::new()
        } else {
            "<gone>".to_string()
        },
    };
    ready.health = Some(Health::assess(
        None,
        Observation::Checked(vec![
            check("master", "tcp 7077", true),
            check("slaves:1", "process spark-worker", passing),
        ]),
        chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
    ));
    ready
}

#[test]
fn a_degraded_ready_cluster_s_page_shows_its_health_and_offers_the_repair_button() {
    let degraded = ready_with_worker(false);
    let html = drawn(&cluster_page(chrome(None), &degraded, Vec::new(), true));
    assert!(
        html.contains("<span class=\"health health-degraded\">degraded</span> spark on slaves:1: process spark-worker failing since 08:00:00 (&lt;gone&gt;) <span class=\"hint\">checked 2027-01-15T08:00:00Z</span>"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<form method=\"post\" action=\"/dashboard/clusters/{}/repair\" class=\"repair\"><input type=\"hidden\" name=\"csrf\" value=\"tok\">",
            degraded.id
        )),
        "{html}"
    );
    let listing = drawn(&ClustersPage::new(
        chrome(None),
        std::slice::from_ref(&degraded),
    ));
    assert!(
        listing.contains(">degraded</td>") && listing.contains("class=\"health health-degraded\""),
        "{listing}"
    );

    // Not where its provider cannot repair it.
    let html = drawn(&cluster_page(chrome(None), &degraded, Vec::new(), false));
    assert!(html.contains("class=\"health health-degraded\""), "{html}");
    assert!(!html.contains("/repair\""), "{html}");

    // Healthy: nothing to repair. Repairing: not again.
    let healthy = ready_with_worker(true);
    let html = drawn(&cluster_page(chrome(None), &healthy, Vec::new(), true));
    assert!(
        html.contains("health-healthy\">healthy</span> 2 checks pass on every node"),
        "{html}"
    );
    assert!(!html.contains("/repair\""), "{html}");
    let mut repairing = ready_with_worker(false);
    repairing.state = ClusterState::Repairing;
    let html = drawn(&cluster_page(chrome(None), &repairing, Vec::new(), true));
    assert!(
        html.contains("class=\"health health-degraded\""),
        "its health before the repair"
    );
    assert!(!html.contains("/repair\""), "{html}");
}

#[test]
fn a_cluster_with_no_health_to_show_says_why() {
    let mut unchecked = cluster(&[]);
    unchecked.state = ClusterState::Ready;
    let html = drawn(&cluster_page(chrome(None), &unchecked, Vec::new(), true));
    assert!(
        html.contains("data-status=\"none\" data-reason=\"not checked yet\"><span class=\"hint\">not checked yet</span>"),
        "{html}"
    );
    // A stopped cluster's last health says nothing of it now.
    let mut stopped = ready_with_worker(false);
    stopped.state = ClusterState::Stopped;
    let html = drawn(&cluster_page(chrome(None), &stopped, Vec::new(), true));
    assert!(
        html.contains("<span class=\"hint\">none while the cluster is stopped: only a running cluster is checked</span>"),
        "{html}"
    );
    assert!(
        !html.contains("class=\"health health-degraded\"") && !html.contains("/repair\""),
        "{html}"
    );
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
        refused.contains("name=\"user\" required autocomplete=\"username\" value=\"&lt;demo&gt;\"")
    );
    assert!(refused.contains("name=\"project\" required value=\"demo\""));
}

#[test]
fn the_timeline_draws_a_bar_per_step_the_failed_one_with_its_output_escaped() {
    use crate::domain::{Report, ReportStatus, Transition};
    let mut installing = cluster(&[]);
    installing.state = ClusterState::Installing;
    let now = chrono::Utc::now();
    let at = |secs: i64| now - chrono::Duration::seconds(60 - secs);
    let moved = |to, secs| Transition {
        from: None,
        to,
        reason: String::new(),
        at: at(secs),
        resize: None,
        repair: None,
    };
    let report = |secs, node: &str, stage: &str, status, error: &str| Report {
        at: at(secs),
        node: node.to_string(),
        stage: stage.to_string(),
        status,
        rc: (status == ReportStatus::Failed).then_some(3),
        output: String::new(),
        error: error.to_string(),
    };
    let reports = [
        report(2, "master", "spark install", ReportStatus::Executing, ""),
        report(
            9,
            "master",
            "spark install",
            ReportStatus::Failed,
            "<b>no such version</b>",
        ),
        report(4, "slaves:1", "spark start", ReportStatus::Executing, ""),
    ];
    let transitions = [
        moved(ClusterState::Deploying, 0),
        moved(ClusterState::Installing, 1),
    ];
    let task = crate::tasks::deploy_task(&installing, &transitions, &reports);
    let id = installing.id.to_string();
    let html = drawn(&Timeline::of(id.clone(), &task, now));
    // A row per stage and node: three made, the install, two starts, the smoke.
    assert_eq!(html.matches("<li class=\"tl-row\"").count(), 7, "{html}");
    assert!(html.contains("data-running=\"true\""), "{html}");
    assert!(
        html.contains(&format!("data-src=\"/dashboard/clusters/{id}/timeline\"")),
        "{html}"
    );
    assert!(html.contains("class=\"tl-bar tl-failed\""), "{html}");
    assert!(html.contains("class=\"tl-bar tl-executing\""), "{html}");
    assert!(
        html.contains("<summary>returned 3: its output</summary><pre>&lt;b&gt;no such version"),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/disco/{id}/logs?node=master\"")),
        "{html}"
    );
    assert!(html.contains("pending, never run before"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    // Within the cluster's page.
    let page = drawn(&cluster_page(chrome(None), &installing, Vec::new(), false));
    assert!(page.contains("<section id=\"timeline\""), "{page}");
}

#[test]
fn the_cluster_page_lists_heats_events_under_the_tasks_with_a_failure_marked_and_escaped() {
    let mut failed = cluster(&[]);
    let event = |status: &str, reason: Option<&str>| crate::cluster::heat_events::HeatEvent {
        id: status.into(),
        time: chrono::Utc::now(),
        resource: "server".into(),
        resource_type: Some("OS::Nova::Server".into()),
        status: status.into(),
        reason: reason.map(str::to_string),
        physical_id: None,
        node: Some("slaves:2".into()),
        stack: None,
    };
    failed.outputs.heat_events = crate::cluster::heat_events::HeatEvents(vec![
        event("CREATE_IN_PROGRESS", None),
        event("CREATE_FAILED", Some("No valid host <b>was</b> found")),
    ]);
    let html = drawn(&cluster_page(chrome(Some("demo")), &failed, vec![], false));
    let tasks = html.find("id=\"tasks\"").expect("the tasks table");
    let events = html
        .find("id=\"heat-events\"")
        .expect("the Heat events table");
    assert!(tasks < events, "the events are under the tree");
    assert!(html.contains("<tr class=\"failed\"><td>"), "{html}");
    assert!(
        html.contains("No valid host &lt;b&gt;was&lt;&#x2F;b&gt; found")
            || html.contains("No valid host &lt;b&gt;was&lt;/b&gt; found"),
        "{html}"
    );
    assert!(!html.contains("left out"), "{html}");
    // Many kept: the newest 200, and a note of the rest.
    failed.outputs.heat_events = crate::cluster::heat_events::HeatEvents(
        (0..250)
            .map(|i| event(&format!("CREATE_{i}"), None))
            .collect(),
    );
    let html = drawn(&cluster_page(chrome(Some("demo")), &failed, vec![], false));
    assert_eq!(html.matches("<td>slaves:2</td>").count(), 200, "{html}");
    assert!(html.contains("<td>CREATE_249</td>") && !html.contains("<td>CREATE_49</td>"));
    assert!(html.contains("50 older ones are left out"), "{html}");
    // None kept: no table.
    let html = drawn(&cluster_page(
        chrome(Some("demo")),
        &cluster(&[]),
        vec![],
        false,
    ));
    assert!(!html.contains("heat-events"));
}

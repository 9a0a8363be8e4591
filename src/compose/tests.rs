use std::path::Path;

use serde_json::Value;

use super::*;
use crate::domain::{ClusterName, ComponentName, Infrastructure, ProviderKind, Scalar};
use crate::frameworks::request::{ComponentRequest, PlanRequest};
use crate::frameworks::resolve::resolve;
use crate::frameworks::testing::standard;

fn composer() -> Composer {
    Composer::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("heat-templates"))
        .expect("templates")
}

fn facts() -> Facts {
    Facts {
        cluster_id: "00000000-0000-4000-8000-000000000000".into(),
        cluster_name: "lab".into(),
        key_name: "disco-00000000".into(),
        public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests disco-00000000".into(),
        report_url: None,
        report_token: None,
        used: Default::default(),
        used_clusters: Vec::new(),
    }
}

fn plan(components: &[&str], slaves: u16, infrastructure: Infrastructure) -> Plan {
    plan_in(&standard(), components, slaves, infrastructure)
}

fn plan_in(
    catalogue: &Catalogue,
    components: &[&str],
    slaves: u16,
    infrastructure: Infrastructure,
) -> Plan {
    let request = PlanRequest {
        name: ClusterName::parse("lab").expect("name"),
        provider: ProviderKind::Openstack,
        slaves: serde_json::from_value(Value::from(slaves)).expect("count"),
        min_slaves: None,
        max_slaves: None,
        infrastructure,
        components: components
            .iter()
            .map(|name| ComponentRequest {
                name: ComponentName::parse(name).expect("component name"),
                params: Default::default(),
            })
            .collect(),
        parameters: Default::default(),
        init: Vec::new(),
    };
    resolve(&request, catalogue).expect("plan")
}

fn infrastructure() -> Infrastructure {
    Infrastructure {
        master_image: "ubuntu-22.04".into(),
        slave_image: "ubuntu-22.04".into(),
        master_flavor: "m1.medium".into(),
        slave_flavor: "m1.small".into(),
        network_name: String::new(),
        external_network_name: "public".into(),
        existing_network: false,
    }
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("the template is YAML")
}

#[test]
fn the_template_has_the_cluster_resources_and_outputs() {
    let composition = composer()
        .compose(
            &plan(&["spark", "jupyter"], 3, infrastructure()),
            &standard(),
            &facts(),
        )
        .expect("composed");
    let hot = yaml(&composition.template);
    let resources = hot["resources"].as_object().expect("resources");
    for name in [
        "key_pair",
        "network",
        "subnet",
        "router",
        "router_interface",
        "security_group",
        "master_port",
        "master_floating_ip",
        "wait_handle",
        "wait_condition",
        "master",
        "slaves",
    ] {
        assert!(resources.contains_key(name), "{name} missing");
    }
    assert_eq!(resources["slaves"]["type"], "OS::Heat::ResourceGroup");
    assert_eq!(
        resources["slaves"]["properties"]["count"],
        serde_json::json!({"get_param": "slave_count"})
    );
    assert_eq!(hot["parameters"]["slave_count"]["default"], 3);
    assert_eq!(hot["parameters"]["master_image"]["default"], "ubuntu-22.04");
    assert_eq!(
        resources["key_pair"]["properties"]["name"],
        "disco-00000000"
    );
    for output in [
        "external_ip",
        "master_private_ip",
        "slave_ips",
        "ssh_key_name",
        "ssh_public_key",
    ] {
        assert!(
            hot["outputs"].get(output).is_some(),
            "output {output} missing"
        );
    }
    let master_data = &resources["master"]["properties"]["user_data"]["str_replace"];
    assert_eq!(
        master_data["template"].as_str(),
        Some(composition.master_user_data.as_str())
    );
    assert!(master_data["params"].get("__DISCO_WC_NOTIFY__").is_some());
}

#[test]
fn the_template_does_not_grow_with_the_slave_count() {
    let one = composer()
        .compose(
            &plan(&["spark"], 1, infrastructure()),
            &standard(),
            &facts(),
        )
        .expect("composed");
    let many = composer()
        .compose(
            &plan(&["spark"], 100, infrastructure()),
            &standard(),
            &facts(),
        )
        .expect("composed");
    let difference = many.template.len().abs_diff(one.template.len());
    assert!(
        difference < 16,
        "only the slave count default differs: {difference} bytes"
    );
}

#[test]
fn request_values_cannot_add_yaml_structure() {
    let mut infra = infrastructure();
    infra.master_image = "x\"\nevil: true\n#".into();
    infra.external_network_name = "{get_file: /etc/passwd}".into();
    let composition = composer()
        .compose(&plan(&["spark"], 1, infra.clone()), &standard(), &facts())
        .expect("composed");
    let hot = yaml(&composition.template);
    assert!(hot.get("evil").is_none());
    assert_eq!(
        hot["parameters"]["master_image"]["default"],
        infra.master_image.as_str()
    );
    assert_eq!(
        hot["parameters"]["external_network"]["default"],
        infra.external_network_name.as_str()
    );
}

#[test]
fn an_existing_network_is_used_instead_of_making_one() {
    let mut infra = infrastructure();
    infra.network_name = "shared-net".into();
    infra.existing_network = true;
    let composition = composer()
        .compose(&plan(&["spark"], 2, infra), &standard(), &facts())
        .expect("composed");
    let hot = yaml(&composition.template);
    let resources = hot["resources"].as_object().expect("resources");
    for made in ["network", "subnet", "router", "router_interface"] {
        assert!(
            !resources.contains_key(made),
            "{made} made for an existing network"
        );
    }
    assert_eq!(hot["parameters"]["network_name"]["default"], "shared-net");
    assert_eq!(
        resources["master_port"]["properties"]["network"],
        serde_json::json!({"get_param": "network_name"})
    );
}

#[test]
fn node_scripts_export_the_facts_and_run_the_steps_in_plan_order() {
    let mut plan = plan(&["zeppelin"], 2, infrastructure());
    plan.components[0]
        .params
        .insert("cores".into(), Scalar::String("it's 4".into()));
    let composition = composer()
        .compose(&plan, &standard(), &facts())
        .expect("composed");
    let master = &composition.master_script;
    assert!(master.starts_with("#!/bin/bash\n"));
    assert!(master.contains("export DISCO_NODE='master'\n"));
    assert!(master.contains("export DISCO_COMPONENTS='spark zeppelin'\n"));
    assert!(
        master.contains("export DISCO_PARAM_SPARK_CORES='it'\\''s 4'\n"),
        "quoted safely"
    );
    let order: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("disco_run_step "))
        .collect();
    assert_eq!(
        order,
        vec![
            "disco_run_step spark install step_spark_install",
            "disco_run_step zeppelin install step_zeppelin_install",
            "disco_run_step spark smoke step_spark_smoke",
            "disco_run_step zeppelin smoke step_zeppelin_smoke",
        ]
    );
    let slave = &composition.slave_script;
    assert!(slave.contains("export DISCO_SLAVE_INDEX='%index%'\n"));
    assert!(slave.contains("export DISCO_NODE=\"slaves:$((DISCO_SLAVE_INDEX + 1))\"\n"));
    for script in [master, slave] {
        let status = std::process::Command::new("bash")
            .args(["-n", "-c", script])
            .status()
            .expect("bash runs");
        assert!(status.success(), "bash -n rejects:\n{script}");
    }
}

#[test]
fn user_data_unpacks_to_the_plain_script_with_the_placeholders_left_in_the_clear() {
    use base64::Engine as _;
    use std::io::Read as _;
    let composition = composer()
        .compose(
            &plan(&["zeppelin", "jupyter"], 2, infrastructure()),
            &standard(),
            &facts(),
        )
        .expect("composed");
    for (plain, user_data) in [
        (&composition.master_script, &composition.master_user_data),
        (&composition.slave_script, &composition.slave_user_data),
    ] {
        let (head, rest) = user_data
            .split_once("umask 077\nmkdir -p /var/lib/disco\n")
            .expect("a bootstrap");
        assert!(head.contains(script::MASTER_ADDRESS) && head.contains(script::WC_NOTIFY));
        let payload: String = rest
            .lines()
            .skip(1)
            .take_while(|l| *l != "DISCO_PAYLOAD")
            .collect();
        let packed = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .expect("base64");
        let mut body = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut body)
            .expect("gzip");
        assert_eq!(format!("{head}{body}"), *plain);
        let status = std::process::Command::new("bash")
            .args(["-n", "-c", user_data])
            .status()
            .expect("bash");
        assert!(status.success());
    }
}

/// A VM's health reporter runs the activity steps the node script defines, under `set -u`
/// and without the node script's parameters: the steps read them with a default, and
/// the master's script defines the activity functions it names without running them.
#[test]
fn activity_steps_are_defined_for_the_reporter_and_read_parameters_with_a_default() {
    // The real catalogue: its components' activity steps.
    let catalogue = Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks"))
        .expect("catalogue");
    let plan = plan_in(&catalogue, &["spark", "jupyter"], 1, infrastructure());
    let composition = composer()
        .compose(&plan, &catalogue, &facts())
        .expect("composes");
    let master = &composition.master_script;
    for line in master
        .lines()
        .filter(|l| l.trim_start().starts_with("export PARAM_"))
    {
        assert!(
            line.contains("=\"${DISCO_PARAM_") && line.ends_with("-}\""),
            "{line}"
        );
    }
    assert!(
        master.contains(
            "export DISCO_ACTIVITY_STEPS='spark:step_spark_activity jupyter:step_jupyter_activity'"
        ),
        "{master}"
    );
    assert!(master.contains("step_spark_activity() ("));
    assert!(
        !master.contains("disco_run_step spark activity"),
        "defined, not run"
    );
}

fn with_init(mut plan: Plan, init: &str) -> Plan {
    plan.init = crate::frameworks::init::parse(init).expect("init actions");
    plan
}

/// The user's init actions are step functions run after the components' other steps
/// and their smoke tests, each on its groups, and only in the node's whole script.
#[test]
fn init_actions_run_after_every_start_and_before_the_smoke_tests_on_their_groups() {
    let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let plan = with_init(
        plan(&["spark"], 2, infrastructure()),
        &format!(
            r#"[{{"name":"warm-cache","script":"echo warm\nDISCO_INIT_SCRIPT\necho after","timeout":"5m"}},
                {{"name":"fetch","group":"master","url":"https://example.org/it's.sh","sha256":"{sha}"}}]"#
        ),
    );
    let composition = composer()
        .compose(&plan, &standard(), &facts())
        .expect("composed");
    let master = &composition.master_script;
    let runs: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("disco_run_step "))
        .collect();
    let at = |stage: &str| {
        runs.iter()
            .position(|l| l.starts_with(&format!("disco_run_step {stage} ")))
            .unwrap_or_else(|| panic!("{stage} not run: {runs:?}"))
    };
    assert!(at("spark install") < at("init warm-cache"), "{runs:?}");
    assert!(
        at("init warm-cache") < at("init fetch"),
        "in the order given"
    );
    assert!(at("init fetch") < at("spark smoke"), "{runs:?}");
    assert_eq!(
        runs[at("init warm-cache")],
        "disco_run_step init warm-cache step_init_warm_cache"
    );
    // The script as given, inside a here-document whose delimiter none of its lines is.
    assert!(
        master.contains(
            "  disco_init_inline warm-cache 300 <<'DISCO_INIT_SCRIPT_'\necho warm\nDISCO_INIT_SCRIPT\necho after\nDISCO_INIT_SCRIPT_\n"
        ),
        "{master}"
    );
    assert!(master.contains(&format!(
        "  disco_init_url fetch 600 'https://example.org/it'\\''s.sh' {sha}\n"
    )));
    // The slaves run the action for all, not the master's.
    let slaves = &composition.slave_script;
    assert!(slaves.contains("disco_run_step init warm-cache step_init_warm_cache"));
    assert!(!slaves.contains("init fetch") && !slaves.contains("step_init_fetch"));
    // Not at a restart: they initialize a node once.
    for restart in &composition.restart_scripts {
        assert!(!restart.contains("disco_init_"), "{restart}");
    }
    for script in [master, slaves] {
        let status = std::process::Command::new("bash")
            .args(["-n", "-c", script])
            .status()
            .expect("bash");
        assert!(status.success(), "bash -n rejects:\n{script}");
    }
    // What Nova would take: the larger group's user data, base64.
    let (group, size) = composition.user_data_size();
    assert_eq!(group, NodeGroup::Master);
    assert!(size > composition.master_user_data.len() && size < NOVA_USER_DATA_LIMIT);
}

/// The node library's init functions, run in bash: a script runs with its return code
/// and output; a download whose checksum differs fails naming both; a script past its
/// timeout is stopped with 124.
#[test]
fn the_node_library_checks_a_downloaded_script_and_stops_one_past_its_timeout() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().expect("dir");
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("heat-templates/node-lib.sh");
    let script = dir.path().join("served.sh");
    std::fs::write(&script, "#!/bin/sh\necho served; exit 3\n").expect("write");
    let good = format!(
        "{:x}",
        sha2::Sha256::digest(b"#!/bin/sh\necho served; exit 3\n")
    );
    let bad = "0".repeat(64);
    let run = |body: &str| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(". {}\n{body}", lib.display()))
            .env("DISCO_HOME", dir.path().join("home"))
            .env("DISCO_LOG_DIR", dir.path().join("log"))
            .env("DISCO_NODE", "master")
            .output()
            .expect("bash");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let url = format!("file://{}", script.display());
    let (rc, stdout, _) = run(&format!("disco_init_url get 30 '{url}' {good}"));
    assert_eq!((rc, stdout.as_str()), (Some(3), "served\n"));
    let (rc, _, stderr) = run(&format!("disco_init_url get 30 '{url}' {bad}"));
    assert_eq!(rc, Some(1));
    assert_eq!(
        stderr,
        format!("init get: checksum mismatch for {url}: expected sha256 {bad}, got {good}\n")
    );
    let (rc, stdout, _) = run("disco_init_inline hello 30 <<'E'\necho \"hi $((1 + 1))\"\nE");
    assert_eq!((rc, stdout.as_str()), (Some(0), "hi 2\n"));
    let (rc, _, stderr) = run("disco_init_inline slow 1 <<'E'\nsleep 20\nE");
    assert_eq!(rc, Some(124));
    assert!(
        stderr.contains("init slow: stopped after its timeout of 1s"),
        "{stderr}"
    );
}

/// The quota check's needs agree with what the rendered template makes: its networks,
/// its security group's rules and those it adds to the used clusters' groups.
#[test]
fn the_footprint_counts_what_the_rendered_template_makes() {
    use crate::domain::Resource;
    let mut facts = facts();
    facts.used_clusters = vec![UsedCluster {
        name: "spark1".into(),
        network: None,
        security_group: Some("sg-of-spark1".into()),
    }];
    for (infra, made) in [
        (infrastructure(), 1),
        (
            Infrastructure {
                network_name: "shared".into(),
                existing_network: true,
                ..infrastructure()
            },
            0,
        ),
    ] {
        let plan = plan(&["spark", "jupyter"], 2, infra);
        let composition = composer()
            .compose(&plan, &standard(), &facts)
            .expect("composed");
        let hot = yaml(&composition.template);
        let resources = hot["resources"].as_object().expect("resources");
        let of_type = |kind: &str| resources.values().filter(|r| r["type"] == kind).count() as u64;
        let rules = hot["resources"]["security_group"]["properties"]["rules"]
            .as_array()
            .expect("rules")
            .len() as u64;
        let footprint = heat::Layout::of(&plan, &facts.used_clusters).footprint(&plan);
        assert_eq!(
            footprint.get(Resource::Networks),
            Some(of_type("OS::Neutron::Net"))
        );
        assert_eq!(footprint.get(Resource::Networks), Some(made));
        assert_eq!(
            footprint.get(Resource::Subnets),
            Some(of_type("OS::Neutron::Subnet"))
        );
        assert_eq!(
            footprint.get(Resource::Routers),
            Some(of_type("OS::Neutron::Router"))
        );
        assert_eq!(
            footprint.get(Resource::FloatingIps),
            Some(of_type("OS::Neutron::FloatingIP"))
        );
        assert_eq!(
            footprint.get(Resource::SecurityGroups),
            Some(of_type("OS::Neutron::SecurityGroup"))
        );
        // Its group's rules, the rules it adds to the used groups, Neutron's 2 egress rules.
        assert_eq!(
            footprint.get(Resource::SecurityGroupRules),
            Some(rules + of_type("OS::Neutron::SecurityGroupRule") + 2)
        );
        // A server and a port per node: the master's port here, each slave's made by Nova
        // for its server's network (the member template names the network, not a port);
        // on a network it makes, the router interface's port and the subnet's DHCP port.
        assert_eq!(footprint.get(Resource::Instances), Some(1 + 2));
        assert_eq!(of_type("OS::Neutron::RouterInterface"), made);
        assert_eq!(
            footprint.get(Resource::Ports),
            Some(of_type("OS::Neutron::Port") + 2 + of_type("OS::Neutron::RouterInterface") + made)
        );
    }
}

//! Every template the real catalogue can produce — each component alone, all of them
//! together, with 1 and 20 slaves — is checked: its node scripts with `bash -n` and
//! shellcheck, and (in `heat.rs`) the template by the real Heat.

use std::path::Path;

use disco::cluster::spec::ClusterSpec;
use disco::compose::{Composer, Composition, Facts};
use disco::domain::{ClusterId, ProviderKind};
use disco::frameworks::catalogue::{Catalogue, NodeGroup};
use disco::frameworks::resolve::resolve;
use disco::manifest::Manifest;
use disco::occi::text::parse_attributes;

pub fn catalogue() -> Catalogue {
    Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks")).expect("catalogue")
}

/// The component sets to check: each alone, then all together.
pub fn component_sets(catalogue: &Catalogue) -> Vec<Vec<String>> {
    let mut sets: Vec<Vec<String>> = catalogue
        .names()
        .iter()
        .map(|n| vec![n.to_string()])
        .collect();
    sets.push(catalogue.names().iter().map(|n| n.to_string()).collect());
    sets
}

/// Composes a cluster of `components` with `slaves` slaves for OpenStack, through the
/// same manifest check and resolution a create request takes.
pub fn compose(catalogue: &Catalogue, components: &[String], slaves: u16) -> Composition {
    compose_as(catalogue, components, slaves, ClusterId::new())
}

fn compose_as(
    catalogue: &Catalogue,
    components: &[String],
    slaves: u16,
    id: ClusterId,
) -> Composition {
    compose_for(catalogue, components, slaves, id, ProviderKind::Openstack)
}

fn compose_for(
    catalogue: &Catalogue,
    components: &[String],
    slaves: u16,
    id: ClusterId,
    provider: ProviderKind,
) -> Composition {
    compose_with(catalogue, components, slaves, id, provider, "")
}

/// `compose_for`, with more attributes (`,name=value...`) in the request.
fn compose_with(
    catalogue: &Catalogue,
    components: &[String],
    slaves: u16,
    id: ClusterId,
    provider: ProviderKind,
    more: &str,
) -> Composition {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let composer = Composer::load(&root.join("heat-templates")).expect("templates");
    let inject: Vec<String> = components.iter().map(|c| format!("'{c}'")).collect();
    let attributes = parse_attributes(&format!(
        "icclab.disco.dependencies.inject=\"[{}]\",icclab.disco.components.heat.slavecount={slaves}{more}",
        inject.join(", ")
    ))
    .expect("attributes");
    let checked = Manifest::built_in()
        .expect("manifest")
        .check_request(&attributes)
        .expect("checked");
    let spec = ClusterSpec::from_attributes(id, &checked, provider).expect("spec");
    let plan = resolve(&spec.request, catalogue).expect("resolves");
    let facts = Facts {
        cluster_id: id.to_string(),
        cluster_name: spec.request.name.to_string(),
        key_name: format!("disco-{}", id.short()),
        public_key:
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOTaIXbZ2h1Md2u9X7pGHY6yR1BgW5FfN5R0TGY6OxM3 test"
                .into(),
        report_url: Some(format!("http://192.0.2.1:8888/disco/{id}/report")),
        report_token: Some("report-token".into()),
        used: Default::default(),
        used_clusters: Vec::new(),
    };
    composer
        .compose(&plan, catalogue, &facts)
        .expect("composes")
}

fn shellcheck(script: &str, what: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("node.sh");
    std::fs::write(&file, script).expect("write");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .expect("bash");
    assert!(
        syntax.status.success(),
        "{what}: bash -n: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let checked = std::process::Command::new("shellcheck")
        .args(["-s", "bash", "-S", "warning", "-f", "gcc"])
        .arg(&file)
        .output()
        .expect("shellcheck is installed (tests/run.sh installs it)");
    assert!(
        checked.status.success(),
        "{what}: shellcheck:\n{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}

#[test]
fn every_composed_node_script_passes_bash_n_and_shellcheck() {
    let catalogue = catalogue();
    assert!(
        catalogue.names().len() >= 6,
        "the catalogue has its components: {:?}",
        catalogue.names()
    );
    for components in component_sets(&catalogue) {
        let composition = compose(&catalogue, &components, 2);
        shellcheck(
            &composition.master_script,
            &format!("{components:?} master"),
        );
        shellcheck(&composition.slave_script, &format!("{components:?} slaves"));
        shellcheck(
            &composition.master_user_data,
            &format!("{components:?} master user data"),
        );
        shellcheck(
            &composition.slave_user_data,
            &format!("{components:?} slave user data"),
        );
    }
}

#[test]
fn every_local_node_script_passes_bash_n_and_shellcheck() {
    let catalogue = catalogue();
    let local: Vec<String> = catalogue
        .iter()
        .filter(|c| c.supports(ProviderKind::Local))
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(local, ["dask", "jupyter", "spark"]);
    let mut sets: Vec<Vec<String>> = local.iter().map(|c| vec![c.clone()]).collect();
    sets.push(local.clone());
    for components in sets {
        let composition = compose_for(
            &catalogue,
            &components,
            2,
            ClusterId::new(),
            ProviderKind::Local,
        );
        for (script, group) in [
            (&composition.master_script, NodeGroup::Master),
            (&composition.slave_script, NodeGroup::Slaves),
        ] {
            assert!(
                script.contains("disco_local_signal() {"),
                "{components:?} {group}: the local library is in"
            );
            for component in &components {
                let steps = catalogue.get(component).expect("component");
                if !steps.steps_for(ProviderKind::Local).contains_key(&group) {
                    continue;
                }
                assert!(
                    script.contains(&format!("({component}/local/install.sh)"))
                        && !script.contains(&format!("({component}/install.sh)")),
                    "{components:?} {group}: {component}'s local steps, not the VM's"
                );
            }
            shellcheck(script, &format!("{components:?} local {group}"));
        }
        // The scripts of the builder of environments, a start and a scale-in.
        for (what, script) in ["master", "slaves"]
            .iter()
            .zip(&composition.install_scripts)
            .map(|(g, s)| (format!("install {g}"), s))
            .chain(
                ["master", "slaves"]
                    .iter()
                    .zip(&composition.restart_scripts)
                    .map(|(g, s)| (format!("restart {g}"), s)),
            )
            .chain(
                composition
                    .decommission_script
                    .iter()
                    .map(|s| ("decommission".to_string(), s)),
            )
        {
            shellcheck(script, &format!("{components:?} local {what}"));
        }
        assert_eq!(
            composition.decommission_script.is_some(),
            components.contains(&"dask".to_string()),
            "{components:?}: only dask decommissions its slaves"
        );
        if let Some(script) = &composition.decommission_script {
            assert!(script.contains("(dask/local/decommission-slave.sh)"));
            assert!(
                !script.contains("(dask/local/install.sh)"),
                "decommission steps only"
            );
        }
        assert!(
            !composition.master_script.contains("decommission-slave.sh")
                && !composition.slave_script.contains("decommission-slave.sh"),
            "a deploy does not decommission"
        );
    }
}

#[test]
fn every_component_set_composes_to_a_template_with_its_web_ui_outputs() {
    let catalogue = catalogue();
    for components in component_sets(&catalogue) {
        for slaves in [1, 20] {
            let composition = compose(&catalogue, &components, slaves);
            let hot: serde_json::Value =
                serde_saphyr::from_str(&composition.template).expect("the template is YAML");
            assert_eq!(hot["parameters"]["slave_count"]["default"], slaves);
            let outputs = hot["outputs"].as_object().expect("outputs");
            for name in &components {
                let component = catalogue.get(name).expect("component");
                for ui in component.web_uis.iter() {
                    let rule = format!("port_range_min: {}", ui.port);
                    assert!(
                        composition.template.contains(&rule),
                        "{name}: port {} is opened",
                        ui.port
                    );
                    assert!(
                        outputs
                            .keys()
                            .any(|k| k.starts_with(&format!("web_ui_{}_", name.replace('-', "_")))),
                        "{name}: a web UI output"
                    );
                }
            }
        }
    }
}

/// Nova refuses user data over 65,535 bytes once base64-encoded.
const NOVA_USER_DATA_LIMIT: usize = 65_535;

#[test]
fn every_node_fits_novas_user_data_limit_even_with_every_component() {
    let catalogue = catalogue();
    for components in component_sets(&catalogue) {
        let composition = compose(&catalogue, &components, 20);
        for (group, user_data) in [
            ("master", &composition.master_user_data),
            ("slaves", &composition.slave_user_data),
        ] {
            let encoded = user_data.len().div_ceil(3) * 4;
            assert!(
                encoded <= NOVA_USER_DATA_LIMIT,
                "{components:?} {group}: {encoded} bytes of base64 user data (plain script {} bytes)",
                if group == "master" {
                    composition.master_script.len()
                } else {
                    composition.slave_script.len()
                }
            );
        }
    }
}

/// The template with each node's packed payload replaced by its size, so that a snapshot
/// diff shows what changed in the template; the scripts have snapshots of their own.
fn readable(template: &str) -> String {
    let mut out = String::new();
    for line in template.lines() {
        match line.split_once("base64 -d <<'DISCO_PAYLOAD'") {
            Some((before, rest)) => {
                let payload = rest.split("DISCO_PAYLOAD").nth(1).unwrap_or_default();
                out.push_str(before);
                out.push_str(&format!(
                    "[gzip+base64 node script, {} bytes]",
                    rest.len() - payload.len()
                ));
                out.push_str(rest.rsplit("DISCO_PAYLOAD").next().unwrap_or_default());
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[test]
fn golden_templates_for_several_component_sets() {
    let catalogue = catalogue();
    let id: ClusterId = "0c0ffee0-d15c-4000-8000-000000000001".parse().expect("id");
    for (name, components, slaves) in [
        ("spark", vec!["spark"], 2),
        (
            "hadoop_spark_jupyter",
            vec!["hadoop", "spark", "jupyter"],
            3,
        ),
        ("zeppelin_dask", vec!["zeppelin", "dask"], 1),
        ("swarm_no_slaves", vec!["swarm"], 0),
    ] {
        let components: Vec<String> = components.into_iter().map(String::from).collect();
        let composition = compose_as(&catalogue, &components, slaves, id);
        insta::assert_snapshot!(format!("template_{name}"), readable(&composition.template));
    }
    let composition = compose_as(&catalogue, &["spark".to_string()], 2, id);
    insta::assert_snapshot!("master_script_spark", composition.master_script);
    insta::assert_snapshot!("slave_script_spark", composition.slave_script);
}

/// The user's init actions in the node scripts: shellcheck finds nothing in them, on
/// OpenStack and on the local provider, and the master's script keeps its snapshot.
#[test]
fn node_scripts_with_init_actions_pass_shellcheck_and_keep_their_snapshot() {
    let catalogue = catalogue();
    let id: ClusterId = "0c0ffee0-d15c-4000-8000-000000000002".parse().expect("id");
    let actions = serde_json::json!([
        {"name": "warm-cache", "script": "#!/bin/bash\necho \"warm on $DISCO_NODE\"", "timeout": "5m"},
        {"name": "seed", "group": "master", "url": "https://example.org/seed.sh",
         "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
    ])
    .to_string();
    let init = format!(
        ",icclab.disco.init=\"{}\"",
        actions.replace('\\', r"\\").replace('"', "\\\"")
    );
    for provider in [ProviderKind::Openstack, ProviderKind::Local] {
        let composition = compose_with(&catalogue, &["dask".to_string()], 1, id, provider, &init);
        shellcheck(&composition.master_script, &format!("{provider} master"));
        shellcheck(&composition.slave_script, &format!("{provider} slaves"));
        assert!(
            composition
                .master_script
                .contains("disco_run_step init seed step_init_seed")
        );
        if provider == ProviderKind::Openstack {
            insta::assert_snapshot!("master_script_dask_with_init", composition.master_script);
        }
    }
}

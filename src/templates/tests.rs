use std::path::Path;

use super::*;

fn manifest() -> Manifest {
    Manifest::built_in().expect("manifest")
}

fn catalogue() -> Catalogue {
    Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks")).expect("catalogue")
}

fn check_toml(text: &str) -> Result<Template, TemplateError> {
    let raw: RawTemplate = toml::from_str(text).expect("TOML");
    Template::check(raw, Some("t"), &manifest(), &catalogue())
}

#[test]
fn a_table_of_components_becomes_the_inject_literal_with_its_parameters() {
    let template = check_toml(
        r#"
        description = "d"
        [components]
        spark = { worker_cores = 2 }
        jupyter = ""
        [attributes]
        "icclab.disco.components.heat.slavecount" = 3
        "icclab.disco.components.heat.slaveflavor" = "m1.large"
        "#,
    )
    .expect("a good template");
    assert_eq!(template.name.as_str(), "t");
    let inject = template.attributes[INJECT].as_str().expect("text");
    let parsed = inject::parse_inject(inject).expect("a literal inject reads");
    assert_eq!(parsed.components.len(), 2);
    let spark = parsed
        .components
        .iter()
        .find(|c| c.name.as_str() == "spark")
        .expect("spark");
    assert_eq!(spark.params["worker_cores"], Scalar::Integer(2));
    assert_eq!(template.nodes(&manifest()), 4);
    assert_eq!(
        template.attributes["icclab.disco.components.heat.slaveflavor"],
        Scalar::String("m1.large".into())
    );
}

#[test]
fn components_may_be_an_inject_literal_and_the_default_count_makes_the_nodes() {
    let template = check_toml("components = \"{'dask': ''}\"").expect("good");
    assert_eq!(template.component_names(), vec!["dask"]);
    assert_eq!(
        template.nodes(&manifest()),
        3,
        "the manifest's 2 slaves and the master"
    );
}

#[test]
fn an_unknown_component_is_refused_naming_it() {
    let err = check_toml("[components]\nsparkle = \"\"\n").expect_err("unknown");
    let text = err.to_string();
    assert!(text.contains("sparkle") && text.contains(INJECT), "{text}");
}

#[test]
fn an_unknown_parameter_is_refused_naming_the_component_and_parameter() {
    let err = check_toml("[components]\nspark = { cores = 2 }\n").expect_err("unknown");
    assert!(
        err.to_string()
            .contains("icclab.disco.components.spark.cores"),
        "{err}"
    );
    let err = check_toml(
        "[components]\nspark = \"\"\n[attributes]\n\"icclab.disco.components.dask.worker_threads\" = 2\n",
    )
    .expect_err("a parameter of a component not in it");
    assert!(err.to_string().contains("dask"), "{err}");
}

#[test]
fn an_unknown_attribute_or_one_of_the_wrong_type_is_refused_naming_it() {
    let err =
        check_toml("[components]\nspark = \"\"\n[attributes]\n\"icclab.disco.slavecount\" = 2\n")
            .expect_err("unknown");
    assert!(err.to_string().contains("icclab.disco.slavecount"), "{err}");
    let err = check_toml(&format!(
        "[components]\nspark = \"\"\n[attributes]\n\"{SLAVE_COUNT}\" = \"many\"\n"
    ))
    .expect_err("wrong type");
    assert!(err.to_string().contains(SLAVE_COUNT), "{err}");
}

#[test]
fn a_template_holds_no_secret_and_no_name_of_a_cluster() {
    for (attribute, value) in [
        ("icclab.disco.deployer.password", "\"hunter2\""),
        (NAME, "\"lab\""),
        (STAGE, "true"),
    ] {
        let err = check_toml(&format!(
            "[components]\nspark = \"\"\n[attributes]\n\"{attribute}\" = {value}\n"
        ))
        .expect_err(attribute);
        assert!(err.to_string().contains(attribute), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    let err = check_toml("[components]\njupyter = { token = \"s3cret\" }\n").expect_err("secret");
    let text = err.to_string();
    assert!(
        text.contains("icclab.disco.components.jupyter.token") && !text.contains("s3cret"),
        "{text}"
    );
}

#[test]
fn a_template_without_components_or_with_a_bad_name_is_refused() {
    let err = check_toml("description = \"nothing\"").expect_err("no components");
    assert!(err.to_string().starts_with("components:"), "{err}");
    let raw: RawTemplate =
        toml::from_str("name = \"Spark Notebook\"\ncomponents = \"{'spark': ''}\"").expect("TOML");
    let err = Template::check(raw, None, &manifest(), &catalogue()).expect_err("bad name");
    assert!(err.to_string().starts_with("name:"), "{err}");
}

#[test]
fn a_template_of_a_component_some_provider_cannot_run_is_checked_on_one_that_can() {
    check_toml("[components]\nhadoop = \"\"\n").expect("hadoop runs on openstack");
    let err = check_toml(
        "[components]\nhadoop = \"\"\n[attributes]\n\"icclab.disco.provider\" = \"local\"\n",
    )
    .expect_err("hadoop on local");
    assert!(err.to_string().contains("icclab.disco.provider"), "{err}");
}

#[test]
fn the_shipped_templates_load_and_a_bad_file_stops_the_load_naming_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = Templates::load(&root.join("manifests/templates"), &manifest(), &catalogue())
        .expect("the shipped templates");
    let notebook = shipped.get("spark-notebook").expect("spark-notebook");
    assert_eq!(notebook.component_names(), vec!["jupyter", "spark"]);
    assert_eq!(notebook.nodes(&manifest()), 3);
    assert!(shipped.iter().count() >= 3);

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("good.toml"),
        "components = \"{'spark': ''}\"",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("bad.toml"),
        "[components]\nzookeeper = \"\"\n",
    )
    .expect("write");
    let err = Templates::load(dir.path(), &manifest(), &catalogue()).expect_err("bad file");
    let text = err.to_string();
    assert!(
        text.contains("bad.toml") && text.contains("zookeeper"),
        "{text}"
    );

    std::fs::remove_file(dir.path().join("bad.toml")).expect("rm");
    std::fs::write(
        dir.path().join("other.toml"),
        "name = \"else\"\ncomponents = \"{'spark': ''}\"",
    )
    .expect("write");
    let err = Templates::load(dir.path(), &manifest(), &catalogue()).expect_err("misnamed");
    assert!(err.to_string().contains("other.toml"), "{err}");
}

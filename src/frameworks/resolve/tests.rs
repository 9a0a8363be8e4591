use std::collections::BTreeMap;

use super::*;
use crate::domain::{ClusterId, ComponentName, ProviderKind};
use crate::domain::{Infrastructure, SlaveCount};
use crate::frameworks::request::{ComponentRequest, PlanRequest};
use crate::frameworks::testing::{catalogue, component, standard};

fn spec(requests: &[(&str, &[(&str, Scalar)])], provider: ProviderKind) -> PlanRequest {
    PlanRequest {
        name: crate::domain::ClusterName::for_id(ClusterId::new()),
        provider,
        slaves: serde_json::from_str::<SlaveCount>("3").expect("count"),
        min_slaves: None,
        max_slaves: None,
        infrastructure: Infrastructure {
            master_image: "img".into(),
            slave_image: "img".into(),
            master_flavor: "m".into(),
            slave_flavor: "s".into(),
            network_name: String::new(),
            external_network_name: "public".into(),
            existing_network: false,
        },
        components: requests
            .iter()
            .map(|(name, params)| ComponentRequest {
                name: ComponentName::parse(name).expect("component name"),
                params: params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            })
            .collect(),
        parameters: Default::default(),
        init: Vec::new(),
    }
}

#[test]
fn dependencies_are_added_and_ordered_before_their_dependents() {
    let plan = resolve(&spec(&[("zeppelin", &[])], ProviderKind::File), &standard()).expect("plan");
    assert_eq!(plan.component_names(), vec!["spark", "zeppelin"]);
    assert!(!plan.components[0].requested, "spark came as a dependency");
    assert!(plan.components[1].requested);
}

#[test]
fn the_order_is_the_same_whatever_order_the_request_names_them() {
    let a = resolve(
        &spec(
            &[
                ("jupyter", &[]),
                ("dask", &[]),
                ("spark", &[]),
                ("hadoop", &[]),
            ],
            ProviderKind::File,
        ),
        &standard(),
    )
    .expect("plan");
    let b = resolve(
        &spec(
            &[
                ("hadoop", &[]),
                ("spark", &[]),
                ("dask", &[]),
                ("jupyter", &[]),
            ],
            ProviderKind::File,
        ),
        &standard(),
    )
    .expect("plan");
    // after-edges: hadoop before spark before jupyter; dask ties by name.
    assert_eq!(
        a.component_names(),
        vec!["dask", "hadoop", "spark", "jupyter"]
    );
    assert_eq!(a.component_names(), b.component_names());
}

#[test]
fn after_orders_only_what_is_requested_anyway() {
    let plan = resolve(&spec(&[("jupyter", &[])], ProviderKind::File), &standard()).expect("plan");
    assert_eq!(plan.component_names(), vec!["jupyter"]);
}

#[test]
fn an_unknown_component_is_named_with_the_known_ones() {
    let err =
        resolve(&spec(&[("flink", &[])], ProviderKind::File), &standard()).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "icclab.disco.dependencies.inject: unknown component \"flink\"; known components: dask, hadoop, jupyter, spark, zeppelin"
    );
}

#[test]
fn a_dependency_cycle_is_reported_with_its_path() {
    let cyclic = catalogue(vec![
        component("a", &["b"], &[]),
        component("b", &["c"], &[]),
        component("c", &["a"], &[]),
    ]);
    let err = resolve(&spec(&[("a", &[])], ProviderKind::File), &cyclic).expect_err("cycle");
    assert_eq!(
        err.to_string(),
        "icclab.disco.dependencies.inject: dependency cycle: a -> b -> c -> a"
    );
}

#[test]
fn parameters_are_typed_checked_and_defaulted() {
    let plan = resolve(
        &spec(
            &[("spark", &[("cores", Scalar::String("8".into()))])],
            ProviderKind::File,
        ),
        &standard(),
    )
    .expect("plan");
    assert_eq!(plan.components[0].params["cores"], Scalar::Integer(8));
    assert_eq!(
        plan.components[0].params["token"],
        Scalar::String(String::new())
    );

    let err = resolve(
        &spec(
            &[("spark", &[("cores", Scalar::Integer(0))])],
            ProviderKind::File,
        ),
        &standard(),
    )
    .expect_err("out of range");
    assert_eq!(
        err.to_string(),
        "icclab.disco.components.spark.cores: expected an integer from 1 to 64, got 0"
    );
    let err = resolve(
        &spec(
            &[("spark", &[("memory", Scalar::String("2g".into()))])],
            ProviderKind::File,
        ),
        &standard(),
    )
    .expect_err("unknown parameter");
    assert_eq!(
        err.to_string(),
        "icclab.disco.components.spark.memory: spark has no parameter \"memory\"; its parameters: cores, token"
    );
}

#[test]
fn a_secret_parameter_of_the_wrong_type_is_not_echoed_and_is_redacted_in_the_plan() {
    let plan = resolve(
        &spec(
            &[("spark", &[("token", Scalar::String("s3cr3t".into()))])],
            ProviderKind::File,
        ),
        &standard(),
    )
    .expect("plan");
    assert_eq!(
        plan.components[0].params["token"],
        Scalar::String("s3cr3t".into())
    );
    let shown = serde_json::to_string(&plan.redacted()).expect("json");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    let err = resolve(
        &spec(
            &[("spark", &[("token", Scalar::Bool(true))])],
            ProviderKind::File,
        ),
        &standard(),
    )
    .expect_err("wrong type");
    assert!(
        err.to_string().ends_with("got a value of the wrong type"),
        "{err}"
    );
}

#[test]
fn a_component_the_provider_cannot_run_is_refused_by_name() {
    let err =
        resolve(&spec(&[("spark", &[])], ProviderKind::Local), &standard()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "icclab.disco.provider: component spark cannot run on provider local (it runs on file, openstack)"
    );
}

#[test]
fn steps_run_install_to_start_per_component_then_every_smoke_test() {
    let plan = resolve(&spec(&[("zeppelin", &[])], ProviderKind::File), &standard()).expect("plan");
    let master: Vec<String> = plan
        .steps_for(NodeGroup::Master)
        .iter()
        .map(|(c, s)| format!("{} {}", c.name, s.phase))
        .collect();
    assert_eq!(
        master,
        vec![
            "spark install",
            "zeppelin install",
            "spark smoke",
            "zeppelin smoke"
        ]
    );
    let slaves: Vec<String> = plan
        .steps_for(NodeGroup::Slaves)
        .iter()
        .map(|(c, s)| format!("{} {}", c.name, s.phase))
        .collect();
    assert_eq!(slaves, vec!["spark start", "zeppelin start"]);
    assert_eq!(plan.slave_count(), 3);
}

#[test]
fn nothing_requested_is_an_error_listing_what_could_be() {
    let err = resolve(&spec(&[], ProviderKind::File), &standard()).expect_err("empty");
    assert!(
        err.to_string()
            .contains("no component is requested; known components: dask"),
        "{err}"
    );
}

#[test]
fn a_parameter_may_be_set_for_a_dependency_but_not_for_a_component_not_in_the_plan() {
    let mut with_dependency = spec(&[("zeppelin", &[])], ProviderKind::File);
    with_dependency.parameters.insert(
        "spark".into(),
        BTreeMap::from([("cores".to_string(), Scalar::Integer(6))]),
    );
    let plan = resolve(&with_dependency, &standard()).expect("plan");
    assert_eq!(plan.components[0].params["cores"], Scalar::Integer(6));

    let mut stranger = spec(&[("spark", &[])], ProviderKind::File);
    stranger.parameters.insert(
        "dask".into(),
        BTreeMap::from([("cores".to_string(), Scalar::Integer(6))]),
    );
    let err = resolve(&stranger, &standard()).expect_err("dask is not in the plan");
    assert_eq!(
        err.to_string(),
        "icclab.disco.components.dask.cores: dask is not part of this cluster (it has spark)"
    );
}

/// A catalogue where `notebook` needs `engine` (taken from another cluster when one has
/// it, with its `url`), and `engine` offers `url`.
fn using_catalogue() -> Catalogue {
    use crate::frameworks::catalogue::{Accepts, Output, OutputSource};
    let mut engine = component("engine", &[], &[]);
    engine.outputs = vec![Output {
        name: "url".into(),
        description: "where".into(),
        source: OutputSource::Value("x://{master}".into()),
        secret: false,
        providers: Vec::new(),
    }];
    let mut notebook = component("notebook", &["engine"], &[]);
    notebook.uses = BTreeMap::from([(
        "engine".to_string(),
        Accepts {
            description: "d".into(),
            outputs: vec!["url".into()],
        },
    )]);
    let other = component("other", &["engine"], &[]);
    catalogue(vec![engine, notebook, other, component("lone", &[], &[])])
}

fn offer(name: &str, components: &[(&str, &[&str])]) -> Offer {
    Offer {
        cluster: ClusterId::new(),
        name: name.into(),
        provider: ProviderKind::File,
        components: components
            .iter()
            .map(|(c, outputs)| {
                (
                    c.to_string(),
                    outputs.iter().map(|o| o.to_string()).collect(),
                )
            })
            .collect(),
    }
}

#[test]
fn a_dependency_a_used_cluster_has_is_served_by_it_and_not_deployed_here() {
    let catalogue = using_catalogue();
    let engines = offer("engines", &[("engine", &["url"])]);
    let plan = resolve_using(
        &spec(&[("notebook", &[])], ProviderKind::File),
        &catalogue,
        std::slice::from_ref(&engines),
    )
    .expect("plan");
    assert_eq!(plan.component_names(), vec!["notebook"]);
    assert_eq!(
        plan.components[0].dependencies,
        vec![PlannedDependency {
            component: "engine".into(),
            served_by: Some(engines.cluster)
        }]
    );
    assert_eq!(plan.uses[0].serves, vec!["engine".to_string()]);
    assert_eq!(plan.served().get("engine"), Some(&engines.cluster));
    // Without it, or asked for here, the dependency is deployed here.
    let alone = resolve(&spec(&[("notebook", &[])], ProviderKind::File), &catalogue).expect("plan");
    assert_eq!(alone.component_names(), vec!["engine", "notebook"]);
    assert_eq!(alone.components[1].dependencies[0].served_by, None);
    let both = resolve_using(
        &spec(&[("notebook", &[]), ("engine", &[])], ProviderKind::File),
        &catalogue,
        std::slice::from_ref(&engines),
    );
    assert!(
        matches!(both, Err(ResolveError::Unused { .. })),
        "asked for here, the used cluster serves nothing: {both:?}"
    );
}

#[test]
fn what_a_used_cluster_cannot_serve_is_refused_naming_the_cluster_and_what_is_missing() {
    let catalogue = using_catalogue();
    let request = spec(&[("notebook", &[])], ProviderKind::File);
    let missing = resolve_using(&request, &catalogue, &[offer("bare", &[("engine", &[])])])
        .expect_err("no url");
    assert_eq!(
        missing.to_string(),
        "icclab.disco.uses: notebook takes engine from bare, but bare's engine does not offer url (it offers nothing)"
    );
    let unused = resolve_using(&request, &catalogue, &[offer("lonely", &[("lone", &[])])])
        .expect_err("nothing taken");
    assert!(
        unused
            .to_string()
            .starts_with("icclab.disco.uses: no component of this cluster takes anything lonely has (it has lone; this cluster's components take engine"),
        "{unused}"
    );
    let twice = resolve_using(
        &request,
        &catalogue,
        &[
            offer("a", &[("engine", &["url"])]),
            offer("b", &[("engine", &["url"])]),
        ],
    )
    .expect_err("two engines");
    assert_eq!(
        twice.to_string(),
        "icclab.disco.uses: both a and b have engine: use one of them"
    );
    let mut elsewhere = offer("far", &[("engine", &["url"])]);
    elsewhere.provider = ProviderKind::Local;
    let other_provider = resolve_using(&request, &catalogue, &[elsewhere]).expect_err("provider");
    assert!(
        other_provider
            .to_string()
            .contains("runs on provider local"),
        "{other_provider}"
    );
    // A component that does not accept it from elsewhere gets its own.
    let own = resolve_using(
        &spec(&[("other", &[])], ProviderKind::File),
        &catalogue,
        &[offer("engines", &[("engine", &["url"])])],
    );
    assert!(matches!(own, Err(ResolveError::Unused { .. })), "{own:?}");
}

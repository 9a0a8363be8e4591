//! A small catalogue made in code, for unit tests of what consumes catalogues.

use std::collections::BTreeMap;

use super::catalogue::{Catalogue, Component, NodeGroup, ParamType, Parameter, Phase, Script};
use crate::domain::ProviderKind;
use crate::domain::Scalar;

pub(crate) fn component(name: &str, depends_on: &[&str], after: &[&str]) -> Component {
    let script = |file: &str| Script {
        file: file.to_string(),
        text: format!("echo {name} {file}\n"),
    };
    let mut steps = BTreeMap::new();
    steps.insert(
        NodeGroup::Master,
        BTreeMap::from([
            (Phase::Install, script("install.sh")),
            (Phase::Smoke, script("smoke.sh")),
        ]),
    );
    steps.insert(
        NodeGroup::Slaves,
        BTreeMap::from([(Phase::Start, script("start.sh"))]),
    );
    Component {
        name: name.to_string(),
        version: "1.0".to_string(),
        description: format!("{name} for tests"),
        depends_on: depends_on.iter().map(|s| s.to_string()).collect(),
        after: after.iter().map(|s| s.to_string()).collect(),
        providers: vec![ProviderKind::File, ProviderKind::Openstack],
        parameters: BTreeMap::from([
            (
                "cores".to_string(),
                Parameter {
                    min: Some(1),
                    max: Some(64),
                    ..Parameter::new(ParamType::Integer, Scalar::Integer(2), "cores")
                },
            ),
            (
                "token".to_string(),
                Parameter {
                    secret: true,
                    ..Parameter::new(ParamType::String, Scalar::String(String::new()), "token")
                },
            ),
        ]),
        ports: vec![],
        web_uis: vec![],
        health: vec![],
        steps,
        timeouts: BTreeMap::new(),
        local: None,
        unsupported: BTreeMap::new(),
        outputs: Vec::new(),
        uses: BTreeMap::new(),
    }
}

pub(crate) fn catalogue(components: Vec<Component>) -> Catalogue {
    Catalogue::from_components(components).expect("catalogue")
}

pub(crate) fn standard() -> Catalogue {
    catalogue(vec![
        component("hadoop", &[], &[]),
        component("spark", &[], &["hadoop"]),
        component("zeppelin", &["spark"], &[]),
        component("jupyter", &[], &["spark"]),
        component("dask", &[], &[]),
    ])
}

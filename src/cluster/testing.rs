//! Clusters made in code for unit tests of what reads them (the store, the lifecycle,
//! the task tree, the dashboard's views): checked by the built-in manifest, resolved
//! against a catalogue, pending, with fresh keys.

use chrono::Utc;

use super::keys::KeyPair;
use super::spec::ClusterSpec;
use super::{Cluster, Outputs};
use crate::domain::{ClusterId, ClusterState, ProviderKind, Scalar, TenantId};
use crate::frameworks::catalogue::Catalogue;
use crate::manifest::Manifest;
use crate::occi::text::Attribute;

/// The tenant's cluster, pending, made from these attributes (string values, as a
/// request gives them) for the file provider, with `catalogue`.
pub(crate) fn cluster_in(
    catalogue: &Catalogue,
    tenant: TenantId,
    attributes: &[(&str, &str)],
) -> Cluster {
    let given: Vec<Attribute> = attributes
        .iter()
        .map(|(name, value)| Attribute {
            name: name.to_string(),
            value: Scalar::String(value.to_string()),
        })
        .collect();
    let checked = Manifest::built_in()
        .expect("manifest")
        .check_request(&given)
        .expect("valid attributes");
    let id = ClusterId::new();
    let spec = ClusterSpec::from_attributes(id, &checked, ProviderKind::File).expect("spec");
    let plan = crate::frameworks::resolve::resolve(&spec.request, catalogue).expect("plan");
    let now = Utc::now();
    Cluster {
        id,
        tenant,
        plan,
        spec,
        delegation: Default::default(),
        state: ClusterState::Pending,
        state_reason: String::new(),
        outputs: Outputs::default(),
        keys: KeyPair::generate("k").expect("key"),
        created_at: now,
        updated_at: now,
        health: None,
        activity: None,
    }
}

/// As `cluster_in`, for the default tenant with the standard test catalogue.
pub(crate) fn cluster(attributes: &[(&str, &str)]) -> Cluster {
    cluster_in(
        &crate::frameworks::testing::standard(),
        TenantId::default_tenant(),
        attributes,
    )
}

//! Asking for a resize: the one use case the OCCI action, the partial update and the
//! dashboard call. It reads the new number of slaves from the request's attributes,
//! checks it against the cluster's bounds and its provider, and stores the resize with
//! its job. Nothing is stored when any of that refuses.

use crate::auth::Identity;
use crate::cluster::Cluster;
use crate::domain::attributes::SLAVE_COUNT;
use crate::domain::state::Mover;
use crate::domain::{ClusterId, ClusterState, Scalar, SlaveCount};
use crate::occi::text::Attribute;
use crate::providers::preflight::{Needs, QuotaError};
use crate::providers::{Inadmissible, Providers};
use crate::store::{Store, StoreError};

/// Why a resize was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// The request does not say a new number of slaves the way it must.
    #[error("{attribute}: {expected}")]
    Attribute { attribute: String, expected: String },
    /// The provider cannot resize clusters, or not to that many slaves.
    #[error(transparent)]
    Unsupported(#[from] Inadmissible),
    /// The project has no room for the slaves it adds, or the cloud could not be asked.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// Not ready, or already being changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The new number of slaves the attributes give: exactly one attribute, the slave count,
/// an integer from 0 to 100.
pub fn requested_slaves(attributes: &[Attribute]) -> Result<SlaveCount, ScaleError> {
    let refuse = |attribute: &str, expected: String| ScaleError::Attribute {
        attribute: attribute.chars().take(80).collect(),
        expected,
    };
    if let Some(other) = attributes.iter().find(|a| a.name != SLAVE_COUNT) {
        return Err(refuse(
            &other.name,
            format!(
                "only {SLAVE_COUNT} changes in a scale (a lifetime, {}, changes in an update \
                 of its own)",
                crate::domain::attributes::LIFETIME.join(", ")
            ),
        ));
    }
    match attributes {
        [] => Err(refuse(
            SLAVE_COUNT,
            "the new number of slaves, as an X-OCCI-Attribute".to_string(),
        )),
        [one] => match &one.value {
            Scalar::Integer(n) => SlaveCount::parse(*n).map_err(|e| refuse(SLAVE_COUNT, e)),
            other => Err(refuse(
                SLAVE_COUNT,
                format!(
                    "an integer number of slaves, got {}",
                    other.quoted().chars().take(40).collect::<String>()
                ),
            )),
        },
        _ => Err(refuse(SLAVE_COUNT, "one value, given once".to_string())),
    }
}

/// Resizes the caller's cluster to `slaves`: `None` when it has no such cluster. A
/// resize to the number it has changes nothing; one that adds slaves is checked against
/// the project's quotas first, with the caller's identity.
pub async fn request(
    store: &Store,
    providers: &Providers,
    caller: &Identity,
    id: ClusterId,
    slaves: SlaveCount,
) -> Result<Option<Cluster>, ScaleError> {
    let tenant = &caller.tenant;
    let Some(cluster) = store.cluster(Some(tenant), id).await? else {
        return Ok(None);
    };
    if let Some(expected) = cluster.spec.request.bounds().refuse(slaves) {
        return Err(ScaleError::Attribute {
            attribute: SLAVE_COUNT.to_string(),
            expected,
        });
    }
    // The slaves given up on keep their places: a scale-in must leave `minslaves` up.
    if let Some(min) = cluster.spec.request.min_slaves {
        let lost_within = cluster
            .outputs
            .lost()
            .iter()
            .filter_map(|slave| crate::domain::node::slave_index(&slave.node))
            .filter(|index| *index < slaves.get())
            .count();
        let up = usize::from(slaves.get()).saturating_sub(lost_within);
        if up < usize::from(min.get()) {
            return Err(ScaleError::Attribute {
                attribute: SLAVE_COUNT.to_string(),
                expected: format!(
                    "a count that leaves at least {} slaves up ({}): {} of its places are \
                     slaves given up on, so {} leaves {up}",
                    min.get(),
                    crate::domain::attributes::MIN_SLAVES,
                    lost_within,
                    slaves.get()
                ),
            });
        }
    }
    let kind = cluster.spec.request.provider;
    let provider = match providers.get(kind) {
        Some(provider) if provider.resizes() => provider,
        _ => {
            return Err(Inadmissible {
                attribute: SLAVE_COUNT,
                reason: format!("the {kind} provider cannot resize a cluster"),
            }
            .into());
        }
    };
    let mut plan = cluster.plan.clone();
    plan.set_slave_count(slaves.get());
    provider.admits(&plan)?;
    if slaves.get() > cluster.plan.slave_count() {
        // The state first (read-only; the store checks it again as it stores the
        // resize): a cluster that cannot scale is a 409 saying so, whether or not the
        // cloud can be asked about its quotas.
        if !cluster
            .state
            .can_move_to(ClusterState::Scaling, Mover::ScaleRequest)
        {
            return Err(StoreError::WrongState {
                state: cluster.state,
                action: "scale",
                needed: "ready",
            }
            .into());
        }
        let needs = Needs::of_scale_out(&cluster.plan, &plan);
        provider.preflight(caller, &plan, &needs).await?;
    }
    if slaves.get() == cluster.plan.slave_count() && cluster.state == ClusterState::Ready {
        return Ok(Some(cluster));
    }
    Ok(store.request_scale(tenant, id, slaves).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(name: &str, value: Scalar) -> Attribute {
        Attribute {
            name: name.to_string(),
            value,
        }
    }

    #[test]
    fn the_new_count_is_one_integer_slave_count_and_nothing_else() {
        let ok = requested_slaves(&[attribute(SLAVE_COUNT, Scalar::Integer(5))]);
        assert_eq!(ok.ok().map(SlaveCount::get), Some(5));
        for (given, names) in [
            (vec![], SLAVE_COUNT),
            (
                vec![attribute(SLAVE_COUNT, Scalar::Integer(-1))],
                SLAVE_COUNT,
            ),
            (
                vec![attribute(SLAVE_COUNT, Scalar::Integer(101))],
                SLAVE_COUNT,
            ),
            (
                vec![attribute(SLAVE_COUNT, Scalar::Integer(1 << 40))],
                SLAVE_COUNT,
            ),
            (
                vec![attribute(SLAVE_COUNT, Scalar::String("5".into()))],
                SLAVE_COUNT,
            ),
            (
                vec![attribute(SLAVE_COUNT, Scalar::Float(2.5))],
                SLAVE_COUNT,
            ),
            (
                vec![
                    attribute(SLAVE_COUNT, Scalar::Integer(2)),
                    attribute(SLAVE_COUNT, Scalar::Integer(3)),
                ],
                SLAVE_COUNT,
            ),
            (
                vec![
                    attribute(SLAVE_COUNT, Scalar::Integer(2)),
                    attribute(
                        "icclab.disco.components.heat.masterimage",
                        Scalar::String("x".into()),
                    ),
                ],
                "icclab.disco.components.heat.masterimage",
            ),
        ] {
            let refused = requested_slaves(&given).expect_err("refused");
            assert!(refused.to_string().starts_with(names), "{refused}");
        }
    }
}

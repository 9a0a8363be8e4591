//! Expected durations, from history. Each step that finished is kept as a `Sample`: what
//! it was (a component's phase, or a node stage such as `create_node`), on which node
//! group, provider and node shape (flavor and image), and how long it took. For a task
//! not finished, each step is expected to take the median of the last `RUNS_KEPT` of
//! its kind on nodes of the same shape, or of any shape where that shape has none; a
//! stage, the longest of its nodes' sums; the task, to end when its slowest node has run
//! what it has left.
//!
//! Everything here is pure: the store keeps the samples (`samples` says which a run
//! leaves) and builds the `Expectations` of a cluster in one query; `expect` writes
//! them into a tree made without them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Task, TaskKind, TaskStatus};
use crate::cluster::Cluster;
use crate::domain::ProviderKind;
use crate::frameworks::catalogue::NodeGroup;
use crate::frameworks::plan::Plan;

/// How many of the latest runs of a step count (and how many the store keeps of each
/// key: the latest of any shape are among the latest of their own).
pub const RUNS_KEPT: usize = 20;

/// What a step is, for its history.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StageKey {
    /// The component (`spark`); empty for a node stage.
    pub component: String,
    /// The component's phase (`install`), or a node stage's leaf kind (`create_node`).
    pub phase: String,
    /// Master and slaves run different scripts, often on different flavors.
    pub group: NodeGroup,
}

/// The flavor and image of a node group's nodes; both empty where the provider has no
/// such thing (local processes, files).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    pub flavor: String,
    pub image: String,
}

impl Shape {
    /// The shape of the plan's nodes of `group`.
    pub fn of(plan: &Plan, group: NodeGroup) -> Shape {
        let infrastructure = &plan.infrastructure;
        match (plan.provider, group) {
            (ProviderKind::Openstack, NodeGroup::Master) => Shape {
                flavor: infrastructure.master_flavor.clone(),
                image: infrastructure.master_image.clone(),
            },
            (ProviderKind::Openstack, NodeGroup::Slaves) => Shape {
                flavor: infrastructure.slave_flavor.clone(),
                image: infrastructure.slave_image.clone(),
            },
            _ => Shape::default(),
        }
    }
}

/// One step that finished, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub key: StageKey,
    pub provider: ProviderKind,
    pub shape: Shape,
    pub seconds: f64,
    /// When it ended: the latest count.
    pub at: DateTime<Utc>,
}

/// What the latest runs of a step took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    pub median: f64,
    /// The 99th percentile (nearest rank): of 20 runs, the longest.
    pub p99: f64,
    pub runs: usize,
}

impl Expected {
    fn of(seconds: &[f64]) -> Option<Expected> {
        Some(Expected {
            median: median(seconds)?,
            p99: percentile(seconds, 0.99)?,
            runs: seconds.len(),
        })
    }
}

/// What the steps of one cluster are expected to take, by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expectations {
    by_key: BTreeMap<StageKey, Expected>,
}

impl Expectations {
    /// From the samples of `provider` (others are left out), for nodes whose shape
    /// `shape_of` says: per key, the latest `RUNS_KEPT` of that shape, else (none of
    /// that shape) the latest `RUNS_KEPT` of any.
    pub fn from_history(
        history: &[Sample],
        provider: ProviderKind,
        shape_of: impl Fn(NodeGroup) -> Shape,
    ) -> Expectations {
        let mut newest_first: Vec<&Sample> =
            history.iter().filter(|s| s.provider == provider).collect();
        newest_first.sort_by_key(|sample| std::cmp::Reverse(sample.at));
        let shapes = [
            (NodeGroup::Master, shape_of(NodeGroup::Master)),
            (NodeGroup::Slaves, shape_of(NodeGroup::Slaves)),
        ];
        let mut same_shape: BTreeMap<&StageKey, Vec<f64>> = BTreeMap::new();
        let mut any_shape: BTreeMap<&StageKey, Vec<f64>> = BTreeMap::new();
        for sample in newest_first {
            let any = any_shape.entry(&sample.key).or_default();
            if any.len() < RUNS_KEPT {
                any.push(sample.seconds);
            }
            let ours = shapes
                .iter()
                .any(|(group, shape)| *group == sample.key.group && *shape == sample.shape);
            if ours {
                let same = same_shape.entry(&sample.key).or_default();
                if same.len() < RUNS_KEPT {
                    same.push(sample.seconds);
                }
            }
        }
        let by_key = any_shape
            .into_iter()
            .filter_map(|(key, any)| {
                let chosen = same_shape.get(key).unwrap_or(&any);
                Some((key.clone(), Expected::of(chosen)?))
            })
            .collect();
        Expectations { by_key }
    }

    pub fn get(&self, key: &StageKey) -> Option<Expected> {
        self.by_key.get(key).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let sorted = sorted(values)?;
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// The nearest-rank percentile (`fraction` 0.99: the 99th).
pub fn percentile(values: &[f64], fraction: f64) -> Option<f64> {
    let sorted = sorted(values)?;
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn sorted(values: &[f64]) -> Option<Vec<f64>> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(sorted)
}

/// The key of a leaf of a stage (a child of the root), as `component_stages` and
/// `nodes_stage` make them: a component stage is named `<component> <phase>`.
fn key_of(stage_kind: TaskKind, stage_name: &str, leaf: &Task) -> Option<StageKey> {
    let group = match leaf.node.as_deref()? {
        "master" => NodeGroup::Master,
        _ => NodeGroup::Slaves,
    };
    let (component, phase) = match stage_kind {
        TaskKind::Stage | TaskKind::ActionStage => stage_name.split_once(' ')?,
        _ => ("", leaf.kind.as_str()),
    };
    Some(StageKey {
        component: component.to_string(),
        phase: phase.to_string(),
        group,
    })
}

/// Calls `f` on every leaf under `task`, in order.
fn each_leaf_mut(task: &mut Task, f: &mut impl FnMut(&mut Task)) {
    if task.children.is_empty() {
        f(task);
        return;
    }
    for child in &mut task.children {
        each_leaf_mut(child, f);
    }
}

/// The samples a finished run of `cluster` leaves: every step that succeeded and whose
/// start and end are known (a node that never reported has neither).
pub fn samples(cluster: &Cluster, root: &Task) -> Vec<Sample> {
    let mut samples = Vec::new();
    for stage in &root.children {
        for leaf in stage.leaves() {
            if leaf.status != TaskStatus::Succeeded {
                continue;
            }
            let (Some(seconds), Some(at)) = (leaf.duration_secs(), leaf.ended_at) else {
                continue;
            };
            let Some(key) = key_of(stage.kind, &stage.name, leaf) else {
                continue;
            };
            samples.push(Sample {
                shape: Shape::of(&cluster.plan, key.group),
                key,
                provider: cluster.plan.provider,
                seconds,
                at,
            });
        }
    }
    samples
}

/// Writes into a tree what it is expected to take: each step not finished its
/// `expected_secs`; each task above steps not finished the longest of its nodes' sums
/// (finished steps count as long as they took), where every step not finished has an
/// expectation; a root that runs its `expected_end`, `now` plus what its slowest node
/// has left (a step that overran its expectation has nothing left). Finished tasks get
/// none.
pub fn expect(root: &mut Task, expectations: &Expectations, now: DateTime<Utc>) {
    for stage in &mut root.children {
        let (kind, name) = (stage.kind, stage.name.clone());
        each_leaf_mut(stage, &mut |leaf| {
            leaf.expected_secs = if leaf.status.is_finished() {
                None
            } else {
                key_of(kind, &name, leaf)
                    .and_then(|key| expectations.get(&key))
                    .map(|e| e.median)
            };
        });
    }
    fill_totals(root);
    root.expected_end = if root.status == TaskStatus::Executing {
        left_after(root, now).map(|secs| now + seconds(secs))
    } else {
        None
    };
}

/// Each task above steps, not finished: the longest of its nodes' sums.
fn fill_totals(task: &mut Task) {
    if task.children.is_empty() {
        return;
    }
    for child in &mut task.children {
        fill_totals(child);
    }
    task.expected_secs = if task.status.is_finished() {
        None
    } else {
        slowest_node(task, |leaf| {
            if leaf.status.is_finished() {
                Some(leaf.duration_secs().unwrap_or(0.0))
            } else {
                leaf.expected_secs
            }
        })
    };
    task.expected_end = None;
}

/// What the slowest node under `task` has left at `now`.
fn left_after(task: &Task, now: DateTime<Utc>) -> Option<f64> {
    slowest_node(task, |leaf| match leaf.status {
        status if status.is_finished() => Some(0.0),
        TaskStatus::Executing => {
            let ran = leaf
                .started_at
                .map_or(0.0, |s| (now - s).num_milliseconds().max(0) as f64 / 1000.0);
            leaf.expected_secs.map(|e| (e - ran).max(0.0))
        }
        _ => leaf.expected_secs,
    })
}

/// The largest sum over the nodes under `task` of `each` of their steps (a node runs its
/// steps one after another, nodes side by side); `None` when `each` has none for one.
fn slowest_node(task: &Task, each: impl Fn(&Task) -> Option<f64>) -> Option<f64> {
    let mut by_node: BTreeMap<&str, f64> = BTreeMap::new();
    for leaf in task.leaves() {
        let secs = each(leaf)?;
        *by_node
            .entry(leaf.node.as_deref().unwrap_or_default())
            .or_default() += secs;
    }
    by_node.into_values().reduce(f64::max)
}

fn seconds(secs: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((secs * 1000.0).round() as i64)
}

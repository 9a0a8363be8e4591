//! Tasks: what a deploy is doing, stage by stage, as DTK's `task-status` shows it. The
//! tree is made on demand from three things the store keeps: the cluster's plan (which
//! stages, on which nodes), its state transitions (when the deploy started, when it
//! ended) and the reports its nodes sent (when each step started and ended, its return
//! code and the tail of its output).
//!
//! ```text
//! cluster_converge
//!   1 create_nodes_stage          1.1 create_node master, 1.2 create_node slaves:1 ...
//!   2 spark install               2.1 configure_nodegroup slaves (2.1.1 configure_node
//!                                 slaves:1 ...), 2.2 configure_node master
//!   ...
//!   n spark smoke                 n.1 action master
//! ```

pub mod eta;
mod heat;
pub mod render;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, LostSlave};
use crate::domain::health::RepairTarget;
use crate::domain::node::slave_name;
use crate::domain::{ClusterState, ProviderKind, Report, ReportStatus, Resize, Transition};
use crate::frameworks::catalogue::{NodeGroup, Phase};

/// The longest output tail a report keeps, in bytes.
pub const OUTPUT_TAIL: usize = 4000;

/// The stage a node reports first, as its script starts.
pub const NODE_STARTED: &str = "node started";
/// The stage a node reports last, once every step succeeded.
pub const NODE_READY: &str = "node ready";

/// The last `OUTPUT_TAIL` bytes of `text`, cut at a character boundary.
pub fn tail(text: &str) -> String {
    if text.len() <= OUTPUT_TAIL {
        return text.to_string();
    }
    let mut start = text.len() - OUTPUT_TAIL;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Pending,
    Executing,
    Succeeded,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Executing => "executing",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// What a row of the tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    ClusterConverge,
    ClusterStop,
    ClusterStart,
    ClusterDelete,
    ClusterScale,
    ClusterRepair,
    CreateNodesStage,
    CreateNode,
    /// A resource the nodes share (network, router, key pair) that Heat failed to make.
    CreateResource,
    StopNodesStage,
    StopNode,
    StartNodesStage,
    StartNode,
    DeleteNodesStage,
    DeleteNode,
    DecommissionNodesStage,
    DecommissionNode,
    /// A component step (install, configure, start) on every node that has it.
    Stage,
    /// A smoke test.
    ActionStage,
    ConfigureNodegroup,
    ConfigureNode,
    Action,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::ClusterConverge => "cluster_converge",
            TaskKind::ClusterStop => "cluster_stop",
            TaskKind::ClusterStart => "cluster_start",
            TaskKind::ClusterDelete => "cluster_delete",
            TaskKind::ClusterScale => "cluster_scale",
            TaskKind::ClusterRepair => "cluster_repair",
            TaskKind::CreateNodesStage => "create_nodes_stage",
            TaskKind::CreateNode => "create_node",
            TaskKind::CreateResource => "create_resource",
            TaskKind::StopNodesStage => "stop_nodes_stage",
            TaskKind::StopNode => "stop_node",
            TaskKind::StartNodesStage => "start_nodes_stage",
            TaskKind::StartNode => "start_node",
            TaskKind::DeleteNodesStage => "delete_nodes_stage",
            TaskKind::DeleteNode => "delete_node",
            TaskKind::DecommissionNodesStage => "decommission_nodes_stage",
            TaskKind::DecommissionNode => "decommission_node",
            TaskKind::Stage => "stage",
            TaskKind::ActionStage => "action_stage",
            TaskKind::ConfigureNodegroup => "configure_nodegroup",
            TaskKind::ConfigureNode => "configure_node",
            TaskKind::Action => "action",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// `""` for the root, then `1`, `1.2`, `3.1.1`.
    pub number: String,
    pub kind: TaskKind,
    /// What the task type column shows: the kind, or a stage's name (`spark install`).
    pub name: String,
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Leaves of component stages: the step's script, its return code and output tails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rc: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Not finished: how long it is expected to take, in seconds, from the history of
    /// the same steps (`eta`); `None` where the history has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_secs: Option<f64>,
    /// The root of a task that runs: when it is expected to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_end: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Task>,
}

impl Task {
    fn new(number: String, kind: TaskKind, name: &str, node: Option<String>) -> Task {
        Task {
            number,
            kind,
            name: name.to_string(),
            status: TaskStatus::Pending,
            node,
            started_at: None,
            ended_at: None,
            command: None,
            rc: None,
            stdout: None,
            stderr: None,
            expected_secs: None,
            expected_end: None,
            children: Vec::new(),
        }
    }

    /// Seconds from start to end, once both are known.
    pub fn duration_secs(&self) -> Option<f64> {
        let (start, end) = (self.started_at?, self.ended_at?);
        Some((end - start).num_milliseconds().max(0) as f64 / 1000.0)
    }

    /// Every row, depth first, with its depth.
    pub fn rows(&self) -> Vec<(usize, &Task)> {
        let mut rows = Vec::new();
        fn walk<'a>(task: &'a Task, depth: usize, rows: &mut Vec<(usize, &'a Task)>) {
            rows.push((depth, task));
            for child in &task.children {
                walk(child, depth + 1, rows);
            }
        }
        walk(self, 0, &mut rows);
        rows
    }

    /// The leaves under this task (itself when it has no children).
    pub fn leaves(&self) -> Vec<&Task> {
        if self.children.is_empty() {
            return vec![self];
        }
        self.children.iter().flat_map(Task::leaves).collect()
    }

    /// Status and times from the children.
    fn aggregate(&mut self) {
        if self.children.is_empty() {
            return;
        }
        for child in &mut self.children {
            child.aggregate();
        }
        let statuses: Vec<TaskStatus> = self.children.iter().map(|c| c.status).collect();
        let all = |s: TaskStatus| statuses.iter().all(|x| *x == s);
        let any = |s: TaskStatus| statuses.contains(&s);
        self.status = if any(TaskStatus::Failed) {
            TaskStatus::Failed
        } else if all(TaskStatus::Succeeded) {
            TaskStatus::Succeeded
        } else if all(TaskStatus::Pending) {
            TaskStatus::Pending
        } else if any(TaskStatus::Executing) || any(TaskStatus::Pending) {
            TaskStatus::Executing
        } else {
            TaskStatus::Cancelled
        };
        self.started_at = self.children.iter().filter_map(|c| c.started_at).min();
        self.ended_at = if self.status.is_finished() {
            self.children.iter().filter_map(|c| c.ended_at).max()
        } else {
            None
        };
    }
}

/// The nodes a task acts on.
struct Nodes {
    master: bool,
    /// `slaves:1` ...
    slaves: Vec<String>,
}

impl Nodes {
    /// Every node of the cluster's plan.
    fn all(cluster: &Cluster) -> Nodes {
        Nodes {
            master: true,
            slaves: (0..cluster.plan.slave_count()).map(slave_name).collect(),
        }
    }

    /// Slaves by number (from 1).
    fn slaves(numbers: std::ops::RangeInclusive<u16>) -> Nodes {
        Nodes {
            master: false,
            slaves: numbers.map(|n| slave_name(n - 1)).collect(),
        }
    }

    fn names(&self) -> Vec<String> {
        let master = self.master.then(|| "master".to_string());
        master
            .into_iter()
            .chain(self.slaves.iter().cloned())
            .collect()
    }
}

/// One operation in the cluster's history, as its transitions bound it.
struct Run {
    kind: TaskKind,
    /// A scale's from and to slaves.
    resize: Option<Resize>,
    /// What a repair starts again, by node.
    repair: Option<Vec<RepairTarget>>,
    started: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    status: TaskStatus,
    /// When the nodes existed, for providers whose nodes do not report.
    nodes_created: Option<DateTime<Utc>>,
}

impl Run {
    /// Whether a report belongs to this run: sent after it started and, once it ended,
    /// not after (a later start's reports name the same stages).
    fn holds(&self, at: DateTime<Utc>) -> bool {
        self.started.is_none_or(|s| at >= s) && self.ended.is_none_or(|e| at <= e)
    }
}

/// The deploy, from the cluster's history.
fn deploy_run(cluster: &Cluster, transitions: &[Transition]) -> Run {
    let started = transitions
        .iter()
        .find(|t| t.to == ClusterState::Deploying)
        .map(|t| t.at);
    let after_start = |state: ClusterState| {
        transitions
            .iter()
            .filter(|t| started.is_some_and(|s| t.at >= s))
            .find(|t| t.to == state)
            .map(|t| t.at)
    };
    let ready = after_start(ClusterState::Ready);
    let failed = after_start(ClusterState::Failed);
    let (status, ended) = match (started, ready, failed) {
        (None, _, _) => (TaskStatus::Pending, None),
        (Some(_), Some(at), _) => (TaskStatus::Succeeded, Some(at)),
        (Some(_), None, Some(at)) => (TaskStatus::Failed, Some(at)),
        (Some(_), None, None) if cluster.state.is_deploying() => (TaskStatus::Executing, None),
        (Some(_), None, None) => (
            TaskStatus::Cancelled,
            after_start(ClusterState::Deleting).or(transitions.last().map(|t| t.at)),
        ),
    };
    Run {
        kind: TaskKind::ClusterConverge,
        resize: None,
        repair: None,
        started,
        ended,
        status,
        nodes_created: after_start(ClusterState::Installing),
    }
}

/// The stops, starts and deletes in the cluster's history, in order: each begins where
/// the cluster moved into stopping, starting or deleting, and ends where it moved on.
fn operation_runs(cluster: &Cluster, transitions: &[Transition]) -> Vec<Run> {
    let mut runs = Vec::new();
    for (i, begin) in transitions.iter().enumerate() {
        // A change of reason only, not a move.
        if begin.from == Some(begin.to) {
            continue;
        }
        let (kind, success) = match begin.to {
            ClusterState::Stopping => (TaskKind::ClusterStop, ClusterState::Stopped),
            ClusterState::Starting => (TaskKind::ClusterStart, ClusterState::Ready),
            ClusterState::Deleting => (TaskKind::ClusterDelete, ClusterState::Deleted),
            ClusterState::Scaling => (TaskKind::ClusterScale, ClusterState::Ready),
            ClusterState::Repairing => (TaskKind::ClusterRepair, ClusterState::Ready),
            _ => continue,
        };
        let end = transitions[i + 1..].iter().find(|t| t.to != begin.to);
        // A scale-out cancelled on the way records its resize back within scaling.
        let scale_cancelled = kind == TaskKind::ClusterScale
            && transitions[i + 1..]
                .iter()
                .take_while(|t| t.to == begin.to)
                .any(|t| t.resize.is_some());
        let (status, ended) = match end {
            Some(t) if scale_cancelled && t.to == ClusterState::Ready => {
                (TaskStatus::Cancelled, Some(t.at))
            }
            // A repair ends ready either way; its reason says whether it worked.
            Some(t) if kind == TaskKind::ClusterRepair && t.reason.starts_with("repair failed") => {
                (TaskStatus::Failed, Some(t.at))
            }
            // A cancel's tear-down ends the cluster cancelled: it did what it set out to.
            Some(t)
                if t.to == success
                    || (success == ClusterState::Deleted && t.to == ClusterState::Cancelled) =>
            {
                (TaskStatus::Succeeded, Some(t.at))
            }
            Some(t) if t.to == ClusterState::Failed => (TaskStatus::Failed, Some(t.at)),
            Some(t) => (TaskStatus::Cancelled, Some(t.at)),
            None if cluster.state == begin.to => (TaskStatus::Executing, None),
            None => (TaskStatus::Cancelled, transitions.last().map(|t| t.at)),
        };
        runs.push(Run {
            kind,
            resize: begin.resize,
            repair: begin.repair.clone(),
            started: Some(begin.at),
            ended,
            status,
            nodes_created: None,
        });
    }
    runs
}

/// Every task the cluster has run, the deploy first; each as `task-status` shows it.
pub fn history(cluster: &Cluster, transitions: &[Transition], reports: &[Report]) -> Vec<Task> {
    let mut tasks = vec![deploy_task(cluster, transitions, reports)];
    for run in operation_runs(cluster, transitions) {
        tasks.push(operation_task(cluster, &run, reports));
    }
    tasks
}

/// The cluster's latest task: the one running, or the last that ran (the last of its
/// `history`, made alone).
pub fn latest_task(cluster: &Cluster, transitions: &[Transition], reports: &[Report]) -> Task {
    match operation_runs(cluster, transitions).last() {
        Some(run) => operation_task(cluster, run, reports),
        None => deploy_task(cluster, transitions, reports),
    }
}

/// The deploy task of a cluster.
pub fn deploy_task(cluster: &Cluster, transitions: &[Transition], reports: &[Report]) -> Task {
    let run = deploy_run(cluster, transitions);
    let mut root = Task::new(String::new(), run.kind, run.kind.as_str(), None);
    let reports: Vec<&Report> = reports.iter().filter(|r| run.holds(r.at)).collect();
    let nodes = Nodes::all(cluster);
    let mut stage = nodes_stage(
        &nodes,
        &run,
        &reports,
        TaskKind::CreateNodesStage,
        TaskKind::CreateNode,
    );
    heat::apply(&mut stage, &cluster.outputs.heat_events, &run);
    root.children.push(stage);
    component_stages(&mut root, cluster, &nodes, &run, &reports, &Phase::DEPLOY);
    settle_losing(root, &run, cluster.outputs.lost())
}

/// A stop, start or delete. A start of a local cluster runs its components' start and
/// smoke steps on every node, which report as a deploy's do; elsewhere the provider acts
/// on the nodes as a whole (Heat suspends and resumes the servers).
fn operation_task(cluster: &Cluster, run: &Run, reports: &[Report]) -> Task {
    let mut root = Task::new(String::new(), run.kind, run.kind.as_str(), None);
    let reports: Vec<&Report> = reports.iter().filter(|r| run.holds(r.at)).collect();
    if let (TaskKind::ClusterScale, Some(resize)) = (run.kind, run.resize) {
        // Out: the new slaves are made and run every step; in: the leaving ones run
        // their decommission steps, then go.
        let changed = Nodes::slaves((resize.from.min(resize.to) + 1)..=resize.from.max(resize.to));
        let (stage, node, phases): (_, _, &[Phase]) = if resize.to > resize.from {
            (
                TaskKind::CreateNodesStage,
                TaskKind::CreateNode,
                &Phase::DEPLOY,
            )
        } else {
            (
                TaskKind::DecommissionNodesStage,
                TaskKind::DecommissionNode,
                &[Phase::Decommission],
            )
        };
        let mut nodes = nodes_stage(&changed, run, &reports, stage, node);
        if resize.to > resize.from {
            heat::apply(&mut nodes, &cluster.outputs.heat_events, run);
        }
        root.children.push(nodes);
        component_stages(&mut root, cluster, &changed, run, &reports, phases);
        return settle_losing(root, run, cluster.outputs.lost());
    }
    if let (TaskKind::ClusterRepair, Some(targets)) = (run.kind, &run.repair) {
        // The targets' components' start and smoke steps, on the targets' nodes alone.
        let nodes = Nodes {
            master: targets.iter().any(|t| t.node == "master"),
            slaves: targets
                .iter()
                .filter(|t| t.node != "master")
                .map(|t| t.node.clone())
                .collect(),
        };
        let mut repaired = cluster.clone();
        repaired
            .plan
            .components
            .retain(|c| targets.iter().any(|t| t.components.contains(&c.name)));
        root.children.push(nodes_stage(
            &nodes,
            run,
            &reports,
            TaskKind::StartNodesStage,
            TaskKind::StartNode,
        ));
        component_stages(
            &mut root,
            &repaired,
            &nodes,
            run,
            &reports,
            &[Phase::Start, Phase::Smoke],
        );
        return settle(root, run);
    }
    let (stage, node) = match run.kind {
        TaskKind::ClusterStop => (TaskKind::StopNodesStage, TaskKind::StopNode),
        TaskKind::ClusterStart => (TaskKind::StartNodesStage, TaskKind::StartNode),
        _ => (TaskKind::DeleteNodesStage, TaskKind::DeleteNode),
    };
    let nodes = Nodes::all(cluster);
    root.children
        .push(nodes_stage(&nodes, run, &reports, stage, node));
    if run.kind == TaskKind::ClusterStart && cluster.spec.request.provider == ProviderKind::Local {
        component_stages(
            &mut root,
            cluster,
            &nodes,
            run,
            &reports,
            &[Phase::Start, Phase::Smoke],
        );
    }
    settle(root, run)
}

/// The root's status and times from its children, then the run's own: the operation
/// is what its transitions say, whatever its stages do.
fn settle(mut root: Task, run: &Run) -> Task {
    root.aggregate();
    root.status = run.status;
    root.started_at = run.started;
    root.ended_at = run.ended;
    root
}

/// The tasks of slaves given up on that had not ended: the first of each slave failed
/// (with why DISCO gave the slave up, where the node said nothing), the later ones did
/// not run. Then the root as `settle` makes it.
fn settle_losing(mut root: Task, run: &Run, lost: &[LostSlave]) -> Task {
    fn give_up<'a>(task: &mut Task, lost: &'a [LostSlave], failed: &mut Vec<&'a str>) {
        for child in &mut task.children {
            give_up(child, lost, failed);
        }
        if !task.children.is_empty() || task.ended_at.is_some() {
            return;
        }
        let Some(slave) = lost
            .iter()
            .find(|slave| task.node.as_deref() == Some(slave.node.as_str()))
        else {
            return;
        };
        if failed.contains(&slave.node.as_str()) {
            task.status = TaskStatus::Cancelled;
            return;
        }
        failed.push(&slave.node);
        task.status = TaskStatus::Failed;
        if task.stderr.is_none() {
            task.stderr = Some(tail(&slave.reason));
        }
    }
    if !lost.is_empty() {
        // A slave that said which step failed has its failure: the rest did not run.
        let mut failed: Vec<&str> = root
            .leaves()
            .into_iter()
            .filter(|leaf| leaf.status == TaskStatus::Failed)
            .filter_map(|leaf| {
                lost.iter()
                    .find(|slave| leaf.node.as_deref() == Some(slave.node.as_str()))
                    .map(|slave| slave.node.as_str())
            })
            .collect();
        give_up(&mut root, lost, &mut failed);
    }
    settle(root, run)
}

/// The first stage: one task per node, done once the node reported in this run, or
/// (for nodes that do not report) when the run says.
fn nodes_stage(
    nodes: &Nodes,
    run: &Run,
    reports: &[&Report],
    stage_kind: TaskKind,
    node_kind: TaskKind,
) -> Task {
    let mut first_seen: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for report in reports {
        first_seen.entry(report.node.as_str()).or_insert(report.at);
    }
    // Only a deploy's and a local start's nodes report as they come up.
    let nodes_report = run.kind == TaskKind::ClusterConverge || run.kind == TaskKind::ClusterStart;
    let mut stage = Task::new("1".into(), stage_kind, stage_kind.as_str(), None);
    for (i, node) in nodes.names().iter().enumerate() {
        let mut task = Task::new(
            format!("1.{}", i + 1),
            node_kind,
            node_kind.as_str(),
            Some(node.clone()),
        );
        task.started_at = run.started;
        if !nodes_report {
            // The provider acts on the nodes as a whole: they stand as the run does.
            task.status = run.status;
            task.ended_at = run.ended;
            stage.children.push(task);
            continue;
        }
        // A node exists once it reports. Until the run ends, one that has not is still
        // being made; after, the time its provider said the nodes existed is the best
        // there is (nodes that cannot reach DISCO never report).
        let created = first_seen.get(node.as_str()).copied().or(match run.status {
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled => run.nodes_created,
            _ => None,
        });
        match (run.started, created, run.status) {
            (None, _, _) => {}
            (Some(_), Some(at), _) => {
                task.status = TaskStatus::Succeeded;
                task.ended_at = Some(at);
            }
            // Done without a word from the node: it was, when is not known.
            (Some(_), None, TaskStatus::Succeeded) => task.status = TaskStatus::Succeeded,
            (Some(_), None, TaskStatus::Failed | TaskStatus::Cancelled) => {
                task.status = TaskStatus::Cancelled
            }
            (Some(_), None, _) => task.status = TaskStatus::Executing,
        }
        stage.children.push(task);
    }
    stage
}

/// A stage of `component_stages`: its name, kinds, and the command its leaves show on
/// each node group (none where the group does not run it).
struct StageOf {
    name: String,
    kind: TaskKind,
    leaf_kind: TaskKind,
    master: Option<String>,
    slaves: Option<String>,
}

/// A stage per component step of `phases`, in the order the nodes run them: each
/// component's install, configure and start in component order, then the smoke tests;
/// its leaves from the nodes' reports in this run.
fn component_stages(
    root: &mut Task,
    cluster: &Cluster,
    nodes: &Nodes,
    run: &Run,
    reports: &[&Report],
    phases: &[Phase],
) {
    let plan = &cluster.plan;
    // The reports of each (node, stage).
    let mut latest: BTreeMap<(&str, &str), Vec<&Report>> = BTreeMap::new();
    for report in reports {
        latest
            .entry((report.node.as_str(), report.stage.as_str()))
            .or_default()
            .push(report);
    }
    let mut stages: Vec<StageOf> = Vec::new();
    for smoke in [false, true] {
        if smoke && phases.contains(&Phase::Install) {
            // The user's init actions, after every start and before the smoke tests, where
            // nodes are made (a deploy, a scale-out).
            stages.extend(plan.init.iter().map(|action| {
                let command = |group| action.runs_on(group).then(|| action.command());
                StageOf {
                    name: action.stage(),
                    kind: TaskKind::Stage,
                    leaf_kind: TaskKind::ConfigureNode,
                    master: command(NodeGroup::Master),
                    slaves: command(NodeGroup::Slaves),
                }
            }));
        }
        for component in &plan.components {
            for phase in Phase::ALL {
                if (phase == Phase::Smoke) != smoke || !phases.contains(&phase) {
                    continue;
                }
                let script = |group: NodeGroup| {
                    component
                        .steps
                        .iter()
                        .find(|s| s.group == group && s.phase == phase)
                        .map(|s| format!("{}/{}", component.name, s.script))
                };
                let (master, slaves) = (script(NodeGroup::Master), script(NodeGroup::Slaves));
                if master.is_none() && slaves.is_none() {
                    continue;
                }
                stages.push(StageOf {
                    name: format!("{} {phase}", component.name),
                    kind: if smoke {
                        TaskKind::ActionStage
                    } else {
                        TaskKind::Stage
                    },
                    leaf_kind: if smoke {
                        TaskKind::Action
                    } else {
                        TaskKind::ConfigureNode
                    },
                    master,
                    slaves,
                });
            }
        }
    }
    for of in stages {
        let number = (root.children.len() + 1).to_string();
        let stage_name = of.name.as_str();
        let leaf_kind = of.leaf_kind;
        let mut stage = Task::new(number.clone(), of.kind, stage_name, None);
        let leaf = |number: String, node: &str, command: Option<String>| {
            let mut task = Task::new(
                number,
                leaf_kind,
                leaf_kind.as_str(),
                Some(node.to_string()),
            );
            task.command = command;
            let history = latest.get(&(node, stage_name));
            if let Some(started) =
                history.and_then(|h| h.iter().rev().find(|r| r.status == ReportStatus::Executing))
            {
                task.started_at = Some(started.at);
                task.status = TaskStatus::Executing;
            }
            if let Some(last) = history.and_then(|h| h.last())
                && last.status != ReportStatus::Executing
            {
                task.status = match last.status {
                    ReportStatus::Failed => TaskStatus::Failed,
                    _ => TaskStatus::Succeeded,
                };
                task.ended_at = Some(last.at);
                task.started_at = task.started_at.or(Some(last.at));
                task.rc = last.rc;
                task.stdout = Some(last.output.clone()).filter(|s| !s.is_empty());
                task.stderr = Some(last.error.clone()).filter(|s| !s.is_empty());
            }
            // A finished run settles what its nodes never reported: success means every
            // step ran; otherwise what did not finish was cut short.
            if !task.status.is_finished() {
                match run.status {
                    TaskStatus::Succeeded => task.status = TaskStatus::Succeeded,
                    TaskStatus::Failed | TaskStatus::Cancelled => {
                        task.status = TaskStatus::Cancelled
                    }
                    _ => {}
                }
            }
            task
        };
        let slaves_script = of.slaves.clone();
        if slaves_script.is_some() && !nodes.slaves.is_empty() {
            let group_number = format!("{number}.{}", stage.children.len() + 1);
            let mut group = Task::new(
                group_number.clone(),
                TaskKind::ConfigureNodegroup,
                "configure_nodegroup",
                Some("slaves".to_string()),
            );
            for (i, node) in nodes.slaves.iter().enumerate() {
                group.children.push(leaf(
                    format!("{group_number}.{}", i + 1),
                    node,
                    slaves_script.clone(),
                ));
            }
            stage.children.push(group);
        }
        if let Some(master_script) = of.master.clone().filter(|_| nodes.master) {
            let leaf_number = format!("{number}.{}", stage.children.len() + 1);
            stage
                .children
                .push(leaf(leaf_number, "master", Some(master_script)));
        }
        if !stage.children.is_empty() {
            root.children.push(stage);
        }
    }
}

#[cfg(test)]
mod tests;

//! The infrastructure stage of a deploy from Heat's events: each node's `create_node`
//! starts when Heat began the first of its server, port and floating IP, and ends when
//! its server was made, or failed with Heat's reason when one of them failed. A
//! resource the nodes share (network, router, key pair, security group) that failed is
//! a row of its own, so a stack that failed before any node booted says which resource
//! and why.

use chrono::{DateTime, Utc};

use super::{Run, Task, TaskKind, TaskStatus, tail};
use crate::cluster::heat_events::{HeatEvent, HeatEvents};

/// Sets the stage's `create_node` rows from the run's events (creates, from its start
/// to its end: a deploy's, or a scale-out's new slaves'). Rows of nodes Heat said
/// nothing of in the run stay as they were.
pub(super) fn apply(stage: &mut Task, events: &HeatEvents, run: &Run) {
    let creates: Vec<&HeatEvent> = events
        .iter()
        .filter(|e| {
            // Heat's times are cut to the second: one may read up to a second early.
            e.is_create()
                && run
                    .started
                    .is_none_or(|s| e.time + chrono::Duration::seconds(1) > s)
                && run.ended.is_none_or(|end| e.time <= end)
        })
        .collect();
    if creates.is_empty() {
        return;
    }
    // Heat's times are to the second: none before the run began.
    let clamp = |at: DateTime<Utc>| run.started.map_or(at, |s| at.max(s));
    for task in &mut stage.children {
        let Some(node) = task.node.clone() else {
            continue;
        };
        let of_node: Vec<&HeatEvent> = creates
            .iter()
            .copied()
            .filter(|e| e.node.as_deref() == Some(node.as_str()) && e.is_infrastructure())
            .collect();
        let Some(first) = of_node.first() else {
            continue;
        };
        task.started_at = Some(clamp(first.time));
        // A resource Heat retried (failed, deleted, made again) is where its last went.
        let lasts = last_of_each(&of_node);
        let failed = lasts.iter().find(|e| e.failed());
        let made = lasts.iter().find(|e| {
            e.resource_type.as_deref() == Some("OS::Nova::Server") && e.status == "CREATE_COMPLETE"
        });
        if let Some(failed) = failed {
            task.status = TaskStatus::Failed;
            task.ended_at = Some(clamp(failed.time));
            task.stderr = Some(tail(&failed.failure()));
        } else if let Some(made) = made {
            task.status = TaskStatus::Succeeded;
            task.ended_at = Some(clamp(made.time));
        } else if run.status.is_finished() {
            // The run ended while Heat was still making it.
            task.status = TaskStatus::Cancelled;
            task.ended_at = run.ended;
        } else {
            task.status = TaskStatus::Executing;
            task.ended_at = None;
        }
    }
    for failed in last_of_each(&creates)
        .into_iter()
        .filter(|e| e.failed() && e.node.is_none() && is_shared(e))
    {
        let number = format!("{}.{}", stage.number, stage.children.len() + 1);
        let mut task = Task::new(
            number,
            TaskKind::CreateResource,
            &format!("{} {}", TaskKind::CreateResource.as_str(), failed.resource),
            None,
        );
        task.status = TaskStatus::Failed;
        task.started_at = creates
            .iter()
            .find(|e| e.resource == failed.resource && e.stack == failed.stack)
            .map(|e| clamp(e.time));
        task.ended_at = Some(clamp(failed.time));
        task.stderr = Some(tail(&failed.failure()));
        stage.children.push(task);
    }
}

/// Each resource's (by stack and name) last event, in the order of those.
fn last_of_each<'a>(events: &[&'a HeatEvent]) -> Vec<&'a HeatEvent> {
    let mut lasts: Vec<&HeatEvent> = Vec::new();
    for event in events.iter().rev() {
        if !lasts
            .iter()
            .any(|e| e.resource == event.resource && e.stack == event.stack)
        {
            lasts.push(event);
        }
    }
    lasts.reverse();
    lasts
}

/// A resource of the cluster's own stack the nodes share: not the stack itself nor the
/// slaves' group (which fail with what is in them).
fn is_shared(event: &HeatEvent) -> bool {
    event.stack.is_none()
        && !matches!(
            event.resource_type.as_deref(),
            Some("OS::Heat::Stack" | "OS::Heat::ResourceGroup")
        )
}

//! The cluster lifecycle as a state machine: which states exist, who moves a cluster
//! (`Mover`) and which moves each may make. The store refuses any other move, so two
//! writers racing (a delete arriving while a deploy progresses) cannot leave a cluster in
//! a state nobody chose, nor take it from the one whose turn it is.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    /// Stored, not deployed yet: staged, or waiting for the worker.
    Pending,
    /// The provider is creating the nodes.
    Deploying,
    /// The nodes exist; their software is being installed.
    Installing,
    /// Every component is up.
    Ready,
    /// Deploy or delete failed; `state_reason` says why. Delete retries.
    Failed,
    /// Tear-down in progress.
    Deleting,
    /// Gone: kept for the record, never listed.
    Deleted,
    /// A stop in progress: its nodes are being suspended (their processes ended).
    Stopping,
    /// Stopped: nothing of it runs, but it keeps its addresses, keys, data and record.
    Stopped,
    /// A start in progress: its components come back and pass their checks.
    Starting,
    /// A resize in progress: slaves are being added, or decommissioned and removed.
    Scaling,
    /// A repair in progress: the components whose checks fail are started again on the
    /// nodes where they fail; the cluster is ready again after, whatever came of it.
    Repairing,
    /// Its deploy was cancelled and what it made is gone; its record, task tree and logs
    /// stay until it is deleted (DTK's status).
    Cancelled,
}

impl ClusterState {
    pub const ALL: [ClusterState; 13] = [
        ClusterState::Pending,
        ClusterState::Deploying,
        ClusterState::Installing,
        ClusterState::Ready,
        ClusterState::Failed,
        ClusterState::Deleting,
        ClusterState::Deleted,
        ClusterState::Stopping,
        ClusterState::Stopped,
        ClusterState::Starting,
        ClusterState::Scaling,
        ClusterState::Repairing,
        ClusterState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterState::Pending => "pending",
            ClusterState::Deploying => "deploying",
            ClusterState::Installing => "installing",
            ClusterState::Ready => "ready",
            ClusterState::Failed => "failed",
            ClusterState::Deleting => "deleting",
            ClusterState::Deleted => "deleted",
            ClusterState::Stopping => "stopping",
            ClusterState::Stopped => "stopped",
            ClusterState::Starting => "starting",
            ClusterState::Scaling => "scaling",
            ClusterState::Repairing => "repairing",
            ClusterState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ClusterState> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// The original's `mcn.service.state` vocabulary (hurtle service manager).
    pub fn mcn_service_state(self) -> &'static str {
        match self {
            ClusterState::Pending => "initialised",
            ClusterState::Deploying => "deploying",
            ClusterState::Installing => "provisioning",
            ClusterState::Ready => "ready",
            ClusterState::Failed => "failed",
            ClusterState::Deleting => "destroying",
            ClusterState::Deleted => "destroyed",
            ClusterState::Stopping => "suspending",
            ClusterState::Stopped => "suspended",
            ClusterState::Starting => "resuming",
            ClusterState::Scaling => "scaling",
            ClusterState::Repairing => "repairing",
            ClusterState::Cancelled => "cancelled",
        }
    }

    /// Whether the lifecycle lets `by` move a cluster from `self` to `next`; `next` may be
    /// `self`, which changes only the reason (and outputs), and that too only in a state
    /// that is `by`'s own.
    pub fn can_move_to(self, next: ClusterState, by: Mover) -> bool {
        use ClusterState::*;
        if !by.acts_from(self) {
            return false;
        }
        match (by, self, next) {
            (_, _, _) if self == next => true,
            (Mover::Deploy, Pending, Deploying) => true,
            (Mover::Deploy, Deploying, Installing) => true,
            (Mover::Deploy, _, Ready | Failed) => true,
            // A ready cluster whose provider finds it stopped.
            (Mover::Watcher, Ready, Failed) => true,
            (Mover::StopRequest, Ready, Stopping) => true,
            (Mover::Stop, Stopping, Stopped | Failed) => true,
            (Mover::StartRequest, Stopped, Starting) => true,
            (Mover::Start, Starting, Ready | Failed) => true,
            (Mover::ScaleRequest, Ready, Scaling) => true,
            (Mover::Scale, Scaling, Ready | Failed) => true,
            // A repair ends ready: the cluster was usable before it, as it is after.
            (Mover::RepairRequest, Ready, Repairing) => true,
            (Mover::Repair, Repairing, Ready) => true,
            // A delete may interrupt anything but a delete.
            (Mover::DeleteRequest, _, Deleting) => true,
            // A cancel is a delete that keeps the record.
            (Mover::CancelRequest, Pending | Deploying | Installing, Deleting) => true,
            // Failed: a DELETE again tries again.
            (Mover::Delete, Deleting, Deleted | Failed | Cancelled) => true,
            _ => false,
        }
    }

    /// A deploy has work left to do in this state.
    pub fn is_deploying(self) -> bool {
        matches!(
            self,
            ClusterState::Pending | ClusterState::Deploying | ClusterState::Installing
        )
    }
}

/// Who moves a cluster. Each acts only from states of its own, so none takes a cluster
/// from another: a deploy that fails late cannot fail a cluster that is being deleted,
/// and only the delete job takes it out of deleting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    /// The deploy job: from pending, deploying and installing.
    Deploy,
    /// A user's DELETE: from any state but deleting and deleted.
    DeleteRequest,
    /// The delete job: from deleting.
    Delete,
    /// The watcher of ready clusters: from ready.
    Watcher,
    /// A user's stop: from ready.
    StopRequest,
    /// The stop job: from stopping.
    Stop,
    /// A user's start: from stopped.
    StartRequest,
    /// The start job: from starting.
    Start,
    /// A user's resize: from ready.
    ScaleRequest,
    /// The scale job: from scaling.
    Scale,
    /// A user's repair, or the watcher's autorepair: from ready.
    RepairRequest,
    /// A user's cancel of a deploy in flight: from pending, deploying and installing.
    CancelRequest,
    /// The repair job: from repairing.
    Repair,
}

impl Mover {
    pub const ALL: [Mover; 13] = [
        Mover::Deploy,
        Mover::DeleteRequest,
        Mover::Delete,
        Mover::Watcher,
        Mover::StopRequest,
        Mover::Stop,
        Mover::StartRequest,
        Mover::Start,
        Mover::ScaleRequest,
        Mover::Scale,
        Mover::RepairRequest,
        Mover::Repair,
        Mover::CancelRequest,
    ];

    /// Whether a cluster in `state` is this mover's to move.
    pub fn acts_from(self, state: ClusterState) -> bool {
        use ClusterState::*;
        match self {
            Mover::Deploy | Mover::CancelRequest => state.is_deploying(),
            Mover::DeleteRequest => !matches!(state, Deleting | Deleted),
            Mover::Delete => state == Deleting,
            Mover::Watcher | Mover::StopRequest | Mover::ScaleRequest | Mover::RepairRequest => {
                state == Ready
            }
            Mover::Stop => state == Stopping,
            Mover::StartRequest => state == Stopped,
            Mover::Start => state == Starting,
            Mover::Scale => state == Scaling,
            Mover::Repair => state == Repairing,
        }
    }
}

/// One move of a cluster's state, as the store records it: `from` is `None` for the
/// cluster's creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Option<ClusterState>,
    pub to: ClusterState,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The move into scaling records the resize it begins.
    pub resize: Option<Resize>,
    /// The move into repairing records what it starts again, by node.
    pub repair: Option<Vec<crate::domain::health::RepairTarget>>,
}

/// A change of a cluster's number of slaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resize {
    pub from: u16,
    pub to: u16,
}

impl fmt::Display for ClusterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ClusterState::*;
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_name() {
        for state in ClusterState::ALL {
            assert_eq!(ClusterState::parse(state.as_str()), Some(state));
        }
    }

    /// Every move some mover may make, as (from, to).
    fn moves() -> Vec<(ClusterState, ClusterState)> {
        let mut moves = Vec::new();
        for from in ClusterState::ALL {
            for to in ClusterState::ALL {
                if from != to && Mover::ALL.iter().any(|by| from.can_move_to(to, *by)) {
                    moves.push((from, to));
                }
            }
        }
        moves
    }

    #[test]
    fn a_deleted_cluster_never_moves_again() {
        for next in ClusterState::ALL {
            for by in Mover::ALL {
                assert!(!Deleted.can_move_to(next, by), "{by:?}: deleted -> {next}");
            }
        }
    }

    #[test]
    fn ready_only_moves_to_failed_deleting_or_stopping() {
        let allowed: Vec<_> = moves()
            .into_iter()
            .filter(|(from, _)| *from == Ready)
            .map(|(_, to)| to)
            .collect();
        assert_eq!(
            allowed,
            vec![Failed, Deleting, Stopping, Scaling, Repairing]
        );
    }

    #[test]
    fn a_repair_ends_ready_or_is_overtaken_by_a_delete() {
        let allowed: Vec<_> = moves()
            .into_iter()
            .filter(|(from, _)| *from == Repairing)
            .map(|(_, to)| to)
            .collect();
        assert_eq!(allowed, vec![Ready, Deleting]);
    }

    #[test]
    fn a_stopped_cluster_only_starts_or_is_deleted() {
        let from = |state: ClusterState| -> Vec<ClusterState> {
            moves()
                .into_iter()
                .filter(|(f, _)| *f == state)
                .map(|(_, to)| to)
                .collect()
        };
        assert_eq!(from(Stopped), vec![Deleting, Starting]);
        assert_eq!(from(Stopping), vec![Failed, Deleting, Stopped]);
        assert_eq!(from(Starting), vec![Ready, Failed, Deleting]);
        // Only the jobs end a stop or a start; the watcher leaves them alone.
        assert!(!Stopping.can_move_to(Stopped, Mover::StopRequest));
        assert!(!Starting.can_move_to(Ready, Mover::Deploy));
        assert!(!Stopped.can_move_to(Failed, Mover::Watcher));
    }

    #[test]
    fn a_failed_delete_can_be_retried() {
        assert!(Deleting.can_move_to(Failed, Mover::Delete));
        assert!(Failed.can_move_to(Deleting, Mover::DeleteRequest));
    }

    #[test]
    fn only_the_delete_job_moves_or_rewords_a_cluster_being_deleted() {
        for by in Mover::ALL.into_iter().filter(|by| *by != Mover::Delete) {
            for next in ClusterState::ALL {
                assert!(
                    !Deleting.can_move_to(next, by),
                    "{by:?}: deleting -> {next}"
                );
            }
        }
        assert!(Deleting.can_move_to(Deleted, Mover::Delete));
    }

    #[test]
    fn each_mover_moves_only_from_its_own_states() {
        for by in Mover::ALL {
            for from in ClusterState::ALL {
                for to in ClusterState::ALL {
                    if from.can_move_to(to, by) {
                        assert!(by.acts_from(from), "{by:?}: {from} -> {to}");
                    }
                }
            }
        }
        assert!(
            !Failed.can_move_to(Failed, Mover::Deploy),
            "a failed deploy is over"
        );
        assert!(Installing.can_move_to(Installing, Mover::Deploy));
    }
}

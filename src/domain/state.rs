//! The cluster lifecycle as a state machine: which states exist and which moves between
//! them are allowed. The store refuses any other move, so two writers racing (a delete
//! arriving while a deploy progresses) cannot leave a cluster in a state nobody chose.

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
}

impl ClusterState {
    pub const ALL: [ClusterState; 7] = [
        ClusterState::Pending,
        ClusterState::Deploying,
        ClusterState::Installing,
        ClusterState::Ready,
        ClusterState::Failed,
        ClusterState::Deleting,
        ClusterState::Deleted,
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
        }
    }

    /// Whether the lifecycle allows moving from `self` to `next`.
    pub fn can_move_to(self, next: ClusterState) -> bool {
        use ClusterState::*;
        match (self, next) {
            (Pending, Deploying) => true,
            (Deploying, Installing) => true,
            (Pending | Deploying | Installing, Ready | Failed) => true,
            // A ready cluster whose provider finds it stopped.
            (Ready, Failed) => true,
            // A delete may interrupt anything but a finished delete.
            (Pending | Deploying | Installing | Ready | Failed, Deleting) => true,
            (Deleting, Deleted | Failed) => true,
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

/// One move of a cluster's state, as the store records it: `from` is `None` for the
/// cluster's creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Option<ClusterState>,
    pub to: ClusterState,
    pub reason: String,
    pub at: DateTime<Utc>,
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

    #[test]
    fn a_deleted_cluster_never_moves_again() {
        for next in ClusterState::ALL {
            assert!(!Deleted.can_move_to(next), "deleted -> {next}");
        }
    }

    #[test]
    fn ready_only_moves_to_failed_or_deleting() {
        let allowed: Vec<_> = ClusterState::ALL
            .into_iter()
            .filter(|next| Ready.can_move_to(*next))
            .collect();
        assert_eq!(allowed, vec![Failed, Deleting]);
    }

    #[test]
    fn a_failed_delete_can_be_retried() {
        assert!(Deleting.can_move_to(Failed));
        assert!(Failed.can_move_to(Deleting));
    }
}

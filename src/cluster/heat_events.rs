//! What Heat said of a cluster's stack: its resources' events (`CREATE_IN_PROGRESS`,
//! `CREATE_COMPLETE`, `CREATE_FAILED` ...), oldest first, with the node each resource
//! makes. The provider adds those after the last one kept at each look at a deploy,
//! so a restart goes on from there; the task tree takes its `create_node` times and
//! failures from them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The most events a cluster keeps (the newest).
pub const KEPT_AT_MOST: usize = 2000;

/// The resource types that make a node: its server, port and floating IP.
pub const INFRASTRUCTURE: [&str; 3] = [
    "OS::Nova::Server",
    "OS::Neutron::Port",
    "OS::Neutron::FloatingIP",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeatEvent {
    /// Heat's id of the event.
    pub id: String,
    pub time: DateTime<Utc>,
    /// The resource's name in its template (`master`, `master_port`, `server`).
    pub resource: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Action and status: `CREATE_IN_PROGRESS`, `CREATE_FAILED`, `DELETE_COMPLETE`.
    pub status: String,
    /// Heat's reason, which carries Nova's or Neutron's on a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    /// The node the resource is part of (`master`, `slaves:2`); none for what the
    /// nodes share (network, router, key pair, security group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The nested stack it is in; none for the cluster's own stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl HeatEvent {
    /// Whether it is of a server, port or floating IP.
    pub fn is_infrastructure(&self) -> bool {
        self.resource_type
            .as_deref()
            .is_some_and(|t| INFRASTRUCTURE.contains(&t))
    }

    pub fn is_create(&self) -> bool {
        self.status.starts_with("CREATE_")
    }

    pub fn failed(&self) -> bool {
        self.status.ends_with("_FAILED")
    }

    /// `resource: reason` (or its status where Heat gave none), as a failure reads.
    pub fn failure(&self) -> String {
        format!(
            "{}: {}",
            self.resource,
            self.reason.as_deref().unwrap_or(&self.status)
        )
    }
}

/// A stack's events as kept, oldest first, each once.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct HeatEvents(pub Vec<HeatEvent>);

impl HeatEvents {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The id of the newest event kept: the next look asks for those after it.
    pub fn last_id(&self) -> Option<&str> {
        self.0.last().map(|e| e.id.as_str())
    }

    /// Adds the newer events not kept already. Only what the task tree reads is kept
    /// (`CREATE_*`), the newest `KEPT_AT_MOST` of them, and the newest event seen
    /// whatever it is: the next look's marker.
    pub fn extend(&mut self, newer: HeatEvents) {
        if newer.is_empty() {
            return;
        }
        let mut seen: HashSet<String> = self.0.iter().map(|e| e.id.clone()).collect();
        for event in newer.0 {
            if seen.insert(event.id.clone()) {
                self.0.push(event);
            }
        }
        let newest = self.0.len() - 1;
        let mut index = 0;
        self.0.retain(|e| {
            index += 1;
            e.is_create() || index - 1 == newest
        });
        if self.0.len() > KEPT_AT_MOST {
            self.0.drain(..self.0.len() - KEPT_AT_MOST);
        }
    }

    /// A listing of Heat's, with those `kept` added when it has fewer (Heat lost some,
    /// or its pages stopped short), oldest first.
    pub fn or_kept(self, kept: &HeatEvents) -> HeatEvents {
        if self.0.len() >= kept.0.len() {
            return self;
        }
        let mut all = kept.clone();
        all.extend(self);
        all.0.sort_by_key(|e| e.time);
        all
    }

    pub fn iter(&self) -> impl Iterator<Item = &HeatEvent> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, status: &str) -> HeatEvent {
        HeatEvent {
            id: id.into(),
            time: Utc::now(),
            resource: "master".into(),
            resource_type: Some("OS::Nova::Server".into()),
            status: status.into(),
            reason: None,
            physical_id: None,
            node: Some("master".into()),
            stack: None,
        }
    }

    #[test]
    fn newer_events_are_added_once_after_those_kept() {
        let mut kept = HeatEvents(vec![event("a", "CREATE_IN_PROGRESS")]);
        kept.extend(HeatEvents(vec![
            event("a", "CREATE_IN_PROGRESS"),
            event("b", "CREATE_FAILED"),
        ]));
        let ids: Vec<&str> = kept.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(kept.last_id(), Some("b"));
        assert_eq!(kept.0[1].failure(), "master: CREATE_FAILED");
        assert!(kept.0[1].failed() && kept.0[1].is_create() && kept.0[1].is_infrastructure());
    }

    #[test]
    fn only_create_events_are_kept_the_newest_at_most_and_the_newest_seen_stays_the_marker() {
        let mut kept = HeatEvents::default();
        kept.extend(HeatEvents(vec![
            event("a", "CREATE_IN_PROGRESS"),
            event("b", "DELETE_IN_PROGRESS"),
            event("c", "CREATE_COMPLETE"),
            event("d", "UPDATE_COMPLETE"),
        ]));
        let ids = |kept: &HeatEvents| kept.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&kept), ["a", "c", "d"]);
        assert_eq!(kept.last_id(), Some("d"));
        kept.extend(HeatEvents(vec![event("e", "CREATE_FAILED")]));
        assert_eq!(ids(&kept), ["a", "c", "e"]);
        let many = (0..KEPT_AT_MOST + 10)
            .map(|i| event(&format!("n{i}"), "CREATE_IN_PROGRESS"))
            .collect();
        kept.extend(HeatEvents(many));
        assert_eq!(kept.0.len(), KEPT_AT_MOST);
        assert_eq!(kept.0[0].id, "n10");
        assert_eq!(
            kept.last_id(),
            Some(format!("n{}", KEPT_AT_MOST + 9).as_str())
        );
    }

    #[test]
    fn a_listing_shorter_than_what_was_kept_is_merged_with_it() {
        let kept = HeatEvents(vec![
            event("a", "CREATE_IN_PROGRESS"),
            event("b", "CREATE_FAILED"),
        ]);
        // A deleted stack's: Heat lists none.
        assert_eq!(HeatEvents::default().or_kept(&kept), kept);
        let merged = HeatEvents(vec![event("b", "CREATE_FAILED")]).or_kept(&kept);
        assert_eq!(merged, kept);
        let longer = HeatEvents(vec![
            event("a", "CREATE_IN_PROGRESS"),
            event("b", "CREATE_FAILED"),
            event("c", "DELETE_IN_PROGRESS"),
        ]);
        assert_eq!(longer.clone().or_kept(&kept), longer);
    }

    #[test]
    fn the_events_are_stored_with_the_outputs_and_a_later_look_adds_to_them() {
        let stored = crate::cluster::Outputs {
            heat_events: HeatEvents(vec![event("a", "CREATE_IN_PROGRESS")]),
            ..Default::default()
        };
        let text = serde_json::to_string(&stored).expect("stored");
        let mut read: crate::cluster::Outputs = serde_json::from_str(&text).expect("read back");
        assert_eq!(read.heat_events, stored.heat_events);
        // What a look after a restart brings: the events after the last one kept.
        read.merge(crate::cluster::Outputs {
            heat_events: HeatEvents(vec![event("b", "CREATE_COMPLETE")]),
            ..Default::default()
        });
        // A look with no news keeps them.
        read.merge(crate::cluster::Outputs::default());
        assert_eq!(read.heat_events.0.len(), 2);
        assert_eq!(read.heat_events.last_id(), Some("b"));
        // None kept: nothing stored of them.
        let empty = serde_json::to_value(crate::cluster::Outputs::default()).expect("json");
        assert!(empty.get("heat_events").is_none());
    }
}

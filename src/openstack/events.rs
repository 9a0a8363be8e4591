//! Heat's events of a cluster's stack, as the cluster keeps them: each with its time
//! parsed, its resource's type where Heat's listing leaves it out, and the node the
//! resource makes, from where the cluster template puts it (`heat-templates/`):
//!
//! - the cluster's stack: `master`, `master_port`, `master_floating_ip` and the wait
//!   condition and handle (the master's install) are the master's; the rest (network,
//!   router, key pair, security group) are shared;
//! - the `slaves` group's stack (`<stack>-slaves-<id>`): member `N` is slave N+1;
//! - a member's stack (`<stack>-slaves-<id>-N-<id>`): its `server`, wait condition and
//!   handle are slave N+1's.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::heat::{Heat, HeatError, Stack, StackEvent};
use crate::cluster::heat_events::{HeatEvent, HeatEvents};
use crate::domain::node::slave_name;

/// How deep the nested stacks go whose events a cluster keeps: the group's (1) and its
/// members' (2); a server's own nested stack (a provider template's) is below.
pub const DEPTH: u8 = 2;

/// Pages one look at a deploy reads at most: a look reads only the events after the
/// last one kept, so more than one page is rare.
pub const PAGES_PER_LOOK: usize = 5;
/// Pages a listing for the owner reads at most (`EVENTS_PAGE` events each): each
/// request costs Heat a few calls only.
pub const PAGES_AT_MOST: usize = 5;

/// The stack's events after `after` (all without), as the cluster keeps them, and the
/// calls to Heat it took.
pub async fn events_after(
    heat: &Heat,
    stack: &Stack,
    after: Option<&str>,
    max_pages: usize,
) -> Result<(HeatEvents, usize), HeatError> {
    let (listed, calls) = heat
        .events(&stack.stack_name, &stack.id, DEPTH, after, max_pages)
        .await?;
    let events = listed
        .iter()
        .filter_map(|e| heat_event(&stack.stack_name, e))
        .collect();
    Ok((HeatEvents(events), calls))
}

const WAIT_CONDITION: &str = "OS::Heat::WaitCondition";
const WAIT_HANDLE: &str = "OS::Heat::WaitConditionHandle";

/// Whether Heat made the server of every one of `nodes`, as the events kept say.
pub fn servers_made(kept: &HeatEvents, nodes: &[String]) -> bool {
    nodes.iter().all(|node| {
        kept.iter().any(|e| {
            e.node.as_deref() == Some(node.as_str())
                && e.resource_type.as_deref() == Some("OS::Nova::Server")
                && e.status == "CREATE_COMPLETE"
        })
    })
}

/// The event as the cluster keeps it, for a stack named `top`; `None` for one whose
/// time cannot be read.
pub fn heat_event(top: &str, event: &StackEvent) -> Option<HeatEvent> {
    let time = parse_time(&event.event_time)?;
    let stack = event.stack_name().filter(|name| *name != top);
    let name = event.resource_name.as_str();
    let (node, guessed) = match stack {
        None => match name {
            "master" => (Some("master".to_string()), Some("OS::Nova::Server")),
            "master_port" => (Some("master".to_string()), Some("OS::Neutron::Port")),
            "master_floating_ip" => (Some("master".to_string()), Some("OS::Neutron::FloatingIP")),
            // The master's install: its node script signals the handle.
            "wait_condition" => (Some("master".to_string()), Some(WAIT_CONDITION)),
            "wait_handle" => (Some("master".to_string()), Some(WAIT_HANDLE)),
            "slaves" => (None, Some("OS::Heat::ResourceGroup")),
            _ if name == top => (None, Some("OS::Heat::Stack")),
            _ => (None, None),
        },
        Some(nested) => match member_of(top, nested) {
            // In a member's stack.
            Some(Some(member)) => (
                Some(slave_name(member)),
                match name {
                    "server" => Some("OS::Nova::Server"),
                    "wait_condition" => Some(WAIT_CONDITION),
                    "wait_handle" => Some(WAIT_HANDLE),
                    _ => None,
                },
            ),
            // In the group's stack: its members, each a slave.
            Some(None) => match name.parse::<u16>() {
                Ok(member) => (Some(slave_name(member)), Some("disco-slave.yaml")),
                Err(_) => (None, None),
            },
            None => (None, None),
        },
    };
    Some(HeatEvent {
        id: event.id.clone(),
        time,
        resource: event.resource_name.clone(),
        resource_type: event.resource_type.clone().or(guessed.map(str::to_string)),
        status: event.resource_status.clone(),
        reason: event
            .resource_status_reason
            .clone()
            .filter(|r| !r.is_empty()),
        physical_id: event.physical_resource_id.clone().filter(|p| !p.is_empty()),
        node,
        stack: stack.map(str::to_string),
    })
}

/// Where a nested stack is in the slaves' group: `Some(None)` for the group's own
/// stack, `Some(Some(N))` for member N's, `None` for any other.
fn member_of(top: &str, nested: &str) -> Option<Option<u16>> {
    let rest = nested.strip_prefix(top)?.strip_prefix("-slaves-")?;
    let parts: Vec<&str> = rest.split('-').collect();
    match parts.as_slice() {
        [_group] => Some(None),
        [_group, member, _id] => member.parse().ok().map(Some),
        _ => None,
    }
}

/// Heat's times: ISO 8601, in UTC, with or without a zone and fractions.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(stack: &str, resource: &str, status: &str) -> StackEvent {
        serde_json::from_value(serde_json::json!({
            "event_time": "2026-12-01T22:41:17",
            "id": format!("{stack}/{resource}/{status}"),
            "links": [
                {"href": "http://heat/v1/p/stacks/s/1/resources/r/events/e", "rel": "self"},
                {"href": format!("http://heat/v1/p/stacks/{stack}/0d0e"), "rel": "stack"},
            ],
            "logical_resource_id": resource,
            "physical_resource_id": "",
            "resource_name": resource,
            "resource_status": status,
            "resource_status_reason": "state changed",
        }))
        .expect("an event as Heat lists it")
    }

    #[test]
    fn each_resource_is_given_the_node_it_makes_from_where_the_template_puts_it() {
        let top = "disco-2f0e5a1c";
        let node = |stack: &str, resource: &str| {
            let event = heat_event(top, &listed(stack, resource, "CREATE_COMPLETE"))
                .expect("a time Heat gives");
            (event.node, event.resource_type)
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            node(top, "master"),
            (some("master"), some("OS::Nova::Server"))
        );
        assert_eq!(
            node(top, "master_floating_ip"),
            (some("master"), some("OS::Neutron::FloatingIP"))
        );
        assert_eq!(node(top, "network"), (None, None));
        let group = "disco-2f0e5a1c-slaves-ab3kq2xz7mvo";
        assert_eq!(
            node(group, "1"),
            (some("slaves:2"), some("disco-slave.yaml"))
        );
        let member = "disco-2f0e5a1c-slaves-ab3kq2xz7mvo-0-t4mh6d5hxbq2";
        assert_eq!(
            node(member, "server"),
            (some("slaves:1"), some("OS::Nova::Server"))
        );
        assert_eq!(
            node(member, "wait_condition"),
            (some("slaves:1"), some("OS::Heat::WaitCondition"))
        );
        // The master's wait condition is its install: the master's, not shared.
        assert_eq!(
            node(top, "wait_condition"),
            (some("master"), some("OS::Heat::WaitCondition"))
        );
        assert_eq!(node(member, "outputs"), (some("slaves:1"), None));
        // Another cluster's stack, or one deeper down, is no node's.
        assert_eq!(node("disco-99999999-slaves-x-0-y", "server").0, None);
        let event = heat_event(top, &listed(member, "server", "CREATE_FAILED")).unwrap();
        assert_eq!(event.stack.as_deref(), Some(member));
        assert_eq!(event.physical_id, None);
        assert_eq!(event.time.to_rfc3339(), "2026-12-01T22:41:17+00:00");
    }

    #[test]
    fn servers_are_made_once_each_nodes_server_completed() {
        let top = "disco-2f0e5a1c";
        let member = "disco-2f0e5a1c-slaves-ab3kq2xz7mvo-0-t4mh6d5hxbq2";
        let kept = |listed: &[StackEvent]| {
            HeatEvents(listed.iter().filter_map(|e| heat_event(top, e)).collect())
        };
        let nodes = ["master".to_string(), "slaves:1".to_string()];
        let master = listed(top, "master", "CREATE_COMPLETE");
        assert!(!servers_made(&kept(std::slice::from_ref(&master)), &nodes));
        let begun = listed(member, "server", "CREATE_IN_PROGRESS");
        assert!(!servers_made(&kept(&[master.clone(), begun]), &nodes));
        let made = listed(member, "server", "CREATE_COMPLETE");
        assert!(servers_made(&kept(&[master, made]), &nodes));
    }

    #[test]
    fn heats_times_are_read_with_or_without_a_zone() {
        assert_eq!(
            parse_time("2026-12-01T22:41:17Z").map(|t| t.timestamp()),
            parse_time("2026-12-01T22:41:17.000000").map(|t| t.timestamp())
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn an_event_listing_is_decoded_and_refused_when_it_is_not_one() {
        let body = r#"{"events": [{"event_time": "2026-12-01T22:41:17Z", "id": "e1",
            "links": [{"href": "http://h/v1/p/stacks/disco-1/9/events/e1", "rel": "self"}],
            "resource_name": "master", "resource_status": "CREATE_IN_PROGRESS",
            "resource_status_reason": "state changed", "physical_resource_id": null}]}"#;
        #[derive(serde::Deserialize)]
        struct Body {
            events: Vec<StackEvent>,
        }
        let body: Body = serde_json::from_str(body).expect("Heat's listing");
        assert_eq!(body.events[0].stack_name(), None);
        assert!(serde_json::from_str::<Body>(r#"{"events": [{"id": "e1"}]}"#).is_err());
    }
}

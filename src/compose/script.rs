//! Node scripts: the facts of the cluster as shell exports, the node library, and each
//! component step as a function, run in plan order.
//!
//! The script comes in two forms. `plain` is the whole script as a reader (and the local
//! provider) sees it. `user_data` is what a cloud node boots with: the facts in the
//! clear, then the library and steps gzipped and base64-encoded, because Nova takes at
//! most 64 KiB of user data and a cluster with many components needs more.
//!
//! Two placeholders are left for the provider to fill in, because only it knows them:
//! `__DISCO_MASTER_ADDRESS__` (Heat: the master port's address) and `__DISCO_WC_NOTIFY__`
//! (Heat: the wait condition handle's curl command). Slave scripts also carry Heat's
//! `%index%`, which the ResourceGroup replaces with the slave's index.

use std::fmt::Write as _;

use super::{ComposeError, Facts};
use crate::frameworks::catalogue::{Catalogue, NodeGroup, Phase};
use crate::frameworks::init::{InitAction, InitSource, STAGE_PREFIX};
use crate::frameworks::plan::Plan;

pub const MASTER_ADDRESS: &str = "__DISCO_MASTER_ADDRESS__";
pub const WC_NOTIFY: &str = "__DISCO_WC_NOTIFY__";
pub const SLAVE_INDEX: &str = "%index%";

/// A node group's script: the facts (`head`, which holds every placeholder) and the rest.
pub struct NodeScript {
    head: String,
    body: String,
}

impl NodeScript {
    /// The whole script, as it runs.
    pub fn plain(&self) -> String {
        format!("{}{}", self.head, self.body)
    }

    /// The script as cloud user data: the body compressed, unpacked at boot into
    /// `/var/lib/disco/node-steps.sh` (root only) and sourced.
    pub fn user_data(&self) -> String {
        use base64::Engine as _;
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        // Writing to a Vec cannot fail.
        let _ = gzip.write_all(self.body.as_bytes());
        let packed = gzip.finish().unwrap_or_default();
        let encoded = base64::engine::general_purpose::STANDARD.encode(packed);
        let mut out = String::with_capacity(self.head.len() + encoded.len() + 256);
        out.push_str(&self.head);
        out.push_str(
            "umask 077
mkdir -p /var/lib/disco
",
        );
        out.push_str(
            "base64 -d <<'DISCO_PAYLOAD' | gunzip >/var/lib/disco/node-steps.sh
",
        );
        for line in encoded.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(
            "DISCO_PAYLOAD
umask 022
# shellcheck disable=SC1091
. /var/lib/disco/node-steps.sh
",
        );
        out
    }
}

/// Which of a node group's steps a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Every step: the node's script.
    Whole,
    /// The install steps alone, with no report URL or token and the secret parameters
    /// empty: what the local provider's builder of virtual environments runs, as another
    /// user than the cluster's, before the nodes need them.
    Install,
    /// The start and smoke steps: what brings a stopped local node back, its software
    /// and configuration being in place.
    Restart,
    /// The decommission steps: what a slave runs before it leaves a cluster scaled in.
    Decommission,
    /// The activity steps, run as they are (no reports, no wait condition): each prints
    /// its component's JSON line, prefixed with the component's name and a tab.
    Activity,
}

impl Part {
    fn runs(self, phase: Phase) -> bool {
        match self {
            Part::Whole => Phase::DEPLOY.contains(&phase),
            Part::Install => phase == Phase::Install,
            Part::Restart => matches!(phase, Phase::Start | Phase::Smoke),
            Part::Decommission => phase == Phase::Decommission,
            Part::Activity => phase == Phase::Activity,
        }
    }
}

pub fn node_script(
    plan: &Plan,
    catalogue: &Catalogue,
    facts: &Facts,
    group: NodeGroup,
    node_lib: &str,
    part: Part,
) -> Result<NodeScript, ComposeError> {
    // The builder of environments is not the cluster: no token, no secrets.
    let whole = part != Part::Install;
    let mut out = String::with_capacity(16 * 1024);
    let _ = writeln!(out, "#!/bin/bash");
    let _ = writeln!(
        out,
        "# DISCO node script: cluster {} ({}), node group {group}.",
        one_line(&facts.cluster_name),
        one_line(&facts.cluster_id)
    );
    let _ = writeln!(
        out,
        "# Composed from the component catalogue: {}.",
        plan.component_names().join(", ")
    );
    out.push_str("set -euo pipefail\numask 022\n\n");

    let export = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "export {name}={}", quote(value));
    };
    export(&mut out, "DISCO_CLUSTER_ID", &facts.cluster_id);
    export(&mut out, "DISCO_CLUSTER_NAME", &facts.cluster_name);
    export(&mut out, "DISCO_NODE_GROUP", group.as_str());
    export(
        &mut out,
        "DISCO_SLAVE_COUNT",
        &plan.slave_count().to_string(),
    );
    export(&mut out, "DISCO_MASTER_ADDRESS", MASTER_ADDRESS);
    export(
        &mut out,
        "DISCO_COMPONENTS",
        &plan.component_names().join(" "),
    );
    let reports = |value: &Option<String>| match value {
        Some(value) if whole => value.clone(),
        _ => String::new(),
    };
    export(&mut out, "DISCO_REPORT_URL", &reports(&facts.report_url));
    export(
        &mut out,
        "DISCO_REPORT_TOKEN",
        &reports(&facts.report_token),
    );
    match group {
        NodeGroup::Master => export(&mut out, "DISCO_NODE", "master"),
        NodeGroup::Slaves => {
            export(&mut out, "DISCO_SLAVE_INDEX", SLAVE_INDEX);
            out.push_str("export DISCO_NODE=\"slaves:$((DISCO_SLAVE_INDEX + 1))\"\n");
        }
    }
    // The node's health checks, for its health reporter on a VM: one per line,
    // `COMPONENT tcp PORT` or `COMPONENT http PORT PATH STATUS`.
    let checks: Vec<String> = plan
        .components
        .iter()
        .flat_map(|component| {
            component
                .health
                .iter()
                .filter(|h| h.node_group.includes(group))
                .map(|h| format!("{} {}", component.name, h.check))
        })
        .collect();
    export(&mut out, "DISCO_HEALTH_CHECKS", &checks.join("\n"));
    // And the functions of its activity steps, `COMPONENT:FUNCTION` words.
    let activity: Vec<String> = plan
        .steps_for(group)
        .iter()
        .filter(|(_, step)| step.phase == Phase::Activity)
        .map(|(component, step)| {
            format!(
                "{}:{}",
                component.name,
                function_name(&component.name, step.phase.as_str())
            )
        })
        .collect();
    export(&mut out, "DISCO_ACTIVITY_STEPS", &activity.join(" "));
    for component in &plan.components {
        for (param, value) in &component.params {
            let value = if whole || !component.secret_params.contains(param) {
                value.to_string()
            } else {
                String::new()
            };
            export(
                &mut out,
                &format!(
                    "DISCO_PARAM_{}_{}",
                    env_name(&component.name),
                    env_name(param)
                ),
                &value,
            );
        }
    }
    // The files its outputs are read from, which a VM's master reports (the local
    // provider reads them itself).
    let files = if group == NodeGroup::Master && plan.provider != crate::domain::ProviderKind::Local
    {
        plan.output_files()
    } else {
        Vec::new()
    };
    export(&mut out, "DISCO_OUTPUT_FILES", &files.join("\n"));
    // What the clusters it uses export, for the dependencies they serve:
    // DISCO_USES_<DEPENDENCY>_<OUTPUT>, and DISCO_USES listing the dependencies.
    export(
        &mut out,
        "DISCO_USES",
        &facts.used.keys().cloned().collect::<Vec<_>>().join(" "),
    );
    for (dependency, values) in &facts.used {
        for (name, used) in values {
            let value = if whole || !used.secret {
                used.value.as_str()
            } else {
                ""
            };
            export(
                &mut out,
                &format!("DISCO_USES_{}_{}", env_name(dependency), env_name(name)),
                value,
            );
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "disco_wc_notify() {{\n  {WC_NOTIFY} --data-binary \"$1\"\n}}\n"
    );
    let head = std::mem::take(&mut out);
    out.push_str(node_lib.trim_end());
    out.push_str("\n\n");

    let mut steps = plan.steps_for(group);
    // A VM's health reporter runs the activity steps: the node's script defines them, it
    // does not run them.
    let defines =
        |phase: Phase| part.runs(phase) || (part == Part::Whole && phase == Phase::Activity);
    steps.retain(|(_, step)| defines(step.phase));
    for (component, step) in &steps {
        let script = catalogue
            .get(&component.name)
            .and_then(|c| c.steps_for(plan.provider).get(&group))
            .and_then(|phases| phases.get(&step.phase))
            .ok_or_else(|| ComposeError::MissingScript {
                component: component.name.clone(),
                group: group.to_string(),
                phase: step.phase.to_string(),
            })?;
        let _ = writeln!(
            out,
            "# {} {} ({}/{})",
            component.name, step.phase, component.name, script.file
        );
        let _ = writeln!(
            out,
            "{}() (",
            function_name(&component.name, step.phase.as_str())
        );
        for param in component.params.keys() {
            let _ = writeln!(
                out,
                "  export PARAM_{0}=\"${{DISCO_PARAM_{1}_{0}-}}\"",
                env_name(param),
                env_name(&component.name)
            );
        }
        out.push_str(script.text.trim_end());
        out.push_str("\n)\n\n");
    }

    // The user's initialization actions run once, as the node is made: only in the
    // whole script, never at a restart or repair.
    let init: Vec<&InitAction> = match part {
        Part::Whole => plan.init.iter().filter(|a| a.runs_on(group)).collect(),
        _ => Vec::new(),
    };
    for action in &init {
        init_function(&mut out, action);
    }

    if part == Part::Activity {
        // One line per component, whatever another's step did.
        for (component, step) in &steps {
            let _ = writeln!(
                out,
                "printf '%s\\t%s\\n' {} \"$({} 2>/dev/null | tail -n 1)\" || true",
                component.name,
                function_name(&component.name, step.phase.as_str())
            );
        }
        return Ok(NodeScript { head, body: out });
    }
    steps.retain(|(_, step)| part.runs(step.phase));
    out.push_str("trap 'disco_fail \"the node script stopped at line $LINENO\"' ERR\n");
    out.push_str("disco_log \"node script started\"\n");
    out.push_str("disco_report \"node started\" succeeded 0\n");
    // The init actions after every component's start, before the first smoke test.
    let before_smoke = steps
        .iter()
        .position(|(_, step)| step.phase == Phase::Smoke)
        .unwrap_or(steps.len());
    for (i, (component, step)) in steps.iter().enumerate() {
        if i == before_smoke {
            run_init(&mut out, &init);
        }
        let _ = writeln!(
            out,
            "disco_run_step {} {} {}",
            component.name,
            step.phase,
            function_name(&component.name, step.phase.as_str())
        );
    }
    if before_smoke == steps.len() {
        run_init(&mut out, &init);
    }
    out.push_str("disco_finish\n");
    Ok(NodeScript { head, body: out })
}

/// An init action as a step function: its script written to the node, or its URL
/// fetched and checked, then run with its timeout (`disco_init_*` in the node library).
fn init_function(out: &mut String, action: &InitAction) {
    let _ = writeln!(out, "# {} ({})", action.stage(), action.command());
    let _ = writeln!(
        out,
        "{}() (",
        function_name(STAGE_PREFIX, &action.name.as_str().replace('-', "_"))
    );
    let (name, secs) = (action.name.as_str(), action.timeout.secs());
    match &action.source {
        InitSource::Inline { script } => {
            // A delimiter no line of the script is.
            let mut end = "DISCO_INIT_SCRIPT".to_string();
            while script.lines().any(|line| line == end) {
                end.push('_');
            }
            let _ = writeln!(out, "  disco_init_inline {name} {secs} <<'{end}'");
            out.push_str(script);
            if !script.ends_with('\n') {
                out.push('\n');
            }
            let _ = writeln!(out, "{end}");
        }
        InitSource::Url { url, sha256 } => {
            let _ = writeln!(
                out,
                "  disco_init_url {name} {secs} {} {}",
                quote(url.as_str()),
                sha256.as_str()
            );
        }
    }
    out.push_str(")\n\n");
}

/// The node script's calls of its init actions' steps, each the stage `init <name>`.
fn run_init(out: &mut String, init: &[&InitAction]) {
    for action in init {
        let _ = writeln!(
            out,
            "disco_run_step {STAGE_PREFIX} {} {}",
            action.name,
            function_name(STAGE_PREFIX, &action.name.as_str().replace('-', "_"))
        );
    }
}

fn function_name(component: &str, phase: &str) -> String {
    format!("step_{}_{phase}", component.replace('-', "_"))
}

/// A name as it appears in an environment variable: uppercase, `-` as `_`.
pub fn env_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// A single-quoted shell word: nothing inside is expanded.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Text for a comment line: no line breaks can end the comment early.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

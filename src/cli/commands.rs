//! What each client subcommand does: requests to DISCO, and the tables and streams a
//! person reads, in DTK's layouts.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};

use super::client::{Client, ClusterRef};
use crate::domain::HealthStatus;
use crate::tasks::render::{self, table, table_time};
use crate::tasks::{Task, TaskStatus};

/// `disco ls`: the caller's clusters, as DTK lists service instances; with a limit, one
/// page of them, and on stderr the command that shows the next.
pub async fn ls(client: &Client, limit: Option<usize>, marker: Option<&str>) -> anyhow::Result<()> {
    let (clusters, next) = match limit {
        Some(limit) => client.cluster_page(limit, marker).await?,
        None => (client.clusters().await?, None),
    };
    let paths: Vec<String> = clusters
        .iter()
        .map(|c| format!("/disco/{}/plan", c.id))
        .collect();
    let plans = futures_util::future::join_all(paths.iter().map(|path| client.json(path))).await;
    let rows = clusters
        .iter()
        .zip(plans)
        .map(|(cluster, plan)| {
            let plan = plan.unwrap_or_default();
            let components: Vec<&str> = plan["components"]
                .as_array()
                .map(|list| list.iter().filter_map(|c| c["name"].as_str()).collect())
                .unwrap_or_default();
            let slaves = plan["node_groups"]
                .as_array()
                .and_then(|groups| {
                    groups
                        .iter()
                        .find(|g| g["group"] == "slaves")
                        .and_then(|g| g["count"].as_u64())
                })
                .unwrap_or(0);
            let provider = plan["provider"].as_str().unwrap_or_default();
            let region = cluster.attribute("icclab.disco.deployer.region");
            let target = if region.is_empty() || region.starts_with('$') {
                provider.to_string()
            } else {
                format!("{provider}/{region}")
            };
            let state = cluster.attribute("icclab.disco.state");
            let created = DateTime::parse_from_rfc3339(&cluster.attribute("icclab.disco.created"))
                .map(|t| table_time(t.with_timezone(&Utc)))
                .unwrap_or_default();
            let expires =
                DateTime::parse_from_rfc3339(&cluster.attribute("icclab.disco.expires_at"))
                    .map(|t| table_time(t.with_timezone(&Utc)))
                    .unwrap_or_else(|_| "-".to_string());
            // Only a running cluster has one, and only once it was checked.
            let health = match cluster.attribute("icclab.disco.health") {
                none if none.is_empty() => "-".to_string(),
                health => health,
            };
            vec![
                cluster.id.clone(),
                cluster.name.clone(),
                instance_status(&state).to_string(),
                health,
                last_run(&state).to_string(),
                components.join(","),
                target,
                (slaves + 1).to_string(),
                created,
                expires,
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "ID",
                "NAME",
                "STATUS",
                "HEALTH",
                "LAST RUN",
                "TEMPLATE",
                "TARGET",
                "# NODES",
                "CREATED AT",
                "EXPIRES",
            ],
            rows,
        )
    );
    if let (Some(limit), Some(next)) = (limit, next) {
        eprintln!("next page: disco ls --limit {limit} --marker {next}");
    }
    Ok(())
}

/// DTK's instance status: is the cluster there (running), not yet (pending), going, or
/// broken.
fn instance_status(state: &str) -> &'static str {
    match state {
        "pending" => "pending",
        "deploying" | "installing" | "ready" | "stopping" | "scaling" | "repairing" => "running",
        "stopped" | "starting" => "stopped",
        "failed" => "failed",
        "deleting" => "deleting",
        "cancelled" => "cancelled",
        _ => "unknown",
    }
}

/// How the last task went.
fn last_run(state: &str) -> &'static str {
    match state {
        "deploying" | "installing" | "deleting" | "stopping" | "starting" | "scaling"
        | "repairing" => "executing",
        "ready" | "stopped" => "succeeded",
        "failed" => "failed",
        "cancelled" => "cancelled",
        _ => "",
    }
}

/// What `deploy` and `stage` ask for.
pub struct Request {
    pub name: String,
    pub components: Vec<String>,
    /// None: the template's, else the server's default.
    pub slaves: Option<u16>,
    pub provider: Option<String>,
    /// `component.parameter=value`
    pub params: Vec<String>,
    /// `FILE[:GROUP]`: init actions.
    pub init: Vec<String>,
    /// The clusters it uses, by name or UUID.
    pub uses: Vec<String>,
    /// The template it starts from, under the other fields.
    pub template: Option<String>,
    pub staged: bool,
}

/// A string as an OCCI attribute value: quoted and escaped as the server parses it.
fn quote(value: &str) -> String {
    crate::occi::text::OcciValue(&crate::domain::Scalar::String(value.to_string())).to_string()
}

impl Request {
    fn attributes(&self) -> anyhow::Result<String> {
        if self.components.is_empty() && self.template.is_none() {
            bail!("--components: expected a list such as spark,jupyter (or --template)");
        }
        let mut attributes = vec![format!("icclab.disco.name={}", quote(&self.name))];
        if let Some(template) = &self.template {
            attributes.push(format!("icclab.disco.template={}", quote(template)));
        }
        if !self.components.is_empty() {
            let inject: Vec<String> = self
                .components
                .iter()
                .map(|c| format!("'{}'", c.trim()))
                .collect();
            attributes.push(format!(
                "icclab.disco.dependencies.inject={}",
                quote(&format!("[{}]", inject.join(", ")))
            ));
        }
        // Without a template, the count DTK's deploy has always had.
        match (self.slaves, &self.template) {
            (Some(slaves), _) => {
                attributes.push(format!("icclab.disco.components.heat.slavecount={slaves}"))
            }
            (None, None) => {
                attributes.push("icclab.disco.components.heat.slavecount=2".to_string())
            }
            (None, Some(_)) => {}
        }
        if let Some(provider) = &self.provider {
            attributes.push(format!("icclab.disco.provider={}", quote(provider)));
        }
        for param in &self.params {
            let Some((key, value)) = param.split_once('=') else {
                bail!("--param: expected component.parameter=value, got {param:?}");
            };
            let Some((component, name)) = key.split_once('.') else {
                bail!("--param: expected component.parameter=value, got {param:?}");
            };
            attributes.push(format!(
                "icclab.disco.components.{component}.{name}={}",
                quote(value)
            ));
        }
        if !self.init.is_empty() {
            let actions = self
                .init
                .iter()
                .map(|given| init_action(given))
                .collect::<anyhow::Result<Vec<_>>>()?;
            attributes.push(format!(
                "{}={}",
                crate::domain::attributes::INIT,
                quote(&serde_json::Value::Array(actions).to_string())
            ));
        }
        if !self.uses.is_empty() {
            attributes.push(format!(
                "{}={}",
                crate::domain::attributes::USES,
                quote(&self.uses.join(","))
            ));
        }
        if self.staged {
            attributes.push("icclab.disco.stage=true".to_string());
        }
        Ok(attributes.join(","))
    }
}

/// `--init FILE[:GROUP]` as the action the server takes: the file's script, named after
/// the file (`warm_cache.sh` is `warm-cache`), on the group (all by default).
fn init_action(given: &str) -> anyhow::Result<serde_json::Value> {
    let (file, group) = match given.rsplit_once(':') {
        Some((file, group)) if matches!(group, "master" | "slaves" | "all") => (file, group),
        _ => (given, "all"),
    };
    let path = Path::new(file);
    let script =
        std::fs::read_to_string(path).with_context(|| format!("--init: reading {file}"))?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let slug: String = stem
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name: String = slug.trim_matches('-').chars().take(32).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        bail!("--init: {file}: the file's name gives no action name (letters or digits)");
    }
    Ok(serde_json::json!({"name": name, "group": group, "script": script}))
}

/// `disco deploy` and `disco stage`.
pub async fn create(client: &Client, request: &Request) -> anyhow::Result<()> {
    let location = client.create(&request.attributes()?).await?;
    let id = location.rsplit('/').next().unwrap_or_default();
    println!("  {id}");
    println!("  cluster_name: {}", request.name);
    println!(
        "  {}",
        if request.staged {
            "staged: deploy it with `disco converge NAME`"
        } else {
            "task: cluster_converge (follow it with `disco task-status NAME`)"
        }
    );
    Ok(())
}

/// `disco deploy NAME --dry-run`: what the cluster would be and use; nothing is made.
pub async fn dry_run(client: &Client, request: &Request) -> anyhow::Result<()> {
    let answer = client.dry_run(&request.attributes()?).await?;
    let resources = |key: &str| {
        serde_json::from_value::<Option<crate::domain::Resources>>(answer[key].clone())
            .ok()
            .flatten()
    };
    let plan = &answer["plan"];
    let components: Vec<&str> = plan["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let slaves = plan["node_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["group"] == "slaves")
        .and_then(|g| g["count"].as_u64())
        .unwrap_or(0);
    println!("  dry run: nothing was made");
    println!("  cluster_name: {}", request.name);
    println!("  provider: {}", answer["provider"].as_str().unwrap_or("?"));
    println!("  nodes: a master and {slaves} slaves");
    println!("  components: {}", components.join(", "));
    if let Some(needs) = resources("resources") {
        println!("  needs: {}", needs.describe());
    }
    if let (Some(project), Some(left)) = (answer["project"].as_str(), resources("left")) {
        let left = left.describe();
        println!(
            "  project {project} has left: {}",
            if left.is_empty() { "no limits" } else { &left }
        );
    }
    for unchecked in answer["unchecked"].as_array().into_iter().flatten() {
        println!(
            "  not checked (its limits are unknown): {}",
            unchecked.as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// `disco converge NAME`: deploys a staged cluster.
pub async fn converge(client: &Client, name: &str) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    client.deploy(&cluster).await?;
    println!("  {}", cluster.id);
    println!("  task: cluster_converge (follow it with `disco task-status {name}`)");
    Ok(())
}

/// How `task-status` shows the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Snapshot,
    Stream,
}

/// `disco task-status NAME [--wait] [-m stream]`; fails when the task failed.
pub async fn task_status(
    client: &Client,
    name: &str,
    wait: bool,
    mode: Mode,
) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    let task = match (mode, wait) {
        (Mode::Stream, _) => stream(client, &cluster).await?,
        (Mode::Snapshot, true) => top(client, &cluster).await?,
        (Mode::Snapshot, false) => {
            let task = client.tasks(&cluster).await?;
            print!("{}", render::snapshot(&task));
            task
        }
    };
    match task.status {
        TaskStatus::Failed => bail!("the task failed: {}", failure(client, &cluster).await),
        TaskStatus::Cancelled if wait || mode == Mode::Stream => bail!("the task was cancelled"),
        _ => Ok(()),
    }
}

/// `disco task-status NAME --all`: the cluster's task history.
pub async fn task_history(client: &Client, name: &str) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    print!("{}", client.task_history(&cluster).await?);
    Ok(())
}

/// `disco task-status NAME --task N`: one task of the history, as a snapshot.
pub async fn task_numbered(client: &Client, name: &str, number: usize) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    let task = client.task(&cluster, number).await?;
    print!("{}", render::snapshot(&task));
    Ok(())
}

async fn failure(client: &Client, cluster: &ClusterRef) -> String {
    match client.state(cluster).await {
        Ok(Some((_, reason))) => reason,
        _ => "see disco logs".to_string(),
    }
}

/// The task tree each time it changes, until the deploy ends.
async fn follow(
    client: &Client,
    cluster: &ClusterRef,
    mut on_change: impl FnMut(&Task) -> anyhow::Result<()>,
) -> anyhow::Result<Task> {
    let mut events = client.events(cluster).await?;
    let mut last: Option<Task> = None;
    while let Some((name, data)) = events.next().await? {
        match name.as_str() {
            "tasks" => {
                let task: Task = serde_json::from_str(&data).context("a tasks event")?;
                on_change(&task)?;
                last = Some(task);
            }
            "end" => break,
            _ => {}
        }
    }
    // The last word, in case the stream ended between two changes.
    let task = client.tasks(cluster).await.or_else(|e| last.ok_or(e))?;
    on_change(&task)?;
    Ok(task)
}

/// `--wait`: the snapshot redrawn in place, top-like, until the task ends. Not on a
/// terminal, only the last snapshot is printed.
async fn top(client: &Client, cluster: &ClusterRef) -> anyhow::Result<Task> {
    let terminal = std::io::stdout().is_terminal();
    let task = follow(client, cluster, |task| {
        if terminal {
            let mut out = std::io::stdout().lock();
            write!(out, "\x1b[H\x1b[2J{}", render::snapshot(task))?;
            writeln!(out, "(Ctrl-C leaves; the task goes on)")?;
            out.flush()?;
        }
        Ok(())
    })
    .await?;
    if !terminal {
        print!("{}", render::snapshot(&task));
    }
    Ok(task)
}

/// `-m stream`: each stage printed as it finishes, in order; started late, the stages
/// already finished come first.
async fn stream(client: &Client, cluster: &ClusterRef) -> anyhow::Result<Task> {
    let mut printed = 0usize;
    let mut started = false;
    let print_finished = |task: &Task, printed: &mut usize, started: &mut bool| {
        let mut out = std::io::stdout().lock();
        if !*started && task.started_at.is_some() {
            let _ = write!(out, "{}", render::stream_start(task));
            *started = true;
        }
        while let Some(stage) = task.children.get(*printed) {
            if !stage.status.is_finished() {
                break;
            }
            *printed += 1;
            let _ = write!(out, "{}", render::stream_stage(*printed, stage));
        }
        let _ = out.flush();
    };
    let task = follow(client, cluster, |task| {
        print_finished(task, &mut printed, &mut started);
        Ok(())
    })
    .await?;
    if task.status.is_finished() {
        print!("{}", render::stream_end(&task));
    }
    Ok(task)
}

/// `disco show NAME`: the cluster's attributes, its private key left out (`disco key`).
pub async fn show(client: &Client, name: &str) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    let attributes = client.show(&cluster).await?;
    let rows = attributes
        .into_iter()
        .filter(|(name, _)| name != "ssh_private_key")
        .map(|(name, value)| {
            let value = if value.len() > 100 {
                format!("{}…", &value[..value.floor_char_boundary(100)])
            } else {
                value
            };
            vec![name, value]
        })
        .collect();
    print!("{}", table(&["ATTRIBUTE", "VALUE"], rows));
    Ok(())
}

/// `disco extend NAME [--max-age D] [--max-idle D] [--expire-at T] [--on-expiry A]`: says when the
/// cluster expires now, and why.
pub async fn extend(client: &Client, name: &str, changes: &[(&str, String)]) -> anyhow::Result<()> {
    if changes.is_empty() {
        anyhow::bail!("extend: give --max-age, --max-idle, --expire-at or --on-expiry");
    }
    let cluster = client.find(name).await?;
    let attributes = client.update(&cluster, changes).await?;
    let text = |name: &str| {
        attributes
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    };
    match text("icclab.disco.expires_at") {
        "" => println!("  {}: does not expire", cluster.name),
        at => println!(
            "  {}: expires at {at} ({})",
            cluster.name,
            text("icclab.disco.expires_because")
        ),
    }
    Ok(())
}

/// How much of a check's output `disco health` shows when it cannot tell the
/// terminal's width (not a terminal: a pipe, a file).
const OUTPUT_WIDTH: usize = 60;
/// The least it shows on a narrow terminal.
const NARROWEST_OUTPUT: usize = 20;

/// `disco health NAME`: the cluster's health on a first line, then every check on every
/// node, failing ones first. Fails unless the cluster is healthy, as `task-status`
/// fails when its task did, so that a script can ask; a cluster with no health to show
/// (not running, or not checked yet) fails saying why.
pub async fn health(client: &Client, name: &str) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    let answer = client.health(&cluster).await?;
    let state = answer.state.as_str();
    let Some(health) = answer.health else {
        match state {
            "ready" => bail!(
                "{}: no health yet: the service has not checked it since it became ready; ask again in a moment",
                cluster.name
            ),
            _ => bail!(
                "{}: no health: it is {state}, and only a running cluster's health is checked",
                cluster.name
            ),
        }
    };
    let mut headline = format!(
        "{}: {} ({}), checked {}",
        cluster.name,
        health.status,
        printable(&health.reason),
        render::stream_time(health.checked)
    );
    if state != "ready" {
        // Repairing, scaling: what it says is from before the task.
        headline.push_str(&format!("; the cluster is {state}"));
    }
    println!("{headline}");
    let header = ["NODE", "COMPONENT", "CHECK", "STATUS", "SINCE", "OUTPUT"];
    let mut rows: Vec<Vec<String>> = health
        .checks
        .iter()
        .map(|check| {
            vec![
                printable(&check.node),
                printable(&check.component),
                printable(&check.check),
                if check.passing { "passing" } else { "failing" }.to_string(),
                table_time(check.since),
                printable(&check.output),
            ]
        })
        .collect();
    let width = output_width(&header, &rows);
    for row in &mut rows {
        row[5] = cut(&row[5], width);
    }
    print!("{}", table(&header, rows));
    if health.status != HealthStatus::Healthy {
        bail!("{} is {}", cluster.name, health.status);
    }
    Ok(())
}

/// `disco events NAME`: the events of the cluster's Heat stack, oldest first, a table of
/// TIME, NODE, RESOURCE, STATUS and REASON (Heat's, which carries Nova's or Neutron's).
pub async fn heat_events(client: &Client, name: &str) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    let answer = client.heat_events(&cluster).await?;
    let header = ["TIME", "NODE", "RESOURCE", "STATUS", "REASON"];
    let mut rows: Vec<Vec<String>> = answer
        .events
        .iter()
        .map(|event| {
            vec![
                table_time(event.time),
                printable(event.node.as_deref().unwrap_or("-")),
                printable(&event.resource),
                printable(&event.status),
                printable(event.reason.as_deref().unwrap_or_default()),
            ]
        })
        .collect();
    let width = output_width(&header, &rows);
    for row in &mut rows {
        row[4] = cut(&row[4], width);
    }
    println!("{}: stack {}", cluster.name, printable(&answer.stack_id));
    print!("{}", table(&header, rows));
    Ok(())
}

/// `disco outputs NAME [--secrets]`: what the cluster offers others, a table of OUTPUT,
/// VALUE and DESCRIPTION; a secret's value only with `--secrets`, printed after the
/// table (client configurations and keys are files of several lines).
pub async fn outputs(client: &Client, name: &str, secrets: bool) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    let answer = client.outputs(&cluster, secrets).await?;
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(","),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut rows = Vec::new();
    for (key, value) in answer["cluster"].as_object().into_iter().flatten() {
        if key == "web_uis" {
            for (ui, url) in value.as_object().into_iter().flatten() {
                rows.push(vec![
                    format!("web_ui.{ui}"),
                    printable(&text(url)),
                    String::new(),
                ]);
            }
        } else if !text(value).is_empty() {
            rows.push(vec![key.clone(), printable(&text(value)), String::new()]);
        }
    }
    let mut secret_values = Vec::new();
    for (component, outputs) in answer["components"].as_object().into_iter().flatten() {
        for (output, shown) in outputs.as_object().into_iter().flatten() {
            let key = format!("{component}.{output}");
            let value = shown["value"].as_str();
            let secret = shown["secret"].as_bool().unwrap_or(false);
            let cell = match value {
                Some(v) if secret => {
                    secret_values.push((key.clone(), v.to_string()));
                    "(secret: below)".to_string()
                }
                Some(v) => printable(v),
                None => "(secret: --secrets shows it)".to_string(),
            };
            rows.push(vec![
                key,
                cell,
                printable(shown["description"].as_str().unwrap_or_default()),
            ]);
        }
    }
    let header = ["OUTPUT", "VALUE", "DESCRIPTION"];
    let width = output_width(&header, &rows);
    for row in &mut rows {
        row[2] = cut(&row[2], width);
    }
    print!("{}", table(&header, rows));
    for (key, value) in secret_values {
        println!("\n{key}:");
        for line in value.lines() {
            println!("  {}", printable(line));
        }
    }
    Ok(())
}

/// How wide the last column may be for the table to fit the terminal: what the other
/// columns and the borders leave (`| a | b |`: three characters a column, and one).
fn output_width(header: &[&str], rows: &[Vec<String>]) -> usize {
    let Some(terminal) = comfy_table::Table::new().width() else {
        return OUTPUT_WIDTH;
    };
    let others: usize = (0..header.len() - 1)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([header[column].len()])
                .max()
                .unwrap_or_default()
        })
        .sum();
    usize::from(terminal)
        .saturating_sub(others + 3 * header.len() + 1)
        .max(NARROWEST_OUTPUT)
}

/// `text` in at most `width` characters, an ellipsis for what was left out.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// What the nodes said, as a terminal shows it: on one line, with no control
/// characters to move the cursor or recolour the screen.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `disco delete NAME [--wait]`.
/// `disco delete NAME [--wait] [--cascade]`: with `--cascade`, the clusters that use it
/// go first (the server deletes them); `--wait` waits for it alone.
pub async fn delete(client: &Client, name: &str, wait: bool, cascade: bool) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    client.delete(&cluster, cascade).await?;
    if !wait {
        println!("  {}: deleting", cluster.name);
        return Ok(());
    }
    let spinner = progress(&format!("deleting {}", cluster.name));
    loop {
        match client.state(&cluster).await? {
            None => break,
            Some((state, reason)) if state == "failed" => {
                spinner.finish_and_clear();
                bail!("the delete failed: {reason}");
            }
            Some((state, _)) => spinner.set_message(format!("{}: {state}", cluster.name)),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    spinner.finish_and_clear();
    println!("  {}: deleted", cluster.name);
    Ok(())
}

/// `disco stop NAME [--wait]` and `disco start NAME [--wait]`: the action, and with
/// `--wait` until the cluster is stopped (ready); fails when the cluster fails.
pub async fn operate(client: &Client, name: &str, term: &str, wait: bool) -> anyhow::Result<()> {
    operation(client, name, Operation::Plain(term), wait).await
}

/// `disco scale NAME --slaves N [--wait]`.
pub async fn scale(client: &Client, name: &str, slaves: u16, wait: bool) -> anyhow::Result<()> {
    operation(client, name, Operation::Scale(slaves), wait).await
}

/// `disco repair NAME [--wait]`: with `--wait`, until the cluster is ready again, then
/// what the repair did (the cluster's reason); fails when the repair failed (the
/// cluster is ready all the same: a repair stops nothing). A cluster with nothing
/// failing is refused with the server's reason.
pub async fn repair(client: &Client, name: &str, wait: bool) -> anyhow::Result<()> {
    operation(client, name, Operation::Repair, wait).await
}

/// What `operation` asks for.
enum Operation<'a> {
    Plain(&'a str),
    Scale(u16),
    Repair,
}

async fn operation(
    client: &Client,
    name: &str,
    operation: Operation<'_>,
    wait: bool,
) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    let (term, moving, done) = match operation {
        Operation::Plain("stop") => ("stop", "stopping", "stopped"),
        // A scale-out's cancel ends ready, its new slaves removed.
        Operation::Plain("cancel") if cluster.attribute("icclab.disco.state") == "scaling" => {
            ("cancel", "scaling", "ready")
        }
        // A deploy's is a tear-down that keeps the record.
        Operation::Plain("cancel") => ("cancel", "deleting", "cancelled"),
        Operation::Plain(term) => (term, "starting", "ready"),
        Operation::Scale(_) => ("scale", "scaling", "ready"),
        Operation::Repair => ("repair", "repairing", "ready"),
    };
    match operation {
        Operation::Scale(slaves) => client.scale(&cluster, slaves).await?,
        Operation::Plain(term) => client.action(&cluster, term).await?,
        Operation::Repair => client.action(&cluster, term).await?,
    }
    if !wait {
        println!("  {}: {moving}", cluster.name);
        return Ok(());
    }
    let spinner = progress(&format!("{moving} {}", cluster.name));
    let reason = loop {
        match client.state(&cluster).await? {
            None => {
                spinner.finish_and_clear();
                bail!("{} is gone (deleted meanwhile)", cluster.name);
            }
            Some((state, reason)) if state == done => break reason,
            Some((state, reason)) if state == "failed" => {
                spinner.finish_and_clear();
                bail!("the {term} failed: {reason}");
            }
            Some((state, reason)) if state != moving => {
                spinner.finish_and_clear();
                bail!("{} is {state}: {reason}", cluster.name);
            }
            Some((state, _)) => spinner.set_message(format!("{}: {state}", cluster.name)),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    spinner.finish_and_clear();
    if let Operation::Repair = operation {
        // A repair ends ready either way: its task says whether it worked.
        if client.tasks(&cluster).await?.status == TaskStatus::Failed {
            bail!("{}: {reason}", cluster.name);
        }
        println!("  {}: {done} ({reason})", cluster.name);
        return Ok(());
    }
    println!("  {}: {done}", cluster.name);
    Ok(())
}

/// A spinner where a person waits; nothing when the output is not a terminal.
fn progress(message: &str) -> indicatif::ProgressBar {
    let spinner = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    spinner.set_message(message.to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// `disco key NAME [-o FILE]`: the private key, to stdout or to a file only its owner
/// can read.
pub async fn key(client: &Client, name: &str, output: Option<&Path>) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    let attributes = client.show(&cluster).await?;
    let Some((_, key)) = attributes.into_iter().find(|(n, _)| n == "ssh_private_key") else {
        bail!("DISCO did not show the private key of {}", cluster.name);
    };
    let key = if key.ends_with('\n') {
        key
    } else {
        format!("{key}\n")
    };
    match output {
        None => print!("{key}"),
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("writing {}", path.display()))?;
            // An existing file keeps its mode on open: make it 0600 too.
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            file.write_all(key.as_bytes())?;
            eprintln!("wrote {} (mode 0600)", path.display());
        }
    }
    Ok(())
}

/// `disco components`: the catalogue.
pub async fn components(client: &Client) -> anyhow::Result<()> {
    let body = client.json("/disco/components").await?;
    let rows = body["components"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let list = |key: &str| {
                c[key]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            };
            vec![
                c["name"].as_str().unwrap_or_default().to_string(),
                c["version"].as_str().unwrap_or_default().to_string(),
                list("providers"),
                list("depends_on"),
                c["description"].as_str().unwrap_or_default().to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["NAME", "VERSION", "PROVIDERS", "DEPENDS ON", "DESCRIPTION"],
            rows
        )
    );
    Ok(())
}

/// `disco templates`: DTK's `list-assemblies` table of the templates the caller may
/// deploy from; ID is the row's number, as DTK numbers assemblies.
pub async fn templates(client: &Client) -> anyhow::Result<()> {
    let body = client.json("/disco/templates/").await?;
    let rows = body["templates"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let text = |key: &str| t[key].as_str().unwrap_or_default().to_string();
            vec![
                (i + 1).to_string(),
                text("name"),
                t["nodes"].as_i64().unwrap_or_default().to_string(),
                text("description"),
            ]
        })
        .collect();
    print!("{}", table(&["ID", "NAME", "NODES", "DESCRIPTION"], rows));
    Ok(())
}

/// `disco logs NAME [--node N] [-f]`.
pub async fn logs(
    client: &Client,
    name: &str,
    node: Option<&str>,
    follow_on: bool,
) -> anyhow::Result<()> {
    let cluster = client.find(name).await?;
    if !follow_on {
        let mut url = format!("{}/logs", cluster.location);
        if let Some(node) = node {
            url.push_str(&format!("?node={}", url_escape(node)));
        }
        print!("{}", client.text(&url).await?);
        return Ok(());
    }
    let mut events = client.events(&cluster).await?;
    while let Some((name, data)) = events.next().await? {
        if name == "report" {
            let report: crate::domain::Report = serde_json::from_str(&data)?;
            if node.is_none_or(|n| n == report.node) {
                print!("{}", render::log_lines(&report));
                let _ = std::io::stdout().flush();
            }
        }
    }
    Ok(())
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_output_is_cut_to_its_width_with_an_ellipsis_and_a_short_one_kept() {
        assert_eq!(cut("refused", 20), "refused");
        assert_eq!(cut("abcdefghij", 5), "abcd…");
        assert_eq!(cut("ééééé", 5), "ééééé", "characters, not bytes");
    }

    #[test]
    fn what_nodes_said_reaches_the_terminal_without_control_characters() {
        assert_eq!(printable("a\x1b[2Jb\nc"), "a [2Jb c");
    }
}

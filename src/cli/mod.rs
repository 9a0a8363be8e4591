//! The `disco` command line: `disco serve` runs the service; the other subcommands are a
//! client of its REST interface at `DISCO_URL`, in the manner of DTK's shell (`ls`,
//! `deploy`, `task-status` ...).

pub mod client;
pub mod commands;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Overrides, Settings};
use crate::domain::ProviderKind;
use crate::domain::attributes::{EXPIRE_AT, MAX_AGE, MAX_IDLE, ON_EXPIRY};
use crate::startup::Application;
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "disco",
    version,
    about = "DISCO: distributed-computing clusters on demand"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub connection: Connection,
}

/// Where the service is and who is asking (client subcommands).
#[derive(Debug, clap::Args)]
pub struct Connection {
    /// The DISCO service.
    #[arg(
        long,
        global = true,
        env = "DISCO_URL",
        default_value = "http://127.0.0.1:8888"
    )]
    pub url: String,
    /// A Keystone token (X-Auth-Token).
    #[arg(
        long = "os-token",
        global = true,
        env = "OS_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Keystone user name, with --os-password and --os-project-name.
    #[arg(long = "os-username", global = true, env = "OS_USERNAME")]
    pub username: Option<String>,
    #[arg(
        long = "os-password",
        global = true,
        env = "OS_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Project (tenant); with auth none, the tenant label.
    #[arg(long = "os-project-name", global = true, env = "OS_PROJECT_NAME")]
    pub project: Option<String>,
    /// Take user, password and project from this clouds.yaml entry (the flags and
    /// OS_* variables win).
    #[arg(long = "os-cloud", global = true, env = "OS_CLOUD")]
    pub cloud: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the DISCO service (REST/OCCI interface and the lifecycle worker).
    Serve(ServeArgs),
    /// Copy the configured store (every cluster, transition, job, report, token,
    /// heartbeat, step duration and template) into an empty PostgreSQL database; then
    /// set store.url to it. Run it with the service stopped.
    #[command(name = "migrate-store")]
    MigrateStore(MigrateStoreArgs),
    /// List your clusters (all of them; with --limit, one page).
    Ls {
        /// Show at most this many (1 to 10000), and how to ask for the next page.
        #[arg(long)]
        limit: Option<usize>,
        /// With --limit: start after this cluster's UUID (the last of the page before).
        #[arg(long, requires = "limit")]
        marker: Option<String>,
    },
    /// Create a cluster and deploy it.
    Deploy(CreateArgs),
    /// Create a cluster without deploying it (then: disco converge NAME).
    Stage(CreateArgs),
    /// Deploy a staged cluster.
    Converge { name: String },
    /// The cluster's latest task (deploy, stop, start, delete), stage by stage.
    #[command(name = "task-status")]
    TaskStatus {
        /// Cluster name or UUID.
        name: String,
        /// Refresh in place until the task ends (Ctrl-C leaves; the task goes on).
        #[arg(long)]
        wait: bool,
        /// snapshot: the task tree; stream: each stage as it finishes.
        #[arg(short = 'm', long = "mode", value_enum, default_value = "snapshot")]
        mode: commands::Mode,
        /// The cluster's task history, a row per task (deploy, stop, start, delete).
        #[arg(long, conflicts_with_all = ["wait", "task"])]
        all: bool,
        /// The task of that number in the history (see --all) rather than the latest.
        #[arg(long, value_name = "N", conflicts_with = "wait")]
        task: Option<usize>,
    },
    /// A cluster's attributes (its private key: disco key).
    Show { name: String },
    /// Delete a cluster.
    Delete {
        name: String,
        /// Wait until it is gone.
        #[arg(long)]
        wait: bool,
        /// Delete the clusters that use it first (DELETE ?cascade=true).
        #[arg(long)]
        cascade: bool,
    },
    /// What a cluster offers the clusters that use it: addresses, URLs, its components'
    /// outputs (secret ones only with --secrets).
    Outputs {
        name: String,
        /// Show the secret values too (client configurations, keys, tokens).
        #[arg(long)]
        secrets: bool,
    },
    /// Stop a ready cluster: nothing of it runs; its addresses, keys and data stay.
    Stop {
        name: String,
        /// Wait until it is stopped.
        #[arg(long)]
        wait: bool,
    },
    /// Start a stopped cluster again.
    Start {
        name: String,
        /// Wait until it is ready.
        #[arg(long)]
        wait: bool,
    },
    /// A ready cluster's health: every check on every node, failing ones first. Fails
    /// unless the cluster is healthy.
    Health { name: String },
    /// Cancel a deploy in flight: what it made is removed, the cluster is kept as
    /// cancelled with its tasks and log until it is deleted.
    Cancel {
        name: String,
        /// Wait until nothing of it is left.
        #[arg(long)]
        wait: bool,
    },
    /// Start again what fails on a ready cluster, where it fails (see disco health).
    Repair {
        name: String,
        /// Wait until it is ready again, and say how the repair went.
        #[arg(long)]
        wait: bool,
    },
    /// Resize a ready cluster to N slaves.
    Scale {
        name: String,
        /// The new number of slaves.
        #[arg(long)]
        slaves: u16,
        /// Wait until it is ready again.
        #[arg(long)]
        wait: bool,
    },
    /// Change how long a cluster may live: a new max age (from its creation), a time it
    /// expires at, how long it may go unused, and what happens then. `none` clears any
    /// of the first three.
    Extend {
        name: String,
        /// 90s, 30m, 8h, 2d, 1h30m, or none.
        #[arg(long, value_name = "DURATION")]
        max_age: Option<String>,
        /// How long it may be idle (no application, task, client or busy kernel): 30m,
        /// 2h, or none.
        #[arg(long, value_name = "DURATION")]
        max_idle: Option<String>,
        /// An RFC 3339 time (2026-12-01T18:00:00Z), or none.
        #[arg(long, value_name = "TIME")]
        expire_at: Option<String>,
        /// delete or stop.
        #[arg(long, value_name = "ACTION")]
        on_expiry: Option<String>,
    },
    /// A cluster's SSH private key, to stdout or to a file (mode 0600).
    Key {
        name: String,
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// The component catalogue.
    Components,
    /// The templates a cluster may start from (DTK's list-assemblies): the operator's,
    /// then your project's.
    Templates,
    /// The events of a cluster's Heat stack (openstack provider): each resource's
    /// creation, completion or failure, with Heat's reason.
    Events { name: String },
    /// A cluster's deployment log.
    Logs {
        name: String,
        /// Only this node: master, slaves:1 ...
        #[arg(long)]
        node: Option<String>,
        /// Follow new entries until the deploy ends.
        #[arg(short, long)]
        follow: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The cluster's name.
    pub name: String,
    /// Components, comma-separated: spark,jupyter [default: the template's].
    #[arg(long, value_delimiter = ',', required_unless_present = "template")]
    pub components: Vec<String>,
    /// Number of slave nodes [default: the template's, else 2].
    #[arg(long)]
    pub slaves: Option<u16>,
    /// Start from this template (see disco templates); the other flags override it.
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// local, openstack or file [default: the server's].
    #[arg(long)]
    pub provider: Option<String>,
    /// A component parameter, component.parameter=value (repeatable).
    #[arg(long = "param", value_name = "COMPONENT.PARAM=VALUE")]
    pub params: Vec<String>,
    /// An init action: the script in FILE, run on the GROUP's nodes (master, slaves or
    /// all, the default) after the components start; named after the file (repeatable).
    #[arg(long = "init", value_name = "FILE[:GROUP]")]
    pub init: Vec<String>,
    /// A ready cluster of yours this one uses (its Spark or Dask for jupyter), by name
    /// or UUID (repeatable, or comma-separated).
    #[arg(long = "uses", value_name = "CLUSTER", value_delimiter = ',')]
    pub uses: Vec<String>,
    /// Check and plan the cluster and show what it would use of the cloud (and what the
    /// project has left), making nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8888; config server.listen].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Directory for the database and providers' files [config data_dir].
    #[arg(long, value_name = "DIR", env = "DISCO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file; only the keys it names change (see etc/disco.toml).
    #[arg(long, value_name = "PATH", env = "DISCO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Provider of requests that name none [config provider.default].
    #[arg(long, value_name = "PROVIDER", value_parser = parse_provider)]
    pub provider: Option<ProviderKind>,
    /// Take the OpenStack settings the configuration leaves empty from this clouds.yaml entry.
    #[arg(long, value_name = "NAME")]
    pub cloud: Option<String>,
    /// A Heat environment file passed with every stack (repeatable) [config openstack.heat_environment].
    #[arg(long = "heat-environment", value_name = "FILE")]
    pub heat_environment: Vec<PathBuf>,
    /// The store: empty for SQLite in the data directory, or postgres://… [config
    /// store.url; a password is better given in DISCO_STORE__URL, out of the process list].
    #[arg(long, value_name = "URL")]
    pub store_url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct MigrateStoreArgs {
    /// The PostgreSQL database to copy into: postgres://USER:PASSWORD@HOST:PORT/DATABASE
    /// (it must exist and hold no DISCO rows; its tables are made).
    #[arg(
        long,
        value_name = "URL",
        env = "DISCO_MIGRATE_TO",
        hide_env_values = true
    )]
    pub to: String,
    /// The data directory of the store to copy [config data_dir].
    #[arg(long, value_name = "DIR", env = "DISCO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (its store.url, if set, is the store copied).
    #[arg(long, value_name = "PATH", env = "DISCO_CONFIG")]
    pub config: Option<PathBuf>,
}

fn parse_provider(text: &str) -> Result<ProviderKind, String> {
    ProviderKind::parse(text)
        .ok_or_else(|| format!("expected one of file, local, openstack; got {text:?}"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let connection = cli.connection;
    let client = || {
        // Only client subcommands call this: `serve` reads clouds.yaml its own way.
        let cloud = match &connection.cloud {
            Some(name) => crate::config::clouds::cloud_credentials(name)?,
            None => Default::default(),
        };
        client::Client::new(
            &connection.url,
            &client::Credentials {
                token: connection.token.clone(),
                username: connection.username.clone().or(cloud.username),
                password: connection.password.clone().or(cloud.password),
                project: connection.project.clone().or(cloud.project_name),
            },
        )
    };
    let request = |args: CreateArgs, staged: bool| commands::Request {
        name: args.name,
        components: args.components,
        slaves: args.slaves,
        provider: args.provider,
        params: args.params,
        init: args.init,
        uses: args.uses,
        template: args.template,
        staged,
    };
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::MigrateStore(args) => migrate_store(args).await,
        Command::Ls { limit, marker } => commands::ls(&client()?, limit, marker.as_deref()).await,
        Command::Deploy(args) | Command::Stage(args) if args.dry_run => {
            commands::dry_run(&client()?, &request(args, false)).await
        }
        Command::Deploy(args) => commands::create(&client()?, &request(args, false)).await,
        Command::Stage(args) => commands::create(&client()?, &request(args, true)).await,
        Command::Converge { name } => commands::converge(&client()?, &name).await,
        Command::TaskStatus {
            name,
            wait,
            mode,
            all,
            task,
        } => {
            let client = client()?;
            match (all, task) {
                (true, _) => commands::task_history(&client, &name).await,
                (false, Some(number)) => commands::task_numbered(&client, &name, number).await,
                (false, None) => commands::task_status(&client, &name, wait, mode).await,
            }
        }
        Command::Show { name } => commands::show(&client()?, &name).await,
        Command::Delete {
            name,
            wait,
            cascade,
        } => commands::delete(&client()?, &name, wait, cascade).await,
        Command::Outputs { name, secrets } => commands::outputs(&client()?, &name, secrets).await,
        Command::Stop { name, wait } => commands::operate(&client()?, &name, "stop", wait).await,
        Command::Start { name, wait } => commands::operate(&client()?, &name, "start", wait).await,
        Command::Health { name } => commands::health(&client()?, &name).await,
        Command::Cancel { name, wait } => {
            commands::operate(&client()?, &name, "cancel", wait).await
        }
        Command::Repair { name, wait } => commands::repair(&client()?, &name, wait).await,
        Command::Scale { name, slaves, wait } => {
            commands::scale(&client()?, &name, slaves, wait).await
        }
        Command::Extend {
            name,
            max_age,
            max_idle,
            expire_at,
            on_expiry,
        } => {
            let changes: Vec<(&str, String)> = [
                (MAX_AGE, max_age),
                (MAX_IDLE, max_idle),
                (EXPIRE_AT, expire_at),
                (ON_EXPIRY, on_expiry),
            ]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
            commands::extend(&client()?, &name, &changes).await
        }
        Command::Key { name, output } => commands::key(&client()?, &name, output.as_deref()).await,
        Command::Components => commands::components(&client()?).await,
        Command::Templates => commands::templates(&client()?).await,
        Command::Events { name } => commands::heat_events(&client()?, &name).await,
        Command::Logs { name, node, follow } => {
            commands::logs(&client()?, &name, node.as_deref(), follow).await
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&Overrides {
        config_file: args.config,
        listen: args.listen,
        data_dir: args.data_dir,
        provider: args.provider,
        cloud: args.cloud,
        heat_environment: args.heat_environment,
        store_url: args.store_url,
    })?;
    telemetry::init(&settings.log);
    let app = Application::build(settings).await?;
    app.run_until_stopped().await
}

/// `disco migrate-store`: copies the configured store into `--to`, then says how much
/// of each it copied.
async fn migrate_store(args: MigrateStoreArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let settings = Settings::load(&Overrides {
        config_file: args.config,
        data_dir: args.data_dir,
        ..Overrides::default()
    })?;
    let to = crate::store::url::PostgresUrl::parse(&args.to).context("--to")?;
    let from = settings.store_location();
    let source = crate::store::Store::connect(from.clone())
        .await
        .with_context(|| format!("opening the store ({from})"))?;
    let target = crate::store::Store::connect(crate::store::Location::Postgres(to.clone()))
        .await
        .with_context(|| format!("opening the target ({to})"))?;
    let copied = source
        .copy_into(&target)
        .await
        .with_context(|| format!("copying the store ({from}) into {to}"))?;
    println!("copied {from} into {to}:");
    for (table, rows) in copied {
        println!("  {rows:>8} {table}");
    }
    println!("set store.url (or DISCO_STORE__URL) to it and start the service.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}

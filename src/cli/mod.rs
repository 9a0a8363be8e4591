//! The `disco` command line: `disco serve` runs the service.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cluster::ProviderKind;
use crate::config::{Overrides, Settings};
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the DISCO service (REST/OCCI interface and the lifecycle worker).
    Serve(ServeArgs),
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
}

fn parse_provider(text: &str) -> Result<ProviderKind, String> {
    ProviderKind::parse(text)
        .ok_or_else(|| format!("expected one of file, local, openstack; got {text:?}"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
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
    })?;
    telemetry::init(&settings.log);
    let app = Application::build(settings).await?;
    app.run_until_stopped().await
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}

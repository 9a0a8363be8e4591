use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = disco::cli::Cli::parse();
    match disco::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("disco: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

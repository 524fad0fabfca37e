//! `mqtt-harness`: the one binary of the project, thin over its crates.

mod serve;

use clap::{Parser, Subcommand};

/// MQTT 3.1.1 and 5.0 conformance and load-testing harness.
#[derive(Debug, Parser)]
#[command(name = "mqtt-harness", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the reference broker (TCP, WebSocket, TLS) until Ctrl-C or SIGTERM.
    Serve(serve::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
        }
    })
}

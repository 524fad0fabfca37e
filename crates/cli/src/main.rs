//! `mqtt-harness`: the one binary of the project, thin over its crates.

mod check;
mod conform;
mod fuzz;
mod load;
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
    /// Run the scenario library against targets; verdict per statement.
    Conform(conform::ConformArgs),
    /// Coverage of the statement catalogs by the scenario library.
    Coverage(conform::CoverageArgs),
    /// Open-loop load runs, capacity steps and shard merges (scenarios/load/).
    Load(load::LoadArgs),
    /// Live fuzzing campaign against a target (or several: differential).
    Fuzz(fuzz::FuzzArgs),
    /// Check a fault run's trace (JSONL) against the model's session and
    /// QoS rules. Exit 0: no failure; 1: violations; 2: unreadable trace.
    Check(check::CheckArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The broker logs what it does; the other jobs only what goes wrong.
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    // `check` has its own exit codes (2: the trace is unreadable) and no
    // runtime.
    let command = match cli.command {
        Command::Check(args) => return check::run(args),
        other => other,
    };
    let result = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| {
            runtime.block_on(async {
                match command {
                    Command::Check(_) => Ok(()),
                    Command::Serve(args) => serve::run(args).await,
                    Command::Conform(args) => conform::run(args).await,
                    Command::Fuzz(args) => fuzz::run(args).await,
                    Command::Coverage(args) => conform::coverage(args),
                    Command::Load(args) => load::run(args).await,
                }
            })
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqtt-harness: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

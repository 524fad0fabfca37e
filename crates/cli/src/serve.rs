//! `mqtt-harness serve`: the reference broker as a process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use mqtt_server::{ListenerConfig, ListenerProtocol, RunningServer, ServerConfig};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// YAML configuration (listeners, capabilities, users, ACL).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// TCP listener address, replacing the configured listeners
    /// (repeatable with --ws).
    #[arg(long)]
    tcp: Vec<SocketAddr>,
    /// WebSocket listener address.
    #[arg(long)]
    ws: Vec<SocketAddr>,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => ServerConfig::from_file(path)?,
        None => ServerConfig::default(),
    };
    let flags: Vec<ListenerConfig> = args
        .tcp
        .iter()
        .map(|a| (ListenerProtocol::Tcp, *a))
        .chain(args.ws.iter().map(|a| (ListenerProtocol::Ws, *a)))
        .map(|(protocol, bind)| ListenerConfig {
            protocol,
            bind,
            cert: None,
            key: None,
        })
        .collect();
    if !flags.is_empty() {
        config.listeners = flags;
    }
    let server = RunningServer::start(config)
        .await
        .context("starting the reference broker")?;
    for (protocol, addr) in server.listeners() {
        println!("mqtt-harness serve: {protocol:?} listener on {addr}");
    }
    wait_for_signal().await?;
    eprintln!("mqtt-harness serve: shutting down");
    server.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}

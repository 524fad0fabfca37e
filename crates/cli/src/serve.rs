//! `mqtt-harness serve`: the reference broker as a process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use mqtt_server::{
    DataConfig, FsyncPolicy, ListenerConfig, ListenerProtocol, RunningServer, ServerConfig,
};

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
    /// Keep sessions, queued and in-flight messages and retained messages
    /// in DIR (created if absent) across restarts, each change written
    /// before the acknowledgement that promises it. Without it (and
    /// without `data:` in the config) everything is in memory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// With --data: `always` (fsync every input's commit before its
    /// acknowledgements; the default), `batch` (group commit, fsync'd
    /// before the acknowledgements) or `never` (no fsync: survives a
    /// killed process, not a power loss).
    #[arg(long, value_name = "POLICY")]
    fsync: Option<FsyncPolicy>,
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
    if let Some(dir) = args.data {
        let fsync = config.data.as_ref().map(|d| d.fsync).unwrap_or_default();
        config.data = Some(DataConfig { dir, fsync });
    }
    match (&mut config.data, args.fsync) {
        (Some(d), Some(f)) => d.fsync = f,
        (None, Some(_)) => anyhow::bail!("--fsync needs --data DIR (or `data:` in the config)"),
        _ => {}
    }
    let mut server = RunningServer::start(config)
        .await
        .context("starting the reference broker")?;
    match server.data() {
        Some((file, fsync)) => println!(
            "mqtt-harness serve: durable state in {} (fsync {fsync}: {})",
            file.display(),
            fsync.describe()
        ),
        None => println!("mqtt-harness serve: state in memory (no --data)"),
    }
    for (protocol, addr) in server.listeners() {
        println!("mqtt-harness serve: {protocol:?} listener on {addr}");
    }
    tokio::select! {
        r = wait_for_signal() => r?,
        why = server.failed() => {
            server.shutdown().await;
            anyhow::bail!("the broker stopped: {why}");
        }
    }
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

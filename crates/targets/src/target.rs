//! Targets: the brokers a run is pointed at. `ref` (the reference server,
//! in-process: the embedded default), an address (`tcp://`, `ws://`,
//! `mqtts://`), or a name from `targets.yaml`, which says how the harness
//! starts the broker, waits for it, and stops it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mqtt_client::Endpoint;
use mqtt_server::{ListenerConfig, ListenerProtocol, RunningServer, ServerConfig};

use crate::capability::{Capability, VersionTag, ALL_CAPABILITIES};
use crate::docker;
use crate::error::TargetError;
use crate::file::{TargetDef, TargetsFile};

/// A target ready to be tested; dropping it stops what it started.
pub struct Target {
    /// Its name in reports (`ref`, the targets.yaml name, or the address).
    pub name: String,
    /// Where clients connect.
    pub endpoint: Endpoint,
    /// Versions it speaks.
    pub versions: Vec<VersionTag>,
    /// Features it has.
    pub capabilities: BTreeSet<Capability>,
    /// At most this many scenario runs at once, if limited.
    pub parallel: Option<usize>,
    guard: Guard,
}

enum Guard {
    None,
    Ref(RunningServer),
    Process(tokio::process::Child, #[allow(dead_code)] PathBuf),
    Container(docker::Container),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({} at {})", self.name, self.endpoint)
    }
}

impl Target {
    /// Opens `spec`: `ref`, an address, a name in `targets`, or `docker:NAME`
    /// (NAME's `image`, through testcontainers). `work` is a
    /// folder for configs and logs of started brokers.
    pub async fn open(
        spec: &str,
        targets: &TargetsFile,
        work: &Path,
    ) -> Result<Target, TargetError> {
        if spec == "ref" {
            return Target::reference().await;
        }
        if spec.contains("://") {
            return Ok(Target {
                name: spec.to_owned(),
                endpoint: Endpoint::parse(spec)?,
                versions: vec![VersionTag::V311, VersionTag::V5],
                capabilities: ALL_CAPABILITIES.iter().copied().collect(),
                parallel: None,
                guard: Guard::None,
            });
        }
        if let Some(name) = spec.strip_prefix(docker::SPEC_PREFIX) {
            let Some(def) = targets.targets.get(name) else {
                let names: Vec<&str> = targets.targets.keys().map(String::as_str).collect();
                return Err(TargetError::Unknown(spec.to_owned(), names.join(", ")));
            };
            return Target::start_container(spec, def).await;
        }
        let Some(def) = targets.targets.get(spec) else {
            let names: Vec<&str> = targets.targets.keys().map(String::as_str).collect();
            return Err(TargetError::Unknown(spec.to_owned(), names.join(", ")));
        };
        Target::start(spec, def, work).await
    }

    /// The reference server, in-process, on a free loopback port.
    pub async fn reference() -> Result<Target, TargetError> {
        let config = ServerConfig {
            listeners: vec![ListenerConfig {
                protocol: ListenerProtocol::Tcp,
                bind: "127.0.0.1:0".parse().expect("literal address"),
                cert: None,
                key: None,
            }],
            ..ServerConfig::default()
        };
        let server = RunningServer::start(config)
            .await
            .map_err(|e| TargetError::Start {
                name: "ref".into(),
                message: e.to_string(),
            })?;
        let addr = server
            .addr(ListenerProtocol::Tcp)
            .expect("one TCP listener");
        Ok(Target {
            name: "ref".into(),
            endpoint: Endpoint::parse(&format!("tcp://{addr}"))?,
            versions: vec![VersionTag::V311, VersionTag::V5],
            capabilities: ALL_CAPABILITIES.iter().copied().collect(),
            parallel: None,
            guard: Guard::Ref(server),
        })
    }

    async fn start(name: &str, def: &TargetDef, work: &Path) -> Result<Target, TargetError> {
        let err = |message: String| TargetError::Start {
            name: name.to_owned(),
            message,
        };
        let port = free_port().map_err(|e| err(format!("no free port: {e}")))?;
        let dir = work.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        // The broker runs in `dir`: every path handed to it must be absolute.
        let dir = dir
            .canonicalize()
            .map_err(|e| err(format!("{}: {e}", dir.display())))?;
        let fill = |s: &str, config: &Path| {
            s.replace("{port}", &port.to_string())
                .replace("{dir}", &dir.display().to_string())
                .replace("{config}", &config.display().to_string())
        };
        let address = fill(&def.address, Path::new(""));
        let endpoint = Endpoint::parse(&address)?;
        let guard = match &def.start {
            None => Guard::None,
            Some(start) => {
                let config = dir.join(start.config_name.as_deref().unwrap_or("broker.conf"));
                if let Some(text) = &start.config {
                    std::fs::write(&config, fill(text, &config))
                        .map_err(|e| err(format!("{}: {e}", config.display())))?;
                }
                let log = dir.join("broker.log");
                let log_file = std::fs::File::create(&log)
                    .map_err(|e| err(format!("{}: {e}", log.display())))?;
                let log_err = log_file.try_clone().map_err(|e| err(e.to_string()))?;
                let child = tokio::process::Command::new(&start.command)
                    .args(start.args.iter().map(|a| fill(a, &config)))
                    .current_dir(&dir)
                    .stdin(Stdio::null())
                    .stdout(log_file)
                    .stderr(log_err)
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => TargetError::NotInstalled {
                            name: name.to_owned(),
                            command: start.command.clone(),
                            hint: def
                                .install
                                .clone()
                                .unwrap_or_else(|| "see targets.yaml".into()),
                        },
                        _ => err(format!("cannot run `{}`: {e}", start.command)),
                    })?;
                let ready = Duration::from_secs(start.ready_seconds.unwrap_or(20));
                let mut guard = Guard::Process(child, log.clone());
                wait_ready(port, ready, &mut guard)
                    .await
                    .map_err(|m| err(format!("{m}; see {}", log.display())))?;
                guard
            }
        };
        Ok(Target {
            name: name.to_owned(),
            endpoint,
            versions: def.versions.clone(),
            capabilities: def.capabilities.iter().copied().collect(),
            parallel: def.parallel,
            guard,
        })
    }

    /// Starts `def`'s image (spec `docker:NAME`) on a free loopback port.
    async fn start_container(spec: &str, def: &TargetDef) -> Result<Target, TargetError> {
        let port = free_port().map_err(|e| TargetError::Start {
            name: spec.to_owned(),
            message: format!("no free port: {e}"),
        })?;
        let address = def.address.replace("{port}", &port.to_string());
        let endpoint = Endpoint::parse(&address)?;
        let container = docker::start(spec, def, port).await?;
        Ok(Target {
            name: spec.to_owned(),
            endpoint,
            versions: def.versions.clone(),
            capabilities: def.capabilities.iter().copied().collect(),
            parallel: def.parallel,
            guard: Guard::Container(container),
        })
    }

    /// The operating-system process id of a broker the harness started
    /// (for the fuzzer's liveness and resource checks); `None` for `ref`,
    /// an address or a container.
    pub fn process_id(&self) -> Option<u32> {
        match &self.guard {
            Guard::Process(child, _) => child.id(),
            _ => None,
        }
    }

    /// Stops what the target started.
    pub async fn stop(self) {
        match self.guard {
            Guard::None => {}
            Guard::Ref(server) => server.shutdown().await,
            Guard::Process(mut child, _) => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            }
            Guard::Container(container) => container.stop().await,
        }
    }
}

/// A port free on 127.0.0.1 right now.
fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Waits until the port accepts a TCP connection, or the process exits.
async fn wait_ready(port: u16, within: Duration, guard: &mut Guard) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if let Guard::Process(child, _) = guard {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("the broker exited at start ({status})"));
            }
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "port {port} did not accept connections within {within:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A target name usable as a folder name (reports go to
/// `reports/<sanitized name>/`).
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

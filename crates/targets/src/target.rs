//! Targets: the brokers a run is pointed at. `ref` (the reference server,
//! in-process: the embedded default), an address (`tcp://`, `ws://`,
//! `mqtts://`), or a name from `targets.yaml`, which says how the harness
//! starts the broker, waits for it, and stops it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mqtt_client::Endpoint;
use mqtt_server::{ListenerConfig, ListenerProtocol, RunningServer, ServerConfig};
use tokio::sync::Mutex;

use crate::capability::{Capability, VersionTag, ALL_CAPABILITIES};
use crate::data::DataFolder;
use crate::docker;
use crate::error::TargetError;
use crate::file::{TargetDef, TargetsFile};
use crate::lifecycle::{Kind, Lifecycle, Running};
use crate::process::{free_port, Launch};

/// The in-process reference server with durable state and group commit
/// (`serve --data DIR --fsync batch`).
pub const REF_DURABLE_BATCH: &str = "ref-durable-batch";

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
    /// The broker, as the lifecycle left it.
    running: Mutex<Running>,
    /// Its process id while it runs as a local process (0: none).
    pid: AtomicU32,
    /// What its lifecycle can do.
    kind: Kind,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({} at {})", self.name, self.endpoint)
    }
}

impl Target {
    /// Opens `spec`: `ref`, `ref-durable` (with its state in
    /// `work/ref-durable`, fsync always), `ref-durable-batch` (the same with
    /// group commit, in `work/ref-durable-batch`), an address, a name in `targets`, or `docker:NAME`
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
        if spec == "ref-durable" {
            return Target::reference_durable(&work.join("ref-durable")).await;
        }
        if spec == REF_DURABLE_BATCH {
            return Target::reference_durable_with(
                &work.join(REF_DURABLE_BATCH),
                mqtt_server::FsyncPolicy::Batch,
            )
            .await;
        }
        if spec.contains("://") {
            return Ok(Target {
                name: spec.to_owned(),
                endpoint: Endpoint::parse(spec)?,
                versions: vec![VersionTag::V311, VersionTag::V5],
                capabilities: ALL_CAPABILITIES.iter().copied().collect(),
                parallel: None,
                running: Mutex::new(Running::External),
                pid: AtomicU32::new(0),
                kind: Kind::External,
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
        Target::reference_with(None).await
    }

    /// The reference server with durable state in a fresh folder `dir`
    /// (`serve --data`, fsync always): it claims [`Capability::Durable`],
    /// and keeps its state across a kill and restart.
    pub async fn reference_durable(dir: &Path) -> Result<Target, TargetError> {
        Target::reference_durable_with(dir, mqtt_server::FsyncPolicy::Always).await
    }

    /// [`Target::reference_durable`] with another fsync policy: with
    /// [`mqtt_server::FsyncPolicy::Batch`] (group commit: a batch of inputs
    /// committed and fsync'd before any of their acknowledgements, the same
    /// promise for a fraction of the fsyncs), the target
    /// `ref-durable-batch`.
    pub async fn reference_durable_with(
        dir: &Path,
        fsync: mqtt_server::FsyncPolicy,
    ) -> Result<Target, TargetError> {
        let name = match fsync {
            mqtt_server::FsyncPolicy::Batch => REF_DURABLE_BATCH,
            _ => "ref-durable",
        };
        let err = |message: String| TargetError::Start {
            name: name.into(),
            message,
        };
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        let data = mqtt_server::DataConfig {
            dir: dir.to_owned(),
            fsync,
        };
        let mut t = Target::reference_with(Some(data)).await?;
        t.name = name.into();
        Ok(t)
    }

    async fn reference_with(data: Option<mqtt_server::DataConfig>) -> Result<Target, TargetError> {
        let name = if data.is_some() { "ref-durable" } else { "ref" };
        let mut capabilities: BTreeSet<Capability> = ALL_CAPABILITIES.iter().copied().collect();
        if data.is_some() {
            capabilities =
                Capability::implied([Capability::Durable].into_iter().chain(capabilities));
        }
        let config = ServerConfig {
            data,
            listeners: vec![ListenerConfig {
                protocol: ListenerProtocol::Tcp,
                bind: "127.0.0.1:0".parse().expect("literal address"),
                cert: None,
                key: None,
            }],
            ..ServerConfig::default()
        };
        let server =
            RunningServer::start(config.clone())
                .await
                .map_err(|e| TargetError::Start {
                    name: "ref".into(),
                    message: e.to_string(),
                })?;
        let addr = server
            .addr(ListenerProtocol::Tcp)
            .expect("one TCP listener");
        // A restart binds the same port.
        let mut config = config;
        config.listeners[0].bind = addr;
        Ok(Target {
            name: name.into(),
            endpoint: Endpoint::parse(&format!("tcp://{addr}"))?,
            versions: vec![VersionTag::V311, VersionTag::V5],
            capabilities,
            parallel: None,
            running: Mutex::new(Running::Ref {
                server: Some(server),
                config,
            }),
            pid: AtomicU32::new(0),
            kind: Kind::Ref,
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
        // The data folder, emptied for this run and handed to the user
        // the broker drops to.
        let data = def
            .data
            .as_ref()
            .map(|d| DataFolder::prepare(d, &dir))
            .transpose()
            .map_err(err)?;
        let data_path = data
            .as_ref()
            .map_or_else(|| dir.join("data"), |d| d.path.clone());
        let fill = |s: &str, config: &Path| {
            s.replace("{port}", &port.to_string())
                .replace("{data}", &data_path.display().to_string())
                .replace("{dir}", &dir.display().to_string())
                .replace("{config}", &config.display().to_string())
        };
        let address = fill(&def.address, Path::new(""));
        let endpoint = Endpoint::parse(&address)?;
        let running = match &def.start {
            None => Running::External,
            Some(start) => {
                let config = dir.join(start.config_name.as_deref().unwrap_or("broker.conf"));
                if let Some(text) = &start.config {
                    std::fs::write(&config, fill(text, &config))
                        .map_err(|e| err(format!("{}: {e}", config.display())))?;
                }
                for (rel, text) in &start.files {
                    if Path::new(rel).is_absolute() || rel.split(['/', '\\']).any(|c| c == "..") {
                        return Err(err(format!(
                            "`files`: {rel} must be a path inside the working folder"
                        )));
                    }
                    let path = dir.join(rel);
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|e| err(format!("{}: {e}", parent.display())))?;
                    }
                    std::fs::write(&path, fill(text, &config))
                        .map_err(|e| err(format!("{}: {e}", path.display())))?;
                }
                let log = dir.join("broker.log");
                // A fresh log per run; restarts append to it.
                std::fs::File::create(&log).map_err(|e| err(format!("{}: {e}", log.display())))?;
                let launch = Launch {
                    name: name.to_owned(),
                    command: start.command.clone(),
                    args: start.args.iter().map(|a| fill(a, &config)).collect(),
                    dir: dir.clone(),
                    log,
                    port,
                    ready: Duration::from_secs(start.ready_seconds.unwrap_or(20)),
                    install: def
                        .install
                        .clone()
                        .unwrap_or_else(|| "see targets.yaml".into()),
                    data,
                };
                let child = launch.spawn().await?;
                Running::Process {
                    child: Some(child),
                    launch,
                    paused: false,
                }
            }
        };
        let pid = running.pid().unwrap_or(0);
        Ok(Target {
            name: name.to_owned(),
            endpoint,
            versions: def.versions.clone(),
            capabilities: Capability::implied(def.capabilities.iter().copied()),
            parallel: def.parallel,
            kind: running.kind(),
            running: Mutex::new(running),
            pid: AtomicU32::new(pid),
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
            capabilities: Capability::implied(def.capabilities.iter().copied()),
            parallel: def.parallel,
            running: Mutex::new(Running::Container {
                container,
                paused: false,
            }),
            pid: AtomicU32::new(0),
            kind: Kind::Container,
        })
    }

    /// The operating-system process id of a broker the harness started
    /// and that runs now (for the fuzzer's liveness and resource checks);
    /// `None` for `ref`, an address or a container.
    pub fn process_id(&self) -> Option<u32> {
        match self.pid.load(Ordering::Relaxed) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// Why `verb` cannot be applied to this target, if it cannot (a
    /// target the harness did not start has no lifecycle).
    pub fn lifecycle_unsupported(&self, verb: Lifecycle) -> Option<String> {
        self.kind.unsupported(verb)
    }

    /// Applies a lifecycle verb (kill, stop, restart, pause, resume; see
    /// [`Lifecycle`]); a restart returns once the broker accepts
    /// connections again, within the target's readiness bound.
    pub async fn lifecycle(&self, verb: Lifecycle) -> Result<(), TargetError> {
        let mut running = self.running.lock().await;
        let done = running.apply(verb, &self.name).await;
        self.pid
            .store(running.pid().unwrap_or(0), Ordering::Relaxed);
        done
    }

    /// Stops what the target started.
    pub async fn stop(self) {
        self.running.into_inner().shutdown().await;
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

//! What breaks on the broker's side: the lifecycle verbs the harness can
//! apply to a target it runs (DESIGN.md's faults role), and the state of
//! the running broker they act on.
//!
//! | verb | a local process | `ref` (in-process) | a container |
//! |---|---|---|---|
//! | `kill` | SIGKILL | its tasks aborted at once | `docker stop -t 0` |
//! | `stop` | SIGTERM, then SIGKILL after [`STOP_WAIT`]; its data file checked | graceful shutdown | `docker stop` |
//! | `restart` | same program, port, config and folder | same config, same port | `docker start` |
//! | `pause` / `resume` | SIGSTOP / SIGCONT | not possible (the harness shares its process) | `docker pause` / `unpause` |
//!
//! A target the harness did not start (`tcp://...`) has no lifecycle:
//! every verb says so, and scenarios that need one are skipped with that
//! reason. After a restart, readiness is awaited with the target's bound.

use std::time::Duration;

use mqtt_server::{RunningServer, ServerConfig};
use tokio::process::Child;

use crate::docker::Container;
use crate::error::TargetError;
use crate::process::{signal, Launch, Sig};
pub use crate::verb::{Lifecycle, STOP_WAIT};

/// What kind of broker a target is, for what its lifecycle can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    External,
    Ref,
    Process,
    Container,
}

impl Kind {
    /// Why `verb` cannot be applied, if it cannot.
    pub(crate) fn unsupported(self, verb: Lifecycle) -> Option<String> {
        match (self, verb) {
            (Kind::External, _) => Some(
                "the harness did not start this target, so it cannot kill, stop, restart or pause it"
                    .into(),
            ),
            (Kind::Ref, Lifecycle::Pause | Lifecycle::Resume) => Some(
                "the in-process reference server shares the harness's process and cannot be frozen"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The broker behind a target, in whatever state the lifecycle left it.
pub(crate) enum Running {
    /// Not started by the harness.
    External,
    /// The reference server in this process; `None` while killed or
    /// stopped.
    Ref {
        server: Option<RunningServer>,
        config: ServerConfig,
    },
    /// A local process; `None` while killed or stopped.
    Process {
        child: Option<Child>,
        launch: Launch,
        paused: bool,
    },
    /// A container.
    Container { container: Container, paused: bool },
}

impl Running {
    /// What kind of broker it is.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Running::External => Kind::External,
            Running::Ref { .. } => Kind::Ref,
            Running::Process { .. } => Kind::Process,
            Running::Container { .. } => Kind::Container,
        }
    }

    /// The process id of a local broker that runs now.
    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            Running::Process {
                child: Some(child), ..
            } => child.id(),
            _ => None,
        }
    }

    /// Applies `verb`; `name` is the target's, for messages.
    pub(crate) async fn apply(&mut self, verb: Lifecycle, name: &str) -> Result<(), TargetError> {
        if let Some(reason) = self.kind().unsupported(verb) {
            return Err(TargetError::Lifecycle {
                name: name.to_owned(),
                verb: verb.name(),
                message: reason,
            });
        }
        let err = |message: String| TargetError::Lifecycle {
            name: name.to_owned(),
            verb: verb.name(),
            message,
        };
        match self {
            Running::External => Ok(()),
            Running::Ref { server, config } => match verb {
                // Its accept loops and broker task are aborted: connections
                // end, nothing is flushed.
                Lifecycle::Kill => {
                    if let Some(s) = server.take() {
                        s.kill().await;
                    }
                    Ok(())
                }
                Lifecycle::Stop => {
                    if let Some(s) = server.take() {
                        s.shutdown().await;
                    }
                    Ok(())
                }
                Lifecycle::Restart => {
                    if let Some(s) = server.take() {
                        s.shutdown().await;
                    }
                    let started = RunningServer::start(config.clone())
                        .await
                        .map_err(|e| err(e.to_string()))?;
                    *server = Some(started);
                    Ok(())
                }
                Lifecycle::Pause | Lifecycle::Resume => Ok(()),
            },
            Running::Process {
                child,
                launch,
                paused,
            } => match verb {
                Lifecycle::Kill => {
                    if let Some(mut c) = child.take() {
                        let _ = c.start_kill();
                        let _ = c.wait().await;
                    }
                    *paused = false;
                    Ok(())
                }
                // A clean stop must leave the broker's data file behind.
                Lifecycle::Stop => {
                    if let Some(c) = child.take() {
                        stop_process(c, *paused).await;
                        *paused = false;
                        launch.check_data().map_err(err)?;
                    }
                    *paused = false;
                    Ok(())
                }
                Lifecycle::Restart => {
                    if let Some(c) = child.take() {
                        stop_process(c, *paused).await;
                        *paused = false;
                        launch.check_data().map_err(err)?;
                    }
                    *paused = false;
                    *child = Some(launch.spawn().await?);
                    Ok(())
                }
                Lifecycle::Pause | Lifecycle::Resume => {
                    let Some(pid) = child.as_ref().and_then(Child::id) else {
                        return Err(err("the broker is not running".into()));
                    };
                    let pause = verb == Lifecycle::Pause;
                    signal(pid, if pause { Sig::Stop } else { Sig::Cont })
                        .map_err(|e| err(e.to_string()))?;
                    *paused = pause;
                    Ok(())
                }
            },
            Running::Container { container, paused } => {
                container
                    .apply(verb, *paused)
                    .await
                    .map_err(|e| err(e.to_string()))?;
                *paused = verb == Lifecycle::Pause;
                Ok(())
            }
        }
    }

    /// Ends whatever runs, for good.
    pub(crate) async fn shutdown(self) {
        match self {
            Running::External => {}
            Running::Ref { server, .. } => {
                if let Some(s) = server {
                    s.shutdown().await;
                }
            }
            Running::Process { child, paused, .. } => {
                if let Some(mut c) = child {
                    if paused {
                        if let Some(pid) = c.id() {
                            let _ = signal(pid, Sig::Cont);
                        }
                    }
                    let _ = c.start_kill();
                    let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
                }
            }
            Running::Container { container, .. } => container.stop().await,
        }
    }
}

/// SIGTERM (after SIGCONT if frozen, or the signal waits), a bounded wait,
/// then SIGKILL.
async fn stop_process(mut c: Child, paused: bool) {
    if let Some(pid) = c.id() {
        let _ = signal(pid, Sig::Term);
        if paused {
            let _ = signal(pid, Sig::Cont);
        }
    }
    if tokio::time::timeout(STOP_WAIT, c.wait()).await.is_err() {
        let _ = c.start_kill();
        let _ = c.wait().await;
    }
}

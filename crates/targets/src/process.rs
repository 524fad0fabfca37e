//! A broker the harness runs as a local process: how it was launched (so
//! that it can be launched again on the same port, with the same config
//! and data folder), readiness, and the signals of its lifecycle.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Child;

use crate::data::DataFolder;
use crate::error::TargetError;

/// How a broker process is started; kept so that a restart is the same
/// start.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// Target name, for messages.
    pub(crate) name: String,
    /// The program.
    pub(crate) command: String,
    /// Its arguments, placeholders filled.
    pub(crate) args: Vec<String>,
    /// Its working folder (config, data, log).
    pub(crate) dir: PathBuf,
    /// Its log (stdout and stderr, appended across restarts).
    pub(crate) log: PathBuf,
    /// The loopback port it listens on.
    pub(crate) port: u16,
    /// How long it may take to accept connections.
    pub(crate) ready: Duration,
    /// How to install it, for the not-installed message.
    pub(crate) install: String,
    /// Its data folder, if it keeps state on disk.
    pub(crate) data: Option<DataFolder>,
}

impl Launch {
    fn err(&self, message: String) -> TargetError {
        TargetError::Start {
            name: self.name.clone(),
            message,
        }
    }

    /// After a clean stop: the data file the broker must have written is
    /// there (see [`DataFolder::check_after_stop`]).
    pub(crate) fn check_data(&self) -> Result<(), String> {
        self.data
            .as_ref()
            .map_or(Ok(()), DataFolder::check_after_stop)
    }

    /// Starts the process and waits, with a bound, until its port accepts
    /// connections.
    pub(crate) async fn spawn(&self) -> Result<Child, TargetError> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| self.err(format!("{}: {e}", self.log.display())))?;
        let log_err = log_file.try_clone().map_err(|e| self.err(e.to_string()))?;
        let mut child = tokio::process::Command::new(&self.command)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => TargetError::NotInstalled {
                    name: self.name.clone(),
                    command: self.command.clone(),
                    hint: self.install.clone(),
                },
                _ => self.err(format!("cannot run `{}`: {e}", self.command)),
            })?;
        wait_ready(self.port, self.ready, &mut child)
            .await
            .map_err(|m| self.err(format!("{m}; see {}", self.log.display())))?;
        Ok(child)
    }
}

/// A port free on 127.0.0.1 right now.
pub(crate) fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Waits until the port accepts a TCP connection, or the process exits.
async fn wait_ready(port: u16, within: Duration, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the broker exited at start ({status})"));
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

/// A signal of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sig {
    /// SIGTERM: stop, cleanly.
    Term,
    /// SIGSTOP: freeze.
    Stop,
    /// SIGCONT: thaw.
    Cont,
}

/// Sends `sig` to process `pid`.
pub(crate) fn signal(pid: u32, sig: Sig) -> std::io::Result<()> {
    use rustix::process::{kill_process, Pid, Signal};
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("no such process id {pid}")))?;
    let sig = match sig {
        Sig::Term => Signal::TERM,
        Sig::Stop => Signal::STOP,
        Sig::Cont => Signal::CONT,
    };
    kill_process(pid, sig).map_err(std::io::Error::from)
}

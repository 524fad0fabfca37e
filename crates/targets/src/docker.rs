//! Targets in containers: `docker:NAME` starts the `image` of NAME in
//! targets.yaml through testcontainers, where a Docker daemon is reachable
//! (`DOCKER_HOST`, or `/var/run/docker.sock`).
//!
//! The container runs with host networking and is given NAME's own `start`
//! (program, arguments, config file) with a free loopback port, so the
//! broker listens on 127.0.0.1 exactly as the local one does; the config
//! file is copied into the container under [`CONTAINER_DIR`]. The container
//! is removed when the target stops (or is dropped).
//!
//! No registry is needed: `cargo xtask docker image NAME` builds the image
//! from the installed broker, and `cargo xtask docker daemon start` runs a
//! private daemon.

use std::path::Path;
use std::time::{Duration, Instant};

use testcontainers::bollard::Docker;
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::error::TargetError;
use crate::file::TargetDef;

/// The prefix of a target spec run in a container: `docker:mosquitto`.
pub const SPEC_PREFIX: &str = "docker:";

/// The folder in the container that holds the config (`{dir}`).
pub const CONTAINER_DIR: &str = "/harness";

/// The Docker socket used when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How long the daemon gets to answer a ping.
const PING: Duration = Duration::from_secs(10);

/// A started container; removing it is [`Container::stop`] (or the drop).
pub struct Container {
    // Boxed: the handle is large and lives in an enum of the target.
    inner: Box<ContainerAsync<GenericImage>>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Container({})", self.inner.id())
    }
}

impl Container {
    /// The container id.
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// Applies a lifecycle verb: kill is a stop without grace, restart
    /// starts the stopped container again (same port, same config), pause
    /// and resume freeze and thaw it. `paused` says whether it is frozen.
    pub(crate) async fn apply(
        &self,
        verb: crate::verb::Lifecycle,
        paused: bool,
    ) -> testcontainers::core::error::Result<()> {
        use crate::verb::{Lifecycle, STOP_WAIT};
        let grace = i32::try_from(STOP_WAIT.as_secs()).unwrap_or(10);
        if paused && verb != Lifecycle::Pause {
            self.inner.unpause().await?;
        }
        match verb {
            Lifecycle::Kill => self.inner.stop_with_timeout(Some(0)).await,
            Lifecycle::Stop => self.inner.stop_with_timeout(Some(grace)).await,
            Lifecycle::Restart => {
                if self.inner.is_running().await? {
                    self.inner.stop_with_timeout(Some(grace)).await?;
                }
                self.inner.start().await
            }
            Lifecycle::Pause => self.inner.pause().await,
            Lifecycle::Resume => Ok(()),
        }
    }

    /// Stops and removes the container.
    pub async fn stop(self) {
        let _ = tokio::time::timeout(Duration::from_secs(20), self.inner.rm()).await;
    }
}

/// The daemon testcontainers will use, if one is configured or present:
/// `DOCKER_HOST`, else the default socket when it exists.
pub fn docker_host() -> Option<String> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => Some(host),
        _ => Path::new(DEFAULT_SOCKET)
            .exists()
            .then(|| format!("unix://{DEFAULT_SOCKET}")),
    }
}

/// Splits `repo/name:tag` into name and tag (`latest` when absent).
pub fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

/// Starts `def`'s image as target `spec` (`docker:NAME`), listening on
/// 127.0.0.1:`port`; returns once the port accepts connections.
pub async fn start(spec: &str, def: &TargetDef, port: u16) -> Result<Container, TargetError> {
    let err = |message: String| TargetError::Start {
        name: spec.to_owned(),
        message,
    };
    let name = spec.strip_prefix(SPEC_PREFIX).unwrap_or(spec);
    let build = format!("`cargo xtask docker image {name}`");
    let Some(image) = def.image.as_deref() else {
        return Err(err(format!(
            "targets.yaml gives `{name}` no `image` to run in Docker"
        )));
    };
    let Some(start) = def.start.as_ref() else {
        return Err(err(format!(
            "targets.yaml gives `{name}` no `start` (program, args, config) to run in its image"
        )));
    };
    let Some(host) = docker_host() else {
        return Err(err(format!(
            "no Docker daemon: DOCKER_HOST is not set and {DEFAULT_SOCKET} does not exist. \
             Install Docker (`apt-get install -y docker.io`), start a private daemon with \
             `cargo xtask docker daemon start` and export the DOCKER_HOST it prints"
        )));
    };
    // Ask the daemon first: testcontainers would try to pull a missing
    // image from a registry, which says nothing useful about a local one.
    let docker =
        Docker::connect_with_defaults().map_err(|e| err(format!("Docker at {host}: {e}")))?;
    match tokio::time::timeout(PING, docker.ping()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(err(format!(
                "the Docker daemon at {host} does not answer ({e}); \
                 `cargo xtask docker daemon start` starts a private one"
            )))
        }
        Err(_) => {
            return Err(err(format!(
                "the Docker daemon at {host} did not answer within {PING:?}"
            )))
        }
    }
    if let Err(e) = docker.inspect_image(image).await {
        return Err(err(match e {
            testcontainers::bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            } => format!(
                "image `{image}` is not in the Docker daemon at {host}: build it with {build}"
            ),
            e => format!("image `{image}` at {host}: {e}"),
        }));
    }

    let config_name = start.config_name.as_deref().unwrap_or("broker.conf");
    let config = format!("{CONTAINER_DIR}/{config_name}");
    let fill = |s: &str| {
        s.replace("{port}", &port.to_string())
            .replace("{dir}", CONTAINER_DIR)
            .replace("{config}", &config)
    };
    let ready = Duration::from_secs(start.ready_seconds.unwrap_or(20));
    let (image_name, tag) = split_image(image);
    let mut request = GenericImage::new(image_name, tag)
        .with_entrypoint(&start.command)
        .with_wait_for(WaitFor::Nothing)
        .with_network("host")
        .with_cmd(start.args.iter().map(|a| fill(a)))
        .with_startup_timeout(ready)
        .with_label("mqtt-harness.target", spec);
    if let Some(text) = &start.config {
        request = request.with_copy_to(config.clone(), fill(text).into_bytes());
    }
    let container = tokio::time::timeout(ready + Duration::from_secs(10), request.start())
        .await
        .map_err(|_| err(format!("the container did not start within {ready:?}")))?
        .map_err(|e| err(format!("starting `{image}`: {e}")))?;
    let container = Container {
        inner: Box::new(container),
    };
    if let Err(message) = wait_ready(&container, port, ready).await {
        let logs = container.inner.stderr_to_vec().await.unwrap_or_default();
        let logs = String::from_utf8_lossy(&logs).trim().to_owned();
        container.stop().await;
        return Err(err(format!("{message}; container log:\n{logs}")));
    }
    Ok(container)
}

/// Waits until 127.0.0.1:`port` accepts a connection, or the container exits.
async fn wait_ready(container: &Container, port: u16, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Ok(false) = container.inner.is_running().await {
            let code = container.inner.exit_code().await.ok().flatten();
            return Err(format!(
                "the broker's container exited at start (exit code {code:?})"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "port {port} did not accept connections within {within:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split() {
        assert_eq!(
            split_image("mqtt-harness/mosquitto:local"),
            ("mqtt-harness/mosquitto", "local")
        );
        assert_eq!(
            split_image("eclipse-mosquitto"),
            ("eclipse-mosquitto", "latest")
        );
        assert_eq!(
            split_image("localhost:5000/mosquitto"),
            ("localhost:5000/mosquitto", "latest")
        );
    }
}

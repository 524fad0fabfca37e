//! Where the workspace is and how to call its cargo: shared by every task.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The cargo that runs this xtask.
pub(crate) fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The exit code that passes on a child's status.
pub(crate) fn exit(status: std::process::ExitStatus) -> ExitCode {
    if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The repository root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

/// Builds `mqtt-harness` in release mode, once before a task's runs, so
/// that no run pays for the build.
pub(crate) fn build_release_harness(root: &Path) -> anyhow::Result<()> {
    let built = std::process::Command::new(cargo())
        .args(["build", "-q", "--release", "-p", "mqtt-harness"])
        .current_dir(root)
        .status()?;
    if !built.success() {
        anyhow::bail!("cargo build --release -p mqtt-harness failed");
    }
    Ok(())
}

/// `mqtt-harness` in release mode (through `cargo run`, wherever the
/// target directory is), run in `root`; add its arguments.
pub(crate) fn release_harness(root: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(cargo());
    c.args(["run", "-q", "--release", "-p", "mqtt-harness", "--"])
        .current_dir(root);
    c
}

/// Removes a report an earlier run left, so that it cannot stand in for
/// this run's; a missing one is fine.
pub(crate) fn remove_stale(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(path.display().to_string())),
    }
}

//! `cargo xtask load ...`: load runs through `mqtt-harness load`, built in
//! release mode (a debug build generates far less load per CPU-second), and
//! `cargo xtask load schema`, which regenerates
//! scenarios/load/profile.schema.json.

use std::path::Path;
use std::process::ExitCode;

/// Runs `mqtt-harness load <args>` in release mode, or regenerates the
/// profile schema for `schema`.
pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<ExitCode> {
    if args.first().map(String::as_str) == Some("schema") {
        let status = std::process::Command::new(crate::workspace::cargo())
            .args([
                "run",
                "-q",
                "-p",
                "mqtt-swarm",
                "--example",
                "write_load_schema",
            ])
            .current_dir(root)
            .status()?;
        return Ok(crate::workspace::exit(status));
    }
    let status = std::process::Command::new(crate::workspace::cargo())
        .args(["run", "-q", "--release", "-p", "mqtt-harness", "--", "load"])
        .args(args)
        .current_dir(root)
        .status()?;
    Ok(crate::workspace::exit(status))
}

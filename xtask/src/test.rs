//! `cargo xtask test`: the project's test command, the one CI runs. Every
//! step runs (its output streamed as it comes) and the command fails if any
//! step failed.
//!
//! 1. `cargo test --workspace --all-targets`
//! 2. `cargo test --workspace --doc`
//! 3. a fuzz smoke of each codec target (`fuzz codec --seconds 15`)
//! 4. the scenario library against the reference server and mosquitto, with
//!    the baseline gate (`mqtt-harness conform --targets ref,mosquitto`),
//!    its reports under `target/xtask-test/reports` (the committed
//!    `reports/` stay as they are; the baselines are read from there)
//! 5. the fault library against the reference server with durable state and
//!    mosquitto with persistence (`--targets ref-durable,mosquitto-persist
//!    --filter faults/`), with the same baseline gate

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::fuzz;

/// Seconds of the fuzz smoke, per target.
const FUZZ_SMOKE_SECONDS: u64 = 15;

/// The cargo that runs this xtask (so the steps use the same toolchain).
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cargo args...` in `root`, its output going straight to ours.
fn cargo_step(root: &Path, args: &[&str]) -> Result<()> {
    let status = cargo()
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("starting cargo {}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        bail!("cargo {} failed ({status})", args.join(" "))
    }
}

/// Runs every step, then reports.
pub(crate) fn run(root: &Path) -> Result<()> {
    crate::prereqs::ensure()?;
    let mut results: Vec<(String, Result<()>)> = Vec::new();
    for args in [
        &["test", "--workspace", "--all-targets", "--no-fail-fast"][..],
        &["test", "--workspace", "--doc"][..],
    ] {
        let name = format!("cargo {}", args.join(" "));
        println!("== {name}");
        results.push((name, cargo_step(root, args)));
    }
    for target in fuzz::CODEC_TARGETS {
        let name = format!("fuzz smoke {target} ({FUZZ_SMOKE_SECONDS}s)");
        println!("== {name}");
        let opts = fuzz::Options {
            seconds: FUZZ_SMOKE_SECONDS,
            target: Some((*target).to_owned()),
            sanitizer: "none".to_owned(),
        };
        results.push((name, fuzz::codec(root, &opts)));
    }

    let name = "conformance against ref and mosquitto (baseline gate)".to_owned();
    println!("== {name}");
    results.push((
        name,
        cargo_step(
            root,
            &[
                "run",
                "-q",
                "-p",
                "mqtt-harness",
                "--",
                "conform",
                "--quiet",
                "--targets",
                "ref,mosquitto",
                // The gate's reports go under target/, so a test run does
                // not overwrite the committed reports (matrix.md); the
                // baselines are the committed ones.
                "--reports",
                "target/xtask-test/reports",
                "--baselines",
                "reports/baselines",
            ],
        ),
    ));

    let name =
        "fault scenarios against ref-durable and mosquitto-persist (baseline gate)".to_owned();
    println!("== {name}");
    results.push((
        name,
        cargo_step(
            root,
            &[
                "run",
                "-q",
                "-p",
                "mqtt-harness",
                "--",
                "conform",
                "--quiet",
                "--targets",
                "ref-durable,mosquitto-persist",
                "--filter",
                "faults/",
                "--reports",
                "target/xtask-test/reports-durable",
                "--baselines",
                "reports/baselines",
            ],
        ),
    ));

    println!("== summary");
    let failed: Vec<&str> = results
        .iter()
        .filter_map(|(name, r)| {
            let mark = if r.is_ok() { "ok    " } else { "FAILED" };
            println!("{mark} {name}");
            if let Err(e) = r {
                println!("       {e:#}");
            }
            r.is_err().then_some(name.as_str())
        })
        .collect();
    println!(
        "steps: {} passed, {} failed",
        results.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("failed: {}", failed.join(", "))
    }
}

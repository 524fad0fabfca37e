//! What the test suite needs beyond Rust, installed when missing so that
//! `cargo xtask test` works on a fresh Debian-like machine: mosquitto and
//! its clients (Debian), paho-mqtt (PyPI), cargo-fuzz (crates.io).

use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// True when `program` runs.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn install(what: &str, program: &str, args: &[&str]) -> Result<()> {
    println!("installing {what}: {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("running {program} to install {what}"))?;
    if !status.success() {
        bail!(
            "installing {what} failed ({status}); install it by hand: {program} {}",
            args.join(" ")
        );
    }
    Ok(())
}

/// Installs what is missing, or says how to.
pub(crate) fn ensure() -> Result<()> {
    let need_debian: Vec<&str> = [
        ("mosquitto", "mosquitto"),
        ("mosquitto_pub", "mosquitto-clients"),
    ]
    .into_iter()
    .filter(|(bin, _)| !on_path(bin) && !std::path::Path::new("/usr/sbin").join(bin).is_file())
    .map(|(_, pkg)| pkg)
    .collect();
    if !need_debian.is_empty() {
        if !on_path("apt-get") {
            bail!(
                "the tests need {} (Debian package names); install them with your package manager",
                need_debian.join(", ")
            );
        }
        install("Debian's package lists", "apt-get", &["update", "-qq"])?;
        let mut args = vec!["install", "-y", "-qq"];
        args.extend(&need_debian);
        install(&need_debian.join(", "), "apt-get", &args)?;
    }
    if !runs("python3", &["-c", "import paho.mqtt"]) {
        install(
            "paho-mqtt",
            "python3",
            &["-m", "pip", "install", "-q", "paho-mqtt==2.1.0"],
        )?;
    }
    if !runs("cargo", &["fuzz", "--version"]) {
        install(
            "cargo-fuzz",
            "cargo",
            &["install", "cargo-fuzz", "--locked"],
        )?;
    }
    Ok(())
}
